package distribution

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The Gram-matrix path gives MedianBandwidth's h and MMD2's value with
// Gaussian{h}, on sets of unequal size, odd and even pair counts, and a
// shifted b (MMD² clearly positive) as well as one from a's distribution.
func TestMMD2GaussianMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 5))
	set := func(n, d int, shift float64) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			for j := range x[i] {
				x[i][j] = rng.NormFloat64() + shift
			}
		}
		return x
	}
	for _, tc := range []struct {
		m, n, d int
		shift   float64
	}{{7, 5, 3, 0}, {20, 31, 50, 0.5}, {2, 2, 1, 0}, {40, 40, 200, 0.1}} {
		a, b := set(tc.m, tc.d, 0), set(tc.n, tc.d, tc.shift)
		got, h, err := MMD2GaussianMedian(a, b)
		if err != nil {
			t.Fatal(err)
		}
		wantH, err := MedianBandwidth(a, b)
		if err != nil {
			t.Fatal(err)
		}
		want, err := MMD2(a, b, Gaussian{Bandwidth: wantH})
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(h-wantH) > 1e-12*wantH || math.Abs(got-want) > 1e-12 {
			t.Errorf("%+v: MMD² %v with h %v, want %v with h %v", tc, got, h, want, wantH)
		}
	}
	if _, _, err := MMD2GaussianMedian([][]float64{{1}}, [][]float64{{1}, {2}}); err == nil {
		t.Error("a set of one point: no error")
	}
	if _, _, err := MMD2GaussianMedian([][]float64{{1}, {1}}, [][]float64{{1}, {1}}); err == nil {
		t.Error("all points equal: no error")
	}
}

// BenchmarkMMD2 compares the per-pair kernel loop with the Gram-matrix path
// on two sets of 200 images of 3×64×64.
func BenchmarkMMD2(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 1))
	set := func(n int) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, 3*64*64)
			for j := range x[i] {
				x[i][j] = rng.Float64()*2 - 1
			}
		}
		return x
	}
	a, c := set(200), set(200)
	b.Run("loop", func(b *testing.B) {
		for range b.N {
			h, _ := MedianBandwidth(a, c)
			MMD2(a, c, Gaussian{Bandwidth: h})
		}
	})
	b.Run("gram", func(b *testing.B) {
		for range b.N {
			MMD2GaussianMedian(a, c)
		}
	})
}
