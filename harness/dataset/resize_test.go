package dataset

import (
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"
)

func TestAreaSpans(t *testing.T) {
	for _, test := range []struct {
		n, m int
		want []span
	}{
		{n: 4, m: 2, want: []span{{0, []float64{2, 2}}, {2, []float64{2, 2}}}},
		// 3 → 2: weights 2/3, 1/3 and 1/3, 2/3 (in units of 1/n = 1/3).
		{n: 3, m: 2, want: []span{{0, []float64{2, 1}}, {1, []float64{1, 2}}}},
		// 5 → 2: 2/5, 2/5, 1/5 and 1/5, 2/5, 2/5.
		{n: 5, m: 2, want: []span{{0, []float64{2, 2, 1}}, {2, []float64{1, 2, 2}}}},
		{n: 3, m: 1, want: []span{{0, []float64{1, 1, 1}}}},
		{n: 3, m: 3, want: []span{{0, []float64{3}}, {1, []float64{3}}, {2, []float64{3}}}},
		// Upscaling 2 → 3: the middle output straddles the source boundary.
		{n: 2, m: 3, want: []span{{0, []float64{2}}, {0, []float64{1, 1}}, {1, []float64{2}}}},
		// Upscaling 2 → 4: exact blocks.
		{n: 2, m: 4, want: []span{{0, []float64{2}}, {0, []float64{2}}, {1, []float64{2}}, {1, []float64{2}}}},
	} {
		got := areaSpans(test.n, test.m)
		if !reflect.DeepEqual(got, test.want) {
			t.Errorf("areaSpans(%d, %d) = %v, want %v", test.n, test.m, got, test.want)
		}
	}
}

// TestAreaSpansSums checks that each output's weights sum to n and each
// source pixel's weights sum to m, for many sizes.
func TestAreaSpansSums(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 7, 64, 227, 256, 1000} {
		for _, m := range []int{1, 2, 3, 4, 63, 64, 256, 300} {
			perSource := make([]float64, n)
			for j, s := range areaSpans(n, m) {
				var sum float64
				for i, w := range s.w {
					if w <= 0 {
						t.Errorf("areaSpans(%d, %d)[%d]: weight %d is %v", n, m, j, i, w)
					}
					sum += w
					perSource[s.first+i] += w
				}
				if sum != float64(n) {
					t.Errorf("areaSpans(%d, %d)[%d]: weights sum to %v, want %d", n, m, j, sum, n)
				}
			}
			for i, sum := range perSource {
				if sum != float64(m) {
					t.Errorf("areaSpans(%d, %d): source %d has weight %v, want %d", n, m, i, sum, m)
				}
			}
		}
	}
}

func TestAreaResizeClosedForm(t *testing.T) {
	for _, test := range []struct {
		name   string
		h, w   int
		src    []float64
		mh, mw int
		want   []float64
	}{
		{
			name: "4×4→2×2 block means",
			h:    4, w: 4,
			src: []float64{
				1, 2, 3, 4,
				5, 6, 7, 8,
				9, 10, 11, 12,
				13, 14, 15, 16,
			},
			mh: 2, mw: 2,
			// (1+2+5+6)/4, (3+4+7+8)/4, (9+10+13+14)/4, (11+12+15+16)/4.
			want: []float64{3.5, 5.5, 11.5, 13.5},
		},
		{
			name: "1×3→1×2 weights 2/3,1/3",
			h:    1, w: 3, src: []float64{3, 6, 9},
			mh: 1, mw: 2,
			// 2/3·3 + 1/3·6 = 4, 1/3·6 + 2/3·9 = 8.
			want: []float64{4, 8},
		},
		{
			name: "3×3→2×2",
			h:    3, w: 3,
			// src[y][x] = 9y + 3x.
			src: []float64{
				0, 3, 6,
				9, 12, 15,
				18, 21, 24,
			},
			mh: 2, mw: 2,
			// Row weights (2/3, 1/3), (1/3, 2/3) give mean y 1/3 and 5/3,
			// likewise for x; the image is linear, so the output is
			// 9ȳ + 3x̄: 3+1, 3+5, 15+1, 15+5.
			want: []float64{4, 8, 16, 20},
		},
		{
			name: "1×5→1×2 weights 2/5,2/5,1/5",
			h:    1, w: 5, src: []float64{1, 2, 3, 4, 5},
			mh: 1, mw: 2,
			// (2·1 + 2·2 + 3)/5 = 9/5, (3 + 2·4 + 2·5)/5 = 21/5.
			want: []float64{1.8, 4.2},
		},
		{
			name: "3×1→1×1 mean",
			h:    3, w: 1, src: []float64{1, 2, 6},
			mh: 1, mw: 1,
			want: []float64{3},
		},
		{
			name: "1×2→1×3 upscale",
			h:    1, w: 2, src: []float64{0, 6},
			mh: 1, mw: 3,
			// The middle output covers half of each source pixel.
			want: []float64{0, 3, 6},
		},
		{
			name: "2×2→4×4 upscale blocks",
			h:    2, w: 2, src: []float64{1, 2, 3, 4},
			mh: 4, mw: 4,
			want: []float64{
				1, 1, 2, 2,
				1, 1, 2, 2,
				3, 3, 4, 4,
				3, 3, 4, 4,
			},
		},
		{
			name: "identity",
			h:    2, w: 3, src: []float64{1, 2, 3, 4, 5, 6},
			mh: 2, mw: 3,
			want: []float64{1, 2, 3, 4, 5, 6},
		},
	} {
		got := areaResize(test.src, test.h, test.w, test.mh, test.mw)
		if !equalWithin(got, test.want, 1e-14) {
			t.Errorf("%s: got %v, want %v", test.name, got, test.want)
		}
	}
}

// TestAreaResizeReference compares the separable resize with a direct 2-D
// computation in exact rational arithmetic: output pixel (j, k) is the
// area-weighted mean of src over [j·h/mh, (j+1)·h/mh) × [k·w/mw, (k+1)·w/mw).
func TestAreaResizeReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	overlap := func(i, j, n, m int) *big.Rat {
		// |[i, i+1) ∩ [j·n/m, (j+1)·n/m)|
		lo := new(big.Rat).SetFrac64(int64(j*n), int64(m))
		hi := new(big.Rat).SetFrac64(int64((j+1)*n), int64(m))
		a, b := big.NewRat(int64(i), 1), big.NewRat(int64(i+1), 1)
		if lo.Cmp(a) > 0 {
			a = lo
		}
		if hi.Cmp(b) < 0 {
			b = hi
		}
		d := new(big.Rat).Sub(b, a)
		if d.Sign() < 0 {
			return new(big.Rat)
		}
		return d
	}
	for _, test := range []struct{ h, w, mh, mw int }{
		{7, 5, 3, 2}, {9, 9, 4, 4}, {5, 8, 3, 3}, {3, 4, 5, 7}, {11, 6, 11, 4},
	} {
		src := make([]float64, test.h*test.w)
		for i := range src {
			src[i] = float64(rng.IntN(256))
		}
		got := areaResize(src, test.h, test.w, test.mh, test.mw)
		for j := range test.mh {
			for k := range test.mw {
				sum := new(big.Rat)
				for y := range test.h {
					oy := overlap(y, j, test.h, test.mh)
					for x := range test.w {
						ox := overlap(x, k, test.w, test.mw)
						term := new(big.Rat).Mul(oy, ox)
						term.Mul(term, new(big.Rat).SetFloat64(src[y*test.w+x]))
						sum.Add(sum, term)
					}
				}
				// Divide by the area of the output pixel, (h/mh)·(w/mw).
				sum.Mul(sum, big.NewRat(int64(test.mh*test.mw), int64(test.h*test.w)))
				want, _ := sum.Float64()
				if g := got[j*test.mw+k]; g != want {
					t.Errorf("%d×%d→%d×%d: pixel (%d, %d) = %v, want %v", test.h, test.w, test.mh, test.mw, j, k, g, want)
				}
			}
		}
	}
}

func TestAreaResizeConstant(t *testing.T) {
	for _, test := range []struct{ h, w, mh, mw int }{
		{256, 256, 64, 64}, {227, 227, 64, 64}, {227, 227, 256, 256}, {7, 3, 2, 5}, {1, 1, 9, 9},
	} {
		src := make([]float64, test.h*test.w)
		for i := range src {
			src[i] = 173
		}
		for i, v := range areaResize(src, test.h, test.w, test.mh, test.mw) {
			// The sums are exact in integer units, so the mean is exactly 173.
			if v != 173 {
				t.Errorf("%d×%d→%d×%d: constant 173 gives %v at %d", test.h, test.w, test.mh, test.mw, v, i)
				break
			}
		}
	}
}

// TestAreaResizeMean checks that the resize keeps the image mean: exactly
// for power-of-two ratios (all arithmetic is then dyadic), to rounding for
// any other ratio.
func TestAreaResizeMean(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, test := range []struct {
		h, w, mh, mw int
		tol          float64
	}{
		{256, 256, 64, 64, 0},
		{8, 16, 4, 2, 0},
		{12, 12, 4, 4, 1e-13},
		{9, 9, 3, 3, 1e-13},
		{227, 227, 64, 64, 1e-13},
		{7, 5, 3, 2, 1e-13},
		{3, 3, 7, 7, 1e-13},
	} {
		src := make([]float64, test.h*test.w)
		for i := range src {
			src[i] = float64(rng.IntN(256))
		}
		in, out := mean(src), mean(areaResize(src, test.h, test.w, test.mh, test.mw))
		if math.Abs(in-out) > test.tol*in {
			t.Errorf("%d×%d→%d×%d: mean %v becomes %v", test.h, test.w, test.mh, test.mw, in, out)
		}
	}
}

func mean(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func equalWithin(a, b []float64, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(a[i]-b[i]) > tol {
			return false
		}
	}
	return true
}
