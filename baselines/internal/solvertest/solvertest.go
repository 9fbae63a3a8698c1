// Package solvertest holds what the baselines' tests share: running a solver
// in process with the exact mixture model behind the host's counter, sample
// moments, and the referee's problem of the MCGdiff family.
package solvertest

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/problem"
	"github.com/ipbench/ipbench/harness/referee"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// Solve draws n samples with s from the posterior of prior given y, with the
// exact model of prior behind a counter (σ_y = 0 is given to the model as
// 1e-3, which its EPS denoiser needs positive) and σ_max from the prior.
func Solve(t testing.TB, s sdk.Solver, prior *gmm.Mixture, op operator.Operator, y []float64, sigmaY float64, nfe, n int, given map[string]float64) ([][]float64, *model.Counted) {
	t.Helper()
	_, d := op.Dims()
	exact, err := prior.Model(op, math.Max(sigmaY, 1e-3))
	if err != nil {
		t.Fatal(err)
	}
	if err := exact.SetMeasurement(y); err != nil {
		t.Fatal(err)
	}
	counted := &model.Counted{Name: "exact", Model: exact, Dim: d}
	params, err := sdk.ResolveParams(s.Info(), given)
	if err != nil {
		t.Fatal(err)
	}
	dst := sdk.NewRows(n, d)
	p := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: sigmaY, SigmaMax: prior.SigmaMax()}
	if err := s.Solve(context.Background(), dst, p, counted, seed.Seeds(1, "t", "0", 0, n), nfe, params); err != nil {
		t.Fatal(err)
	}
	return dst, counted
}

// Moments returns the per-coordinate mean and unbiased variance of x.
func Moments(x [][]float64) (mean, variance []float64) {
	d := len(x[0])
	mean, variance = make([]float64, d), make([]float64, d)
	for _, row := range x {
		for j, v := range row {
			mean[j] += v / float64(len(x))
		}
	}
	for _, row := range x {
		for j, v := range row {
			variance[j] += (v - mean[j]) * (v - mean[j]) / float64(len(x)-1)
		}
	}
	return mean, variance
}

// Referee draws the regression problem of the baselines (MCGdiff family,
// d = 8, m = 2, problem stream (3, 7)), runs s on it with n samples and
// returns the referee's score (reference stream (1, 2)), the counter, and
// σ_y of the problem.
func Referee(t testing.TB, s sdk.Solver, nfe, n int, given map[string]float64) (referee.Score, *model.Counted, float64) {
	t.Helper()
	f, err := problem.MCGdiff(8, 2, rand.New(rand.NewPCG(3, 7)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Problem()
	if err != nil {
		t.Fatal(err)
	}
	post, err := p.Prior.Posterior(p.Op, p.Y, p.SigmaY)
	if err != nil {
		t.Fatal(err)
	}
	x, c := Solve(t, s, p.Prior, p.Op, p.Y, p.SigmaY, nfe, n, given)
	sc, err := referee.Evaluate(post, x, referee.Options{}, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return sc, c, p.SigmaY
}

// StandardNormal returns the prior N(0, I) in ℝᵈ, the Gaussian whose
// posterior the baselines' closed-form tests know exactly.
func StandardNormal(t testing.TB, d int) *gmm.Mixture {
	t.Helper()
	prior, err := gmm.NewIsotropic([]float64{1}, [][]float64{make([]float64, d)}, []float64{1})
	if err != nil {
		t.Fatal(err)
	}
	return prior
}
