package modelhost

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// python is the interpreter of the plugins' shebang line.
const python = "/usr/bin/python3"

var (
	pyOnce, torchOnce sync.Once
	pyErr, torchErr   error
)

// needPython skips the test unless /usr/bin/python3 and the modules the
// Python SDK needs are there.
func needPython(t testing.TB) {
	t.Helper()
	pyOnce.Do(func() {
		if _, err := os.Stat(python); err != nil {
			pyErr = fmt.Errorf("%s: %v", python, err)
			return
		}
		out, err := exec.Command(python, "-c", "import grpc, google.protobuf, numpy, cryptography").CombinedOutput()
		if err != nil {
			pyErr = fmt.Errorf("%s lacks a module the Python SDK needs (apt-get install python3-grpcio python3-protobuf python3-numpy python3-cryptography): %s", python, bytes.TrimSpace(out))
		}
	})
	if pyErr != nil {
		t.Skipf("no Python model plugins here: %v", pyErr)
	}
}

// needTorch skips the test unless PyTorch is there too.
func needTorch(t testing.TB) {
	t.Helper()
	needPython(t)
	torchOnce.Do(func() {
		out, err := exec.Command(python, "-c", "import torch").CombinedOutput()
		if err != nil {
			torchErr = fmt.Errorf("%s has no PyTorch (apt-get install python3-torch): %s", python, lastLine(out))
		}
	})
	if torchErr != nil {
		t.Skipf("no PyTorch model plugins here: %v", torchErr)
	}
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

func testdata(name string) string {
	p, _ := filepath.Abs(filepath.Join("testdata", name))
	return p
}

func example(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "python", "examples", name))
	return p
}

// quiet is a log that the test shows only when it fails.
type quiet struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (q *quiet) Write(p []byte) (int, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.b.Write(p)
}

func open(t testing.TB, path string, cfg Config) *Plugin {
	t.Helper()
	if cfg.Log == nil {
		q := &quiet{}
		cfg.Log = q
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("plugin log:\n%s", q.b.String())
			}
		})
	}
	p, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func rows(n, d int, f func(i, j int) float64) [][]float64 {
	r := sdk.NewRows(n, d)
	for i := range r {
		for j := range r[i] {
			r[i][j] = f(i, j)
		}
	}
	return r
}

func dense(t testing.TB, m, d int, a []float64) *operator.Dense {
	t.Helper()
	op, err := operator.NewDense(m, d, a)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

func wantErr(t *testing.T, what string, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want one saying %q", what, parts)
		return
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q, want one saying %q", what, err, p)
			return
		}
	}
	t.Logf("%s: %v", what, err)
}

// A model plugin that fails to start, is not a model plugin, or has the
// wrong checksum is a clear error that names it, before any work.
func TestStartFaults(t *testing.T) {
	needPython(t)
	fault := testdata("ipbench-model-pyfault")
	_, err := Open(filepath.Join(t.TempDir(), "ipbench-model-none"), Config{})
	wantErr(t, "missing", err, "model plugin ipbench-model-none", "no such file")
	nx := filepath.Join(t.TempDir(), "ipbench-model-nx")
	os.WriteFile(nx, []byte("#!/bin/sh\n"), 0o644)
	_, err = Open(nx, Config{})
	wantErr(t, "not executable", err, "not an executable file")
	_, err = Open(fault, Config{Checksum: strings.Repeat("0", 64), Log: &quiet{}})
	wantErr(t, "pinned", err, "does not match the pinned", "not started")
	_, err = Open(fault, Config{Args: []string{"--fault", "import-error"}, Log: &quiet{}})
	wantErr(t, "import error", err, "model plugin ipbench-model-pyfault", "ModuleNotFoundError", "ipbench_no_such_module")
	_, err = Open(fault, Config{Args: []string{"--fault", "stdout-early"}, Log: &quiet{}})
	wantErr(t, "stdout before the handshake", err, "hello from a model that prints too early")
	_, err = Open(fault, Config{Args: []string{"--fault", "no-denoise"}, Log: &quiet{}})
	wantErr(t, "no denoise", err, "a model gives at least 'denoise'")
	solver, _ := filepath.Abs(filepath.Join("..", "host", "testdata", "python", "ipbench-solver-pyecho"))
	_, err = Open(solver, Config{Log: &quiet{}})
	wantErr(t, "a solver plugin", err, "not a model plugin", "ipbench.plugin.v1.ModelPlugin")
	// Run by hand, it says what it is.
	out, err := exec.Command(fault).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "is an ipbench model plugin") {
		t.Errorf("run by hand: %v\n%s", err, out)
	}
}

// Faults in calls: each is an error naming the plugin and the cause; an
// exception leaves the process alive, an exit restarts it at the next
// Bind; NaN is the counting model's to catch; counts stay the host's.
func TestCallFaults(t *testing.T) {
	needPython(t)
	for _, noShm := range []bool{false, true} {
		t.Run(fmt.Sprintf("noShm=%v", noShm), func(t *testing.T) {
			p := open(t, testdata("ipbench-model-pyfault"), Config{Args: []string{"--dim", "4", "--gives", "denoise,vjp"}, CallTimeout: 1500 * time.Millisecond, NoSharedMemory: noShm})
			if p.Info().Name != "pyfault" || !p.HasVJP() || p.Serves("eps", "sr4") {
				t.Fatalf("info %+v", p.Info())
			}
			op := dense(t, 2, 4, []float64{1, 0, 0, 0, 0, 1, 0, 0})
			ctx := context.Background()
			bind := func() *model.Counted {
				t.Helper()
				m, err := p.Bind("sr4", op, 0.1, []float64{1, 2})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { m.(interface{ Close() error }).Close() })
				return &model.Counted{Name: "plugin", Model: m, Dim: 4}
			}
			c := bind()
			x := rows(3, 4, func(i, j int) float64 { return float64(i*4 + j) })
			dst := sdk.NewRows(3, 4)
			if err := c.Denoise(ctx, dst, x, 1); err != nil {
				t.Fatal(err)
			}
			if dst[2][3] != 5.5 {
				t.Errorf("D(x) = %v, want x/2", dst)
			}
			if err := c.VJP(ctx, dst, x, 1, x); err != nil || dst[1][0] != 2 {
				t.Errorf("VJP: %v, %v", err, dst)
			}
			wantErr(t, "raises", c.Denoise(ctx, dst, x, 2), "model pyfault raised ZeroDivisionError: division by zero (at ipbench-model-pyfault:")
			wantErr(t, "wrong shape", c.Denoise(ctx, dst, x, 3), "pyfault.denoise returned an array of shape [3, 5], want (3, 4)")
			wantErr(t, "complex", c.Denoise(ctx, dst, x, 4), "dtype complex128")
			wantErr(t, "NaN", c.Denoise(ctx, dst, x, 6), "model plugin: Denoise returned NaN in row 0 at 0")
			if !noShm {
				wantErr(t, "dtype lie", c.Denoise(ctx, dst, x, 7), "model plugin pyfault", "Denoise: returned a FLOAT32 tensor of shape [3 4] in shared memory, want FLOAT64 [3 4]")
			} else {
				wantErr(t, "message shape", c.Denoise(ctx, dst, x, 8), "model plugin pyfault", "Denoise: returned a tensor of shape [3 3], want [3 4]")
			}
			wantErr(t, "bind raises", func() error { _, err := p.Bind("explode", op, 0.1, []float64{1, 2}); return err }(), "model pyfault raised RuntimeError: cannot bind to task 'explode'")
			// Still the same process, still answering.
			if err := c.Denoise(ctx, dst, x, 1); err != nil {
				t.Fatalf("after the faults: %v", err)
			}
			// Seven Denoise calls of three rows, failed ones included: the
			// host counts what it forwards.
			if c.NFE() != 7*3 || c.VJPs() != 3 {
				t.Errorf("counted %d NFE and %d VJPs, want %d and 3", c.NFE(), c.VJPs(), 7*3)
			}
			gen := p.gen
			wantErr(t, "exit", c.Denoise(ctx, dst, x, 5), "the process died during Denoise", "restarted for the next batch")
			wantErr(t, "after the exit", c.Denoise(ctx, dst, x, 1), "model plugin pyfault", "restarted for the next batch")
			c = bind() // the next batch: a fresh process
			if p.gen != gen+1 {
				t.Errorf("generation %d after a restart, want %d", p.gen, gen+1)
			}
			if err := c.Denoise(ctx, dst, x, 1); err != nil || dst[0][1] != 0.5 {
				t.Errorf("after the restart: %v %v", err, dst)
			}
			if !noShm {
				start := time.Now()
				wantErr(t, "hang", c.Denoise(ctx, dst, x, 9), "no answer within the 1.5s timeout (hung?); killed, restarted for the next batch")
				if time.Since(start) > 10*time.Second {
					t.Errorf("the hung call took %v", time.Since(start))
				}
				c = bind()
				if err := c.Denoise(ctx, dst, x, 1); err != nil {
					t.Errorf("after the hang: %v", err)
				}
			}
			// The wrong problem size is refused at Bind.
			_, err := p.Bind("sr4", dense(t, 1, 3, []float64{1, 1, 1}), 0.1, []float64{1})
			wantErr(t, "dims", err, "takes signals of 4 values (shape [4]), the problem's have 3")
		})
	}
}

// The shared memory region grows with the calls, and concurrent calls of
// several bound problems each get their own answers.
func TestRegionAndConcurrency(t *testing.T) {
	needPython(t)
	p := open(t, testdata("ipbench-model-pyfault"), Config{Args: []string{"--dim", "3072", "--shape", "3,32,32"}})
	if err := p.CheckShape(operator.Shape{C: 3, H: 32, W: 32}); err != nil {
		t.Fatal(err)
	}
	if err := p.CheckShape(operator.Shape{C: 3, H: 16, W: 16}); err == nil || !strings.Contains(err.Error(), "takes 3×32×32 images; the run's are 3×16×16") {
		t.Errorf("shape check: %v", err)
	}
	keep := make([]bool, 3072)
	for i := range keep {
		keep[i] = i%3 == 0
	}
	op, err := operator.NewMask(operator.Shape{C: 3, H: 32, W: 32}, keep)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := op.Dims()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := p.Bind("inpaint-random", op, 0.05, make([]float64, m))
			if err != nil {
				errs <- err
				return
			}
			defer b.(interface{ Close() error }).Close()
			for n := 1; n <= 32; n *= 2 {
				x := rows(n, 3072, func(i, j int) float64 { return float64(g*1000 + i*7 + j) })
				dst := sdk.NewRows(n, 3072)
				if err := b.Denoise(context.Background(), dst, x, 1); err != nil {
					errs <- err
					return
				}
				for i := range dst {
					for j := range dst[i] {
						if dst[i][j] != x[i][j]/2 {
							errs <- fmt.Errorf("goroutine %d, n %d: row %d col %d: %v, want %v", g, n, i, j, dst[i][j], x[i][j]/2)
							return
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	p.regionMu.RLock()
	size := p.region.Size()
	p.regionMu.RUnlock()
	if size < 2*2*8*32*3072 {
		t.Errorf("region of %d bytes after calls of 32 rows", size)
	}
}
