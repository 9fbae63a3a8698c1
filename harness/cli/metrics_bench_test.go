package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/harness/config"
	benchrun "github.com/ipbench/ipbench/harness/run"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// timedEPS is EPS in process, adding up the time spent inside Solve.
type timedEPS struct {
	eps.Solver
	inside *atomic.Int64
}

func (t timedEPS) Checksum() string                    { return "in-process" }
func (t timedEPS) Get(string) (benchrun.Solver, error) { return t, nil }
func (t timedEPS) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	start := time.Now()
	defer func() { t.inside.Add(int64(time.Since(start))) }()
	return t.Solver.Solve(ctx, dst, p, m, seeds, nfe, params)
}

// BenchmarkMetricsShare runs EPS at 20 NFE on an image-shaped mixture at
// 64 px (sr4, 4 samples per image, 1000 images; IPBENCH_BENCH_IMAGES sets
// another number) and reports the time of the metrics against the time
// inside the solver: the per-sample metrics the run records (psnr, ssim,
// crps, and separately the exact-posterior scores) and the set scores the
// report computes (mmd over 500 images, sw).
func BenchmarkMetricsShare(b *testing.B) {
	images := 1000
	if v := os.Getenv("IPBENCH_BENCH_IMAGES"); v != "" {
		images, _ = strconv.Atoi(v)
	}
	for _, metrics := range []string{"psnr, ssim, crps, mmd, sw", "psnr, ssim, crps, exact, mmd, sw"} {
		b.Run(fmt.Sprintf("[%s]", metrics), func(b *testing.B) {
			var sampling, perSample, sets time.Duration
			for i := 0; i < b.N; i++ {
				out := filepath.Join(b.TempDir(), "rec")
				cfg, err := config.Parse([]byte(fmt.Sprintf(`output: %s
seed: 1
resolution: 64
samples: 4
metrics: [%s]
solvers: [{name: eps, nfe: [20]}]
tasks: [{name: sr4}]
datasets: [{name: mix, kind: gmm, components: 8, images: %d}]
`, out, metrics, images)))
				if err != nil {
					b.Fatal(err)
				}
				p, err := benchrun.NewPlan(cfg)
				if err != nil {
					b.Fatal(err)
				}
				st, err := store.Open(out, cfg.Hash(), cfg.YAML())
				if err != nil {
					b.Fatal(err)
				}
				var inside atomic.Int64
				sum, err := benchrun.Execute(context.Background(), p, st, timedEPS{inside: &inside}, 0, benchrun.Options{Shard: benchrun.Shard{K: 1, N: 1}, Output: out})
				if err != nil || sum.Done != images {
					b.Fatalf("%+v, %v", sum, err)
				}
				rows, err := st.Rows()
				if err != nil {
					b.Fatal(err)
				}
				rb, err := rebuild(cfg)
				if err != nil {
					b.Fatal(err)
				}
				start := time.Now()
				if _, err := computeSets(context.Background(), cfg, rb, out, rows); err != nil {
					b.Fatal(err)
				}
				sets += time.Since(start)
				st.Close()
				sampling += time.Duration(inside.Load())
				perSample += sum.Metrics
			}
			b.ReportMetric(sampling.Seconds()/float64(b.N), "sampling-s")
			b.ReportMetric(perSample.Seconds()/float64(b.N), "per-sample-metrics-s")
			b.ReportMetric(sets.Seconds()/float64(b.N), "set-scores-s")
			b.ReportMetric(100*(perSample+sets).Seconds()/sampling.Seconds(), "metrics-%")
		})
	}
}
