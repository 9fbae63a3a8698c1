package run

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// timed is EPS in process, adding up the time spent inside Solve.
type timed struct {
	eps.Solver
	inside *atomic.Int64
}

func (t timed) Checksum() string { return "in-process" }

func (t timed) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	start := time.Now()
	defer func() { t.inside.Add(int64(time.Since(start))) }()
	return t.Solver.Solve(ctx, dst, p, m, seeds, nfe, params)
}

type one struct{ s Solver }

func (o one) Get(string) (Solver, error) { return o.s, nil }

// BenchmarkHarnessOverhead runs the Gaussian-mixture benchmark (every task,
// 8 images at 64 px, 4 samples per image, EPS at 20 NFE in process, so that only the
// harness is measured around it) and reports the harness's share: planning,
// measurements, the exact model's set-up, PNG writing, metrics, the record's
// transactions and progress, against the time inside EPS's Solve.
func BenchmarkHarnessOverhead(b *testing.B) {
	yaml := `output: OUT
seed: 1
resolution: 64
samples: 4
solvers:
  - name: eps
    nfe: [20]
tasks: [{name: sr4}, {name: sr4-pool}, {name: inpaint-box}, {name: inpaint-random}, {name: deblur-gauss}, {name: deblur-motion}]
datasets:
  - name: mix
    kind: gmm
    components: 8
    images: 8
`
	var inside atomic.Int64
	var total time.Duration
	for i := 0; i < b.N; i++ {
		c, err := config.Parse([]byte(yaml))
		if err != nil {
			b.Fatal(err)
		}
		c.Output = filepath.Join(b.TempDir(), fmt.Sprint(i))
		start := time.Now()
		p, err := NewPlan(c)
		if err != nil {
			b.Fatal(err)
		}
		st, err := store.Open(c.Output, c.Hash(), c.YAML())
		if err != nil {
			b.Fatal(err)
		}
		id, err := st.StartRun(store.Provenance{})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := Execute(context.Background(), p, st, one{timed{inside: &inside}}, id, Options{Shard: Shard{1, 1}, Output: c.Output, Progress: nil})
		if err != nil || sum.Done != 48 {
			b.Fatalf("%+v, %v", sum, err)
		}
		st.FinishRun(id)
		st.Close()
		total += time.Since(start)
	}
	in := time.Duration(inside.Load())
	b.ReportMetric(100*float64(total-in)/float64(in), "overhead-%")
	b.ReportMetric(float64(total-in)/float64(b.N*48*4)/1e3, "harness-µs/sample")
}
