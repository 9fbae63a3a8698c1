package dps

import (
	"context"
	"testing"

	"github.com/ipbench/ipbench/baselines/internal/solvertest"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// run returns the mean of n DPS samples for the prior N(0, I) in ℝ⁴,
// A = I and y = (2, 2, 2, 2) with σ_y = 0.1, whose posterior mean is
// 2/(1 + 0.01) ≈ 1.98 per coordinate.
func run(t *testing.T, zeta float64, nfe, n int) (mean []float64, counted *model.Counted) {
	t.Helper()
	const d = 4
	prior := solvertest.StandardNormal(t, d)
	id := make([]float64, d*d)
	for i := 0; i < d; i++ {
		id[i*d+i] = 1
	}
	op, err := operator.NewDense(d, d, id)
	if err != nil {
		t.Fatal(err)
	}
	y := []float64{2, 2, 2, 2}
	exact, err := prior.Model(op, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	counted = &model.Counted{Name: "exact", Model: exact, Dim: d}
	s := Solver{}
	params, err := sdk.ResolveParams(s.Info(), map[string]float64{"zeta": zeta})
	if err != nil {
		t.Fatal(err)
	}
	dst := sdk.NewRows(n, d)
	p := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: 0.1, SigmaMax: 80}
	if err := s.Solve(context.Background(), dst, p, counted, seed.Seeds(1, "t", "0", 0, n), nfe, params); err != nil {
		t.Fatal(err)
	}
	mean = make([]float64, d)
	for _, x := range dst {
		for j := range x {
			mean[j] += x[j] / float64(n)
		}
	}
	return mean, counted
}

// The likelihood step pulls the samples from the prior mean 0 toward the
// posterior mean 1.98; without it (ζ = 0) DPS samples the prior.
func TestDPSMovesTowardData(t *testing.T) {
	m0, _ := run(t, 0, 200, 400)
	m1, c := run(t, 1, 200, 400)
	t.Logf("mean with ζ = 0: %.3f; with ζ = 1: %.3f", m0, m1)
	for j := range m1 {
		if m0[j] < -0.3 || m0[j] > 0.3 {
			t.Errorf("ζ = 0: mean[%d] = %.3f, want the prior mean 0 (±0.3)", j, m0[j])
		}
		if m1[j] < 1.5 || m1[j] > 2.3 {
			t.Errorf("ζ = 1: mean[%d] = %.3f, want near the posterior mean 1.98", j, m1[j])
		}
	}
	if c.NFE() != 200*400 || c.VJPs() != 200*400 {
		t.Errorf("counted %d NFE and %d VJP, want %d each", c.NFE(), c.VJPs(), 200*400)
	}
}
