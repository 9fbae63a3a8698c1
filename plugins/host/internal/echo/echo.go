// Package echo is a solver for the transport benchmark: its Solve calls
// Denoise nfe times on its whole batch, so its time per call is the round
// trip to the model.
package echo

import (
	"context"

	"github.com/ipbench/ipbench/plugins/sdk"
)

// Solver is the echo solver.
type Solver struct{}

// Info describes it.
func (Solver) Info() sdk.Info { return sdk.Info{Name: "echo", Version: "0.0.1", NFEGrid: []int{1}} }

// Solve calls the model nfe times, from dst into a second buffer and back.
func (Solver) Solve(ctx context.Context, dst [][]float64, _ sdk.Problem, m sdk.Model, _ []sdk.Seed, nfe int, _ map[string]float64) error {
	if nfe < 0 {
		panic("echo: negative NFE") // for the test of a solver that panics
	}
	if len(dst) == 0 {
		return nil
	}
	a, b := dst, sdk.Rows(ctx, len(dst), len(dst[0]))
	for i := 0; i < nfe; i++ {
		if err := m.Denoise(ctx, b, a, 1); err != nil {
			return err
		}
		a, b = b, a
	}
	if nfe%2 == 1 {
		for i := range dst {
			copy(dst[i], a[i])
		}
	}
	return nil
}

// Copy is a model whose every call copies its input: the cheapest model.
type Copy struct{}

func (Copy) Denoise(ctx context.Context, dst, x [][]float64, _ float64) error {
	for i := range x {
		copy(dst[i], x[i])
	}
	return nil
}

func (c Copy) VJP(ctx context.Context, dst, x [][]float64, s float64, v [][]float64) error {
	return c.Denoise(ctx, dst, v, s)
}

func (c Copy) DenoiseEPS(ctx context.Context, dst, x [][]float64, s float64) error {
	return c.Denoise(ctx, dst, x, s)
}

func (c Copy) Restore(ctx context.Context, dst, x [][]float64, s float64) error {
	return c.Denoise(ctx, dst, x, s)
}
