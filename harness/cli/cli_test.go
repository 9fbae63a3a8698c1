package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/plugins/plugintest"
)

// binDir holds the ipbench binary built for the tests, and plugins/ beside it.
var binDir string

// TestMain builds ipbench and every solver plugin into a temporary folder.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipbench-cli-test-")
	if err != nil {
		panic(err)
	}
	// The binary and its plugins beside it, as `make build` lays them out:
	// the subprocess tests run the binary, the others call Main.
	if err := plugintest.Build(dir, map[string]string{"ipbench": "github.com/ipbench/ipbench/harness/cmd/ipbench"}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := plugintest.Build(filepath.Join(dir, "plugins"), map[string]string{
		"ipbench-solver-eps":      "github.com/ipbench/ipbench/eps/cmd/ipbench-solver-eps",
		"ipbench-solver-dps":      "github.com/ipbench/ipbench/baselines/dps/cmd/ipbench-solver-dps",
		"ipbench-solver-restorer": "github.com/ipbench/ipbench/baselines/restorer/cmd/ipbench-solver-restorer",
		"ipbench-solver-pigdm":    "github.com/ipbench/ipbench/baselines/pigdm/cmd/ipbench-solver-pigdm",
		"ipbench-solver-ddrm":     "github.com/ipbench/ipbench/baselines/ddrm/cmd/ipbench-solver-ddrm",
		"ipbench-solver-ddnm":     "github.com/ipbench/ipbench/baselines/ddnm/cmd/ipbench-solver-ddnm",
		"ipbench-solver-diffpir":  "github.com/ipbench/ipbench/baselines/diffpir/cmd/ipbench-solver-diffpir",
		"ipbench-solver-daps":     "github.com/ipbench/ipbench/baselines/daps/cmd/ipbench-solver-daps",
		"ipbench-solver-mpgd":     "github.com/ipbench/ipbench/baselines/mpgd/cmd/ipbench-solver-mpgd",
		"ipbench-solver-pinv":     "github.com/ipbench/ipbench/baselines/pinv/cmd/ipbench-solver-pinv",
		"ipbench-solver-tikhonov": "github.com/ipbench/ipbench/baselines/pinv/cmd/ipbench-solver-tikhonov",
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	defaultPluginDirs = func() []string { return []string{filepath.Join(dir, "plugins")} }
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// good is a valid two-component problem in ℝ² with one observation.
const good = `{"dim": 2, "weights": [0.25, 0.75], "means": [[0, 0], [4, 4]],
 "covariances": [[[1, 0.2], [0.2, 1]], [[1, 0], [0, 2]]],
 "A": [[1, 0.5]], "y": [3.0], "sigma_y": 0.5}`

func run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(args, &out, &errb)
	return code, out.String(), errb.String()
}

func write(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSampleWritesCountedOutput(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "p.json", good)
	out := filepath.Join(dir, "out.json")
	code, _, stderr := run(t, "sample", "--problem-file", p, "--solver", "eps", "--nfe", "7", "--n", "5", "--seed", "3", "--out", out)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Samples  [][]float64 `json:"samples"`
		Solver   string      `json:"solver"`
		NFE      float64     `json:"nfe"`
		VJP      float64     `json:"vjp"`
		SigmaMax float64     `json:"sigma_max"`
		Seconds  *float64    `json:"seconds"`
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) != 5 || len(res.Samples[0]) != 2 || res.Solver != "eps" || res.NFE != 7 || res.VJP != 0 || res.Seconds == nil {
		t.Errorf("output %+v", res)
	}
	// R = max ‖mₖ − m̄‖ + √tr Cₖ is small here, so σ_max = 80.
	if res.SigmaMax != 80 {
		t.Errorf("sigma_max = %v, want 80", res.SigmaMax)
	}
	code, _, stderr = run(t, "sample", "--problem-file", p, "--solver", "dps", "--nfe", "4", "--n", "2", "--sigma-max", "120", "--param", "zeta=0.5", "--out", out)
	if code != 0 {
		t.Fatalf("dps exit %d: %s", code, stderr)
	}
	data, _ = os.ReadFile(out)
	_ = json.Unmarshal(data, &res)
	if res.NFE != 4 || res.VJP != 4 || res.SigmaMax != 120 {
		t.Errorf("dps output: nfe %v vjp %v σ_max %v", res.NFE, res.VJP, res.SigmaMax)
	}
}

// Every solver plugin runs through `ipbench sample` on a problem file, and
// the host counts exactly its NFE rule: one model call per step (20), none
// for the linear floors; a VJP per step for DPS and ΠGDM only.
func TestEverySolverSamples(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.json")
	if code, _, stderr := run(t, "gmm", "family", "--dim", "8", "--obs", "2", "--seed", "3", "--out", p); code != 0 {
		t.Fatal(stderr)
	}
	for _, tc := range []struct {
		solver   string
		nfe, vjp float64
	}{
		{"eps", 20, 0}, {"restorer", 20, 0}, {"dps", 20, 20}, {"pigdm", 20, 20}, {"ddrm", 20, 0}, {"ddnm", 20, 0},
		{"diffpir", 20, 0}, {"daps", 20, 0}, {"mpgd", 20, 0}, {"pinv", 0, 0}, {"tikhonov", 0, 0},
	} {
		out := filepath.Join(dir, tc.solver+".json")
		if code, _, stderr := run(t, "sample", "--problem-file", p, "--solver", tc.solver, "--nfe", "20", "--n", "16", "--out", out); code != 0 {
			t.Errorf("%s: exit %d: %s", tc.solver, code, stderr)
			continue
		}
		var res struct {
			Samples  [][]float64 `json:"samples"`
			NFE, VJP float64
		}
		data, _ := os.ReadFile(out)
		if err := json.Unmarshal(data, &res); err != nil || len(res.Samples) != 16 || res.NFE != tc.nfe || res.VJP != tc.vjp {
			t.Errorf("%s: %d samples, %v NFE and %v VJP counted (%v), want 16, %v and %v", tc.solver, len(res.Samples), res.NFE, res.VJP, err, tc.nfe, tc.vjp)
		}
	}
}

// Every kind of bad input gets exit status 2 and a message naming what is
// wrong, and no output file is left behind (an existing one is untouched).
func TestSampleBadInput(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		args       []string
		want       string
	}{
		{"malformed", `{"dim": 2, "weights": [1`, nil, "malformed JSON"},
		{"not JSON", `dim = 2`, nil, "malformed JSON"},
		{"unknown field", strings.Replace(good, `"dim"`, `"dimension": 2, "dim"`, 1), nil, "dimension"},
		{"string for number", strings.Replace(good, `"sigma_y": 0.5`, `"sigma_y": "0.5"`, 1), nil, "sigma_y"},
		{"wrong mean length", strings.Replace(good, `[4, 4]]`, `[4, 4, 4]]`, 1), nil, "means[1]"},
		{"wrong dim", strings.Replace(good, `"dim": 2`, `"dim": 3`, 1), nil, "means[0]"},
		{"wrong A row", strings.Replace(good, `[[1, 0.5]]`, `[[1, 0.5, 2]]`, 1), nil, "A[0]"},
		{"wrong y length", strings.Replace(good, `[3.0]`, `[3.0, 1]`, 1), nil, "y:"},
		{"non-symmetric covariance", strings.Replace(good, `[[1, 0.2], [0.2, 1]]`, `[[1, 0.2], [0.3, 1]]`, 1), nil, "covariances[0] is not symmetric"},
		{"non-PD covariance", strings.Replace(good, `[[1, 0], [0, 2]]`, `[[1, 0], [0, -2]]`, 1), nil, "covariances[1] is not positive definite"},
		{"negative weight", strings.Replace(good, `[0.25, 0.75]`, `[-0.25, 1.25]`, 1), nil, "weights[0]"},
		{"weights sum", strings.Replace(good, `[0.25, 0.75]`, `[0.25, 0.5]`, 1), nil, "weights sum to 0.75"},
		{"sigma_y zero", strings.Replace(good, `"sigma_y": 0.5`, `"sigma_y": 0`, 1), nil, "sigma_y"},
		{"sigma_y negative", strings.Replace(good, `"sigma_y": 0.5`, `"sigma_y": -1`, 1), nil, "sigma_y"},
		{"sigma_y missing", strings.Replace(good, `, "sigma_y": 0.5`, ``, 1), nil, "sigma_y"},
		{"NaN", strings.Replace(good, `[4, 4]]`, `[NaN, 4]]`, 1), nil, `"means"`},
		{"Infinity", strings.Replace(good, `[3.0]`, `[Infinity]`, 1), nil, `"y"`},
		{"overflow", strings.Replace(good, `[3.0]`, `[1e999]`, 1), nil, "y"},
		{"variances and covariances", strings.Replace(good, `"A"`, `"variances": [1, 1], "A"`, 1), nil, "give one, not both"},
		{"NFE zero", good, []string{"--nfe", "0"}, "--nfe"},
		{"NFE negative", good, []string{"--nfe", "-3"}, "--nfe"},
		{"unknown solver", good, []string{"--solver", "ddrm9"}, `unknown solver "ddrm9"`},
		{"unknown parameter", good, []string{"--param", "eta=1"}, `unknown parameter "eta"`},
		{"parameter out of range", good, []string{"--solver", "dps", "--param", "ancestral=2"}, "ancestral"},
		{"bad flag", good, []string{"--nfe", "ten"}, "nfe"},
	} {
		dir := t.TempDir()
		p := write(t, dir, "p.json", tc.body)
		out := filepath.Join(dir, "out.json")
		args := append([]string{"sample", "--problem-file", p, "--n", "2", "--nfe", "3", "--out", out}, tc.args...)
		code, _, stderr := run(t, args...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2 (stderr %q)", tc.name, code, stderr)
		}
		if !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: error %q does not name %q", tc.name, stderr, tc.want)
		}
		if _, err := os.Stat(out); !os.IsNotExist(err) {
			t.Errorf("%s: an output file was left behind", tc.name)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 1 {
			t.Errorf("%s: %d files in the directory, want only the problem file", tc.name, len(ents))
		}
	}
}

func TestMissingProblemFile(t *testing.T) {
	code, _, stderr := run(t, "sample", "--problem-file", "/no/such/file.json", "--out", filepath.Join(t.TempDir(), "o.json"))
	if code != 2 || !strings.Contains(stderr, "no such file") {
		t.Errorf("exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, "sample", "--out", "x.json")
	if code != 2 || !strings.Contains(stderr, "--problem-file") {
		t.Errorf("missing flag: exit %d, %q", code, stderr)
	}
}

// export → sample → score: the built-in image tasks round-trip through the
// problem-file format, and the exact posterior scores them.
func TestExportSampleScore(t *testing.T) {
	dir := t.TempDir()
	for _, task := range []string{"sr4", "sr4-pool", "inpaint-box", "inpaint-random", "deblur-gauss", "deblur-motion"} {
		p := filepath.Join(dir, task+".json")
		code, _, stderr := run(t, "gmm", "export", "--task", task, "--size", "1x8x8", "--seed", "1", "--out", p)
		if code != 0 {
			t.Fatalf("export %s: exit %d: %s", task, code, stderr)
		}
		out := filepath.Join(dir, task+"-eps.json")
		if code, _, stderr = run(t, "sample", "--problem-file", p, "--nfe", "5", "--n", "20", "--out", out); code != 0 {
			t.Fatalf("sample %s: exit %d: %s", task, code, stderr)
		}
		code, stdout, stderr := run(t, "gmm", "score", "--problem-file", p, "--samples", out)
		if code != 0 || !strings.Contains(stdout, "sliced W2 to exact") {
			t.Fatalf("score %s: exit %d: %s %s", task, code, stdout, stderr)
		}
	}
	code, _, stderr := run(t, "gmm", "export", "--task", "sr4", "--size", "1x10x10", "--out", filepath.Join(dir, "x.json"))
	if code != 2 || !strings.Contains(stderr, "divisible") {
		t.Errorf("sr4 on 10×10: exit %d, %q", code, stderr)
	}
	code, _, stderr = run(t, "gmm", "export", "--task", "sr8", "--out", filepath.Join(dir, "x.json"))
	if code != 2 || !strings.Contains(stderr, "sr8") {
		t.Errorf("unknown task: exit %d, %q", code, stderr)
	}
}

func TestFamilyAndReferee(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.json")
	if code, _, stderr := run(t, "gmm", "family", "--dim", "8", "--obs", "2", "--seed", "4", "--out", p); code != 0 {
		t.Fatalf("family: %s", stderr)
	}
	if code, _, stderr := run(t, "gmm", "family", "--dim", "7", "--out", p); code != 2 || !strings.Contains(stderr, "even") {
		t.Errorf("odd dimension: exit %d, %q", code, stderr)
	}
	code, stdout, stderr := run(t, "gmm", "referee", "--solvers", "eps", "--nfe", "5", "--dims", "8", "--obs", "1", "--problems", "1", "--n", "50")
	if code != 0 || !hasRow(stdout, "8", "1", "eps", "5") {
		t.Errorf("referee: exit %d, %s %s", code, stdout, stderr)
	}
	if code, _, _ := run(t, "nonsense"); code != 2 {
		t.Errorf("unknown command: exit %d", code)
	}
	if code, stdout, _ := run(t, "solvers"); code != 0 || !strings.Contains(stdout, "needs-eps-model") {
		t.Errorf("solvers: exit %d, %s", code, stdout)
	}
}

func TestImages(t *testing.T) {
	code, stdout, stderr := run(t, "gmm", "images", "--size", "1x8x8", "--solvers", "eps", "--nfe", "3", "--n", "10")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, task := range []string{"sr4", "sr4-pool", "inpaint-box", "inpaint-random", "deblur-gauss", "deblur-motion"} {
		if !hasRow(stdout, task, "eps", "3", "3", "0") {
			t.Errorf("no row for %s in\n%s", task, stdout)
		}
	}
	if code, _, stderr := run(t, "gmm", "images", "--size", "3x10x10", "--tasks", "sr4"); code != 2 || !strings.Contains(stderr, "divisible") {
		t.Errorf("sr4 on 10×10: exit %d, %q", code, stderr)
	}
}

// hasRow reports whether a Markdown table in s has a row starting with cells.
func hasRow(s string, cells ...string) bool {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Split(strings.Trim(strings.TrimSpace(line), "|"), "|")
		if len(f) < len(cells) {
			continue
		}
		ok := true
		for i, c := range cells {
			if strings.TrimSpace(f[i]) != c {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// A solver written outside ipbench's own packages, only against the SDK
// (examples/pinvdenoise, the README's guide), goes from source to samples:
// built, found through --plugin or --plugin-dir, run, counted by the host.
// Without those flags it is not found: nothing outside the configured
// directories and explicit paths is started.
func TestNewSolverEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "mysolvers", "ipbench-solver-pinvdenoise")
	if err := plugintest.Build(filepath.Dir(bin), map[string]string{filepath.Base(bin): "github.com/ipbench/ipbench/examples/pinvdenoise"}); err != nil {
		t.Fatal(err)
	}
	p := write(t, dir, "p.json", good)
	out := filepath.Join(dir, "out.json")
	if code, _, stderr := run(t, "sample", "--problem-file", p, "--solver", "pinvdenoise", "--nfe", "1", "--n", "4", "--out", out); code != 2 || !strings.Contains(stderr, `unknown solver "pinvdenoise"`) {
		t.Errorf("without --plugin: exit %d, %q", code, stderr)
	}
	for _, flags := range [][]string{{"--plugin", bin}, {"--plugin-dir", filepath.Dir(bin)}} {
		args := append([]string{"sample", "--problem-file", p, "--solver", "pinvdenoise", "--nfe", "1", "--n", "4", "--param", "sigma0=0.3", "--out", out}, flags...)
		code, stdout, stderr := run(t, args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", flags, code, stderr)
		}
		var res struct {
			Samples      [][]float64 `json:"samples"`
			NFE          float64     `json:"nfe"`
			PluginSHA256 string      `json:"plugin_sha256"`
			Params       map[string]float64
		}
		data, _ := os.ReadFile(out)
		if err := json.Unmarshal(data, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.Samples) != 4 || res.NFE != 1 || len(res.PluginSHA256) != 64 || res.Params["sigma0"] != 0.3 {
			t.Errorf("%v: result %+v (%s)", flags, res, stdout)
		}
	}
	code, stdout, _ := run(t, "solvers", "--plugin", bin)
	if code != 0 || !strings.Contains(stdout, "pinvdenoise") || !strings.Contains(stdout, "1.0.0") || !strings.Contains(stdout, bin) {
		t.Errorf("solvers: exit %d\n%s", code, stdout)
	}
}

// A pinned checksum that does not match refuses the plugin.
func TestPinnedChecksum(t *testing.T) {
	dir := t.TempDir()
	p := write(t, dir, "p.json", good)
	code, _, stderr := run(t, "sample", "--problem-file", p, "--nfe", "3", "--n", "2", "--out", filepath.Join(dir, "o.json"),
		"--pin", "eps="+strings.Repeat("ab", 32))
	if code == 0 || !strings.Contains(stderr, "does not match the pinned") {
		t.Errorf("exit %d, %q", code, stderr)
	}
}
