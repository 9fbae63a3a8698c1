package host

// Python solver plugins (plugins/python) through the real host: the
// go-plugin handshake with AutoMTLS, the broker, shared memory and the
// doorbell, host-counted NFE, the example solvers against their Go
// originals, and the faults. Each test skips, saying why, where Debian's
// /usr/bin/python3 or its modules are missing.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/ipbench/ipbench/baselines/ddnm"
	"github.com/ipbench/ipbench/baselines/dps"
	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/referee"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/metrics/sliced"
	"github.com/ipbench/ipbench/plugins/host/internal/echo"
	pb "github.com/ipbench/ipbench/plugins/proto"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// python is the interpreter of the plugins' shebang line.
const python = "/usr/bin/python3"

var (
	pythonOnce sync.Once
	pythonErr  error
)

// needPython skips the test unless /usr/bin/python3 and the modules the
// Python SDK needs are there.
func needPython(t testing.TB) {
	t.Helper()
	pythonOnce.Do(func() {
		if _, err := os.Stat(python); err != nil {
			pythonErr = fmt.Errorf("%s: %v", python, err)
			return
		}
		out, err := exec.Command(python, "-c", "import grpc, google.protobuf, numpy, cryptography").CombinedOutput()
		if err != nil {
			pythonErr = fmt.Errorf("%s lacks a module the Python SDK needs (apt-get install python3-grpcio python3-protobuf python3-numpy python3-cryptography): %s", python, bytes.TrimSpace(out))
		}
	})
	if pythonErr != nil {
		t.Skipf("no Python plugins here: %v", pythonErr)
	}
}

// pyExample and pyTestdata are the Python plugins of the repository.
func pyExample(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "python", "examples", "ipbench-solver-"+name))
	return p
}

func pyTestdata(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", "python", "ipbench-solver-"+name))
	return p
}

// smallMixture is a problem on which DPS and DDNM do reasonably, so that
// their scores are sensitive to the algorithm: a two-component mixture in
// ℝ⁴ seen through a 2×4 dense operator with σ_y = 0.3.
func smallMixture(t testing.TB) (sdk.Problem, *gmm.Mixture, *gmm.Posterior, sdk.Model) {
	t.Helper()
	prior, err := gmm.NewIsotropic([]float64{0.3, 0.7}, [][]float64{{-1.5, 0, 0, 0}, {1.5, 0.5, 0, 0}}, []float64{0.5, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	op, err := operator.NewDense(2, 4, []float64{1, 0, 0.5, 0, 0, 0, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	y, sigmaY := []float64{0.4, 0.2}, 0.3
	post, err := prior.Posterior(op, y, sigmaY)
	if err != nil {
		t.Fatal(err)
	}
	exact, err := prior.Model(op, sigmaY)
	if err != nil {
		t.Fatal(err)
	}
	if err := exact.SetMeasurement(y); err != nil {
		t.Fatal(err)
	}
	return sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: sigmaY, SigmaMax: prior.SigmaMax()}, prior, post, exact
}

// The Python DPS through the host: Info as the Go DPS's, counted NFE and
// VJP by DPS's rule (one each per step and sample), the same samples on
// every transport (doorbell, gRPC with shared memory, bytes in messages)
// and whatever the batch.
func TestPythonDPSEndToEnd(t *testing.T) {
	needPython(t)
	prob, counted, _ := gmmProblem(t)
	const n, nfe = 6, 20
	seeds := seed.Seeds(1, "t", "0", 0, n)
	var first [][]float64
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"doorbell", Config{}},
		{"grpc-shm", Config{NoDoorbell: true}},
		{"grpc-bytes", Config{NoSharedMemory: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Log, cfg.StartTimeout = io.Discard, 20e9
			pl, err := Open(pyExample("pydps"), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close()
			info, goInfo := pl.Info(), (dps.Solver{}).Info()
			if info.Name != "pydps" || info.Version != dps.Version || fmt.Sprint(info.Capabilities) != fmt.Sprint(goInfo.Capabilities) ||
				fmt.Sprint(info.NFEGrid) != fmt.Sprint(goInfo.NFEGrid) || fmt.Sprintf("%+v", info.Params) != fmt.Sprintf("%+v", goInfo.Params) {
				t.Errorf("Info = %+v\nwant the Go DPS's %+v", info, goInfo)
			}
			if len(pl.SHA256) != 64 {
				t.Errorf("SHA-256 %q", pl.SHA256)
			}
			before := counted.NFE()
			beforeVJP := counted.VJPs()
			params, _ := sdk.ResolveParams(info, nil)
			dst := sdk.NewRows(n, 8)
			for range 2 { // the second call reuses the mapped region and the broker connection
				if err := pl.Solve(context.Background(), dst, prob, counted, seeds, nfe, params); err != nil {
					t.Fatal(err)
				}
			}
			if got, got2 := counted.NFE()-before, counted.VJPs()-beforeVJP; got != 2*nfe*n || got2 != 2*nfe*n {
				t.Errorf("host counted %d NFE and %d VJP, want %d each", got, got2, 2*nfe*n)
			}
			// Every model call took the doorbell, or none did.
			if mc, doorbell := pl.sessions.modelCalls.Load(), tc.cfg == (Config{}); doorbell && mc != 0 || !doorbell && mc != 2*2*nfe {
				t.Errorf("the Model service served %d calls", mc)
			}
			// The operator goes through the host's service (no replica in Python).
			if oc := pl.sessions.opCalls.Load(); oc < 2*2*nfe {
				t.Errorf("the Operator service served %d calls, want at least %d", oc, 2*2*nfe)
			}
			// A sample depends on its seed only: not on the transport, nor
			// on the batch it was drawn in.
			if first == nil {
				first = dst
			} else if !equalRows(first, dst) {
				t.Errorf("samples differ from the doorbell's:\n%v\n%v", dst[0], first[0])
			}
			half := sdk.NewRows(n/2, 8)
			if err := pl.Solve(context.Background(), half, prob, counted, seeds[n/2:], nfe, params); err != nil {
				t.Fatal(err)
			}
			if !equalRows(half, dst[n/2:]) {
				t.Errorf("a sample changed with its batch:\n%v\n%v", half[0], dst[n/2])
			}
		})
	}
}

// Every Operator and Model method of the Python SDK, in every calling
// convention, gives exactly the host's own values (all the arithmetic is
// the host's: Python only moves the numbers), on every transport, and the
// model calls are counted.
func TestPythonHandles(t *testing.T) {
	needPython(t)
	prob, counted, _ := gmmProblem(t)
	m, d := prob.Op.Dims()
	op, ok := prob.Op.(sdk.SVD)
	if !ok {
		t.Fatal("the test problem has no SVD")
	}
	ctx := context.Background()
	// What testdata/python/ipbench-solver-pyops computes, here.
	X, V := sdk.NewRows(2, d), sdk.NewRows(2, d)
	for i := range X {
		for j := range X[i] {
			X[i][j], V[i][j] = float64(1+i+2*j)/8-0.6875, float64(3-i*j)/4 // exact in binary on both sides
		}
	}
	want := sdk.NewRows(12, d)
	ax, atax, t2 := sdk.NewRows(2, m), sdk.NewRows(2, d), sdk.NewRows(2, d)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(op.Apply(ctx, ax, X))
	must(op.Adjoint(ctx, atax, ax))
	copy(want[0], atax[0])
	copy(want[1], atax[1])
	must(op.SolveShifted(ctx, t2, 0.7, 2, X))
	copy(want[2], t2[0])
	must(op.Pinv(ctx, want[3:4], [][]float64{prob.Y}))
	ev, err := op.GramEigenvalues(ctx)
	must(err)
	copy(want[4], ev)
	must(op.Vt(ctx, t2, X))
	copy(want[5], t2[1])
	must(op.V(ctx, t2, X))
	copy(want[6], t2[0])
	um := sdk.NewRows(2, m)
	must(op.Ut(ctx, um, ax))
	copy(want[7], um[0])
	must(op.U(ctx, um, ax))
	copy(want[7][m:], um[0])
	sv, err := op.Singular(ctx)
	must(err)
	copy(want[8], sv)
	exact := counted.Model
	must(exact.Denoise(ctx, t2, X, 0.7))
	copy(want[9], t2[1])
	must(exact.VJP(ctx, t2, X, 0.7, V))
	copy(want[10], t2[0])
	must(exact.DenoiseEPS(ctx, t2, X, 0.7))
	copy(want[11], t2[0])
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"doorbell", Config{}},
		{"grpc-shm", Config{NoDoorbell: true}},
		{"grpc-bytes", Config{NoSharedMemory: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Log, cfg.StartTimeout = io.Discard, 20e9
			pl, err := Open(pyTestdata("pyops"), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close()
			c := &model.Counted{Name: "exact", Model: exact, Dim: d}
			got := sdk.NewRows(12, d)
			if err := pl.Solve(ctx, got, prob, c, seed.Seeds(1, "t", "0", 0, 12), 1, nil); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				for j := range want[i] {
					if got[i][j] != want[i][j] {
						t.Errorf("row %d: Python %v\nhost %v", i, got[i], want[i])
						break
					}
				}
			}
			if c.NFE() != 4 || c.VJPs() != 2 {
				t.Errorf("host counted %d NFE and %d VJP, want 4 and 2", c.NFE(), c.VJPs())
			}
		})
	}
}

func equalRows(a, b [][]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		for j := range a[i] {
			if a[i][j] != b[i][j] {
				return false
			}
		}
	}
	return true
}

// The Python DPS and DDNM draw from the distribution their Go originals
// draw from. Python's random streams are not Go's, so the samples differ;
// what must agree are the referee's scores (sliced Wasserstein distance to
// the exact posterior, within the referee's noise: its floor, the distance
// between two exact sets of the same size), and, more sharply, the
// two-sample distance between Go's and Python's sets must be that between
// two of Go's own sets (within 1.5×). The Python DPS with ζ = 1.5 instead
// of 1, and plain DDNM instead of DDNM⁺, fail the second: the check has
// power.
func TestPythonSolversMatchGo(t *testing.T) {
	needPython(t)
	prob, _, post, exact := smallMixture(t)
	const n, d = 2000, 4
	dirs := sliced.Directions(200, d, rand.New(rand.NewPCG(5, 5)))
	draw := func(s sdk.Solver, run uint64, nfe int, given map[string]float64) ([][]float64, *model.Counted) {
		t.Helper()
		counted := &model.Counted{Name: "exact", Model: exact, Dim: d}
		params, err := sdk.ResolveParams(s.Info(), given)
		if err != nil {
			t.Fatal(err)
		}
		dst := sdk.NewRows(n, d)
		if err := s.Solve(context.Background(), dst, prob, counted, seed.Seeds(run, "py", "0", 0, n), nfe, params); err != nil {
			t.Fatal(err)
		}
		return dst, counted
	}
	sw := func(a, b [][]float64) float64 {
		t.Helper()
		v, err := sliced.DistanceAlong(a, b, dirs)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, tc := range []struct {
		name   string
		goS    sdk.Solver
		nfe    int
		vjp    bool
		broken map[string]float64 // parameters that make the Python solver measurably wrong
	}{
		{"pydps", dps.Solver{}, 50, true, map[string]float64{"zeta": 1.5}},
		{"pyddnm", ddnm.Solver{}, 20, false, map[string]float64{"plus": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pl, err := Open(pyExample(tc.name), Config{Log: io.Discard, StartTimeout: 20e9})
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close()
			var goSets, pySets [][][]float64
			var goSW, pySW, floor float64
			const runs = 2
			for run := uint64(1); run <= runs; run++ {
				for _, s := range []sdk.Solver{tc.goS, pl} {
					x, c := draw(s, run, tc.nfe, nil)
					wantVJP := int64(0)
					if tc.vjp {
						wantVJP = int64(tc.nfe * n)
					}
					if c.NFE() != int64(tc.nfe*n) || c.VJPs() != wantVJP {
						t.Errorf("%s: host counted %d NFE and %d VJP, want %d and %d", s.Info().Name, c.NFE(), c.VJPs(), tc.nfe*n, wantVJP)
					}
					sc, err := referee.Evaluate(post, x, referee.Options{}, rand.New(rand.NewPCG(1, run)))
					if err != nil {
						t.Fatal(err)
					}
					t.Logf("%s, run %d: SW %.4f (floor %.4f), mean error %.4f (%.4f), weight error %.4f (%.4f)",
						s.Info().Name, run, sc.SW, sc.SWFloor, sc.MeanError, sc.MeanFloor, sc.WeightError, sc.WeightFloor)
					floor += sc.SWFloor / (2 * runs)
					if s == tc.goS {
						goSets, goSW = append(goSets, x), goSW+sc.SW/runs
					} else {
						pySets, pySW = append(pySets, x), pySW+sc.SW/runs
					}
				}
			}
			if math.Abs(pySW-goSW) > floor {
				t.Errorf("referee's SW: Python %.4f, Go %.4f: they differ by more than the referee's noise %.4f", pySW, goSW, floor)
			}
			within := sw(goSets[0], goSets[1])
			across := (sw(goSets[0], pySets[0]) + sw(goSets[0], pySets[1]) + sw(goSets[1], pySets[0]) + sw(goSets[1], pySets[1])) / 4
			broken, _ := draw(pl, 1, tc.nfe, tc.broken)
			off := (sw(goSets[0], broken) + sw(goSets[1], broken)) / 2
			t.Logf("two-sample SW: Go–Go %.4f, Go–Python %.4f, Go–Python with %v %.4f", within, across, tc.broken, off)
			if bound := 1.5*within + 0.005; across > bound {
				t.Errorf("Go–Python two-sample SW %.4f exceeds 1.5× Go–Go's %.4f", across, within)
			} else if off <= bound {
				t.Errorf("the test has no power: Python with %v is within the bound too (%.4f ≤ %.4f)", tc.broken, off, bound)
			}
		})
	}
}

// Python solvers fail as Go ones do: an error that names the plugin, its
// path and the cause, and the host goes on.
func TestPythonSolveFaults(t *testing.T) {
	needPython(t)
	prob, counted, _ := gmmProblem(t)
	seeds := seed.Seeds(1, "t", "0", 0, 3)
	path := pyTestdata("pyfault")
	open := func(t *testing.T, fault string) *Plugin {
		t.Helper()
		t.Setenv("IPBENCH_FAULT", fault)
		p, err := Open(path, Config{Log: io.Discard, StartTimeout: 20e9})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(p.Close)
		return p
	}
	t.Run("raise", func(t *testing.T) {
		p := open(t, "raise")
		pid := p.client.ReattachConfig().Pid
		dst := sdk.NewRows(3, 8)
		dst[0][0] = 42
		err := p.Solve(context.Background(), dst, prob, counted, seeds, 1, map[string]float64{"fail": 1})
		for _, want := range []string{"plugin pyfault", path, "solver pyfault raised ZeroDivisionError: division by zero", "in divide"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error %v, want one with %q", err, want)
			}
		}
		t.Log(err)
		if dst[0][0] != 42 {
			t.Error("dst was overwritten by a failed call")
		}
		// The exception failed the call, not the process.
		if err := p.Solve(context.Background(), dst, prob, counted, seeds, 1, map[string]float64{"fail": 0}); err != nil {
			t.Fatalf("next call: %v", err)
		}
		if p.client.ReattachConfig().Pid != pid {
			t.Error("the plugin was restarted after an exception")
		}
	})
	t.Run("exit", func(t *testing.T) {
		// A process that dies is started again for the next call.
		p := open(t, "exit")
		pid := p.client.ReattachConfig().Pid
		err := p.Solve(context.Background(), sdk.NewRows(3, 8), prob, counted, seeds, 1, map[string]float64{"fail": 1})
		if err == nil || !strings.Contains(err.Error(), "plugin pyfault") || !strings.Contains(err.Error(), "died during Solve") {
			t.Fatalf("error %v", err)
		}
		if err := p.Solve(context.Background(), sdk.NewRows(3, 8), prob, counted, seeds, 1, map[string]float64{"fail": 0}); err != nil {
			t.Fatalf("next call: %v", err)
		}
		if p.client.ReattachConfig().Pid == pid {
			t.Error("the second call ran in the dead process")
		}
	})
	for _, tc := range []struct{ fault, want string }{
		{"shape", "solver pyfault returned samples of shape (3, 9); want (3, 8)"},
		{"dtype", "solver pyfault returned samples of dtype complex128; want float64"},
		{"ints", "solver pyfault returned samples of dtype int64; want float64"},
		{"list", "solver pyfault returned list, not an array of samples"},
		{"host-error", "solver pyfault raised ValueError: model Denoise: x: shape (3, 9), want [n, 8]"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			p := open(t, tc.fault)
			err := p.Solve(context.Background(), sdk.NewRows(3, 8), prob, counted, seeds, 1, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %v, want one naming the plugin and %q", err, tc.want)
			}
		})
	}
	t.Run("float32", func(t *testing.T) {
		p := open(t, "float32")
		dst := sdk.NewRows(3, 8)
		if err := p.Solve(context.Background(), dst, prob, counted, seeds, 1, nil); err != nil {
			t.Fatal(err)
		}
		if dst[2][7] != 0.5 {
			t.Errorf("float32 samples: %v", dst[2])
		}
	})
	t.Run("stdout-late", func(t *testing.T) {
		// Printed after `import ipbench_plugin`: the SDK sends it to stderr,
		// the handshake is intact.
		p := open(t, "stdout-late")
		if err := p.Solve(context.Background(), sdk.NewRows(3, 8), prob, counted, seeds, 1, nil); err != nil {
			t.Fatal(err)
		}
	})
}

// Python plugins that cannot start say why, naming the plugin.
func TestPythonStartFaults(t *testing.T) {
	needPython(t)
	path := pyTestdata("pyfault")
	for _, tc := range []struct{ fault, want string }{
		{"stdout-early", "hello from a solver that prints too early"},
		{"import-error", "No module named 'no_such_module_for_ipbench'"},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			t.Setenv("IPBENCH_FAULT", tc.fault)
			p, err := Open(path, Config{Log: io.Discard, StartTimeout: 20e9})
			if err == nil {
				p.Close()
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name the plugin and %q", err, tc.want)
			}
			t.Log(err)
		})
	}
	// Run by hand, without the cookie (or with another), the script says
	// what it is and exits 1.
	for _, env := range []string{"", "IPBENCH_PLUGIN=not-the-cookie"} {
		cmd := exec.Command(pyExample("pydps"))
		cmd.Env = append(os.Environ(), env)
		cmd.Env = slicesWithout(cmd.Env, "IPBENCH_PLUGIN=5f0c2d1e-exact-posterior-score")
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		ee, ok := err.(*exec.ExitError)
		if !ok || ee.ExitCode() != 1 || stdout.Len() != 0 || !strings.Contains(stderr.String(), "is an ipbench solver plugin. It is not meant to be run directly") {
			t.Errorf("env %q: %v, stdout %q, stderr %q", env, err, stdout.String(), stderr.String())
		}
	}
}

func slicesWithout(env []string, drop string) []string {
	var out []string
	for _, e := range env {
		if e != drop {
			out = append(out, e)
		}
	}
	return out
}

// `make build` copies the Python examples and the SDK into bin/plugins; from
// there each starts and describes itself as `ipbench solvers` lists it.
func TestPythonPluginsInstalled(t *testing.T) {
	needPython(t)
	dir := t.TempDir()
	if out, err := exec.Command("cp", "-R", filepath.Join("..", "python", "ipbench_plugin"), dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for _, tc := range []struct{ name, version string }{{"pydps", dps.Version}, {"pyddnm", ddnm.Version}} {
		dst := filepath.Join(dir, "ipbench-solver-"+tc.name)
		data, err := os.ReadFile(pyExample(tc.name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o755); err != nil {
			t.Fatal(err)
		}
		p, err := Open(dst, Config{Log: io.Discard, StartTimeout: 20e9})
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		if info := p.Info(); info.Name != tc.name || info.Version != tc.version || p.SHA256 != hex.EncodeToString(sum[:]) || p.Path != dst {
			t.Errorf("%s: %+v, SHA-256 %s, path %s", tc.name, info, p.SHA256, p.Path)
		}
		p.Close()
	}
}

// The Python stubs were generated from the current ipbench.proto: every
// message, field (name, number, kind) and method is the same as in the Go
// code (`make proto` regenerates both).
func TestPythonStubsMatchProto(t *testing.T) {
	needPython(t)
	var goDesc []string
	fd := pb.File_ipbench_proto
	var walk func(protoreflect.MessageDescriptors)
	walk = func(ms protoreflect.MessageDescriptors) {
		for i := 0; i < ms.Len(); i++ {
			m := ms.Get(i)
			for j := 0; j < m.Fields().Len(); j++ {
				f := m.Fields().Get(j)
				goDesc = append(goDesc, fmt.Sprintf("%s %d %d", f.FullName(), f.Number(), f.Kind()))
			}
			walk(m.Messages())
		}
	}
	walk(fd.Messages())
	for i := 0; i < fd.Services().Len(); i++ {
		s := fd.Services().Get(i)
		for j := 0; j < s.Methods().Len(); j++ {
			m := s.Methods().Get(j)
			goDesc = append(goDesc, fmt.Sprintf("%s %s %s", m.FullName(), m.Input().FullName(), m.Output().FullName()))
		}
	}
	sort.Strings(goDesc)
	script := `
import sys
sys.path.insert(0, sys.argv[1])
from ipbench_plugin import ipbench_pb2 as pb
out = []
def walk(ms):
    for m in ms:
        for f in m.fields:
            out.append("%s %d %d" % (f.full_name, f.number, f.type))
        walk(m.nested_types)
walk(pb.DESCRIPTOR.message_types_by_name.values())
for s in pb.DESCRIPTOR.services_by_name.values():
    for m in s.methods:
        out.append("%s %s %s" % (m.full_name, m.input_type.full_name, m.output_type.full_name))
print("\n".join(sorted(out)))
`
	out, err := exec.Command(python, "-c", script, filepath.Join("..", "python")).CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got, want := strings.TrimSpace(string(out)), strings.Join(goDesc, "\n"); got != want {
		t.Errorf("the Python stubs differ from plugins/proto (run make proto):\nPython:\n%s\nGo:\n%s", got, want)
	}
}

// BenchmarkPythonRoundTrip is BenchmarkRoundTrip's measurement for a Python
// plugin (testdata/python/ipbench-solver-pyecho, the twin of the echo
// solver), beside the Go echo plugin on the same transports: one model call
// on a 16×3×64×64 float64 batch, 100 calls per op.
func BenchmarkPythonRoundTrip(b *testing.B) {
	needPython(b)
	const n, d, calls = 16, 3 * 64 * 64, 100
	prob := sdk.Problem{Op: sdk.Local(mustDense(b, d)), Y: []float64{0}, SigmaY: 1, SigmaMax: 80}
	for _, lang := range []struct{ name, path string }{{"python", pyTestdata("pyecho")}, {"go", filepath.Join(bin, "echoplugin")}} {
		for _, tr := range transports[1:] {
			if tr.name == "grpc-shm-remote-op" {
				continue // no operator calls here
			}
			b.Run(lang.name+"/"+tr.name, func(b *testing.B) {
				s, stop := tr.start(b, lang.path)
				defer stop()
				dst := sdk.NewRows(n, d)
				seeds := seed.Seeds(1, "b", "0", 0, n)
				// The first call maps the region and dials the broker.
				if err := s.Solve(context.Background(), dst, prob, echo.Copy{}, seeds, 1, nil); err != nil {
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := s.Solve(context.Background(), dst, prob, echo.Copy{}, seeds, calls, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*calls), "µs/call")
			})
		}
	}
}
