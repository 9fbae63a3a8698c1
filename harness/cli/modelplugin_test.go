package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/store"
)

// needTorch skips the test unless Debian's /usr/bin/python3 has the Python
// SDK's modules and PyTorch.
func needTorch(t *testing.T) {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", "import grpc, google.protobuf, numpy, cryptography, torch").CombinedOutput()
	if err != nil {
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		t.Skipf("no PyTorch model plugins here (apt-get install python3-grpcio python3-protobuf python3-numpy python3-cryptography python3-torch): %v: %s", err, lines[len(lines)-1])
	}
}

// A run on a folder of real images with a model plugin: the exact mixture
// model in PyTorch (ipbench-model-gmm) serves EPS and DPS, the host counts
// their NFE and VJPs, the record's configuration holds the plugin's and
// its file's checksums; a solver needing what the plugin does not give is
// refused before any work.
func TestModelPluginRun(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(4, 5))
	const d = 3 * 8 * 8
	mix := map[string]any{"dim": d, "weights": []float64{0.5, 0.3, 0.2}, "variances": []float64{0.05, 0.05, 0.1}}
	var means [][]float64
	for range 3 {
		mu := make([]float64, d)
		for i := range mu {
			mu[i] = 0.4 * rng.NormFloat64()
		}
		means = append(means, mu)
	}
	mix["means"] = means
	data, _ := json.Marshal(mix)
	mixPath := write(t, dir, "mix.json", string(data))
	gmmPlugin, _ := filepath.Abs("../../plugins/python/examples/ipbench-model-gmm")
	fault, _ := filepath.Abs("../../plugins/modelhost/testdata/ipbench-model-pyfault")
	out := filepath.Join(dir, "results")
	cfgText := fmt.Sprintf(`output: %s
resolution: 8
samples: 2
solvers:
  - {name: eps, nfe: [2]}
  - {name: dps, nfe: [3]}
tasks: [{name: inpaint-random}]
datasets: [{name: thumbs, kind: folder, path: ../../data/thumbnails, limit: 2}]
model:
  kind: plugin
  plugin: %s
  args: [--device, cpu, --shape, "3,8,8", --tasks, "inpaint-box,inpaint-random"]
  files: {mixture: %s}
`, out, gmmPlugin, mixPath)
	cfg := write(t, dir, "plugin.yaml", cfgText)
	rows := runRows(t, cfg, out)
	if len(rows) != 2*2*2 {
		t.Fatalf("%d rows, want 8", len(rows))
	}
	for _, r := range rows {
		if r.Status != store.StatusOK || r.NFECounted != float64(r.Key.NFE) {
			t.Errorf("row %+v", r)
		}
		if want := map[string]float64{"eps": 0, "dps": 3}[r.Key.Solver]; r.VJPCounted != want {
			t.Errorf("%s counted %v VJPs, want %v", r.Key.Solver, r.VJPCounted, want)
		}
	}
	eff, err := os.ReadFile(filepath.Join(out, "config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for role, path := range map[string]string{"plugin": gmmPlugin, "mixture": mixPath} {
		b, _ := os.ReadFile(path)
		sum := sha256.Sum256(b)
		if !strings.Contains(string(eff), role+": "+hex.EncodeToString(sum[:])) {
			t.Errorf("no checksum of the %s in the effective configuration:\n%s", role, eff)
		}
	}

	// EPS on a task the plugin does not serve, and DPS on a plugin without
	// a VJP, are refused before any work, naming the plugin.
	for _, tc := range []struct{ edit, with, want string }{
		{"[{name: inpaint-random}]", "[{name: sr4}]", "solver eps needs needs-eps-model on task sr4, which model plugin:gmm-torch (kind plugin, " + gmmPlugin + ") does not serve"},
		{"plugin: " + gmmPlugin, "plugin: " + fault, "solver dps needs a VJP, which model plugin:pyfault (kind plugin, " + fault + ") does not give: its Info does not list vjp"},
	} {
		text := strings.Replace(cfgText, tc.edit, tc.with, 1)
		if strings.Contains(tc.with, fault) {
			text = strings.Replace(text, `args: [--device, cpu, --shape, "3,8,8", --tasks, "inpaint-box,inpaint-random"]`, `args: [--dim, "192", --gives, "denoise,eps"]`, 1)
			text = strings.Replace(text, "files: {mixture: "+mixPath+"}", "", 1)
		}
		bad := write(t, dir, "bad.yaml", strings.Replace(text, out, filepath.Join(dir, "bad"), 1))
		b, err := ipbench("run", bad).CombinedOutput()
		if err == nil || !strings.Contains(string(b), tc.want) {
			t.Errorf("got %v\n%s\nwant an error saying %q", err, b, tc.want)
		}
	}
}
