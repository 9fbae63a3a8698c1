package features

import (
	"errors"
	"io/fs"
	"math"
	"strings"
	"testing"
)

// Expected outputs of the tiny test models, from
//
//	/usr/bin/python3 metrics/features/testdata/make_tiny.py
//
// (Debian python3-onnx 1.12 and python3-numpy; numpy in float64 on the
// float32 inputs inputs(3) and inputs(3, 0.23, -0.4) below.)

// tiny.onnx: x [N,3,4,4] -> Conv -> Relu -> GlobalAveragePool -> Flatten -> y [N,2].
var tinyWant = [][]float64{
	{0.3147076479330515, 0.3710932152391554},
	{0.4030735390704163, 0.26930516760726536},
	{0.5533504445844921, 0.13233122166729783},
}

// tiny_lpips.onnx: mean((in0-in1)^2) over C,H,W, for in0 = inputs(3), in1 = inputs(3, 0.23, -0.4).
var lpipsWant = []float64{0.9408488352558768, 0.9938821644348458, 0.939358098023372}

const tol = 1e-5

// inputs mirrors make_tiny.py: n images of 3×4×4, value i of the flat batch
// being float32(sin(a*i + b)).
func inputs(n int, a, b float64) [][]float64 {
	const row = 3 * 4 * 4
	x := make([][]float64, n)
	for k := range x {
		x[k] = make([]float64, row)
		for j := range x[k] {
			i := float64(k*row + j)
			x[k][j] = float64(float32(math.Sin(a*i + b)))
		}
	}
	return x
}

// needRuntime skips a test that needs ONNX Runtime when it is not available.
func needRuntime(t *testing.T) {
	t.Helper()
	if !haveCgo {
		t.Skip("built without cgo: ONNX Runtime needs CGO_ENABLED=1")
	}
	if _, err := Library(); err != nil {
		t.Skipf("skipping: ONNX Runtime not available: %v", err)
	}
}

func tinyOptions() Options {
	return Options{Input: "x", Output: "y", InputShape: []int64{-1, 3, 4, 4}, OutputShape: []int64{-1, 2}, Batch: 2}
}

func TestLibrary(t *testing.T) {
	t.Setenv(LibraryEnv, "")
	p, err := Library()
	if p != "" || !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), "scripts/onnxruntime.sh") {
		t.Fatalf("unset: got %q, %v; want \"\" and ErrNoLibrary naming scripts/onnxruntime.sh", p, err)
	}
	t.Setenv(LibraryEnv, "testdata/no-such-libonnxruntime.so")
	if p, err := Library(); p != "" || !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), "no-such-libonnxruntime.so") {
		t.Fatalf("missing file: got %q, %v", p, err)
	}
	t.Setenv(LibraryEnv, "testdata")
	if _, err := Library(); !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("directory: got %v", err)
	}
}

func TestOpenMissingFile(t *testing.T) {
	_, err := Open("testdata/missing.onnx", tinyOptions())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "testdata/missing.onnx") {
		t.Fatalf("got %v; want a not-exist error naming the file", err)
	}
	if _, err := Open("testdata", tinyOptions()); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Fatalf("directory: got %v", err)
	}
}

func TestOpenBadOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"no input":       {Output: "y", InputShape: []int64{-1, 3, 4, 4}},
		"no output":      {Input: "x", InputShape: []int64{-1, 3, 4, 4}},
		"rank 1":         {Input: "x", Output: "y", InputShape: []int64{-1}},
		"free channel":   {Input: "x", Output: "y", InputShape: []int64{-1, -1, 4, 4}},
		"zero batch":     {Input: "x", Output: "y", InputShape: []int64{0, 3, 4, 4}},
		"bad output":     {Input: "x", Output: "y", InputShape: []int64{-1, 3, 4, 4}, OutputShape: []int64{-1, 0}},
		"negative batch": {Input: "x", Output: "y", InputShape: []int64{-1, 3, 4, 4}, Batch: -1},
	} {
		if _, err := Open("testdata/tiny.onnx", o); err == nil || !strings.Contains(err.Error(), "testdata/tiny.onnx") {
			t.Errorf("%s: got %v; want an error naming the file", name, err)
		}
	}
	if _, err := OpenLPIPS("testdata/tiny_lpips.onnx", 0, 4, 0); err == nil {
		t.Errorf("LPIPS with zero height: no error")
	}
}

// Without the library (and before anything loaded it) Open says how to get it.
func TestOpenWithoutLibrary(t *testing.T) {
	if _, err := Library(); err == nil {
		t.Skip("the library is available; this test is for machines without it")
	}
	_, err := Open("testdata/tiny.onnx", tinyOptions())
	if haveCgo && !errors.Is(err, ErrNoLibrary) {
		t.Fatalf("got %v; want ErrNoLibrary", err)
	}
	if err == nil || !strings.Contains(err.Error(), "testdata/tiny.onnx") {
		t.Fatalf("got %v; want an error naming the model", err)
	}
}

func TestMismatch(t *testing.T) {
	for _, c := range []struct {
		declared, expected []int64
		dim                int
		ok                 bool
	}{
		{[]int64{-1, 3, 4, 4}, []int64{-1, 3, 4, 4}, 0, true},
		{[]int64{-1, 3, -1, -1}, []int64{-1, 3, 8, 8}, 0, true},
		{[]int64{1, 3, 4, 4}, []int64{-1, 3, 4, 4}, 0, true},
		{[]int64{-1, 3, 4, 4}, []int64{-1, 3, 8, 8}, 2, false},
		{[]int64{-1, 3, 4}, []int64{-1, 3, 4, 4}, -1, false},
		{[]int64{2, 3, 4, 4}, []int64{4, 3, 4, 4}, 0, false},
	} {
		dim, ok := mismatch(c.declared, c.expected)
		if ok != c.ok || (!ok && dim != c.dim) {
			t.Errorf("mismatch(%v, %v) = %d, %v; want %d, %v", c.declared, c.expected, dim, ok, c.dim, c.ok)
		}
	}
	if s := shapeString([]int64{-1, 3, 299, 299}); s != "[-1,3,299,299]" {
		t.Errorf("shapeString = %s", s)
	}
}

func TestTiny(t *testing.T) {
	needRuntime(t)
	n, err := Open("testdata/tiny.onnx", tinyOptions()) // Batch 2: one full batch and a tail of 1
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	x := inputs(3, 0.37, 0.1)
	dst := make([][]float64, len(x))
	dst[1] = make([]float64, 0, 8) // reused
	for round := range 2 {
		if err := n.Run(dst, x); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for i, want := range tinyWant {
			for j := range min(len(want), len(dst[i])) {
				worst = max(worst, math.Abs(dst[i][j]-want[j]))
			}
		}
		t.Logf("round %d: y = %.7f, largest |diff| from numpy %.2g", round, dst, worst)
		for i, want := range tinyWant {
			if len(dst[i]) != len(want) {
				t.Fatalf("round %d: image %d: %d outputs, want %d", round, i, len(dst[i]), len(want))
			}
			for j := range want {
				if d := math.Abs(dst[i][j] - want[j]); d > tol {
					t.Errorf("round %d: y[%d][%d] = %.9g, want %.9g (|diff| %.2g > %g)", round, i, j, dst[i][j], want[j], d, tol)
				}
			}
		}
	}
	// Batch size must not change the numbers.
	n1, err := Open("testdata/tiny.onnx", Options{Input: "x", Output: "y", InputShape: []int64{-1, 3, 4, 4}, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	one := make([][]float64, 1)
	if err := n1.Run(one, x[2:]); err != nil {
		t.Fatal(err)
	}
	for j := range tinyWant[2] {
		if d := math.Abs(one[0][j] - tinyWant[2][j]); d > tol {
			t.Errorf("batch of one: y[2][%d] = %g, want %g", j, one[0][j], tinyWant[2][j])
		}
	}
	if err := n1.Run(nil, nil); err != nil {
		t.Errorf("no images: %v", err)
	}
}

func TestTinyWrongShape(t *testing.T) {
	needRuntime(t)
	o := tinyOptions()
	o.InputShape = []int64{-1, 3, 8, 8}
	_, err := Open("testdata/tiny.onnx", o)
	if err == nil {
		t.Fatal("expecting [-1,3,8,8] of a [N,3,4,4] model: no error")
	}
	t.Logf("wrong input shape: %v", err)
	for _, s := range []string{"testdata/tiny.onnx", `"x"`, "[-1,3,4,4]", "[-1,3,8,8]"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	o = tinyOptions()
	o.OutputShape = []int64{-1, 3}
	if _, err := Open("testdata/tiny.onnx", o); err == nil || !strings.Contains(err.Error(), "[-1,2]") {
		t.Errorf("wrong output shape: got %v", err)
	}
	o = tinyOptions()
	o.InputShape = []int64{-1, 3, 4}
	if _, err := Open("testdata/tiny.onnx", o); err == nil || !strings.Contains(err.Error(), "rank") {
		t.Errorf("wrong rank: got %v", err)
	}
}

func TestTinyWrongNames(t *testing.T) {
	needRuntime(t)
	o := tinyOptions()
	o.Input = "images"
	if _, err := Open("testdata/tiny.onnx", o); err == nil || !strings.Contains(err.Error(), `"x"`) {
		t.Errorf("wrong input name: got %v; want an error listing input \"x\"", err)
	}
	o = tinyOptions()
	o.Output = "pool3"
	if _, err := Open("testdata/tiny.onnx", o); err == nil || !strings.Contains(err.Error(), `"y"`) {
		t.Errorf("wrong output name: got %v; want an error listing output \"y\"", err)
	}
	// The Inception wrapper refuses a model that is not its export.
	if _, err := OpenInception("testdata/tiny.onnx", 0); err == nil || !strings.Contains(err.Error(), `no input "images"`) {
		t.Errorf("OpenInception(tiny.onnx): got %v", err)
	}
}

func TestTinyRunErrors(t *testing.T) {
	needRuntime(t)
	n, err := Open("testdata/tiny.onnx", tinyOptions())
	if err != nil {
		t.Fatal(err)
	}
	x := inputs(2, 0.37, 0.1)
	if err := n.Run(make([][]float64, 3), x); err == nil {
		t.Error("3 outputs for 2 images: no error")
	}
	x[1] = x[1][:10]
	if err := n.Run(make([][]float64, 2), x); err == nil || !strings.Contains(err.Error(), "image 1") {
		t.Errorf("short image: got %v", err)
	}
	x = inputs(1, 0.37, 0.1)
	x[0][5] = math.NaN()
	if err := n.Run(make([][]float64, 1), x); err == nil || !strings.Contains(err.Error(), "NaN") {
		t.Errorf("NaN: got %v", err)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	if err := n.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := n.Run(make([][]float64, 1), inputs(1, 0.37, 0.1)); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Run after Close: got %v", err)
	}
}

func TestLPIPSWrapper(t *testing.T) {
	needRuntime(t)
	l, err := OpenLPIPS("testdata/tiny_lpips.onnx", 4, 4, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	d := make([]float64, 3)
	if err := l.Distance(d, inputs(3, 0.37, 0.1), inputs(3, 0.23, -0.4)); err != nil {
		t.Fatal(err)
	}
	for i := range d {
		if math.Abs(d[i]-lpipsWant[i]) > tol {
			t.Errorf("distance %d = %g, want %g", i, d[i], lpipsWant[i])
		}
	}
	if err := l.Distance(d, inputs(3, 0.37, 0.1), inputs(2, 0.37, 0.1)); err == nil {
		t.Error("3 against 2 images: no error")
	}
	if _, err := OpenLPIPS("testdata/tiny.onnx", 4, 4, 0); err == nil || !strings.Contains(err.Error(), "in0") {
		t.Errorf("OpenLPIPS(tiny.onnx): got %v", err)
	}
}

func TestInceptionWrapper(t *testing.T) {
	needRuntime(t)
	m, err := OpenInception("testdata/tiny_pool3.onnx", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	const plane = InceptionSize * InceptionSize
	images := make([][]float64, 2)
	var means [2][3]float64
	for k := range images {
		images[k] = make([]float64, 3*plane)
		for j := range images[k] {
			v := float64(float32(0.5 + 0.5*math.Sin(0.001*float64(j)+float64(k))))
			images[k][j] = v
			means[k][j/plane] += v / plane
		}
	}
	dst := make([][]float64, 2)
	if err := m.Features(dst, images); err != nil {
		t.Fatal(err)
	}
	for k := range dst {
		if len(dst[k]) != InceptionDim {
			t.Fatalf("image %d: %d features, want %d", k, len(dst[k]), InceptionDim)
		}
		for j, v := range dst[k] {
			if want := means[k][j%3]; math.Abs(v-want) > tol {
				t.Fatalf("image %d feature %d = %g, want %g", k, j, v, want)
			}
		}
	}
}
