package run

import (
	"context"
	"math"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/metrics/features"
)

// The exact-posterior scores are recorded with every sample of a gmm run,
// and they rank EPS as the referee does: at 50 NFE its samples sit at the
// two-exact-set floor, at 1 NFE (the posterior mean: every sample alike)
// above it. With 6 samples per image the per-image SW has little power
// (measured: mean ratio 1.24 at 1 NFE, 1.01 at 50 NFE, 3 images × 2 tasks);
// the bounds are 1.3 and a 10% gap. lpips is asked for without a model
// file, so no lpips value is recorded at all.
func TestExactMetricsInRun(t *testing.T) {
	rows, err := runInProcess(t, `output: OUT
seed: 1
resolution: 16
samples: 6
metrics: [psnr, exact, lpips]
solvers:
  - name: eps
    nfe: [1, 50]
tasks: [{name: sr4}, {name: inpaint-random}]
datasets:
  - name: mix
    kind: gmm
    components: 4
    variance: 0.1
    images: 3
`)
	if err != nil {
		t.Fatal(err)
	}
	ratio := map[int][]float64{}
	for _, r := range rows {
		for _, k := range []string{"psnr", "sw_ratio", "mean_error", "mean_error_floor", "weight_tv", "weight_tv_floor"} {
			if v, ok := r.Metrics[k]; !ok || math.IsNaN(v) {
				t.Fatalf("%v: %s = %v, %v", r.Key, k, v, ok)
			}
		}
		if _, ok := r.Metrics["lpips"]; ok {
			t.Fatalf("%v: an lpips value without a model file", r.Key)
		}
		ratio[r.NFE] = append(ratio[r.NFE], r.Metrics["sw_ratio"])
	}
	mean := func(x []float64) float64 {
		s := 0.0
		for _, v := range x {
			s += v
		}
		return s / float64(len(x))
	}
	r1, r50 := mean(ratio[1]), mean(ratio[50])
	t.Logf("mean SW ratio to the exact floor: %.2f at 1 NFE, %.2f at 50 NFE", r1, r50)
	if !(r50 < 1.3) || !(r1 > 1.1*r50) {
		t.Errorf("SW ratio %.2f at 1 NFE and %.2f at 50 NFE: want 50 NFE below 1.3 and 1 NFE 10%% above it", r1, r50)
	}
}

// With an LPIPS export named in the configuration, every sample gets its
// distance to the truth from that network, on images clamped to [-1, 1].
// The test's network (metrics/features/testdata/tiny_lpips.onnx) is
// mean((in0 − in1)²) over C, H, W: the clamped mean square error, which
// the PSNR recorded beside it also gives, so lpips = 4·10^(−psnr/10) (PSNR
// is on [0, 1], the network sees [-1, 1]); float32 inside the network
// leaves a relative error near 1e-7.
func TestLPIPSInRun(t *testing.T) {
	if _, err := features.Library(); err != nil {
		t.Skipf("ONNX Runtime not available: %v", err)
	}
	rows, err := runInProcess(t, `output: OUT
seed: 2
resolution: 8
samples: 2
metrics: [psnr, lpips]
features: {lpips: ../../metrics/features/testdata/tiny_lpips.onnx}
solvers:
  - name: eps
    nfe: [3]
tasks: [{name: sr4}]
datasets:
  - name: mix
    kind: gmm
    components: 2
    images: 2
`)
	if err != nil || len(rows) != 4 {
		t.Fatalf("%d rows, %v", len(rows), err)
	}
	for _, r := range rows {
		l, ok := r.Metrics["lpips"]
		want := 4 * math.Pow(10, -r.Metrics["psnr"]/10)
		if !ok || math.Abs(l-want) > 1e-5*want {
			t.Errorf("%v: lpips %v (recorded %v), want 4·10^(−PSNR/10) = %v", r.Key, l, ok, want)
		}
	}
}

// runInProcess runs the configuration with EPS in process into a fresh
// record and returns its rows.
func runInProcess(t *testing.T, yaml string) ([]store.Row, error) {
	t.Helper()
	c, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	c.Output = filepath.Join(t.TempDir(), "out")
	p, err := NewPlan(c)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(c.Output, c.Hash(), c.YAML())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var inside atomic.Int64
	if _, err := Execute(context.Background(), p, st, one{timed{inside: &inside}}, 0, Options{Shard: Shard{1, 1}, Output: c.Output}); err != nil {
		t.Fatal(err)
	}
	return st.Rows()
}
