// Package pinv holds the linear floors of ipbench: estimators that use the
// operator and the measurement but no diffusion model at all.
//
//	pinv:      x = A⁺ y
//	tikhonov:  x = (AᵀA + λ I)⁻¹ Aᵀ y,  λ = σ_y² / s²
//
// Tikhonov's estimate is the posterior mean E[x₀ | y] for the Gaussian prior
// x₀ ~ N(0, s² I); as λ → 0 (σ_y = 0) it tends to A⁺y.
//
// NFE: 0 model calls whatever is requested. Both solvers accept any requested
// NFE, ignore it and never call the model, so the host counts 0 NFE and
// 0 VJP per sample. Their NFEGrid is {1} only because the record wants a
// requested NFE of at least 1. Every sample of a batch is the same point
// estimate; seeds are not used.
package pinv

import (
	"context"
	"fmt"

	"github.com/ipbench/ipbench/plugins/sdk"
)

// Version is the version of both floors, recorded with their results.
const Version = "0.1.0"

// Solver is the pseudoinverse floor x = A⁺y. It makes no model calls.
type Solver struct{}

// Info describes the pseudoinverse floor.
func (Solver) Info() sdk.Info {
	return sdk.Info{
		Name:    "pinv",
		Version: Version,
		NFEGrid: []int{1},
	}
}

// Solve writes A⁺y into every row of dst. nfe, seeds and m are ignored.
func (Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	if len(dst) == 0 {
		return nil
	}
	_, d := p.Op.Dims()
	x := sdk.Rows(ctx, 1, d)
	if err := p.Op.Pinv(ctx, x, [][]float64{p.Y}); err != nil {
		return fmt.Errorf("pinv: %w", err)
	}
	return fill(dst, x[0])
}

// Tikhonov is the ridge floor x = (AᵀA + λI)⁻¹Aᵀy with λ = σ_y²/s², the
// posterior mean under the prior N(0, s² I). It makes no model calls.
type Tikhonov struct{}

// DefaultPriorStd is the default prior standard deviation s: half the range
// of images in [-1, 1].
const DefaultPriorStd = 0.5

// Info describes the Tikhonov floor.
func (Tikhonov) Info() sdk.Info {
	return sdk.Info{
		Name:    "tikhonov",
		Version: Version,
		NFEGrid: []int{1},
		Params: []sdk.Param{
			{Name: "prior_std", Default: DefaultPriorStd, Min: 1e-6, Max: 1e6, Doc: "standard deviation s of the Gaussian prior N(0, s²I); λ = σ_y²/s²"},
		},
	}
}

// Solve writes (AᵀA + λI)⁻¹Aᵀy, λ = σ_y²/s², into every row of dst. With
// σ_y = 0 the limit λ → 0, A⁺y, is returned. nfe, seeds and m are ignored.
func (Tikhonov) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	if len(dst) == 0 {
		return nil
	}
	s := params["prior_std"]
	if !(s > 0) {
		return fmt.Errorf("tikhonov: prior_std must be positive, got %v", s)
	}
	if p.SigmaY < 0 {
		return fmt.Errorf("tikhonov: negative σ_y %v", p.SigmaY)
	}
	_, d := p.Op.Dims()
	x := sdk.Rows(ctx, 1, d)
	lambda := p.SigmaY * p.SigmaY / (s * s)
	if lambda == 0 {
		if err := p.Op.Pinv(ctx, x, [][]float64{p.Y}); err != nil {
			return fmt.Errorf("tikhonov: %w", err)
		}
		return fill(dst, x[0])
	}
	if err := p.Op.Adjoint(ctx, x, [][]float64{p.Y}); err != nil {
		return fmt.Errorf("tikhonov: %w", err)
	}
	if err := p.Op.SolveShifted(ctx, x, lambda, 1, x); err != nil {
		return fmt.Errorf("tikhonov: %w", err)
	}
	return fill(dst, x[0])
}

// fill copies x into every row of dst.
func fill(dst [][]float64, x []float64) error {
	for i, row := range dst {
		if len(row) != len(x) {
			return fmt.Errorf("row %d has length %d, want %d", i, len(row), len(x))
		}
		copy(row, x)
	}
	return nil
}
