// Package dps is Diffusion Posterior Sampling (Chung et al., ICLR 2023) on
// the EDM backbone.
//
// Algorithm 1 of the paper, with the VE interpolant x_σ = x₀ + σε of EDM:
//
//	x_N ~ N(0, σ_max² I)
//	for i = 0 … N−1 (σᵢ > σᵢ₊₁, σ_N = 0):
//	    x̂₀ = D(xᵢ; σᵢ)                                   (1 NFE)
//	    x′ = x̂₀ + (σᵢ₊₁²/σᵢ²)(xᵢ − x̂₀) + σᵢ₊₁ √(1 − σᵢ₊₁²/σᵢ²) z   (ancestral step)
//	    xᵢ₊₁ = x′ − ζ ∇ₓᵢ ‖y − A x̂₀(xᵢ)‖                    (1 VJP)
//
// The gradient is that of the norm, not of its square, as in the authors'
// code; it equals the paper's ζᵢ ∇‖y − A x̂₀‖² with ζᵢ = ζ/(2‖y − A x̂₀‖). By
// the chain rule ∇‖r‖ = −Jᵀ Aᵀ r/‖r‖, r = y − A x̂₀, J = ∂D/∂x.
package dps

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"

	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Version is the DPS solver's version, recorded with its results.
const Version = "0.1.0"

// Solver is DPS. Each step costs one NFE and one VJP.
type Solver struct{}

// Info describes DPS.
func (Solver) Info() sdk.Info {
	return sdk.Info{
		Name:         "dps",
		Version:      Version,
		Capabilities: []sdk.Capability{sdk.NeedsVJP},
		NFEGrid:      []int{20, 50, 100, 200, 500, 1000},
		Params: append([]sdk.Param{
			{Name: "zeta", Default: 1, Min: 0, Max: 1e6, Doc: "step size ζ of the likelihood gradient"},
			{Name: "ancestral", Default: 1, Min: 0, Max: 1, Doc: "1: stochastic ancestral steps as in the paper; 0: deterministic Euler steps"},
		}, edm.Params()...),
	}
}

// Solve draws one posterior sample per row of dst.
func (Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	sigmas, err := edm.Grid(nfe, p.SigmaMax, params)
	if err != nil {
		return fmt.Errorf("dps: %w", err)
	}
	zeta, ancestral := params["zeta"], params["ancestral"] != 0
	mm, d := p.Op.Dims()
	n := len(dst)
	x0, g, grad, r := sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, mm)
	rng := sdk.Rands(seeds)
	if err := edm.Start(dst, p.SigmaMax, rng); err != nil {
		return fmt.Errorf("dps: %w", err)
	}
	for i := 0; i < nfe; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		si, sn := sigmas[i], sigmas[i+1]
		if err := m.Denoise(ctx, x0, dst, si); err != nil {
			return err
		}
		// g = Aᵀ(A x̂₀ − y)/‖y − A x̂₀‖ = ∇_{x̂₀} ‖y − A x̂₀‖.
		if err := p.Op.Apply(ctx, r, x0); err != nil {
			return err
		}
		for k := range r {
			floats.Sub(r[k], p.Y)
			if norm := floats.Norm(r[k], 2); norm > 0 {
				floats.Scale(1/norm, r[k])
			}
		}
		if err := p.Op.Adjoint(ctx, g, r); err != nil {
			return err
		}
		if err := m.VJP(ctx, grad, dst, si, g); err != nil {
			return err
		}
		ratio := sn / si
		for k, x := range dst {
			xh := x0[k]
			if ancestral {
				std := sn * math.Sqrt(1-ratio*ratio)
				for j := range x {
					x[j] = xh[j] + ratio*ratio*(x[j]-xh[j]) + std*rng[k].NormFloat64()
				}
			} else {
				for j := range x {
					x[j] += (sn - si) * (x[j] - xh[j]) / si
				}
			}
			floats.AddScaled(x, -zeta, grad[k])
		}
	}
	return nil
}
