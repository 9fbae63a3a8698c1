// Package eps is the Exact Posterior Score solver (EPS, arXiv 2606.17048).
//
// For y = A x₀ + σ_y n and the interpolant x_t = α_t x₀ + σ_t ε, write
// a = α_t²/σ_t² and b = 1/σ_y². Then
//
//	Σ* = (a I + b AᵀA)⁻¹
//	μ* = Σ* (α_t x_t/σ_t² + Aᵀy/σ_y²)
//	∇ log p(x_t | y) = (α_t E[x₀ | μ*, y] − x_t) / σ_t²
//
// and μ* = x₀ + N(0, Σ*) exactly: the posterior denoiser is an ordinary
// denoiser evaluated at the pivot μ* under anisotropic noise Σ*. EPS runs the
// backbone's own sampler (EDM Heun) with that denoiser in place of D(x_t; σ):
// no likelihood gradient and no projection; 1 NFE gives the MMSE estimate.
package eps

import (
	"context"

	"github.com/ipbench/ipbench/plugins/sdk"
)

// Pivots sets dst[i] = μ*(x[i]) = Σ*(α x[i]/σ² + Aᵀy/σ_y²) with
// Σ* = (aI + bAᵀA)⁻¹, a = α²/σ², b = 1/σ_y²: one batched shifted solve.
// aty is Aᵀy. dst may alias x.
func Pivots(ctx context.Context, dst [][]float64, op sdk.Operator, x [][]float64, aty []float64, alpha, sigma, sigmaY float64) error {
	s2, b := sigma*sigma, 1/(sigmaY*sigmaY)
	sdk.ParallelRows(len(x), func(r int) {
		xr, dr := x[r], dst[r]
		for i := range dr {
			dr[i] = alpha*xr[i]/s2 + b*aty[i]
		}
	})
	return op.SolveShifted(ctx, dst, alpha*alpha/s2, b, dst)
}

// Score sets dst = ∇ log p(x_t | y) = (α D − x_t)/σ², D = E[x₀ | μ*, y].
func Score(dst, x, den []float64, alpha, sigma float64) {
	s2 := sigma * sigma
	for i := range dst {
		dst[i] = (alpha*den[i] - x[i]) / s2
	}
}
