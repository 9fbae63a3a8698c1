//go:build cgo

package onnxrt

import (
	"context"
	"fmt"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// HaveCgo says whether this build can load ONNX Runtime.
const HaveCgo = true

// The ONNX Runtime environment is process-wide: it is loaded once, from the
// library Library names, and never unloaded. runtimeMu also guards the
// environment's log level while Auto probes CUDA.
var runtimeMu sync.Mutex

func ensureRuntime() error {
	runtimeMu.Lock()
	defer runtimeMu.Unlock()
	return ensureRuntimeLocked()
}

func ensureRuntimeLocked() error {
	if ort.IsInitialized() {
		return nil
	}
	lib, err := Library()
	if err != nil {
		return err
	}
	ort.SetSharedLibraryPath(lib)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		return fmt.Errorf("loading ONNX Runtime from %s=%s (it must be ONNX Runtime %s): %w; %s",
			LibraryEnv, lib, RuntimeVersion, err, HowToGetLibrary)
	}
	return nil
}

// ReadInfo returns the inputs and outputs the model file declares. A file
// ONNX Runtime cannot load gives an error wrapping ErrBadModel.
func ReadInfo(path string) (ins, outs []Info, err error) {
	if err := ensureRuntime(); err != nil {
		return nil, nil, err
	}
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, nil, fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	// Only the declarations are wanted: skip the graph optimisations.
	if err := opts.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
		return nil, nil, fmt.Errorf("session options: %w", err)
	}
	i, o, err := ort.GetInputOutputInfoWithOptions(path, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadModel, err)
	}
	return convertInfo(i), convertInfo(o), nil
}

func convertInfo(infos []ort.InputOutputInfo) []Info {
	r := make([]Info, len(infos))
	for i, t := range infos {
		r[i] = Info{
			Name:   t.Name,
			Tensor: t.OrtValueType == ort.ONNXTypeTensor,
			DType:  dtypeName(t.DataType),
			Shape:  append([]int64(nil), t.Dimensions...),
		}
		for j, d := range r[i].Shape {
			if d <= 0 {
				r[i].Shape[j] = -1
			}
		}
	}
	return r
}

// dtypeName names the element types a model is likely to declare the Go
// way; any other keeps ONNX Runtime's name.
func dtypeName(t ort.TensorElementDataType) string {
	switch t {
	case ort.TensorElementDataTypeFloat:
		return "float32"
	case ort.TensorElementDataTypeDouble:
		return "float64"
	case ort.TensorElementDataTypeFloat16:
		return "float16"
	case ort.TensorElementDataTypeBFloat16:
		return "bfloat16"
	case ort.TensorElementDataTypeInt64:
		return "int64"
	case ort.TensorElementDataTypeInt32:
		return "int32"
	case ort.TensorElementDataTypeUint8:
		return "uint8"
	case ort.TensorElementDataTypeBool:
		return "bool"
	}
	return t.String()
}

// Session is one ONNX Runtime session with fixed input and output names. Run
// may be called from several goroutines at once (ONNX Runtime allows it);
// Close must not overlap a Run.
type Session struct {
	s        *ort.DynamicAdvancedSession
	inputs   []string
	outputs  []string
	provider string
	fallback error
}

// NewSession loads the model at path for the named inputs and outputs on the
// provider o asks for. Under Auto a CUDA provider that cannot be used (no
// GPU build of ONNX Runtime, no GPU) leaves the session on the CPU, with the
// reason kept in Fallback; under CUDA it is an error.
func NewSession(path string, inputs, outputs []string, o Options) (*Session, error) {
	if err := CheckProvider(o.Provider); err != nil {
		return nil, err
	}
	if o.Threads < 0 {
		return nil, fmt.Errorf("negative thread count %d", o.Threads)
	}
	if err := ensureRuntime(); err != nil {
		return nil, err
	}
	s := &Session{
		inputs:   append([]string(nil), inputs...),
		outputs:  append([]string(nil), outputs...),
		provider: CPU,
	}
	var err error
	switch o.Provider {
	case CUDA:
		s.s, err = create(path, s.inputs, s.outputs, o.Threads, true)
		if err != nil {
			return nil, fmt.Errorf("CUDA execution provider: %w (it needs an ONNX Runtime %s GPU build: libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so beside the library, a GPU, and the CUDA and cuDNN releases that build wants; scripts/onnxruntime.sh installs the CPU-only build; use provider %q or %q)",
				err, RuntimeVersion, CPU, Auto)
		}
		s.provider = CUDA
	case Auto:
		s.s, err = probeCUDA(path, s.inputs, s.outputs, o.Threads)
		if err == nil {
			s.provider = CUDA
			break
		}
		s.fallback = err
		s.s, err = create(path, s.inputs, s.outputs, o.Threads, false)
	default:
		s.s, err = create(path, s.inputs, s.outputs, o.Threads, false)
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// probeCUDA is create on CUDA with ONNX Runtime's own error log silenced:
// the failure is expected on CPU machines, and Auto keeps the reason.
func probeCUDA(path string, inputs, outputs []string, threads int) (*ort.DynamicAdvancedSession, error) {
	runtimeMu.Lock()
	defer runtimeMu.Unlock()
	if ort.SetEnvironmentLogLevel(ort.LoggingLevelFatal) == nil {
		defer ort.SetEnvironmentLogLevel(ort.LoggingLevelError)
	}
	return create(path, inputs, outputs, threads, true)
}

func create(path string, inputs, outputs []string, threads int, cuda bool) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("session options: %w", err)
	}
	defer opts.Destroy()
	if threads > 0 {
		if err := opts.SetIntraOpNumThreads(threads); err != nil {
			return nil, fmt.Errorf("setting %d threads: %w", threads, err)
		}
	}
	if cuda {
		co, err := ort.NewCUDAProviderOptions()
		if err != nil {
			return nil, err
		}
		err = opts.AppendExecutionProviderCUDA(co)
		co.Destroy()
		if err != nil {
			return nil, err
		}
	}
	s, err := ort.NewDynamicAdvancedSession(path, inputs, outputs, opts)
	if err != nil {
		return nil, fmt.Errorf("creating session: %w", err)
	}
	return s, nil
}

// Provider returns the execution provider the session runs on: CPU or CUDA.
// (Under CUDA, ONNX Runtime may still place single operators that the CUDA
// provider lacks on the CPU.)
func (s *Session) Provider() string { return s.provider }

// Fallback returns why Auto did not get the CUDA provider, or nil.
func (s *Session) Fallback() error { return s.fallback }

// Run feeds one tensor per input, in the order of the names given to
// NewSession, and returns one tensor per output, copied out of ONNX Runtime
// (float32 and int64 outputs only). Cancelling ctx stops a run in progress;
// the error then wraps ctx.Err().
func (s *Session) Run(ctx context.Context, inputs []Tensor) ([]Tensor, error) {
	if s.s == nil {
		return nil, fmt.Errorf("session is closed")
	}
	if len(inputs) != len(s.inputs) {
		return nil, fmt.Errorf("%d input tensors for %d inputs", len(inputs), len(s.inputs))
	}
	values := make([]ort.Value, 0, len(inputs))
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for i, in := range inputs {
		if err := in.check(s.inputs[i]); err != nil {
			return nil, err
		}
		var v ort.Value
		var err error
		if in.Float32 != nil {
			v, err = ort.NewTensor(ort.NewShape(in.Shape...), in.Float32)
		} else {
			v, err = ort.NewTensor(ort.NewShape(in.Shape...), in.Int64)
		}
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", s.inputs[i], err)
		}
		values = append(values, v)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var ro *ort.RunOptions
	if ctx.Done() != nil {
		var err error
		if ro, err = ort.NewRunOptions(); err != nil {
			return nil, fmt.Errorf("run options: %w", err)
		}
		defer ro.Destroy()
		done := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			defer close(done)
			ro.Terminate()
		})
		defer func() {
			if !stop() {
				<-done // Terminate may still be using ro
			}
		}()
	}
	outs := make([]ort.Value, len(s.outputs))
	err := s.s.RunWithOptions(values, outs, ro)
	defer func() {
		for _, v := range outs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
		return nil, err
	}
	r := make([]Tensor, len(outs))
	for i, v := range outs {
		switch t := v.(type) {
		case *ort.Tensor[float32]:
			r[i] = Tensor{Shape: append([]int64(nil), t.GetShape()...), Float32: append([]float32{}, t.GetData()...)}
		case *ort.Tensor[int64]:
			r[i] = Tensor{Shape: append([]int64(nil), t.GetShape()...), Int64: append([]int64{}, t.GetData()...)}
		default:
			return nil, fmt.Errorf("output %q is %T, not a float32 or int64 tensor", s.outputs[i], v)
		}
	}
	return r, nil
}

// Close releases the session. It is safe to call more than once. (The
// process-wide ONNX Runtime environment stays loaded.)
func (s *Session) Close() error {
	if s.s == nil {
		return nil
	}
	err := s.s.Destroy()
	s.s = nil
	return err
}
