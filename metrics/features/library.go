package features

import (
	"fmt"

	"github.com/ipbench/ipbench/internal/onnxrt"
)

// LibraryEnv names the environment variable that points at the ONNX Runtime
// shared library.
const LibraryEnv = onnxrt.LibraryEnv

// RuntimeVersion is the ONNX Runtime release whose C API (ORT_API_VERSION 24)
// github.com/yalue/onnxruntime_go v1.27.0 is built against; the shared
// library must be this release.
const RuntimeVersion = onnxrt.RuntimeVersion

// ErrNoLibrary is wrapped by every error that comes from the ONNX Runtime
// shared library being absent (LibraryEnv unset or naming no file).
var ErrNoLibrary = onnxrt.ErrNoLibrary

// Library returns the ONNX Runtime shared library path: the value of
// ONNXRUNTIME_SHARED_LIBRARY_PATH. When that is unset or names no file it
// returns "" and an error wrapping ErrNoLibrary that says how to get one
// (scripts/onnxruntime.sh).
func Library() (string, error) {
	p, err := onnxrt.Library()
	if err != nil {
		return "", fmt.Errorf("features: %w", err)
	}
	return p, nil
}

// haveCgo says whether this build can load ONNX Runtime.
const haveCgo = onnxrt.HaveCgo
