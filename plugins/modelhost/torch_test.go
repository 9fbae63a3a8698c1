package modelhost

// The exact Gaussian-mixture model in PyTorch
// (plugins/python/examples/ipbench-model-gmm) against the Go one
// (harness/gmm): the same Denoise, VJP (torch.autograd against the Go
// closed form), DenoiseEPS and Restore to float64 round-off, and EPS and
// DPS through it with the referee's verdict of the Go model and the
// solvers' NFE/VJP rules. The plugin runs in float64.

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	dpspkg "github.com/ipbench/ipbench/baselines/dps"
	epspkg "github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/problem"
	"github.com/ipbench/ipbench/harness/referee"
	"github.com/ipbench/ipbench/harness/sample"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// writeJSON writes v to a file of the test's folder.
func writeJSON(t testing.TB, v any) string {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "mixture.json")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// refereeProblem is the MCGdiff family's problem in ℝ⁸ with two
// observations, its variances made unequal (0.6, 0.8, 1) so that the
// components' shifted solves differ.
func refereeProblem(t testing.TB) (*problem.File, *problem.Problem) {
	t.Helper()
	f, err := problem.MCGdiff(8, 2, rand.New(rand.NewPCG(3, 7)))
	if err != nil {
		t.Fatal(err)
	}
	for k := range f.Variances {
		f.Variances[k] = 0.6 + 0.2*float64(k%3)
	}
	p, err := f.Problem()
	if err != nil {
		t.Fatal(err)
	}
	return f, p
}

// fullProblem is a mixture with full covariances in ℝ⁴.
func fullProblem(t testing.TB) *problem.File {
	t.Helper()
	return &problem.File{
		Dim: 4, Weights: []float64{0.35, 0.65},
		Means: [][]float64{{-1, 0.5, 0, 2}, {1.5, -0.5, 1, 0}},
		Covariances: [][][]float64{
			{{1, 0.3, 0, 0}, {0.3, 0.8, 0.1, 0}, {0, 0.1, 0.5, 0.2}, {0, 0, 0.2, 1.2}},
			{{0.4, 0, 0, 0}, {0, 0.9, 0, 0}, {0, 0, 1.5, 0}, {0, 0, 0, 0.7}},
		},
	}
}

// compare binds the plugin and the Go exact model to (op, y, σ_y) and
// checks every call at several σ on random rows.
func compare(t *testing.T, p *Plugin, prior *gmm.Mixture, op operator.Operator, y []float64, sigmaY float64) {
	t.Helper()
	exact, err := prior.Model(op, sigmaY)
	if err != nil {
		t.Fatal(err)
	}
	if err := exact.SetMeasurement(y); err != nil {
		t.Fatal(err)
	}
	pm, err := p.Bind("", op, sigmaY, y)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.(interface{ Close() error }).Close()
	_, d := op.Dims()
	rng := rand.New(rand.NewPCG(5, 6))
	ctx := context.Background()
	worst := 0.0
	for _, sigma := range []float64{0.01, 0.3, 1, 5, 40} {
		x := rows(5, d, func(int, int) float64 { return 3 * rng.NormFloat64() })
		for i := range x {
			prior.Sample(x[i], rng)
			for j := range x[i] {
				x[i][j] += sigma * rng.NormFloat64()
			}
		}
		v := rows(5, d, func(int, int) float64 { return rng.NormFloat64() })
		for _, c := range []struct {
			name string
			call func(m sdk.Model, dst [][]float64) error
		}{
			{"Denoise", func(m sdk.Model, dst [][]float64) error { return m.Denoise(ctx, dst, x, sigma) }},
			{"VJP", func(m sdk.Model, dst [][]float64) error { return m.VJP(ctx, dst, x, sigma, v) }},
			{"DenoiseEPS", func(m sdk.Model, dst [][]float64) error { return m.DenoiseEPS(ctx, dst, x, sigma) }},
			{"Restore", func(m sdk.Model, dst [][]float64) error { return m.Restore(ctx, dst, x, sigma) }},
		} {
			want, got := sdk.NewRows(5, d), sdk.NewRows(5, d)
			if err := c.call(exact, want); err != nil {
				t.Fatal(err)
			}
			if err := c.call(pm, got); err != nil {
				t.Fatalf("%s at σ = %v: %v", c.name, sigma, err)
			}
			for i := range want {
				scale := 1.0
				for j := range want[i] {
					scale = math.Max(scale, math.Abs(want[i][j]))
				}
				for j := range want[i] {
					e := math.Abs(got[i][j]-want[i][j]) / scale
					worst = math.Max(worst, e)
					if e > 1e-9 {
						t.Errorf("%s at σ = %v, row %d, entry %d: plugin %v, Go %v", c.name, sigma, i, j, got[i][j], want[i][j])
					}
				}
			}
		}
	}
	t.Logf("largest difference, relative to the row's scale: %.2g", worst)
}

// The PyTorch model equals the Go model on every call, for isotropic
// mixtures with unequal variances and for full covariances, through dense
// and mask operators.
func TestGMMTorchMatchesGo(t *testing.T) {
	needTorch(t)
	f, prob := refereeProblem(t)
	p := open(t, example("ipbench-model-gmm"), Config{Args: []string{"--mixture", writeJSON(t, f), "--device", "cpu"}})
	if i := p.Info(); i.Name != "gmm-torch" || !p.HasVJP() || !p.Serves("eps", "sr4") || !p.Serves("restorer", "deblur-motion") || i.Condition || i.Dim() != 8 {
		t.Errorf("info %+v", i)
	}
	t.Run("isotropic/dense", func(t *testing.T) { compare(t, p, prob.Prior, prob.Op, prob.Y, prob.SigmaY) })
	mask, err := operator.NewMask(operator.Shape{C: 2, H: 2, W: 2}, []bool{true, false, false, true, true, true, false, false})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("isotropic/mask", func(t *testing.T) { compare(t, p, prob.Prior, mask, []float64{1, -2, 8, 0.5}, 0.3) })
	conv, err := operator.NewConv(operator.Shape{C: 2, H: 2, W: 2}, []float64{1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Bind("deblur-gauss", conv, 0.1, make([]float64, 8))
	wantErr(t, "blur", err, "the exact mixture model serves dense and mask operators; this problem's is conv")

	ff := fullProblem(t)
	full, err := gmm.NewFull(ff.Weights, ff.Means, ff.Covariances)
	if err != nil {
		t.Fatal(err)
	}
	q := open(t, example("ipbench-model-gmm"), Config{Args: []string{"--mixture", writeJSON(t, ff), "--shape", "1,2,2", "--device", "cpu"}, NoSharedMemory: true})
	t.Run("full/dense", func(t *testing.T) {
		compare(t, q, full, dense(t, 2, 4, []float64{1, 0.5, 0, -0.3, 0, 0.2, 1, 0.7}), []float64{0.4, -1}, 0.25)
	})
	m4, err := operator.NewMask(operator.Shape{C: 1, H: 2, W: 2}, []bool{false, true, true, false})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("full/mask", func(t *testing.T) { compare(t, q, full, m4, []float64{0.3, 2}, 0.2) })
}

// EPS and DPS sample through the PyTorch model with the verdict they get
// through the Go model, and the host counts their rule: EPS one NFE per
// requested NFE, DPS one NFE and one VJP per step.
func TestGMMTorchReferee(t *testing.T) {
	needTorch(t)
	f, prob := refereeProblem(t)
	p := open(t, example("ipbench-model-gmm"), Config{Args: []string{"--mixture", writeJSON(t, f), "--device", "cpu"}})
	post, err := prob.Prior.Posterior(prob.Op, prob.Y, prob.SigmaY)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n, nfe = 1000, 20
	for _, s := range []sdk.Solver{epspkg.Solver{}, dpspkg.Solver{}} {
		name := s.Info().Name
		goRes, err := sample.Run(ctx, s, prob, sample.Options{NFE: nfe, N: n, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		pm, err := p.Bind("", prob.Op, prob.SigmaY, prob.Y)
		if err != nil {
			t.Fatal(err)
		}
		calls := p.Calls()
		pyRes, err := sample.Run(ctx, s, prob, sample.Options{NFE: nfe, N: n, Seed: 1, Model: pm, ModelName: p.String()})
		pm.(interface{ Close() error }).Close()
		if err != nil {
			t.Fatal(err)
		}
		wantVJP := 0.0
		if name == "dps" {
			wantVJP = nfe
		}
		if pyRes.NFE != nfe || pyRes.VJP != wantVJP || goRes.NFE != pyRes.NFE || goRes.VJP != pyRes.VJP {
			t.Errorf("%s: counted %v NFE and %v VJP through the plugin, %v and %v through Go; want %d and %v", name, pyRes.NFE, pyRes.VJP, goRes.NFE, goRes.VJP, nfe, wantVJP)
		}
		if got := p.Calls() - calls; got == 0 {
			t.Errorf("%s: no call reached the plugin", name)
		}
		worst := 0.0
		for i := range goRes.Samples {
			for j := range goRes.Samples[i] {
				worst = math.Max(worst, math.Abs(goRes.Samples[i][j]-pyRes.Samples[i][j]))
			}
		}
		var verdict [2]referee.Score
		for k, r := range []*sample.Result{goRes, pyRes} {
			if verdict[k], err = referee.Evaluate(post, r.Samples, referee.Options{}, rand.New(rand.NewPCG(9, 9))); err != nil {
				t.Fatal(err)
			}
		}
		g, py := verdict[0], verdict[1]
		t.Logf("%s at %d NFE: ratio %.4f (Go) and %.4f (PyTorch), weight TV %.4f and %.4f; samples differ by at most %.2g", name, nfe, g.Ratio, py.Ratio, g.WeightError, py.WeightError, worst)
		if fmt.Sprintf("%.3f %.3f", g.Ratio, g.WeightError) != fmt.Sprintf("%.3f %.3f", py.Ratio, py.WeightError) || worst > 1e-6 {
			t.Errorf("%s: another verdict through the plugin", name)
		}
	}
}

// torchNet is a network file in EDM's calling convention: Shrink is the
// exact denoiser of N(m, cI) per channel, D(x; σ) = (c x + σ² m)/(c + σ²),
// with m and log c as parameters; Cond is a conditional network that
// returns x/2 + cond's first C channels/2 + the task's index.
const torchNet = `import torch


class Shrink(torch.nn.Module):
    def __init__(self, channels=3):
        super().__init__()
        self.m = torch.nn.Parameter(torch.zeros(channels))
        self.logc = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, sigma, class_labels=None):
        c, s2 = self.logc.exp(), sigma.reshape(-1, 1, 1, 1) ** 2
        return (c * x + s2 * self.m.reshape(1, -1, 1, 1)) / (c + s2)


class Cond(torch.nn.Module):
    def __init__(self, channels=3):
        super().__init__()
        self.channels = channels
        self.scale = torch.nn.Parameter(torch.ones(()))

    def forward(self, x, sigma, cond=None, task=None):
        t = task.argmax(-1).to(x.dtype).reshape(-1, 1, 1, 1)
        return self.scale * (0.5 * x + 0.5 * cond[:, :self.channels]) + t


if __name__ == "__main__":
    import sys
    net = Shrink()
    with torch.no_grad():
        net.m.copy_(torch.tensor([0.1, -0.2, 0.3]))
        net.logc.fill_(float(torch.log(torch.tensor(0.5))))
    torch.save(net.state_dict(), sys.argv[1])
    torch.save(Cond().state_dict(), sys.argv[2])
`

// The generic PyTorch plugin (ipbench-model-torch) loads networks from a
// Python file and state dicts, calls them as EDM does, differentiates the
// denoiser with torch.autograd, and hands the EPS network the host's
// conditioning image and the task's one-hot label.
func TestTorchModelPlugin(t *testing.T) {
	needTorch(t)
	dir := t.TempDir()
	netPy := filepath.Join(dir, "net.py")
	if err := os.WriteFile(netPy, []byte(torchNet), 0o644); err != nil {
		t.Fatal(err)
	}
	w, we := filepath.Join(dir, "shrink.pt"), filepath.Join(dir, "cond.pt")
	if out, err := exec.Command(python, netPy, w, we).CombinedOutput(); err != nil {
		t.Fatalf("writing the weights: %v\n%s", err, out)
	}
	p := open(t, example("ipbench-model-torch"), Config{Args: []string{"--module", netPy, "--class", "Shrink", "--weights", w,
		"--shape", "3,2,2", "--device", "cpu", "--eps-class", "Cond", "--eps-weights", we, "--task-labels"}})
	info := p.Info()
	if info.Name != "shrink" || !info.Condition || !p.HasVJP() || !p.Serves("eps", "inpaint-random") || p.Serves("restorer", "inpaint-random") {
		t.Errorf("info %+v", info)
	}
	shape := operator.Shape{C: 3, H: 2, W: 2}
	if err := p.CheckShape(shape); err != nil {
		t.Fatal(err)
	}
	keep := []bool{true, false, true, true, false, true, true, true, false, false, true, true}
	op, err := operator.NewMask(shape, keep)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := op.Dims()
	y := make([]float64, m)
	for i := range y {
		y[i] = 0.1 * float64(i)
	}
	pm, err := p.Bind("inpaint-random", op, 0.05, y)
	if err != nil {
		t.Fatal(err)
	}
	defer pm.(interface{ Close() error }).Close()
	ctx := context.Background()
	x := rows(4, 12, func(i, j int) float64 { return float64(i) - 0.3*float64(j) })
	v := rows(4, 12, func(i, j int) float64 { return 1 + float64(j%3) })
	dst := sdk.NewRows(4, 12)
	near := func(what string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 2e-6*math.Max(1, math.Abs(want)) { // float32
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}
	const sigma = 0.7
	c, s2 := 0.5, sigma*sigma
	mean := []float64{0.1, -0.2, 0.3}
	if err := pm.Denoise(ctx, dst, x, sigma); err != nil {
		t.Fatal(err)
	}
	for i := range x {
		for j := range x[i] {
			near(fmt.Sprintf("D row %d entry %d", i, j), dst[i][j], (c*x[i][j]+s2*mean[j/4])/(c+s2))
		}
	}
	if err := pm.VJP(ctx, dst, x, sigma, v); err != nil {
		t.Fatal(err)
	}
	for i := range x {
		for j := range x[i] {
			near(fmt.Sprintf("VJP row %d entry %d", i, j), dst[i][j], c/(c+s2)*v[i][j])
		}
	}
	cond := make([]float64, 24)
	if err := netmodel.Condition(cond, op, y, 0.05); err != nil {
		t.Fatal(err)
	}
	if err := pm.DenoiseEPS(ctx, dst, x, sigma); err != nil {
		t.Fatal(err)
	}
	for i := range x {
		for j := range x[i] {
			near(fmt.Sprintf("EPS row %d entry %d", i, j), dst[i][j], 0.5*x[i][j]+0.5*cond[j]+3) // inpaint-random is label 3
		}
	}
	wantErr(t, "no restorer", pm.Restore(ctx, dst, x, sigma), "gives no conditional denoiser", "not served by this model")
}
