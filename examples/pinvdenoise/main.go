// Command pinvdenoise is the example solver of the README's guide "Adding a
// solver": a complete ipbench solver plugin in one file, written only
// against plugins/sdk, as a solver of your own would be.
//
// The algorithm: start from the pseudo-inverse A⁺y, add noise of level σ₀,
// and denoise once with the prior's denoiser:
//
//	x = D(A⁺y + σ₀ z; σ₀),  z ~ N(0, I)   (1 NFE per sample)
//
// It is a weak solver, but it touches every part of the SDK: the operator
// (batched Pinv), the model (Denoise, counted by the host), per-sample seeds
// and a parameter with a default and a range.
//
// Build and run it (from the repository root):
//
//	go build -o mysolvers/ipbench-solver-pinvdenoise ./examples/pinvdenoise
//	bin/ipbench sample --plugin-dir mysolvers --solver pinvdenoise --problem-file P.json --nfe 1 --n 100 --out OUT.json
package main

import (
	"context"
	"fmt"

	"github.com/ipbench/ipbench/plugins/sdk"
)

type solver struct{}

func (solver) Info() sdk.Info {
	return sdk.Info{
		Name:    "pinvdenoise",
		Version: "1.0.0",
		NFEGrid: []int{1},
		Params: []sdk.Param{
			{Name: "sigma0", Default: 0.5, Min: 1e-4, Max: 100, Doc: "noise level σ₀ of the single denoising step"},
		},
	}
}

func (solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	if nfe != 1 {
		return fmt.Errorf("pinvdenoise takes exactly 1 NFE, not %d", nfe)
	}
	_, d := p.Op.Dims()
	x := sdk.Rows(ctx, len(dst), d)
	ys := make([][]float64, len(dst))
	for i := range ys {
		ys[i] = p.Y
	}
	if err := p.Op.Pinv(ctx, x, ys); err != nil {
		return err
	}
	sigma0 := params["sigma0"]
	for i, s := range seeds {
		rng := s.Rand()
		for j := range x[i] {
			x[i][j] += sigma0 * rng.NormFloat64()
		}
	}
	return m.Denoise(ctx, dst, x, sigma0)
}

func main() { sdk.Serve(solver{}) }
