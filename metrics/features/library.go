package features

import (
	"errors"
	"fmt"
	"os"
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
var ErrNoLibrary = errors.New("features: ONNX Runtime shared library not available")

// howToGetLibrary is appended to every ErrNoLibrary error.
const howToGetLibrary = "run scripts/onnxruntime.sh (installs ONNX Runtime " + RuntimeVersion +
	" from the npm package onnxruntime-node@" + RuntimeVersion + " into third_party/onnxruntime) and set " +
	LibraryEnv + "=<dir>/libonnxruntime.so.1 as it prints"

// Library returns the ONNX Runtime shared library path: the value of
// ONNXRUNTIME_SHARED_LIBRARY_PATH. When that is unset or names no file it
// returns "" and an error wrapping ErrNoLibrary that says how to get one
// (scripts/onnxruntime.sh).
func Library() (string, error) {
	p := os.Getenv(LibraryEnv)
	if p == "" {
		return "", fmt.Errorf("%w: %s is not set; %s", ErrNoLibrary, LibraryEnv, howToGetLibrary)
	}
	st, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("%w: %s=%s: %v; %s", ErrNoLibrary, LibraryEnv, p, err, howToGetLibrary)
	}
	if st.IsDir() {
		return "", fmt.Errorf("%w: %s=%s is a directory, not the library file; %s", ErrNoLibrary, LibraryEnv, p, howToGetLibrary)
	}
	return p, nil
}
