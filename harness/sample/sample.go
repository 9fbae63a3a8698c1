// Package sample draws posterior samples for a Gaussian-mixture problem with
// one solver, counting every model call on the host: the engine behind
// `ipbench sample`.
package sample

import (
	"context"
	"fmt"
	"math"
	"time"

	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/problem"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// Options of one sampling run.
type Options struct {
	NFE      int
	N        int                // number of samples
	Seed     uint64             // run seed
	SigmaMax float64            // 0: the prior's rule, max(80, kR)
	Radii    float64            // k of that rule; 0 means gmm.SigmaMaxRadii (5)
	Params   map[string]float64 // solver parameters, unset ones take their defaults
}

// Result of a run. NFE and VJP are per sample, as counted by the host.
type Result struct {
	Samples  [][]float64        `json:"samples"`
	Solver   string             `json:"solver"`
	Version  string             `json:"solver_version"`
	NFE      float64            `json:"nfe"`
	VJP      float64            `json:"vjp"`
	SigmaMax float64            `json:"sigma_max"`
	Seconds  float64            `json:"seconds"`
	Seed     uint64             `json:"seed"`
	Params   map[string]float64 `json:"params"`
}

// Run draws o.N samples of p's posterior with s.
func Run(ctx context.Context, s sdk.Solver, p *problem.Problem, o Options) (*Result, error) {
	info := s.Info()
	if o.NFE < 1 {
		return nil, fmt.Errorf("nfe = %d: must be at least 1", o.NFE)
	}
	if o.N < 1 {
		return nil, fmt.Errorf("n = %d: must be at least 1", o.N)
	}
	params, err := sdk.ResolveParams(info, o.Params)
	if err != nil {
		return nil, err
	}
	sigmaMax := o.SigmaMax
	if sigmaMax == 0 {
		k := o.Radii
		if k == 0 {
			k = gmm.SigmaMaxRadii
		}
		sigmaMax = p.Prior.SigmaMaxK(k)
	}
	if !(sigmaMax > 0) {
		return nil, fmt.Errorf("sigma-max = %v: must be positive", sigmaMax)
	}
	exact, err := p.Prior.Model(p.Op, p.SigmaY)
	if err != nil {
		return nil, err
	}
	_, d := p.Op.Dims()
	counted := &model.Counted{Name: "gmm-exact", Model: exact, Dim: d}
	dst := sdk.NewRows(o.N, d)
	prob := sdk.Problem{Op: sdk.Local(p.Op), Y: p.Y, SigmaY: p.SigmaY, SigmaMax: sigmaMax}
	start := time.Now()
	if err := s.Solve(ctx, dst, prob, counted, seed.Seeds(o.Seed, "problem-file", "0", 0, o.N), o.NFE, params); err != nil {
		return nil, fmt.Errorf("solver %s: %w", info.Name, err)
	}
	for i, row := range dst {
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("solver %s returned %v in sample %d at %d", info.Name, v, i, j)
			}
		}
	}
	return &Result{
		Samples: dst, Solver: info.Name, Version: info.Version,
		NFE:      float64(counted.NFE()) / float64(o.N),
		VJP:      float64(counted.VJPs()) / float64(o.N),
		SigmaMax: sigmaMax, Seconds: time.Since(start).Seconds(), Seed: o.Seed, Params: params,
	}, nil
}
