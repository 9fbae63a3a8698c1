// Package onnxrt is ipbench's one door to ONNX Runtime: it finds and loads
// the shared library once per process, reads a model's declared inputs and
// outputs, and runs sessions with named float32 and int64 tensors on the CPU
// or the CUDA execution provider.
//
// ONNX Runtime is loaded at run time (github.com/yalue/onnxruntime_go
// v1.27.0, which needs cgo) from the file named by
// ONNXRUNTIME_SHARED_LIBRARY_PATH, and must be ONNX Runtime 1.24.1 (the C API
// onnxruntime_go v1.27.0 is built against). scripts/onnxruntime.sh installs
// the official linux-x64 CPU build. Without the library every call fails
// with an error wrapping ErrNoLibrary; in a build without cgo, with one
// wrapping ErrNoCgo.
//
// Errors carry no package prefix: callers wrap them with the model they
// concern.
package onnxrt

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// LibraryEnv names the environment variable that points at the ONNX Runtime
// shared library.
const LibraryEnv = "ONNXRUNTIME_SHARED_LIBRARY_PATH"

// RuntimeVersion is the ONNX Runtime release whose C API (ORT_API_VERSION 24)
// github.com/yalue/onnxruntime_go v1.27.0 is built against; the shared
// library must be this release.
const RuntimeVersion = "1.24.1"

// ErrNoLibrary is wrapped by every error that comes from the ONNX Runtime
// shared library being absent (LibraryEnv unset or naming no file).
var ErrNoLibrary = errors.New("ONNX Runtime shared library not available")

// ErrNoCgo is wrapped by every error of a build without cgo.
var ErrNoCgo = errors.New("this ipbench was built without cgo (CGO_ENABLED=0); ONNX Runtime needs cgo: rebuild with CGO_ENABLED=1 and a C compiler")

// ErrBadModel is wrapped by the error of ReadInfo for a file ONNX Runtime
// cannot load.
var ErrBadModel = errors.New("not a loadable ONNX model (corrupt, truncated, not ONNX, or using operators this ONNX Runtime lacks)")

// HowToGetLibrary says how to install the library; it ends every ErrNoLibrary
// error.
const HowToGetLibrary = "run scripts/onnxruntime.sh (installs ONNX Runtime " + RuntimeVersion +
	" from the npm package onnxruntime-node@" + RuntimeVersion + " into third_party/onnxruntime) and set " +
	LibraryEnv + "=<dir>/libonnxruntime.so.1 as it prints"

// Library returns the ONNX Runtime shared library path: the value of
// ONNXRUNTIME_SHARED_LIBRARY_PATH. When that is unset or names no file it
// returns "" and an error wrapping ErrNoLibrary that says how to get one.
func Library() (string, error) {
	p := os.Getenv(LibraryEnv)
	if p == "" {
		return "", fmt.Errorf("%w: %s is not set; %s", ErrNoLibrary, LibraryEnv, HowToGetLibrary)
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: %s=%s: %v; %s", ErrNoLibrary, LibraryEnv, p, err, HowToGetLibrary)
	}
	if st.IsDir() {
		return "", fmt.Errorf("%w: %s=%s is a directory, not the library file; %s", ErrNoLibrary, LibraryEnv, p, HowToGetLibrary)
	}
	return p, nil
}

// Execution providers, as Options.Provider names them.
const (
	CPU  = "cpu"  // ONNX Runtime's default CPU provider
	CUDA = "cuda" // the CUDA provider; an error when it cannot be used
	Auto = "auto" // CUDA when it can be used, else CPU
)

// Options configures a session.
type Options struct {
	// Threads is ONNX Runtime's intra-op thread count; 0 leaves its default.
	Threads int
	// Provider is CPU (also ""), CUDA or Auto. The CUDA provider needs an
	// ONNX Runtime GPU build (libonnxruntime_providers_cuda.so and
	// libonnxruntime_providers_shared.so beside the library, and the CUDA
	// and cuDNN releases it was built for); the library scripts/onnxruntime.sh
	// installs is CPU-only. It runs on device 0: pick a GPU with
	// CUDA_VISIBLE_DEVICES.
	Provider string
}

// Info is a model input or output as the file declares it.
type Info struct {
	Name   string
	Tensor bool    // a tensor (not a sequence, map or other value)
	DType  string  // element type: "float32", "int64", "float64", ... (see dtypeName)
	Shape  []int64 // -1 for a symbolic or unknown dimension
}

// Describe writes the declaration as `a float32 tensor [-1,3,64,64]`.
func (t Info) Describe() string {
	if !t.Tensor {
		return "not a tensor"
	}
	return fmt.Sprintf("a %s tensor %s", t.DType, ShapeString(t.Shape))
}

// Find returns the entry of infos named name.
func Find(infos []Info, name string) (Info, bool) {
	for _, t := range infos {
		if t.Name == name {
			return t, true
		}
	}
	return Info{}, false
}

// List writes infos as `"x" a float32 tensor [-1,3,4,4], "y" ...` (or
// "none") for error messages.
func List(infos []Info) string {
	if len(infos) == 0 {
		return "none"
	}
	parts := make([]string, len(infos))
	for i, t := range infos {
		parts[i] = fmt.Sprintf("%q %s", t.Name, t.Describe())
	}
	return strings.Join(parts, ", ")
}

// ShapeString writes a shape as [-1,3,299,299] (-1: free).
func ShapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

// Tensor is a dense C-order tensor going into or coming out of a session.
// Exactly one of Float32 and Int64 holds its values.
type Tensor struct {
	Shape   []int64
	Float32 []float32
	Int64   []int64
}

// DType returns "float32" or "int64" (or "" when neither or both are set).
func (t Tensor) DType() string {
	switch {
	case t.Float32 != nil && t.Int64 == nil:
		return "float32"
	case t.Int64 != nil && t.Float32 == nil:
		return "int64"
	}
	return ""
}

// size is the number of values the shape holds, or -1 for a negative
// dimension.
func (t Tensor) size() int {
	n := 1
	for _, d := range t.Shape {
		if d < 0 {
			return -1
		}
		n *= int(d)
	}
	return n
}

// check says what is wrong with an input tensor, before it reaches the C API.
func (t Tensor) check(name string) error {
	dt := t.DType()
	if dt == "" {
		return fmt.Errorf("input %q: exactly one of Float32 and Int64 must hold the values", name)
	}
	n := t.size()
	if n < 0 {
		return fmt.Errorf("input %q: negative dimension in shape %s", name, ShapeString(t.Shape))
	}
	have := len(t.Float32) + len(t.Int64)
	if have != n {
		return fmt.Errorf("input %q: %d values for shape %s (%d)", name, have, ShapeString(t.Shape), n)
	}
	return nil
}

// CheckProvider says what is wrong with p as Options.Provider: it must be
// CPU, CUDA, Auto or "".
func CheckProvider(p string) error {
	switch p {
	case "", CPU, CUDA, Auto:
		return nil
	}
	return fmt.Errorf("unknown execution provider %q (want %q, %q or %q)", p, CPU, CUDA, Auto)
}
