package host

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipbench/ipbench/baselines/restorer"
	"github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/problem"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/internal/filehash"
	"github.com/ipbench/ipbench/plugins/host/internal/echo"
	"github.com/ipbench/ipbench/plugins/plugintest"
	"github.com/ipbench/ipbench/plugins/sdk"
)

var bin string // folder of the plugin binaries built for the tests

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipbench-host-test-")
	if err != nil {
		panic(err)
	}
	bin = dir
	if err := plugintest.Build(dir, map[string]string{
		"ipbench-solver-eps":      "github.com/ipbench/ipbench/eps/cmd/ipbench-solver-eps",
		"ipbench-solver-restorer": "github.com/ipbench/ipbench/baselines/restorer/cmd/ipbench-solver-restorer",
		"faultplugin":             "./testdata/faultplugin",
		"echoplugin":              "./testdata/echoplugin",
	}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ipbench-solver-script")
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func quiet() Config { return Config{Log: io.Discard, StartTimeout: 5 * time.Second} }

// gmmProblem returns a small MCGdiff-family problem with its counted exact model.
func gmmProblem(t *testing.T) (sdk.Problem, *model.Counted, *problem.Problem) {
	t.Helper()
	f, err := problem.MCGdiff(8, 2, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Problem()
	if err != nil {
		t.Fatal(err)
	}
	exact, err := p.Prior.Model(p.Op, p.SigmaY)
	if err != nil {
		t.Fatal(err)
	}
	if err := exact.SetMeasurement(p.Y); err != nil {
		t.Fatal(err)
	}
	return sdk.Problem{Op: sdk.Local(p.Op), Y: p.Y, SigmaY: p.SigmaY, SigmaMax: p.Prior.SigmaMax()},
		&model.Counted{Name: "exact", Model: exact, Dim: 8}, p
}

// EPS in a plugin process gives the same bits as in process, and the host
// counts exactly the requested NFE.
func TestEPSPluginMatchesInProcess(t *testing.T) {
	for _, remoteOp := range []bool{false, true} {
		t.Run(fmt.Sprintf("remote-operator=%v", remoteOp), func(t *testing.T) {
			cfg := quiet()
			// The default (operator replica, model calls on the doorbell)
			// and the all-gRPC path.
			cfg.RemoteOperator, cfg.NoDoorbell = remoteOp, remoteOp
			pl, err := Open(filepath.Join(bin, "ipbench-solver-eps"), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer pl.Close()
			info := pl.Info()
			if info.Name != "eps" || info.Version != eps.Version || len(info.Params) != 2 {
				t.Errorf("Info = %+v", info)
			}
			if len(pl.SHA256) != 64 {
				t.Errorf("SHA-256 %q", pl.SHA256)
			}
			prob, counted, _ := gmmProblem(t)
			seeds := seed.Seeds(1, "t", "0", 0, 16)
			params, _ := sdk.ResolveParams(info, nil)
			remote := sdk.NewRows(16, 8)
			for range 2 { // the second batch reuses the plugin's replica
				if err := pl.Solve(context.Background(), remote, prob, counted, seeds, 21, params); err != nil {
					t.Fatal(err)
				}
			}
			if counted.NFE() != 2*21*16 || counted.VJPs() != 0 {
				t.Errorf("host counted %d NFE and %d VJP, want %d and 0", counted.NFE(), counted.VJPs(), 2*21*16)
			}
			// EPS makes one shifted solve per denoiser level: through the
			// host's service only when the plugin has no replica.
			calls := pl.sessions.opCalls.Load()
			if remoteOp && calls == 0 || !remoteOp && calls != 0 {
				t.Errorf("remote operator %v: the host served %d operator calls", remoteOp, calls)
			}
			// Every model call went through the doorbell, or none did.
			if mc := pl.sessions.modelCalls.Load(); remoteOp && mc != 2*21 || !remoteOp && mc != 0 {
				t.Errorf("doorbell %v: the Model service served %d calls", !remoteOp, mc)
			}
			local := sdk.NewRows(16, 8)
			if err := (eps.Solver{}).Solve(context.Background(), local, prob, counted, seeds, 21, params); err != nil {
				t.Fatal(err)
			}
			for i := range local {
				for j := range local[i] {
					if local[i][j] != remote[i][j] {
						t.Fatalf("sample %d differs: plugin %v, in process %v", i, remote[i], local[i])
					}
				}
			}
		})
	}
}

// The conditional restorer reaches the host's Restore through the Model
// service: the same bits as in process, and every call counted as an NFE.
func TestRestorePluginMatchesInProcess(t *testing.T) {
	pl, err := Open(filepath.Join(bin, "ipbench-solver-restorer"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer pl.Close()
	prob, counted, _ := gmmProblem(t)
	seeds := seed.Seeds(1, "t", "0", 0, 8)
	params, _ := sdk.ResolveParams(pl.Info(), nil)
	remote, local := sdk.NewRows(8, 8), sdk.NewRows(8, 8)
	if err := pl.Solve(context.Background(), remote, prob, counted, seeds, 12, params); err != nil {
		t.Fatal(err)
	}
	if counted.NFE() != 12*8 || counted.VJPs() != 0 {
		t.Errorf("host counted %d NFE and %d VJP, want %d and 0", counted.NFE(), counted.VJPs(), 12*8)
	}
	if err := (restorer.Solver{}).Solve(context.Background(), local, prob, counted, seeds, 12, params); err != nil {
		t.Fatal(err)
	}
	for i := range local {
		for j := range local[i] {
			if local[i][j] != remote[i][j] {
				t.Fatalf("sample %d differs: plugin %v, in process %v", i, remote[i], local[i])
			}
		}
	}
}

// Binaries that are not plugins, or not ours, never get as far as a Solve.
func TestStartFaults(t *testing.T) {
	fault := filepath.Join(bin, "faultplugin")
	for _, tc := range []struct {
		name, path, fault, want string
	}{
		{"not a plugin", script(t, "echo hello; exit 0"), "", "start"},
		{"exits at once", script(t, "exit 3"), "", "Failed to read any lines from plugin's stdout"},
		{"junk on stdout", script(t, "echo 'this is not a handshake'; exec sleep 30"), "", "this is not a handshake"},
		{"wrong cookie", fault, "wrong-cookie", "start"},
		{"wrong version", fault, "wrong-version", "incompatible API version"},
		{"missing", filepath.Join(bin, "no-such-plugin"), "", "no such file"},
	} {
		t.Setenv("IPBENCH_FAULT", tc.fault)
		start := time.Now()
		p, err := Open(tc.path, quiet())
		if err == nil {
			p.Close()
			t.Errorf("%s: no error", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.path) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %q does not name the plugin and %q", tc.name, err, tc.want)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("%s: took %v", tc.name, time.Since(start))
		}
	}
}

func TestChecksumPin(t *testing.T) {
	path := filepath.Join(bin, "faultplugin")
	cfg := quiet()
	cfg.Checksum = strings.Repeat("0", 64)
	if _, err := Open(path, cfg); err == nil || !strings.Contains(err.Error(), "does not match the pinned") {
		t.Errorf("pinned mismatch: %v", err)
	}
	sum, err := filehash.SHA256(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("IPBENCH_FAULT", "ok")
	cfg.Checksum = strings.ToUpper(sum)
	p, err := Open(path, cfg)
	if err != nil {
		t.Fatalf("pinned match: %v", err)
	}
	p.Close()
}

func alive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// Faults during Solve: each gives an error naming the plugin and the
// cause; dst is untouched; a dead or hung process is killed and the next
// call starts a fresh one.
func TestSolveFaults(t *testing.T) {
	prob, counted, _ := gmmProblem(t)
	seeds := seed.Seeds(1, "t", "0", 0, 3)
	for _, tc := range []struct {
		fault, want string
		restarts    bool // the process is replaced
		recovers    bool // the second call succeeds
	}{
		{"shape", "bad samples", false, false},
		{"nan", "returned NaN in sample 2 at 0", false, false},
		{"error", "does not like the problem", false, false},
		{"panic", "died during Solve", true, false},
		{"hang", "no answer within the 1s timeout", true, false},
		{"crash-once", "died during Solve", true, true},
		{"hang-once", "no answer within the 1s timeout", true, true},
	} {
		t.Run(tc.fault, func(t *testing.T) {
			t.Setenv("IPBENCH_FAULT", tc.fault)
			t.Setenv("IPBENCH_FAULT_MARK", filepath.Join(t.TempDir(), "mark"))
			cfg := quiet()
			cfg.Timeout = time.Second
			p, err := Open(filepath.Join(bin, "faultplugin"), cfg)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			pid := p.client.ReattachConfig().Pid
			dst := sdk.NewRows(3, 8)
			dst[0][0] = 42
			err = p.Solve(context.Background(), dst, prob, counted, seeds, 1, nil)
			if err == nil || !strings.Contains(err.Error(), "plugin fault") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming the plugin and %q", err, tc.want)
			}
			if dst[0][0] != 42 {
				t.Error("dst was overwritten by a failed call")
			}
			if tc.restarts {
				deadline := time.Now().Add(5 * time.Second)
				for alive(pid) && time.Now().Before(deadline) {
					time.Sleep(20 * time.Millisecond)
				}
				if alive(pid) {
					t.Errorf("process %d still runs after the failure", pid)
				}
			}
			err = p.Solve(context.Background(), dst, prob, counted, seeds, 1, nil)
			if tc.recovers && err != nil {
				t.Errorf("second call after restart: %v", err)
			}
			if tc.restarts && p.client != nil && p.client.ReattachConfig().Pid == pid {
				t.Error("the second call ran in the old process")
			}
		})
	}
}

// The host's services refuse calls for sessions that are over.
func TestStaleSession(t *testing.T) {
	s := &sessions{}
	id := s.add(&session{})
	s.remove(id)
	if _, err := s.get(id); err == nil {
		t.Error("stale session served")
	}
}

// A 16×3×256×256 batch is well over gRPC's default 4 MiB message limit; it
// passes both through shared memory and inside the messages.
func TestLargeBatch(t *testing.T) {
	const n, d = 16, 3 * 256 * 256
	for _, noShm := range []bool{false, true} {
		cfg := quiet()
		cfg.NoSharedMemory = noShm
		p, err := Open(filepath.Join(bin, "echoplugin"), cfg)
		if err != nil {
			t.Fatal(err)
		}
		op, err := operator.NewDense(1, d, make([]float64, d))
		if err != nil {
			t.Fatal(err)
		}
		prob := sdk.Problem{Op: sdk.Local(op), Y: []float64{0}, SigmaY: 1, SigmaMax: 80}
		dst := sdk.NewRows(n, d)
		dst[n-1][d-1] = 0.5
		counted := &model.Counted{Name: "copy", Model: echo.Copy{}, Dim: d}
		if err := p.Solve(context.Background(), dst, prob, counted, seed.Seeds(1, "t", "0", 0, n), 3, nil); err != nil {
			t.Errorf("noShm=%v: %v", noShm, err)
		}
		if counted.NFE() != 3*n {
			t.Errorf("noShm=%v: counted %d NFE", noShm, counted.NFE())
		}
		// The plugin listens on a Unix socket only.
		if netw := p.client.ReattachConfig().Addr.Network(); netw != "unix" {
			t.Errorf("plugin listens on %q, want a Unix socket", netw)
		}
		p.Close()
	}
}

// A panic inside an SDK solver's Solve is caught by the SDK: the call fails
// with the panic's message, the process lives on and serves the next call.
func TestSDKRecoversPanic(t *testing.T) {
	p, err := Open(filepath.Join(bin, "echoplugin"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	pid := p.client.ReattachConfig().Pid
	prob, counted, _ := gmmProblem(t)
	dst := sdk.NewRows(2, 8)
	err = p.Solve(context.Background(), dst, prob, counted, seed.Seeds(1, "t", "0", 0, 2), -1, nil)
	if err == nil || !strings.Contains(err.Error(), "solver panicked: echo: negative NFE") || !strings.Contains(err.Error(), "plugin echo") {
		t.Fatalf("error %v", err)
	}
	if err := p.Solve(context.Background(), dst, prob, counted, seed.Seeds(1, "t", "0", 0, 2), 2, nil); err != nil {
		t.Errorf("next call: %v", err)
	}
	if p.client.ReattachConfig().Pid != pid {
		t.Error("the plugin was restarted after a recovered panic")
	}
}

// A plugin whose first call comes long after its start still reaches the
// host's services (go-plugin forgets a broker stream's address after 5 s
// unless it is dialled: found by `make bench`, where DPS waited for EPS).
func TestFirstCallLate(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 6 s")
	}
	p, err := Open(filepath.Join(bin, "ipbench-solver-eps"), quiet())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	time.Sleep(6 * time.Second)
	prob, counted, _ := gmmProblem(t)
	params, _ := sdk.ResolveParams(p.Info(), nil)
	if err := p.Solve(context.Background(), sdk.NewRows(2, 8), prob, counted, seed.Seeds(1, "t", "0", 0, 2), 3, params); err != nil {
		t.Fatal(err)
	}
}
