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
		{[]sdk.Capability{sdk.NeedsVJP, sdk.NeedsEPSModel}, ""},
		{[]sdk.Capability{sdk.NeedsSVD}, "task deblur-motion"},
		{[]sdk.Capability{sdk.Conditional}, "model gmm-exact"},
	} {
		err := p.CheckSolver(sdk.Info{Name: "s", Capabilities: tc.caps})
		if (tc.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%v: error %v, want one naming %q", tc.caps, err, tc.want)
		}
	}
}
