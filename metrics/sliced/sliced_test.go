package sliced

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestW2Squared1D(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b []float64
		want float64
	}{
		// Equal sizes: mean squared difference of the sorted values.
		{"shift", []float64{3, 1, 2}, []float64{2, 4, 3}, 1},
		// Worked by hand: F⁻¹ of {0, 1} is 0 on [0, ½), 1 on [½, 1);
		// G⁻¹ of {0, ½, 1} is 0, ½, 1 on thirds. The squared gap is ¼ on
		// [⅓, ½) and ¼ on [½, ⅔): W₂² = 2·(1/6)·¼ = 1/12.
		{"unequal", []float64{1, 0}, []float64{0, 0.5, 1}, 1.0 / 12},
		{"point masses", []float64{2}, []float64{-1, -1}, 9},
	} {
		if got := W2Squared1D(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: W₂² = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// A set and its translate by c·e: each slice is shifted by c θ·e, and
// E(θ·e)² = 1/d, so SW₂ = |c|/√d exactly in expectation over θ.
func TestDistanceTranslate(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const d, n, c = 10, 200, 3.0
	x := make([][]float64, n)
	y := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, d)
		y[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = rng.NormFloat64()
			y[i][j] = x[i][j]
		}
		y[i][0] += c
	}
	got, err := Distance(x, y, 4000, rng)
	if err != nil {
		t.Fatal(err)
	}
	want := c / math.Sqrt(d)
	if math.Abs(got-want) > 0.03*want {
		t.Errorf("SW₂ = %v, want %v within 3%%", got, want)
	}
}

func TestDistanceErrors(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	if _, err := Distance(nil, [][]float64{{1}}, 10, rng); err == nil {
		t.Error("empty set: no error")
	}
	if _, err := Distance([][]float64{{1, 2}}, [][]float64{{1}}, 10, rng); err == nil {
		t.Error("mismatched dimensions: no error")
	}
	if _, err := Distance([][]float64{{1}}, [][]float64{{1}}, 0, rng); err == nil {
		t.Error("no directions: no error")
	}
}

// Projecting once and comparing projections gives DistanceAlong's value (to
// rounding: the projections come from a matrix product), and Distance is
// DistanceAlong over Directions drawn from the same stream.
func TestProjected(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 3))
	set := func(n, d int) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			for j := range x[i] {
				x[i][j] = rng.NormFloat64()
			}
		}
		return x
	}
	x, y := set(5, 30), set(7, 30)
	dirs := Directions(40, 30, rand.New(rand.NewPCG(9, 9)))
	want, err := DistanceAlong(x, y, dirs)
	if err != nil {
		t.Fatal(err)
	}
	px, err := Project(x, dirs)
	if err != nil {
		t.Fatal(err)
	}
	py, err := Project(y, dirs)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DistanceProjected(px, py)
	if err != nil || math.Abs(got-want) > 1e-12*want {
		t.Errorf("DistanceProjected %v (%v), DistanceAlong %v", got, err, want)
	}
	viaRNG, err := Distance(x, y, 40, rand.New(rand.NewPCG(9, 9)))
	if err != nil || viaRNG != want {
		t.Errorf("Distance %v (%v), DistanceAlong over the same directions %v", viaRNG, err, want)
	}
	if _, err := Project(x, [][]float64{make([]float64, 29)}); err == nil {
		t.Error("a direction of the wrong dimension: no error")
	}
	if _, err := DistanceProjected(px, py[:3]); err == nil {
		t.Error("projections on different directions: no error")
	}
}
