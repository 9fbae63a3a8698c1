package problem

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/operator"
)

// MCGdiff returns a problem of the Gaussian-mixture family of the MCGdiff
// paper (Cardoso et al., 2023, appendix B.3), drawn from rng:
//
//   - 25 components with means (8i, 8j), i, j ∈ {−2, …, 2}, tiled to d;
//     identity covariances; weights wₖ ∝ gₖ², gₖ ~ N(0, 1);
//   - A = U diag(s) V with U ∈ ℝ^{m×m} and the m rows of V random orthonormal,
//     s ~ U(0, 1) sorted in decreasing order;
//   - σ_y = u · max s, u ~ U(0, 1); y = A x₀ + σ_y n with x₀ from the prior.
//
// d must be even.
func MCGdiff(d, m int, rng *rand.Rand) (*File, error) {
	if d < 2 || d%2 != 0 {
		return nil, fmt.Errorf("MCGdiff family: dimension %d must be even and positive", d)
	}
	if m < 1 || m > d {
		return nil, fmt.Errorf("MCGdiff family: %d observations for dimension %d", m, d)
	}
	f := &File{Dim: d}
	for i := -2; i <= 2; i++ {
		for j := -2; j <= 2; j++ {
			mu := make([]float64, d)
			for k := 0; k < d; k += 2 {
				mu[k], mu[k+1] = 8*float64(i), 8*float64(j)
			}
			f.Means = append(f.Means, mu)
			g := rng.NormFloat64()
			f.Weights = append(f.Weights, g*g)
			f.Variances = append(f.Variances, 1)
		}
	}
	sum := 0.0
	for _, w := range f.Weights {
		sum += w
	}
	for k := range f.Weights {
		f.Weights[k] /= sum
	}
	u := orthonormal(m, m, rng)
	v := orthonormal(d, m, rng) // d×m, columns orthonormal: Vᵀ's rows
	s := make([]float64, m)
	for i := range s {
		s[i] = rng.Float64()
	}
	slices.Sort(s)
	slices.Reverse(s)
	f.A = make([][]float64, m)
	for i := 0; i < m; i++ {
		f.A[i] = make([]float64, d)
		for j := 0; j < d; j++ {
			a := 0.0
			for k := 0; k < m; k++ {
				a += u.At(i, k) * s[k] * v.At(j, k)
			}
			f.A[i][j] = a
		}
	}
	f.SigmaY = rng.Float64() * s[0]
	if f.SigmaY == 0 {
		f.SigmaY = 1e-3 * s[0]
	}
	prior, err := gmm.NewIsotropic(f.Weights, f.Means, f.Variances)
	if err != nil {
		return nil, err
	}
	x0 := make([]float64, d)
	prior.Sample(x0, rng)
	f.Y = make([]float64, m)
	for i := range f.Y {
		y := 0.0
		for j, a := range f.A[i] {
			y += a * x0[j]
		}
		f.Y[i] = y + f.SigmaY*rng.NormFloat64()
	}
	return f, nil
}

// orthonormal returns an n×k matrix with orthonormal columns, uniformly
// distributed (QR of a Gaussian matrix with the signs of R's diagonal fixed).
func orthonormal(n, k int, rng *rand.Rand) *mat.Dense {
	g := mat.NewDense(n, k, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < k; j++ {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q, r mat.Dense
	qr.QTo(&q)
	qr.RTo(&r)
	out := mat.NewDense(n, k, nil)
	for j := 0; j < k; j++ {
		sign := 1.0
		if r.At(j, j) < 0 {
			sign = -1
		}
		for i := 0; i < n; i++ {
			out.Set(i, j, sign*q.At(i, j))
		}
	}
	return out
}

// FromOperator returns the problem file of an isotropic prior with the
// operator written as its dense matrix (row i of A is Aᵀeᵢ).
func FromOperator(prior *gmm.Mixture, op operator.Operator, y []float64, sigmaY float64) (*File, error) {
	vars, iso := prior.Isotropic()
	if !iso {
		return nil, fmt.Errorf("problem: only isotropic priors are exported")
	}
	m, d := op.Dims()
	f := &File{Dim: d, Weights: append([]float64(nil), prior.Weights()...), Variances: append([]float64(nil), vars...),
		Y: append([]float64(nil), y...), SigmaY: sigmaY}
	for k := 0; k < prior.Len(); k++ {
		f.Means = append(f.Means, append([]float64(nil), prior.Mean(k)...))
	}
	e := make([]float64, m)
	for i := 0; i < m; i++ {
		e[i] = 1
		row := make([]float64, d)
		op.Adjoint(row, e)
		e[i] = 0
		f.A = append(f.A, row)
	}
	return f, nil
}
