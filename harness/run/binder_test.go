package run

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// flaky is a model that cannot be bound the first time (a model plugin
// that died and did not start again, say), then binds to a model that
// answers x/2 and counts how often it is closed.
type flaky struct{ binds, closes atomic.Int64 }

func (f *flaky) Bind(task string, op operator.Operator, sigmaY float64, y []float64) (sdk.Model, error) {
	if f.binds.Add(1) == 1 {
		return nil, errors.New("model plugin flaky: the process died; restarted for the next batch")
	}
	return halfModel{f}, nil
}
func (f *flaky) HasVJP() bool                  { return false }
func (f *flaky) Serves(role, task string) bool { return true }
func (f *flaky) String() string                { return "plugin:flaky" }

type halfModel struct{ f *flaky }

func (h halfModel) Denoise(_ context.Context, dst, x [][]float64, _ float64) error {
	for i := range x {
		for j, v := range x[i] {
			dst[i][j] = v / 2
		}
	}
	return nil
}
func (h halfModel) VJP(context.Context, [][]float64, [][]float64, float64, [][]float64) error {
	return errors.New("no VJP")
}
func (h halfModel) DenoiseEPS(ctx context.Context, dst, x [][]float64, s float64) error {
	return h.Denoise(ctx, dst, x, s)
}
func (h halfModel) Restore(ctx context.Context, dst, x [][]float64, s float64) error {
	return h.Denoise(ctx, dst, x, s)
}
func (h halfModel) Close() error { h.f.closes.Add(1); return nil }

// A model that cannot be bound fails its batch, recorded with the reason,
// and the run goes on; a bound model that is a Closer is closed after its
// batch.
func TestModelBindFailureFailsTheBatch(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "ipbench-model-flaky")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := config.Parse([]byte(`output: OUT
resolution: 8
samples: 2
solvers: [{name: eps, nfe: [1, 2]}]
tasks: [{name: inpaint-random}]
datasets: [{name: thumbs, kind: folder, path: ../../data/thumbnails, limit: 2}]
model: {kind: plugin, plugin: ` + exe + `}
`))
	if err != nil {
		t.Fatal(err)
	}
	c.Output = filepath.Join(dir, "out")
	p, err := NewPlan(c)
	if err != nil {
		t.Fatal(err)
	}
	f := &flaky{}
	p.Net = f
	st, err := store.Open(c.Output, c.Hash(), c.YAML())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var inside atomic.Int64
	sum, err := Execute(context.Background(), p, st, one{timed{inside: &inside}}, 0, Options{Shard: Shard{1, 1}, Output: c.Output})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Failed != 1 || sum.Done != 3 || f.closes.Load() != 3 {
		t.Errorf("summary %+v, %d closes; want 1 failed and 3 done batches, each closed", sum, f.closes.Load())
	}
	rows, err := st.Rows()
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, r := range rows {
		if r.Status != store.StatusOK {
			failed++
			if !strings.Contains(r.Error, "model plugin flaky: the process died") {
				t.Errorf("failed row's error: %q", r.Error)
			}
		}
	}
	if failed != 2 {
		t.Errorf("%d failed rows, want the 2 samples of the first batch", failed)
	}
}
