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
	"gonum.org/v1/gonum/mat"
)

// Distance returns the sliced 2-Wasserstein distance between the sample
// sets x and y (rows are points of equal dimension) over L directions drawn
// from rng.
func Distance(x, y [][]float64, L int, rng *rand.Rand) (float64, error) {
	if err := check(x, y); err != nil {
		return 0, err
	}
	if L < 1 {
		return 0, fmt.Errorf("sliced: need at least one direction, got %d", L)
	}
	return along(x, y, Directions(L, len(x[0]), rng))
}

// Directions returns L directions uniform on the unit sphere of ℝᵈ, drawn
// from rng (normalised Gaussian vectors). Drawing them costs about as much
// as projecting a few points on them, so a caller scoring many small sets
// draws them once and passes them to DistanceAlong.
func Directions(L, d int, rng *rand.Rand) [][]float64 {
	dirs := make([][]float64, L)
	for l := range dirs {
		theta := make([]float64, d)
		for i := range theta {
			theta[i] = rng.NormFloat64()
		}
		floats.Scale(1/floats.Norm(theta, 2), theta)
		dirs[l] = theta
	}
	return dirs
}

// DistanceAlong returns the sliced 2-Wasserstein distance between x and y
// estimated over the given unit directions.
func DistanceAlong(x, y, dirs [][]float64) (float64, error) {
	if err := check(x, y); err != nil {
		return 0, err
	}
	return along(x, y, dirs)
}

// along is DistanceAlong on sets already checked.
func along(x, y, dirs [][]float64) (float64, error) {
	if len(dirs) == 0 {
		return 0, fmt.Errorf("sliced: need at least one direction")
	}
	d := len(x[0])
	px, py := make([]float64, len(x)), make([]float64, len(y))
	sum := 0.0
	for l, theta := range dirs {
		if len(theta) != d {
			return 0, fmt.Errorf("sliced: direction %d has dimension %d, the points %d", l, len(theta), d)
		}
		for i, p := range x {
			px[i] = floats.Dot(theta, p)
		}
		for i, p := range y {
			py[i] = floats.Dot(theta, p)
		}
		sum += W2Squared1D(px, py)
	}
	return math.Sqrt(sum / float64(len(dirs))), nil
}

// Projections holds a point set projected on a set of directions: row l
// holds the points' coordinates along direction l.
type Projections [][]float64

// Project returns the projections of x on dirs, computed as one matrix
// product: a set compared several times is projected once.
func Project(x, dirs [][]float64) (Projections, error) {
	if len(x) == 0 || len(dirs) == 0 {
		return nil, fmt.Errorf("sliced: %d points on %d directions", len(x), len(dirs))
	}
	d := len(x[0])
	xm := mat.NewDense(len(x), d, nil)
	for i, p := range x {
		if len(p) != d {
			return nil, fmt.Errorf("sliced: point %d has dimension %d, want %d", i, len(p), d)
		}
		xm.SetRow(i, p)
	}
	dm := mat.NewDense(len(dirs), d, nil)
	for l, t := range dirs {
		if len(t) != d {
			return nil, fmt.Errorf("sliced: direction %d has dimension %d, the points %d", l, len(t), d)
		}
		dm.SetRow(l, t)
	}
	var pm mat.Dense
	pm.Mul(dm, xm.T())
	out := make(Projections, len(dirs))
	for l := range out {
		out[l] = pm.RawRowView(l)
	}
	return out, nil
}

// DistanceProjected returns the sliced 2-Wasserstein distance between two
// sets projected on the same directions.
func DistanceProjected(px, py Projections) (float64, error) {
	if len(px) != len(py) || len(px) == 0 {
		return 0, fmt.Errorf("sliced: projections on %d and %d directions", len(px), len(py))
	}
	a, b := make([]float64, len(px[0])), make([]float64, len(py[0]))
	sum := 0.0
	for l := range px {
		copy(a, px[l])
		copy(b, py[l])
		sum += W2Squared1D(a, b)
	}
	return math.Sqrt(sum / float64(len(px))), nil
}

func check(x, y [][]float64) error {
	if len(x) == 0 || len(y) == 0 {
		return fmt.Errorf("sliced: empty sample set (%d and %d points)", len(x), len(y))
	}
	d := len(x[0])
	for _, set := range [][][]float64{x, y} {
		for i, p := range set {
			if len(p) != d {
				return fmt.Errorf("sliced: point %d has dimension %d, want %d", i, len(p), d)
			}
		}
	}
	return nil
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
