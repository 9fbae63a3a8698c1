package eps

import (
	"context"
	"fmt"

	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Version is the EPS solver's version, recorded with its results.
const Version = "0.1.0"

// Solver is EPS on the EDM Heun sampler:
//
//	x_N ~ N(0, σ_max² I)
//	for each step σᵢ → σᵢ₊₁ of edm.HeunSchedule(NFE):
//	    μ* = Σ*(σ)(x/σ² + Aᵀy/σ_y²)           (the pivot, one shifted solve)
//	    D(x; σ) = D_θ(μ*, y, σ) ≈ E[x₀ | μ*]    (one NFE)
//	    Heun step of dx/dσ = (x − D(x; σ))/σ
//
// The counted NFE equals the requested NFE.
type Solver struct{}

// Info describes EPS.
func (Solver) Info() sdk.Info {
	return sdk.Info{
		Name:         "eps",
		Version:      Version,
		Capabilities: []sdk.Capability{sdk.NeedsEPSModel},
		NFEGrid:      []int{1, 2, 5, 10, 20, 50, 100},
		Params:       edm.Params(),
	}
}

// Solve draws one posterior sample per row of dst.
func (s Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	sched, err := edm.HeunSchedule(nfe, params["sigma_min"], p.SigmaMax, params["rho"])
	if err != nil {
		return fmt.Errorf("eps: %w", err)
	}
	_, d := p.Op.Dims()
	aty := sdk.Rows(ctx, 1, d)
	if err := p.Op.Adjoint(ctx, aty, [][]float64{p.Y}); err != nil {
		return err
	}
	if err := edm.Start(dst, p.SigmaMax, sdk.Rands(seeds)); err != nil {
		return fmt.Errorf("eps: %w", err)
	}
	pivots := sdk.Rows(ctx, len(dst), d)
	denoise := func(ctx context.Context, den, x [][]float64, sigma float64) error {
		if err := Pivots(ctx, pivots, p.Op, x, aty[0], 1, sigma, p.SigmaY); err != nil {
			return err
		}
		return m.DenoiseEPS(ctx, den, pivots, sigma)
	}
	return edm.Heun(ctx, dst, sched, denoise)
}
