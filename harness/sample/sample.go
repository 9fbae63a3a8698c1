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
	Batch    int                // samples per Solve call; 0: all in one
	// Model, if set, is called instead of the prior's exact model: another
	// model bound to the same problem (a model plugin, say), counted the
	// same way. ModelName names it in errors (default "model").
	Model     sdk.Model
	ModelName string
}

// Failure is a batch of samples that failed, with the reason.
type Failure struct {
	From  int    `json:"from"` // first sample index
	To    int    `json:"to"`   // one past the last
	Error string `json:"error"`
}

// Result of a run. NFE and VJP are per sample, as counted by the host over
// the samples that succeeded. Failed samples are null in Samples and listed
// in Failed, with the reason.
type Result struct {
	Samples  [][]float64        `json:"samples"`
	Failed   []Failure          `json:"failed,omitempty"`
	Solver   string             `json:"solver"`
	Version  string             `json:"solver_version"`
	NFE      float64            `json:"nfe"`
	VJP      float64            `json:"vjp"`
	SigmaMax float64            `json:"sigma_max"`
	Seconds  float64            `json:"seconds"`
	Seed     uint64             `json:"seed"`
	Params   map[string]float64 `json:"params"`

	PluginPath   string `json:"plugin_path,omitempty"`
	PluginSHA256 string `json:"plugin_sha256,omitempty"`
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
	var mdl sdk.Model = o.Model
	name := o.ModelName
	if mdl == nil {
		exact, err := p.Prior.Model(p.Op, p.SigmaY)
		if err != nil {
			return nil, err
		}
		if err := exact.SetMeasurement(p.Y); err != nil {
			return nil, err
		}
		mdl, name = exact, "gmm-exact"
	}
	if name == "" {
		name = "model"
	}
	_, d := p.Op.Dims()
	batch := o.Batch
	if batch <= 0 || batch > o.N {
		batch = o.N
	}
	prob := sdk.Problem{Op: sdk.Local(p.Op), Y: p.Y, SigmaY: p.SigmaY, SigmaMax: sigmaMax}
	seeds := seed.Seeds(o.Seed, "problem-file", "0", 0, o.N)
	out := make([][]float64, o.N)
	var failed []Failure
	var nfe, vjp int64
	start := time.Now()
	for lo := 0; lo < o.N; lo += batch {
		hi := min(lo+batch, o.N)
		// A fresh counter per batch: a failed batch's calls are not
		// counted against the samples that succeeded.
		counted := &model.Counted{Name: name, Model: mdl, Dim: d}
		dst := sdk.NewRows(hi-lo, d)
		err := s.Solve(ctx, dst, prob, counted, seeds[lo:hi], o.NFE, params)
		if err == nil {
			err = checkFinite(info.Name, dst, lo)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			failed = append(failed, Failure{From: lo, To: hi, Error: err.Error()})
			continue
		}
		copy(out[lo:hi], dst)
		nfe += counted.NFE()
		vjp += counted.VJPs()
	}
	ok := o.N
	for _, f := range failed {
		ok -= f.To - f.From
	}
	if ok == 0 {
		return nil, fmt.Errorf("solver %s: every batch failed; first error: %s", info.Name, failed[0].Error)
	}
	return &Result{
		Samples: out, Failed: failed, Solver: info.Name, Version: info.Version,
		NFE:      float64(nfe) / float64(ok),
		VJP:      float64(vjp) / float64(ok),
		SigmaMax: sigmaMax, Seconds: time.Since(start).Seconds(), Seed: o.Seed, Params: params,
	}, nil
}

func checkFinite(solver string, dst [][]float64, first int) error {
	for i, row := range dst {
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("solver %s returned %v in sample %d at %d", solver, v, first+i, j)
			}
		}
	}
	return nil
}
