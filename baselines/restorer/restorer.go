// Package restorer is a conditional restorer in the manner of Palette
// (Saharia, Chan, Chang, Lee, Ho, Salimans, Fleet and Norouzi, SIGGRAPH
// 2022, "Palette: Image-to-Image Diffusion Models"): a diffusion model
// trained on pairs (x₀, y) whose denoiser takes the measurement as an input,
//
//	D(x_σ, y; σ) ≈ E[x₀ | x₀ + σε = x_σ, y],
//
// sampled with its own sampler and no guidance at all. It needs the host's
// model to be conditional (Model.Restore); on Gaussian mixtures the exact
// conditional denoiser serves, so the restorer is what a perfectly trained
// conditional model would give with this sampler.
//
// Sampler (Palette samples ancestrally, as DDPM; η = 1 here, η = 0 the
// probability-flow ODE's Euler step), in the EDM time x_σ = x₀ + σε:
//
//	x_N ~ N(0, σ_max² I)
//	for i = 0 … N−1 (σᵢ > σᵢ₊₁ on the EDM grid, σ_N = 0):
//	    x̂ = D(xᵢ, y; σᵢ)                                     (1 NFE)
//	    s = η σᵢ₊₁ √(1 − σᵢ₊₁²/σᵢ²)
//	    xᵢ₊₁ = x̂ + √(σᵢ₊₁² − s²) (xᵢ − x̂)/σᵢ + s z,   z ~ N(0, I)
//
// With an exact conditional denoiser this is the reverse process of the
// posterior p(x₀ | y) itself, so it converges to the posterior as N grows;
// the error at small N is the sampler's alone.
//
// NFE: one conditional denoiser call per step, N = NFE steps; no VJP.
package restorer

import (
	"context"
	"fmt"

	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Version is the restorer's version, recorded with its results.
const Version = "0.1.0"

// Solver is the conditional restorer. Each step costs one NFE.
type Solver struct{}

// Info describes the restorer.
func (Solver) Info() sdk.Info {
	return sdk.Info{
		Name:         "restorer",
		Version:      Version,
		Capabilities: []sdk.Capability{sdk.Conditional},
		NFEGrid:      []int{5, 10, 20, 50, 100},
		Params: append([]sdk.Param{
			{Name: "eta", Default: 1, Min: 0, Max: 1, Doc: "η of the DDIM step: 1 ancestral (Palette's DDPM sampler), 0 deterministic"},
		}, edm.Params()...),
	}
}

// Solve draws one sample per row of dst with nfe steps.
func (Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	sigmas, err := edm.Grid(nfe, p.SigmaMax, params)
	if err != nil {
		return fmt.Errorf("restorer: %w", err)
	}
	eta := params["eta"]
	if !(eta >= 0 && eta <= 1) {
		return fmt.Errorf("restorer: η = %v must be in [0, 1]", eta)
	}
	_, d := p.Op.Dims()
	n := len(dst)
	x0 := sdk.Rows(ctx, n, d)
	rng := sdk.Rands(seeds)
	if err := edm.Start(dst, p.SigmaMax, rng); err != nil {
		return fmt.Errorf("restorer: %w", err)
	}
	for i := 0; i < nfe; i++ {
		si, sn := sigmas[i], sigmas[i+1]
		// x̂ = D(xᵢ, y; σᵢ).
		if err := m.Restore(ctx, x0, dst, si); err != nil {
			return err
		}
		c, s := edm.DDIM(eta, si, sn)
		keep := c / si
		sdk.ParallelRows(n, func(k int) {
			x, xh, rk := dst[k], x0[k], rng[k]
			for j := range x {
				v := xh[j] + keep*(x[j]-xh[j])
				if s > 0 {
					v += s * rk.NormFloat64()
				}
				x[j] = v
			}
		})
	}
	return nil
}
