package run

import (
	"context"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func TestCheckSolver(t *testing.T) {
	c, err := config.Parse([]byte(`output: x
resolution: 16
solvers: [{name: s, nfe: [1]}]
tasks: [{name: sr4}, {name: deblur-motion}]
datasets: [{name: d, kind: gmm, components: 2, images: 1}]
`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlan(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		caps []sdk.Capability
		want string
	}{
		{[]sdk.Capability{sdk.NeedsVJP, sdk.NeedsEPSModel, sdk.Conditional}, ""},
		{[]sdk.Capability{sdk.NeedsSVD}, "task deblur-motion"},
	} {
		err := p.CheckSolver(sdk.Info{Name: "s", Capabilities: tc.caps})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: error %v, want one naming %q", tc.caps, err, tc.want)
		}
	}
	// Limited to the task with an SVD, the same solver passes, and the plan
	// has no batch of it on the other task.
	p.Config.Solvers[0].Tasks = []string{"sr4"}
	if err := p.CheckSolver(sdk.Info{Name: "s", Capabilities: []sdk.Capability{sdk.NeedsSVD}}); err != nil {
		t.Errorf("solver limited to sr4: %v", err)
	}
	if q, err := NewPlan(p.Config); err != nil {
		t.Fatal(err)
	} else {
		for _, b := range q.Batches {
			if b.Task != "sr4" {
				t.Fatalf("batch %+v of a solver limited to sr4", b)
			}
		}
	}
	// A network model gives what its networks give, task by task.
	p.Config.Solvers[0].Tasks = nil
	p.Config.Model = config.Model{Kind: "network", Denoiser: "d.ipbw", EPS: "e.ipbw"}
	plain := fakeNet{c: 3, h: 16, w: 16}
	for _, tc := range []struct {
		net  *netmodel.Model
		cp   sdk.Capability
		want string
	}{
		{&netmodel.Model{Name: "toy", Denoiser: plain}, sdk.NeedsVJP, "solver s needs a VJP, which model toy (kind network, d.ipbw) does not give"},
		{&netmodel.Model{Name: "toy", Denoiser: fakeVJP{plain}}, sdk.NeedsVJP, ""},
		{&netmodel.Model{Name: "toy", Denoiser: plain}, sdk.Conditional, "names no restorer network"},
		{&netmodel.Model{Name: "toy", Denoiser: plain, EPS: fakeNet{c: 3, h: 16, w: 16, cc: 6}, EPSTask: "sr4"}, sdk.NeedsEPSModel, "needs needs-eps-model on task deblur-motion, which the eps network e.ipbw was not trained for"},
		{&netmodel.Model{Name: "toy", Denoiser: plain, EPS: fakeNet{c: 3, h: 16, w: 16, cc: 6, labels: len(netmodel.Tasks)}}, sdk.NeedsEPSModel, ""},
	} {
		p.Net = tc.net
		err := p.CheckSolver(sdk.Info{Name: "s", Capabilities: []sdk.Capability{tc.cp}})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: error %v, want one naming %q", tc.cp, err, tc.want)
		}
	}
}

type fakeNet struct{ c, h, w, cc, labels int }

func (f fakeNet) Shape() (int, int, int, int) { return f.c, f.h, f.w, f.cc }
func (f fakeNet) Labels() int                 { return f.labels }
func (f fakeNet) Denoise(context.Context, [][]float64, [][]float64, [][]float64, []float64, []int) error {
	return nil
}

type fakeVJP struct{ fakeNet }

func (fakeVJP) VJP(context.Context, [][]float64, [][]float64, [][]float64, []float64, []int, [][]float64) error {
	return nil
}
