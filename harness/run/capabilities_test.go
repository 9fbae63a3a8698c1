package run

import (
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/config"
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
	// A model that gives none of them (the configuration cannot name one
	// yet: the exact mixture model gives all three) is refused by name.
	p.Config.Model.Kind = "plain-denoiser"
	for _, cp := range []sdk.Capability{sdk.NeedsVJP, sdk.NeedsEPSModel, sdk.Conditional} {
		err := p.CheckSolver(sdk.Info{Name: "s", Capabilities: []sdk.Capability{cp}})
		if err == nil || !strings.Contains(err.Error(), "solver s needs "+string(cp)+", which model plain-denoiser does not give") {
			t.Errorf("%s from a plain denoiser: error %v", cp, err)
		}
	}
}
