package summary

import (
	"math"
	"testing"

	"github.com/ipbench/ipbench/harness/store"
)

func TestOf(t *testing.T) {
	// 2, 4, 6: mean 4, s = 2, half-width 1.96·2/√3.
	s := Of([]float64{2, 4, 6})
	if s.Mean != 4 || math.Abs(s.Half-1.96*2/math.Sqrt(3)) > 1e-15 || s.N != 3 {
		t.Errorf("Of = %+v", s)
	}
	if s := Of([]float64{5}); s.Mean != 5 || s.Half != 0 {
		t.Errorf("one value: %+v", s)
	}
	if s := Of(nil); !math.IsNaN(s.Mean) {
		t.Errorf("no values: %+v", s)
	}
}

func TestGroups(t *testing.T) {
	row := func(solver string, nfe, sample int, psnr float64, status string) store.Row {
		return store.Row{Key: store.Key{Solver: solver, Task: "sr4", Dataset: "d", Image: "a", NFE: nfe, Sample: sample},
			Status: status, Metrics: map[string]float64{"psnr": psnr}, Seconds: 1, NFECounted: float64(nfe)}
	}
	g := Groups([]store.Row{
		row("eps", 20, 0, 30, "ok"), row("eps", 20, 1, 32, "ok"), row("eps", 20, 2, 0, "failed"),
		row("dps", 100, 0, 20, "ok"), row("eps", 5, 0, math.Inf(1), "ok"),
	})
	if len(g) != 3 || g[0].Solver != "dps" || g[1].NFE != 5 || g[2].NFE != 20 {
		t.Fatalf("groups %+v", g)
	}
	e := g[2]
	if e.OK != 2 || e.Failed != 1 || e.Metrics["psnr"].Mean != 31 || e.NFECounted.Mean != 20 {
		t.Errorf("eps 20: %+v", e)
	}
	if _, ok := g[1].Metrics["psnr"]; ok {
		t.Errorf("an infinite PSNR entered the mean: %+v", g[1])
	}
}
