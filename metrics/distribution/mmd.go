package distribution

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Kernel is a positive definite kernel k(x, y) on ℝᵈ.
type Kernel interface {
	Eval(x, y []float64) float64
}

// Gaussian is the Gaussian (RBF) kernel
//
//	k(x, y) = exp(−‖x − y‖² / (2h²)),  h = Bandwidth > 0.
//
// MedianBandwidth gives the usual choice of h.
type Gaussian struct {
	Bandwidth float64
}

// Eval returns k(x, y).
func (g Gaussian) Eval(x, y []float64) float64 {
	d2 := 0.0
	for i := range x {
		d2 += (x[i] - y[i]) * (x[i] - y[i])
	}
	return math.Exp(-d2 / (2 * g.Bandwidth * g.Bandwidth))
}

func (g Gaussian) check() error {
	if !(g.Bandwidth > 0) || math.IsInf(g.Bandwidth, 1) {
		return fmt.Errorf("gaussian kernel bandwidth %v is not a positive finite number", g.Bandwidth)
	}
	return nil
}

// Polynomial is the polynomial kernel
//
//	k(x, y) = (γ xᵀy + c)ᵖ,  γ = Scale, c = Offset, p = Degree ≥ 1.
//
// KID's kernel is Polynomial{Degree: 3, Scale: 1/d, Offset: 1}.
type Polynomial struct {
	Degree        int
	Scale, Offset float64
}

// Eval returns k(x, y).
func (p Polynomial) Eval(x, y []float64) float64 {
	return ipow(p.Scale*floats.Dot(x, y)+p.Offset, p.Degree)
}

func (p Polynomial) check() error {
	if p.Degree < 1 {
		return fmt.Errorf("polynomial kernel degree %d is below 1", p.Degree)
	}
	return nil
}

func ipow(x float64, p int) float64 {
	r := 1.0
	for ; p > 0; p-- {
		r *= x
	}
	return r
}

// MMD2 returns the unbiased estimate of the squared maximum mean
// discrepancy between the distributions of the point sets a (m points) and
// b (n points) under the kernel k (Gretton et al. 2012, eq. 3),
//
//	MMD²ᵤ = 1/(m(m−1)) Σ_{i≠j} k(aᵢ, aⱼ) + 1/(n(n−1)) Σ_{i≠j} k(bᵢ, bⱼ)
//	        − 2/(mn) Σᵢ Σⱼ k(aᵢ, bⱼ).
//
// Being unbiased it can be negative when the distributions are close; its
// expectation is zero when they are equal. The cost is O((m + n)² d)
// kernel work.
//
// MMD2 returns an error if either set has fewer than two points, if the
// points do not all have the same non-zero dimension, or if the kernel's
// parameters are invalid.
func MMD2(a, b [][]float64, k Kernel) (float64, error) {
	if _, err := dims("mmd2", a, b, 2); err != nil {
		return 0, err
	}
	if k == nil {
		return 0, fmt.Errorf("mmd2: nil kernel")
	}
	if c, ok := k.(interface{ check() error }); ok {
		if err := c.check(); err != nil {
			return 0, fmt.Errorf("mmd2: %w", err)
		}
	}
	within := func(x [][]float64) float64 {
		s := 0.0
		for i := range x {
			for j := i + 1; j < len(x); j++ {
				s += k.Eval(x[i], x[j])
			}
		}
		m := float64(len(x))
		return 2 * s / (m * (m - 1))
	}
	cross := 0.0
	for _, x := range a {
		for _, y := range b {
			cross += k.Eval(x, y)
		}
	}
	return within(a) + within(b) - 2*cross/float64(len(a)*len(b)), nil
}

// MedianBandwidth returns the median heuristic for the Gaussian kernel's
// bandwidth: the median of the Euclidean distances ‖zᵢ − zⱼ‖, i < j, over
// the pooled points z of a and b (the mean of the two middle distances when
// their number is even). It costs O((m + n)² d) time and O((m + n)²)
// memory; pass subsets for large sets.
//
// MedianBandwidth returns an error if there are fewer than two points in
// all, if the dimensions differ, or if all points coincide (the median
// distance is zero).
func MedianBandwidth(a, b [][]float64) (float64, error) {
	z := append(slices.Clip(a), b...)
	if len(z) < 2 {
		return 0, fmt.Errorf("median bandwidth: need at least two points, got %d", len(z))
	}
	d := len(z[0])
	for i, p := range z {
		if len(p) != d || d == 0 {
			return 0, fmt.Errorf("median bandwidth: pooled point %d has dimension %d, want %d > 0", i, len(p), d)
		}
	}
	dist := make([]float64, 0, len(z)*(len(z)-1)/2)
	for i := range z {
		for j := i + 1; j < len(z); j++ {
			dist = append(dist, floats.Distance(z[i], z[j], 2))
		}
	}
	return medianDistance(dist)
}

// medianDistance returns the median of the pairwise distances dist (sorted
// in place; the mean of the two middle ones for an even count), which must
// be positive.
func medianDistance(dist []float64) (float64, error) {
	slices.Sort(dist)
	n := len(dist)
	med := dist[n/2]
	if n%2 == 0 {
		med = (dist[n/2-1] + dist[n/2]) / 2
	}
	if !(med > 0) {
		return 0, fmt.Errorf("median bandwidth: median pairwise distance is %v", med)
	}
	return med, nil
}

// KID returns the mean and standard deviation, over random subsets, of the
// unbiased squared MMD between a and b with the cubic polynomial kernel
//
//	k(x, y) = (xᵀy/d + 1)³,
//
// the kernel distance of Bińkowski et al. (2018, "Demystifying MMD GANs").
// Each of the subsets draws subsetSize points from a and subsetSize points
// from b, without replacement within a subset and independently across
// subsets, using rng, and evaluates MMD2 on them, as clean-fid's
// kernel_distance does (its default is 100 subsets of 1000 points, with
// subsetSize the smaller of 1000 and the set sizes). std is the population
// standard deviation of the subset values (numpy.std, as torch-fidelity
// reports it); it describes the spread of one subset's estimate, not the
// error of the mean.
//
// It is KID only when a and b are Inception-v3 features; see the package
// documentation.
//
// KID returns an error if the dimensions differ, if subsets < 1, if
// subsetSize < 2 or exceeds either set's size, or if rng is nil.
func KID(a, b [][]float64, subsets, subsetSize int, rng *rand.Rand) (mean, std float64, err error) {
	d, err := dims("kid", a, b, 2)
	if err != nil {
		return 0, 0, err
	}
	switch {
	case subsets < 1:
		return 0, 0, fmt.Errorf("kid: need at least one subset, got %d", subsets)
	case subsetSize < 2 || subsetSize > len(a) || subsetSize > len(b):
		return 0, 0, fmt.Errorf("kid: subset size %d is not in [2, %d]", subsetSize, min(len(a), len(b)))
	case rng == nil:
		return 0, 0, fmt.Errorf("kid: nil random source")
	}
	m := subsetSize
	x := mat.NewDense(m, d, nil)
	y := mat.NewDense(m, d, nil)
	var kxx, kyy mat.SymDense
	var kxy mat.Dense
	pa, pb := identity(len(a)), identity(len(b))
	vals := make([]float64, subsets)
	fm := float64(m)
	for s := range vals {
		choose(pa, m, rng)
		choose(pb, m, rng)
		for i := 0; i < m; i++ {
			x.SetRow(i, a[pa[i]])
			y.SetRow(i, b[pb[i]])
		}
		// Gram matrices by BLAS; the kernel is applied elementwise.
		kxx.SymOuterK(1, x)
		kyy.SymOuterK(1, y)
		kxy.Mul(x, y.T())
		within := 0.0
		for i := 0; i < m; i++ {
			for j := i + 1; j < m; j++ {
				within += cubic(kxx.At(i, j), d) + cubic(kyy.At(i, j), d)
			}
		}
		cross := 0.0
		for i := 0; i < m; i++ {
			for j := 0; j < m; j++ {
				cross += cubic(kxy.At(i, j), d)
			}
		}
		vals[s] = 2*within/(fm*(fm-1)) - 2*cross/(fm*fm)
	}
	mean = floats.Sum(vals) / float64(subsets)
	for _, v := range vals {
		std += (v - mean) * (v - mean)
	}
	std = math.Sqrt(std / float64(subsets))
	return mean, std, nil
}

// cubic returns (g/d + 1)³ for a Gram entry g = xᵀy.
func cubic(g float64, d int) float64 {
	t := g/float64(d) + 1
	return t * t * t
}

func identity(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	return p
}

// choose moves a uniformly random m-subset of p, in random order, to
// p[:m] (a partial Fisher–Yates shuffle).
func choose(p []int, m int, rng *rand.Rand) {
	for i := 0; i < m; i++ {
		j := i + rng.IntN(len(p)-i)
		p[i], p[j] = p[j], p[i]
	}
}
