package onnxrt

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
)

// testdata/mixed.onnx (testdata/make_mixed.py): a float32 [N,2], k int64 [N]
// -> y float32 [N,2] = a*k, z int64 [N] = k+1.
const mixed = "testdata/mixed.onnx"

// needRuntime skips a test that needs ONNX Runtime when it is not available.
func needRuntime(t *testing.T) {
	t.Helper()
	if !HaveCgo {
		t.Skip("built without cgo: ONNX Runtime needs CGO_ENABLED=1")
	}
	if _, err := Library(); err != nil {
		t.Skipf("skipping: ONNX Runtime not available: %v", err)
	}
}

func TestLibrary(t *testing.T) {
	for _, c := range []struct {
		env, want string
	}{
		{"", "is not set"},
		{"testdata/no-such-libonnxruntime.so", "no-such-libonnxruntime.so"},
		{"testdata", "is a directory"},
	} {
		t.Setenv(LibraryEnv, c.env)
		p, err := Library()
		if p != "" || !errors.Is(err, ErrNoLibrary) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "scripts/onnxruntime.sh") {
			t.Errorf("%s=%q: got %q, %v; want ErrNoLibrary saying %q and naming scripts/onnxruntime.sh", LibraryEnv, c.env, p, err, c.want)
		}
	}
}

func TestDescribe(t *testing.T) {
	infos := []Info{
		{Name: "x", Tensor: true, DType: "float32", Shape: []int64{-1, 3, 4, 4}},
		{Name: "m", Tensor: false},
	}
	if got, want := List(infos), `"x" a float32 tensor [-1,3,4,4], "m" not a tensor`; got != want {
		t.Errorf("List = %s, want %s", got, want)
	}
	if got := List(nil); got != "none" {
		t.Errorf("List(nil) = %s", got)
	}
	if _, ok := Find(infos, "m"); !ok {
		t.Error("Find(m): not found")
	}
	if _, ok := Find(infos, "y"); ok {
		t.Error("Find(y): found")
	}
}

func TestTensorCheck(t *testing.T) {
	for _, c := range []struct {
		name string
		t    Tensor
		want string // "" for no error
	}{
		{"float32", Tensor{Shape: []int64{2, 2}, Float32: make([]float32, 4)}, ""},
		{"int64", Tensor{Shape: []int64{3}, Int64: make([]int64, 3)}, ""},
		{"empty batch", Tensor{Shape: []int64{0, 2}, Float32: []float32{}}, ""},
		{"both", Tensor{Shape: []int64{1}, Float32: []float32{1}, Int64: []int64{1}}, "exactly one"},
		{"neither", Tensor{Shape: []int64{1}}, "exactly one"},
		{"short", Tensor{Shape: []int64{2, 2}, Float32: make([]float32, 3)}, "3 values for shape [2,2]"},
		{"negative", Tensor{Shape: []int64{-1, 2}, Float32: make([]float32, 2)}, "negative dimension"},
	} {
		err := c.t.check("in")
		if (err == nil) != (c.want == "") || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

func TestReadInfo(t *testing.T) {
	needRuntime(t)
	ins, outs, err := ReadInfo(mixed)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := List(ins), `"a" a float32 tensor [-1,2], "k" a int64 tensor [-1]`; got != want {
		t.Errorf("inputs %s, want %s", got, want)
	}
	if got, want := List(outs), `"y" a float32 tensor [-1,2], "z" a int64 tensor [-1]`; got != want {
		t.Errorf("outputs %s, want %s", got, want)
	}
	// The generating script is not a model.
	if _, _, err := ReadInfo("testdata/make_mixed.py"); !errors.Is(err, ErrBadModel) {
		t.Errorf("ReadInfo(make_mixed.py): got %v, want ErrBadModel", err)
	}
}

func TestRunMixed(t *testing.T) {
	needRuntime(t)
	s, err := NewSession(mixed, []string{"a", "k"}, []string{"z", "y"}, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if p := s.Provider(); p != CPU {
		t.Errorf("Provider = %s, want %s", p, CPU)
	}
	out, err := s.Run(context.Background(), []Tensor{
		{Shape: []int64{3, 2}, Float32: []float32{1, 2, 3, 4, 5, 6}},
		{Shape: []int64{3}, Int64: []int64{-1, 0, 7}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 {
		t.Fatalf("%d outputs, want 2", len(out))
	}
	z, y := out[0], out[1]
	if !slices.Equal(z.Shape, []int64{3}) || !slices.Equal(z.Int64, []int64{0, 1, 8}) || z.Float32 != nil {
		t.Errorf("z = %+v, want shape [3] values [0 1 8]", z)
	}
	if !slices.Equal(y.Shape, []int64{3, 2}) || !slices.Equal(y.Float32, []float32{-1, -2, 0, 0, 35, 42}) {
		t.Errorf("y = %+v, want shape [3,2] values [-1 -2 0 0 35 42]", y)
	}

	for name, in := range map[string][]Tensor{
		"one input":  {{Shape: []int64{1, 2}, Float32: []float32{1, 2}}},
		"wrong size": {{Shape: []int64{1, 2}, Float32: []float32{1}}, {Shape: []int64{1}, Int64: []int64{1}}},
		"wrong type": {{Shape: []int64{1, 2}, Float32: []float32{1, 2}}, {Shape: []int64{1}, Float32: []float32{1}}},
	} {
		if _, err := s.Run(context.Background(), in); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Run(ctx, []Tensor{{Shape: []int64{1, 2}, Float32: []float32{1, 2}}, {Shape: []int64{1}, Int64: []int64{1}}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: got %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := s.Run(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Run after Close: got %v", err)
	}
}

// On a machine without a GPU build of ONNX Runtime (this repository's
// default), Auto falls back to the CPU and CUDA fails saying why; with one,
// both get CUDA.
func TestProviders(t *testing.T) {
	needRuntime(t)
	for _, p := range []string{"", CPU, Auto, CUDA, "tpu"} {
		s, err := NewSession(mixed, []string{"a", "k"}, []string{"y"}, Options{Provider: p})
		switch {
		case p == "tpu":
			if err == nil || !strings.Contains(err.Error(), `"tpu"`) {
				t.Errorf("provider tpu: got %v", err)
			}
		case p == CUDA && err != nil:
			t.Logf("cuda: %v", err)
			if !strings.Contains(err.Error(), "CUDA") || !strings.Contains(err.Error(), "GPU build") {
				t.Errorf("provider cuda: error %q does not explain itself", err)
			}
		case err != nil:
			t.Errorf("provider %q: %v", p, err)
		default:
			got := s.Provider()
			t.Logf("provider %q: runs on %s (fallback: %v)", p, got, s.Fallback())
			switch p {
			case "", CPU:
				if got != CPU || s.Fallback() != nil {
					t.Errorf("provider %q: runs on %s, fallback %v", p, got, s.Fallback())
				}
			case Auto:
				if (got == CPU) != (s.Fallback() != nil) {
					t.Errorf("auto: runs on %s with fallback %v", got, s.Fallback())
				}
			case CUDA:
				if got != CUDA {
					t.Errorf("cuda: runs on %s", got)
				}
			}
			s.Close()
		}
	}
}

func TestNoCgo(t *testing.T) {
	if HaveCgo {
		t.Skip("this test is for builds without cgo")
	}
	if _, _, err := ReadInfo(mixed); !errors.Is(err, ErrNoCgo) {
		t.Errorf("ReadInfo: got %v, want ErrNoCgo", err)
	}
	if _, err := NewSession(mixed, []string{"a"}, []string{"y"}, Options{}); !errors.Is(err, ErrNoCgo) {
		t.Errorf("NewSession: got %v, want ErrNoCgo", err)
	}
}
