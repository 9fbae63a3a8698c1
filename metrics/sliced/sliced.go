// Package sliced computes the sliced 2-Wasserstein distance between two
// empirical distributions in ℝᵈ,
//
//	SW₂(μ, ν) = ( E_θ W₂²(θ#μ, θ#ν) )^{1/2},  θ uniform on the unit sphere,
//
// estimated with L random directions. In one dimension W₂ is exact from the
// sorted samples: W₂² = ∫₀¹ (F⁻¹(u) − G⁻¹(u))² du.
package sliced

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/floats"
)

// Distance returns the sliced 2-Wasserstein distance between the sample
// sets x and y (rows are points of equal dimension) over L directions drawn
// from rng.
func Distance(x, y [][]float64, L int, rng *rand.Rand) (float64, error) {
	if len(x) == 0 || len(y) == 0 {
		return 0, fmt.Errorf("sliced: empty sample set (%d and %d points)", len(x), len(y))
	}
	d := len(x[0])
	for _, set := range [][][]float64{x, y} {
		for i, p := range set {
			if len(p) != d {
				return 0, fmt.Errorf("sliced: point %d has dimension %d, want %d", i, len(p), d)
			}
		}
	}
	if L < 1 {
		return 0, fmt.Errorf("sliced: need at least one direction, got %d", L)
	}
	theta := make([]float64, d)
	px, py := make([]float64, len(x)), make([]float64, len(y))
	sum := 0.0
	for l := 0; l < L; l++ {
		for i := range theta {
			theta[i] = rng.NormFloat64()
		}
		floats.Scale(1/floats.Norm(theta, 2), theta)
		for i, p := range x {
			px[i] = floats.Dot(theta, p)
		}
		for i, p := range y {
			py[i] = floats.Dot(theta, p)
		}
		sum += W2Squared1D(px, py)
	}
	return math.Sqrt(sum / float64(L)), nil
}

// W2Squared1D returns W₂² between the empirical distributions of a and b on
// the real line. It sorts a and b in place.
func W2Squared1D(a, b []float64) float64 {
	slices.Sort(a)
	slices.Sort(b)
	n, m := len(a), len(b)
	if n == m {
		s := 0.0
		for i := range a {
			s += (a[i] - b[i]) * (a[i] - b[i])
		}
		return s / float64(n)
	}
	// Piecewise-constant quantile functions: walk the merged breakpoints
	// i/n and j/m.
	s, u := 0.0, 0.0
	i, j := 0, 0
	for i < n && j < m {
		ni, nj := float64(i+1)/float64(n), float64(j+1)/float64(m)
		next := math.Min(ni, nj)
		diff := a[i] - b[j]
		s += (next - u) * diff * diff
		u = next
		if ni <= next {
			i++
		}
		if nj <= next {
			j++
		}
	}
	return s
}
