package onnxmodel

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"math"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/ipbench/ipbench/internal/onnxrt"
)

// The test models (testdata/make_models.py) work on 2×3×4 images and have
// closed forms, with prior variance s2 and measurement noise variance t2.
const (
	s2          = 0.25
	t2          = 0.01
	nc, nh, nw  = 2, 3, 4
	rowLen      = nc * nh * nw
	plane       = nh * nw
	relTol      = 1e-6 // float32 round-off of a few operations, with room
	testThreads = 1
)

// needRuntime skips a test that needs ONNX Runtime when it is not available.
func needRuntime(t *testing.T) {
	t.Helper()
	if !onnxrt.HaveCgo {
		t.Skip("built without cgo: ONNX Runtime needs CGO_ENABLED=1")
	}
	if _, err := onnxrt.Library(); err != nil {
		t.Skipf("skipping: ONNX Runtime not available: %v", err)
	}
}

// images returns n rows of length l, value j of row i being
// float32(sin(a·(i·l+j) + b)) (float32 so that the inputs are exact).
func images(n, l int, a, b float64) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, l)
		for j := range x[i] {
			x[i][j] = float64(float32(math.Sin(a*float64(i*l+j) + b)))
		}
	}
	return x
}

// sigmas spans EDM's range, one distinct σ per row, so that a row sent with
// another row's σ shows.
var sigmas = []float64{0.002, 0.3, 1.7, 80, 5}

func f32(v float64) float64 { return float64(float32(v)) }

// Closed forms, in float64 on the float32 σ the model sees. Each returns
// value j of row i.
type inputs struct {
	x, cond, v [][]float64
	sigma      []float64
	labels     []int
}

func gaussGain(s float64) float64 { s = f32(s); return s2 / (s2 + s*s) }

func epsGain(s float64) (a, p float64) {
	s = f32(s)
	p = 1/s2 + 1/(s*s) + 1/t2
	return 1 / (s * s) / p, p
}

var (
	gaussWant = func(in inputs, i, j int) float64 { return gaussGain(in.sigma[i]) * in.x[i][j] }
	gaussVJP  = func(in inputs, i, j int) float64 { return gaussGain(in.sigma[i]) * in.v[i][j] }
	classWant = func(in inputs, i, j int) float64 {
		m := []float64{-0.5, 0, 0.5}[in.labels[i]]
		return m + gaussGain(in.sigma[i])*(in.x[i][j]-m)
	}
	epsWant = func(in inputs, i, j int) float64 {
		a, p := epsGain(in.sigma[i])
		return a*in.x[i][j] + in.cond[i][j]/t2/p
	}
	epsVJP = func(in inputs, i, j int) float64 {
		a, _ := epsGain(in.sigma[i])
		return a * in.v[i][j]
	}
	restorerWant = func(in inputs, i, j int) float64 {
		s := f32(in.sigma[i])
		return in.x[i][j]/(1+s*s) + float64(1+in.labels[i])*in.cond[i][j%plane]
	}
)

// compare checks got against want row by row.
func compare(t *testing.T, what string, got [][]float64, in inputs, want func(inputs, int, int) float64) {
	t.Helper()
	if len(got) != len(in.x) {
		t.Fatalf("%s: %d rows, want %d", what, len(got), len(in.x))
	}
	worst := 0.0
	for i := range got {
		if len(got[i]) != rowLen {
			t.Fatalf("%s: row %d has %d values, want %d", what, i, len(got[i]), rowLen)
		}
		for j, g := range got[i] {
			w := want(in, i, j)
			d := math.Abs(g-w) / (1 + math.Abs(w))
			worst = max(worst, d)
			if d > relTol {
				t.Fatalf("%s: row %d (σ=%g) value %d = %.9g, want %.9g", what, i, in.sigma[i], j, g, w)
			}
		}
	}
	t.Logf("%s: %d rows, largest relative difference from the closed form %.2g", what, len(got), worst)
}

func TestDenoise(t *testing.T) {
	needRuntime(t)
	x := images(len(sigmas), rowLen, 0.37, 0.1)
	for _, c := range []struct {
		name   string
		file   string
		o      Options
		cond   [][]float64
		labels []int
		cc, k  int
		want   func(inputs, int, int) float64
	}{
		{"dynamic batch, one call", "gauss.onnx", Options{}, nil, nil, 0, 0, gaussWant},
		{"dynamic batch, chunks of 2", "gauss.onnx", Options{Batch: 2}, nil, nil, 0, 0, gaussWant},
		{"fixed batch 2, last chunk padded", "gauss_fixed.onnx", Options{Batch: 4}, nil, nil, 0, 0, gaussWant},
		{"free height and width", "gauss_free.onnx", Options{Height: nh, Width: nw}, nil, nil, 0, 0, gaussWant},
		{"expected shape given", "gauss.onnx", Options{Channels: nc, Height: nh, Width: nw}, nil, nil, 0, 0, gaussWant},
		{"class labels", "classes.onnx", Options{Batch: 3}, nil, []int{0, 2, 1, 2, 0}, 0, 3, classWant},
		{"EPS with cond", "eps.onnx", Options{Role: EPS}, images(5, rowLen, 0.23, -0.4), nil, nc, 0, epsWant},
		{"restorer with cond and task", "restorer.onnx", Options{Role: Restorer, CondChannels: 1}, images(5, plane, 0.11, 0.7), []int{1, 0, 0, 1, 1}, 1, 2, restorerWant},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.o.Provider, c.o.Threads = onnxrt.CPU, testThreads
			n, err := Open("testdata/"+c.file, c.o)
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if ch, h, w, cc := n.Shape(); ch != nc || h != nh || w != nw || cc != c.cc {
				t.Errorf("Shape = %d, %d, %d, %d; want %d, %d, %d, %d", ch, h, w, cc, nc, nh, nw, c.cc)
			}
			if k := n.Labels(); k != c.k {
				t.Errorf("Labels = %d, want %d", k, c.k)
			}
			in := inputs{x: x, cond: c.cond, sigma: sigmas, labels: c.labels}
			dst := make([][]float64, len(x))
			dst[1] = make([]float64, 1, rowLen) // reused
			keep := &dst[1][:1][0]
			if err := n.Denoise(context.Background(), dst, in.x, in.cond, in.sigma, in.labels); err != nil {
				t.Fatal(err)
			}
			compare(t, c.file, dst, in, c.want)
			if &dst[1][0] != keep {
				t.Error("dst[1] was reallocated although its capacity sufficed")
			}
			// One row at a time gives the same numbers.
			one := make([][]float64, 1)
			for i := range x {
				var cond [][]float64
				var labels []int
				if c.cond != nil {
					cond = c.cond[i : i+1]
				}
				if c.labels != nil {
					labels = c.labels[i : i+1]
				}
				if err := n.Denoise(context.Background(), one, x[i:i+1], cond, sigmas[i:i+1], labels); err != nil {
					t.Fatal(err)
				}
				for j := range one[0] {
					if one[0][j] != dst[i][j] {
						t.Fatalf("row %d alone: value %d = %g, in a batch %g", i, j, one[0][j], dst[i][j])
					}
				}
			}
			if err := n.Denoise(context.Background(), nil, nil, nil, nil, nil); err != nil {
				t.Errorf("no rows: %v", err)
			}
		})
	}
}

func fileSum(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestVJP(t *testing.T) {
	needRuntime(t)
	x := images(len(sigmas), rowLen, 0.37, 0.1)
	v := images(len(sigmas), rowLen, 0.19, 1.3)
	for _, c := range []struct {
		file, vjp string
		role      Role
		cond      [][]float64
		want      func(inputs, int, int) float64
	}{
		{"gauss.onnx", "gauss_vjp.onnx", Denoiser, nil, gaussVJP},
		{"gauss_fixed.onnx", "gauss_vjp.onnx", Denoiser, nil, gaussVJP}, // fixed denoiser, dynamic VJP
		{"eps.onnx", "eps_vjp.onnx", EPS, images(5, rowLen, 0.23, -0.4), epsVJP},
	} {
		t.Run(c.vjp+" for "+c.file, func(t *testing.T) {
			path, vjpPath := "testdata/"+c.file, "testdata/"+c.vjp
			n, err := Open(path, Options{Role: c.role, VJPPath: vjpPath, Provider: onnxrt.CPU, Threads: testThreads, Batch: 3})
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if !n.HasVJP() {
				t.Fatal("HasVJP = false")
			}
			if got, err := n.SHA256(); err != nil {
				t.Error(err)
			} else if want := fileSum(t, path) + "+" + fileSum(t, vjpPath); got != want {
				t.Errorf("SHA256 = %s, want %s", got, want)
			}
			in := inputs{x: x, cond: c.cond, sigma: sigmas, v: v}
			dst := make([][]float64, len(x))
			if err := n.VJP(context.Background(), dst, x, c.cond, sigmas, nil, v); err != nil {
				t.Fatal(err)
			}
			compare(t, c.vjp, dst, in, c.want)
		})
	}
}

func TestNoVJP(t *testing.T) {
	needRuntime(t)
	const path = "testdata/gauss.onnx"
	n, err := Open(path, Options{Provider: onnxrt.CPU})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if n.HasVJP() {
		t.Error("HasVJP = true without a VJP graph")
	}
	if got, err := n.SHA256(); err != nil {
		t.Error(err)
	} else if want := fileSum(t, path); got != want {
		t.Errorf("SHA256 = %s, want %s", got, want)
	}
	x := images(1, rowLen, 0.37, 0.1)
	err = n.VJP(context.Background(), make([][]float64, 1), x, nil, []float64{1}, nil, x)
	if !errors.Is(err, ErrNoVJP) || !strings.Contains(err.Error(), path) {
		t.Errorf("VJP without a graph: got %v; want ErrNoVJP naming %s", err, path)
	}
}

// Every refusal names the file and its cause.
func TestOpenErrors(t *testing.T) {
	needRuntime(t)
	for _, c := range []struct {
		name string
		file string
		o    Options
		is   error
		want []string
	}{
		{"missing file", "missing.onnx", Options{}, fs.ErrNotExist, nil},
		{"directory", "", Options{}, nil, []string{"directory"}},
		{"not ONNX", "not_onnx.onnx", Options{}, onnxrt.ErrBadModel, []string{"not a loadable ONNX model"}},
		{"truncated", "truncated.onnx", Options{}, onnxrt.ErrBadModel, nil},
		{"x named image", "bad_xname.onnx", Options{}, nil, []string{`no input "x"`, `"image"`}},
		{"float64 x", "bad_x_float64.onnx", Options{}, nil, []string{`input "x"`, "float64", "expected a float32"}},
		{"rank-3 x", "bad_x_rank3.onnx", Options{}, nil, []string{`input "x"`, "rank 3", "expected rank 4"}},
		{"no sigma", "bad_no_sigma.onnx", Options{}, nil, []string{`no input "sigma"`}},
		{"no denoised", "bad_no_denoised.onnx", Options{}, nil, []string{`no output "denoised"`, `"out"`}},
		{"denoised channels", "bad_out_channels.onnx", Options{}, nil, []string{`output "denoised"`, "[-1,3,3,4]", "[N,2,3,4]"}},
		{"int64 task", "bad_task_int64.onnx", Options{Role: EPS}, nil, []string{`input "task"`, "int64", "one-hot float32"}},
		{"channels disagree", "gauss.onnx", Options{Channels: 3}, nil, []string{"channel count 2", "Options.Channels is 3"}},
		{"height disagrees", "gauss.onnx", Options{Height: 5}, nil, []string{"height 3", "Options.Height is 5"}},
		{"width disagrees", "gauss.onnx", Options{Width: 7}, nil, []string{"width 4", "Options.Width is 7"}},
		{"free height not given", "gauss_free.onnx", Options{}, nil, []string{"free height;", "Options.Height"}},
		{"cond for a denoiser", "eps.onnx", Options{}, nil, []string{`input "cond"`, "Role EPS or Restorer"}},
		{"no cond for EPS", "gauss.onnx", Options{Role: EPS}, nil, []string{`no input "cond"`}},
		{"cond channels disagree", "restorer.onnx", Options{Role: Restorer, CondChannels: 2}, nil, []string{`input "cond"`, "Options.CondChannels is 2"}},
		{"VJP with an extra cond", "gauss.onnx", Options{VJPPath: "testdata/eps_vjp.onnx"}, nil, []string{"testdata/eps_vjp.onnx", `input "cond"`}},
		{"VJP without cond", "eps.onnx", Options{Role: EPS, VJPPath: "testdata/gauss_vjp.onnx"}, nil, []string{"testdata/gauss_vjp.onnx", `no input "cond"`}},
		{"VJP without v", "gauss.onnx", Options{VJPPath: "testdata/gauss.onnx"}, nil, []string{"VJP model testdata/gauss.onnx", `no input "v"`}},
		{"VJP without labels", "classes.onnx", Options{VJPPath: "testdata/gauss_vjp.onnx"}, nil, []string{"testdata/gauss_vjp.onnx", "label input none", `"class_labels" with 3 classes`}},
		{"VJP file missing", "gauss.onnx", Options{VJPPath: "testdata/missing_vjp.onnx"}, fs.ErrNotExist, []string{"testdata/missing_vjp.onnx"}},
		{"unknown provider", "gauss.onnx", Options{Provider: "tpu"}, nil, []string{`"tpu"`}},
		{"negative threads", "gauss.onnx", Options{Threads: -1}, nil, []string{"Threads -1"}},
		{"unknown role", "gauss.onnx", Options{Role: 7}, nil, []string{"Role(7)"}},
		{"cond channels for a denoiser", "gauss.onnx", Options{CondChannels: 1}, nil, []string{"CondChannels 1"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := "testdata/" + c.file
			if c.file == "" {
				path = "testdata"
			}
			if c.o.Provider == "" {
				c.o.Provider = onnxrt.CPU
			}
			n, err := Open(path, c.o)
			if err == nil {
				n.Close()
				t.Fatal("no error")
			}
			t.Log(err)
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error does not name %s", path)
			}
			if c.is != nil && !errors.Is(err, c.is) {
				t.Errorf("error is not %v", c.is)
			}
			for _, s := range c.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %s", s)
				}
			}
		})
	}
}

func TestRunErrors(t *testing.T) {
	needRuntime(t)
	open := func(file string, o Options) *Net {
		t.Helper()
		o.Provider = onnxrt.CPU
		n, err := Open("testdata/"+file, o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { n.Close() })
		return n
	}
	gauss := open("gauss.onnx", Options{VJPPath: "testdata/gauss_vjp.onnx"})
	classes := open("classes.onnx", Options{})
	eps := open("eps.onnx", Options{Role: EPS})
	nan := open("nan.onnx", Options{})
	x := images(2, rowLen, 0.37, 0.1)
	short := [][]float64{x[0], x[1][:rowLen-1]}
	withNaN := images(2, rowLen, 0.37, 0.1)
	withNaN[1][3] = math.NaN()
	two := make([][]float64, 2)
	bg := context.Background()
	cancelled, cancel := context.WithCancel(bg)
	cancel()
	for _, c := range []struct {
		name string
		run  func() error
		want string
	}{
		{"dst length", func() error { return gauss.Denoise(bg, make([][]float64, 3), x, nil, []float64{1, 1}, nil) }, "all must agree"},
		{"σ count", func() error { return gauss.Denoise(bg, two, x, nil, []float64{1}, nil) }, "all must agree"},
		{"short row", func() error { return gauss.Denoise(bg, two, short, nil, []float64{1, 1}, nil) }, "row 1 of x has 23 values, expected 24"},
		{"NaN input", func() error { return gauss.Denoise(bg, two, withNaN, nil, []float64{1, 1}, nil) }, "row 1 of x: value 3 is NaN"},
		{"σ zero", func() error { return gauss.Denoise(bg, two, x, nil, []float64{1, 0}, nil) }, "σ of row 1 is 0"},
		{"σ negative", func() error { return gauss.Denoise(bg, two, x, nil, []float64{-1, 1}, nil) }, "σ of row 0 is -1"},
		{"σ NaN", func() error { return gauss.Denoise(bg, two, x, nil, []float64{math.NaN(), 1}, nil) }, "σ of row 0 is NaN"},
		{"σ infinite", func() error { return gauss.Denoise(bg, two, x, nil, []float64{1, math.Inf(1)}, nil) }, "σ of row 1 is +Inf"},
		{"cond for a denoiser", func() error { return gauss.Denoise(bg, two, x, x, []float64{1, 1}, nil) }, "takes no cond"},
		{"labels without label input", func() error { return gauss.Denoise(bg, two, x, nil, []float64{1, 1}, []int{0, 1}) }, "without class_labels"},
		{"labels missing", func() error { return classes.Denoise(bg, two, x, nil, []float64{1, 1}, nil) }, `input "class_labels" needs one per row`},
		{"label out of range", func() error { return classes.Denoise(bg, two, x, nil, []float64{1, 1}, []int{0, 3}) }, "label 3 of row 1 is outside [0, 3)"},
		{"cond missing", func() error { return eps.Denoise(bg, two, x, nil, []float64{1, 1}, nil) }, "0 rows of cond for 2 rows"},
		{"cond short", func() error { return eps.Denoise(bg, two, x, short, []float64{1, 1}, nil) }, "row 1 of cond has 23 values"},
		{"v short", func() error { return gauss.VJP(bg, two, x, nil, []float64{1, 1}, nil, short) }, "row 1 of v has 23 values"},
		{"v missing", func() error { return gauss.VJP(bg, two, x, nil, []float64{1, 1}, nil, nil) }, "0 rows of v"},
		{"NaN output", func() error { return nan.Denoise(bg, two, x, nil, []float64{2, 0.5}, nil) }, `output "denoised" of row 1 (σ = 0.5) is NaN`},
		{"cancelled", func() error { return gauss.Denoise(cancelled, two, x, nil, []float64{1, 1}, nil) }, "context canceled"},
	} {
		err := c.run()
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "testdata/") {
			t.Errorf("%s: got %v; want an error naming the model and saying %q", c.name, err, c.want)
		}
	}
	if err := nan.Denoise(bg, two, x, nil, []float64{2, 1}, nil); err != nil {
		t.Errorf("nan.onnx at σ ≥ 1: %v", err)
	}
	if err := gauss.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gauss.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := gauss.Denoise(bg, two, x, nil, []float64{1, 1}, nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Denoise after Close: got %v", err)
	}
}

// This repository's ONNX Runtime is the CPU build: "auto" runs on the CPU and
// "cuda" fails saying why. With a GPU build and a GPU both get CUDA.
func TestProvider(t *testing.T) {
	needRuntime(t)
	const path = "testdata/gauss.onnx"
	for _, p := range []string{"", onnxrt.Auto, onnxrt.CPU, onnxrt.CUDA} {
		n, err := Open(path, Options{Provider: p, VJPPath: "testdata/gauss_vjp.onnx"})
		if err != nil {
			if p != onnxrt.CUDA {
				t.Errorf("provider %q: %v", p, err)
				continue
			}
			t.Logf("cuda: %v", err)
			for _, s := range []string{path, "CUDA", "GPU build"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("cuda: error does not say %s", s)
				}
			}
			continue
		}
		got := n.Provider()
		t.Logf("provider %q: runs on %s", p, got)
		if p == onnxrt.CPU && got != onnxrt.CPU || got != onnxrt.CPU && got != onnxrt.CUDA || p == onnxrt.CUDA && got != onnxrt.CUDA {
			t.Errorf("provider %q: Provider() = %q", p, got)
		}
		x := images(2, rowLen, 0.37, 0.1)
		dst := make([][]float64, 2)
		if err := n.Denoise(context.Background(), dst, x, nil, []float64{0.5, 3}, nil); err != nil {
			t.Errorf("provider %q: %v", p, err)
		} else {
			compare(t, "on "+got, dst, inputs{x: x, sigma: []float64{0.5, 3}}, gaussWant)
		}
		n.Close()
	}
}

func TestConcurrent(t *testing.T) {
	needRuntime(t)
	n, err := Open("testdata/gauss_fixed.onnx", Options{Provider: onnxrt.CPU, Threads: testThreads})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	x := images(len(sigmas), rowLen, 0.37, 0.1)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	outs := make([][][]float64, 4)
	for g := range errs {
		wg.Go(func() {
			outs[g] = make([][]float64, len(x))
			errs[g] = n.Denoise(context.Background(), outs[g], x, nil, sigmas, nil)
		})
	}
	wg.Wait()
	for g := range errs {
		if errs[g] != nil {
			t.Fatal(errs[g])
		}
		compare(t, "concurrent", outs[g], inputs{x: x, sigma: sigmas}, gaussWant)
	}
}

func TestNoCgo(t *testing.T) {
	if onnxrt.HaveCgo {
		t.Skip("this test is for builds without cgo")
	}
	_, err := Open("testdata/gauss.onnx", Options{})
	if !errors.Is(err, onnxrt.ErrNoCgo) || !strings.Contains(err.Error(), "testdata/gauss.onnx") {
		t.Errorf("got %v; want ErrNoCgo naming the model", err)
	}
}
