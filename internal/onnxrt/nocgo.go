//go:build !cgo

package onnxrt

import "context"

// Without cgo there is no ONNX Runtime: the package still builds, and every
// call fails with ErrNoCgo.

// HaveCgo says whether this build can load ONNX Runtime.
const HaveCgo = false

// ReadInfo returns the inputs and outputs the model file declares; without
// cgo it always fails with ErrNoCgo.
func ReadInfo(string) (ins, outs []Info, err error) { return nil, nil, ErrNoCgo }

// Session is one ONNX Runtime session; without cgo none can be made.
type Session struct{}

// NewSession fails with ErrNoCgo in a build without cgo.
func NewSession(path string, inputs, outputs []string, o Options) (*Session, error) {
	if err := CheckProvider(o.Provider); err != nil {
		return nil, err
	}
	return nil, ErrNoCgo
}

// Provider returns the execution provider the session runs on.
func (*Session) Provider() string { return CPU }

// Fallback returns why Auto did not get the CUDA provider, or nil.
func (*Session) Fallback() error { return nil }

// Run fails with ErrNoCgo.
func (*Session) Run(context.Context, []Tensor) ([]Tensor, error) { return nil, ErrNoCgo }

// Close does nothing.
func (*Session) Close() error { return nil }
