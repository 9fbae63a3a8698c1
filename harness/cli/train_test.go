package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/store"
)

// trainTiny trains a small network for a few steps on the repository's
// thumbnails (the first two held out) and returns its folder.
func trainTiny(t *testing.T, dir, kind string, extra ...string) string {
	t.Helper()
	out := filepath.Join(dir, kind)
	args := append([]string{"train", kind, "--data", "../../data/thumbnails", "--holdout", "2", "--resolution", "32", "--base", "8",
		"--steps", "6", "--batch", "2", "--checkpoint-every", "3", "--eval-images", "2", "--eval-draws", "1", "--out", out}, extra...)
	if b, err := ipbench(args...).CombinedOutput(); err != nil {
		t.Fatalf("ipbench %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return out
}

func TestTrainAndRunOnRealImages(t *testing.T) {
	dir := t.TempDir()
	den := trainTiny(t, dir, "denoiser")
	eps := trainTiny(t, dir, "eps", "--tasks", "sr4", "--init", filepath.Join(den, "denoiser.ipbw"))

	var rec trainRecordFile
	data, err := os.ReadFile(filepath.Join(eps, trainRecord))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Steps != 6 || rec.Architecture.CondChannels != 6 || rec.Architecture.Labels != 0 || len(rec.HeldOut) != 6 || rec.HeldOut[0].Task != "sr4" || len(rec.WeightsSHA) != 64 {
		t.Errorf("record %+v", rec)
	}
	for _, f := range []string{"loss.png", "loss.svg", trainCheckpoint, "eps.ipbw", "card.md"} {
		if _, err := os.Stat(filepath.Join(eps, f)); err != nil {
			t.Error(err)
		}
	}

	// The held-out thumbnails as a folder dataset, through both networks.
	out := filepath.Join(dir, "results")
	cfg := write(t, dir, "real.yaml", fmt.Sprintf(`output: %s
resolution: 32
samples: 2
metrics: [psnr, ssim, crps, mmd]
solvers:
  - {name: eps, nfe: [1, 2]}
  - {name: dps, nfe: [2]}
tasks: [{name: sr4}]
datasets: [{name: thumbs, kind: folder, path: ../../data/thumbnails, limit: 2}]
model: {kind: network, denoiser: %s, eps: %s}
`, out, filepath.Join(den, "denoiser.ipbw"), filepath.Join(eps, "eps.ipbw")))
	rows := runRows(t, cfg, out)
	if len(rows) != 2*3*2 {
		t.Fatalf("%d rows, want 12", len(rows))
	}
	for _, r := range rows {
		if r.Status != store.StatusOK || r.NFECounted != float64(r.Key.NFE) {
			t.Errorf("row %+v", r)
		}
		if r.Key.Solver == "dps" && r.VJPCounted != 2 {
			t.Errorf("DPS counted %v VJPs, want 2 (the network's own autodiff)", r.VJPCounted)
		}
	}

	// A restorer is needed for the restorer solver, and said so before any work.
	cfg2 := strings.Replace(string(must(os.ReadFile(cfg))), "{name: dps, nfe: [2]}", "{name: restorer, nfe: [2]}", 1)
	bad := write(t, dir, "bad.yaml", cfg2)
	b, err := ipbench("run", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(b), "solver restorer needs conditional, which model network:denoiser.ipbw does not give") {
		t.Errorf("restorer without a restorer network: %v\n%s", err, b)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
