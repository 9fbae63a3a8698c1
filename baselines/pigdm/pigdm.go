// Package pigdm is ΠGDM, pseudoinverse-guided diffusion (Song, Vahdat,
// Mardani and Kautz, ICLR 2023, "Pseudoinverse-Guided Diffusion Models for
// Inverse Problems"), for linear problems y = A x₀ + σ_y n on the EDM
// backbone.
//
// ΠGDM approximates p(x₀ | x_t) by N(x̂_t, r_t² I), x̂_t = D(x_t; σ_t), which
// makes p(y | x_t) ≈ N(A x̂_t, r_t² AAᵀ + σ_y² I) and gives the guidance
// (the paper's noisy linear case, Sec. 3)
//
//	g = (∂x̂_t/∂x_t)ᵀ Aᵀ (r_t² AAᵀ + σ_y² I)⁻¹ (y − A x̂_t) ≈ ∇ log p(y | x_t),
//
// one vector–Jacobian product per step. The inverse is applied in ℝᵈ by the
// push-through identity Aᵀ(r²AAᵀ + σ_y²I)⁻¹ = (r²AᵀA + σ_y²I)⁻¹Aᵀ, a shifted
// solve; for σ_y = 0 it is A⁺/r².
//
// r_t² is the variance of x₀ given x_t when the data are N(0, c I): for the
// VE interpolant x_σ = x₀ + σε,
//
//	r² = (1/c + 1/σ²)⁻¹ = σ² c / (σ² + c),
//
// which for c = 1 is the paper's r_t² = σ_t²/(σ_t² + 1). (The paper states it
// for unit-variance data; in VP notation it is 1 − ᾱ_t, since σ² = (1 − ᾱ)/ᾱ.)
// c is the parameter data_var.
//
// Sampler. With ∇ log p(x_σ | y) ≈ ∇ log p(x_σ) + w g, Tweedie's formula
// gives the guided denoiser x̂_c = x̂ + σ² w g, and the step is the DDIM step
// (η) of the VE interpolant taken with (x̂_c, ε̂_c = (x − x̂_c)/σ):
//
//	x_N ~ N(0, σ_max² I)
//	for i = 0 … N−1 (σᵢ > σᵢ₊₁ on the EDM grid, σ_N = 0):
//	    x̂ = D(xᵢ; σᵢ)                                          (1 NFE)
//	    h = (rᵢ² AᵀA + σ_y² I)⁻¹ Aᵀ (y − A x̂)
//	    g = J(xᵢ; σᵢ)ᵀ h                                         (1 VJP)
//	    x̂_c = x̂ + w σᵢ² g
//	    s = η σᵢ₊₁ √(1 − σᵢ₊₁²/σᵢ²)
//	    xᵢ₊₁ = x̂_c + √(σᵢ₊₁² − s²) (xᵢ − x̂_c)/σᵢ + s z,   z ~ N(0, I)
//
// So the guidance enters each step with weight (σᵢ² − σᵢ₊₁²) w for η = 1
// (ancestral, DDPM-like) and σᵢ(σᵢ − σᵢ₊₁) w for η = 0 (the probability-flow
// ODE's Euler step): the discretisation of the conditional reverse process.
// The paper's own VP algorithm adds √ᾱ_t g to the DDIM update instead; that
// weight is not a discretisation of the reverse process in the VE time of
// EDM, so we use the one above and keep w (default 1) as the paper's
// guidance scale. For a Gaussian prior N(0, c I), g is the exact
// ∇ log p(y | x_σ) and the sampler targets the exact posterior.
//
// NFE: one denoiser call and one VJP per step, N = NFE steps.
package pigdm

import (
	"context"
	"fmt"

	"gonum.org/v1/gonum/floats"

	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Version is the ΠGDM solver's version, recorded with its results.
const Version = "0.1.0"

// Solver is ΠGDM. Each step costs one NFE and one VJP.
type Solver struct{}

// Info describes ΠGDM.
func (Solver) Info() sdk.Info {
	return sdk.Info{
		Name:         "pigdm",
		Version:      Version,
		Capabilities: []sdk.Capability{sdk.NeedsVJP},
		NFEGrid:      []int{10, 20, 50, 100, 200},
		Params: append([]sdk.Param{
			{Name: "eta", Default: 1, Min: 0, Max: 1, Doc: "η of the DDIM step: 1 ancestral (DDPM-like), 0 deterministic"},
			{Name: "data_var", Default: 1, Min: 1e-6, Max: 1e6, Doc: "data variance c in r² = σ²c/(σ² + c); 1 as in the paper"},
			{Name: "scale", Default: 1, Min: 0, Max: 1e3, Doc: "guidance scale w multiplying the ΠG term"},
		}, edm.Params()...),
	}
}

// R2 returns r² = σ²c/(σ² + c), the variance of x₀ given x₀ + σε for data
// N(0, c I).
func R2(sigma, c float64) float64 { return sigma * sigma * c / (sigma*sigma + c) }

// Solve draws one posterior sample per row of dst with nfe steps.
func (Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	sigmas, err := edm.Grid(nfe, p.SigmaMax, params)
	if err != nil {
		return fmt.Errorf("pigdm: %w", err)
	}
	eta, c, w := params["eta"], params["data_var"], params["scale"]
	if !(eta >= 0 && eta <= 1) || !(c > 0) || !(w >= 0) {
		return fmt.Errorf("pigdm: need η in [0, 1], data_var > 0 and scale ≥ 0, got %v, %v, %v", eta, c, w)
	}
	if p.SigmaY < 0 {
		return fmt.Errorf("pigdm: negative σ_y %v", p.SigmaY)
	}
	mm, d := p.Op.Dims()
	n := len(dst)
	x0, h, g, r := sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, mm)
	rng := sdk.Rands(seeds)
	if err := edm.Start(dst, p.SigmaMax, rng); err != nil {
		return fmt.Errorf("pigdm: %w", err)
	}
	vy := p.SigmaY * p.SigmaY
	for i := 0; i < nfe; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		si, sn := sigmas[i], sigmas[i+1]
		// x̂ = D(xᵢ; σᵢ).
		if err := m.Denoise(ctx, x0, dst, si); err != nil {
			return err
		}
		// r = y − A x̂.
		if err := p.Op.Apply(ctx, r, x0); err != nil {
			return err
		}
		for k := range r {
			floats.SubTo(r[k], p.Y, r[k])
		}
		// h = Aᵀ(r²AAᵀ + σ_y²I)⁻¹ r = (r²AᵀA + σ_y²I)⁻¹ Aᵀ r, or A⁺r/r² if σ_y = 0.
		r2 := R2(si, c)
		if vy > 0 {
			if err := p.Op.Adjoint(ctx, h, r); err != nil {
				return err
			}
			if err := p.Op.SolveShifted(ctx, h, vy, r2, h); err != nil {
				return err
			}
		} else {
			if err := p.Op.Pinv(ctx, h, r); err != nil {
				return err
			}
			for k := range h {
				floats.Scale(1/r2, h[k])
			}
		}
		// g = J(xᵢ; σᵢ)ᵀ h.
		if err := m.VJP(ctx, g, dst, si, h); err != nil {
			return err
		}
		c, s := edm.DDIM(eta, si, sn)
		keep := c / si
		wg := w * si * si
		sdk.ParallelRows(n, func(k int) {
			x, xh, gk, rk := dst[k], x0[k], g[k], rng[k]
			for j := range x {
				xc := xh[j] + wg*gk[j]
				v := xc + keep*(x[j]-xc)
				if s > 0 {
					v += s * rk.NormFloat64()
				}
				x[j] = v
			}
		})
	}
	return nil
}
