package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/dataset"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/metrics/features"
)

// reportConfig asks for every metric; %s is the output folder and %s the
// feature files (or nothing).
const reportConfig = `output: %s
seed: 5
resolution: 16
samples: 2
metrics: [psnr, ssim, crps, lpips, exact, mmd, sw, fid, kid, mmd_inception]
%s
solvers:
  - name: eps
    nfe: [1, 20]
tasks:
  - name: sr4
datasets:
  - name: mix
    kind: gmm
    components: 3
    images: 5
`

// Without feature networks the LPIPS, FID and KID columns say so and hold
// no number; the set scores (MMD, SW) and the exact-posterior scores are
// there, with their floors; the page holds the table, the plots and a grid
// of truth, measurement and one sample per solver for each of the first 4
// images; a sample image of the wrong size is an error naming the file.
func TestReportMetrics(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "rec")
	cfg := write(t, dir, "bench.yaml", fmt.Sprintf(reportConfig, out, ""))
	if code, _, stderr := run(t, "run", cfg); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, stderr := run(t, "report", out)
	if code != 0 {
		t.Fatal(stderr)
	}
	for _, want := range []string{"lpips ↓ (mean ± 95%)", "fid ↓ (of the set)", "kid ↓ (mean ± subset sd)", "mmd ↓ (of the set)", "SW/floor ↓ (mean ± 95%)", "(floor "} {
		if !strings.Contains(stdout, want) {
			t.Errorf("report lacks %q:\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, noModel); n != 8 { // lpips, fid, kid, mmd_inception × 2 rows
		t.Errorf("%d cells say %q, want 8:\n%s", n, noModel, stdout)
	}
	var groups []struct {
		Solver string             `json:"solver"`
		NFE    int                `json:"nfe"`
		Set    map[string]float64 `json:"set_scores"`
	}
	js, err := os.ReadFile(filepath.Join(out, "report", "results.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &groups); err != nil {
		t.Fatal(err)
	}
	for _, g := range groups {
		if _, ok := g.Set["mmd"]; !ok || g.Set["sw"] <= 0 {
			t.Errorf("%s %d: set scores %v", g.Solver, g.NFE, g.Set)
		}
		if _, ok := g.Set["fid"]; ok {
			t.Errorf("%s %d: an FID without an Inception model", g.Solver, g.NFE)
		}
	}
	page, err := os.ReadFile(filepath.Join(out, "report", "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	// 4 images × (truth, measurement, eps) + the plots of psnr, ssim, crps,
	// the three exact scores and seconds.
	if n := strings.Count(string(page), "<img"); n != 4*3+7 {
		t.Errorf("report.html has %d images, want %d", n, 4*3+7)
	}
	for _, want := range []string{"eps NFE 20", "measurement", "img0003", noModel} {
		if !strings.Contains(string(page), want) {
			t.Errorf("report.html lacks %q", want)
		}
	}
	// A sample image replaced by one of another size.
	bad := filepath.Join(out, "samples", "mix", "sr4", "eps", "nfe0020", "img0002_s000.png")
	if err := dataset.WritePNG(bad, operator.Shape{C: 3, H: 8, W: 8}, make([]float64, 3*8*8)); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = run(t, "report", out)
	if code == 0 || !strings.Contains(stderr, "img0002_s000.png is 8×8, want 16×16") {
		t.Errorf("wrong-size sample: exit %d, %s", code, stderr)
	}
}

// With the Inception export named (the test's tiny stand-in, which has the
// real one's input and output shapes), FID and KID are computed from it.
func TestReportFID(t *testing.T) {
	if _, err := features.Library(); err != nil {
		t.Skipf("ONNX Runtime not available: %v", err)
	}
	model, err := filepath.Abs("../../metrics/features/testdata/tiny_pool3.onnx")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out := filepath.Join(dir, "rec")
	cfg := write(t, dir, "bench.yaml", fmt.Sprintf(reportConfig, out, "features: {inception: "+model+"}"))
	if code, _, stderr := run(t, "run", cfg); code != 0 {
		t.Fatal(stderr)
	}
	code, stdout, stderr := run(t, "report", out)
	if code != 0 {
		t.Fatal(stderr)
	}
	if n := strings.Count(stdout, noModel); n != 2 { // lpips only
		t.Errorf("%d cells say %q, want 2:\n%s", n, noModel, stdout)
	}
	js, _ := os.ReadFile(filepath.Join(out, "report", "results.json"))
	if !strings.Contains(string(js), `"fid":`) || !strings.Contains(string(js), `"kid":`) || !strings.Contains(string(js), `"mmd_inception":`) {
		t.Errorf("no fid/kid in results.json:\n%.2000s", js)
	}
}
