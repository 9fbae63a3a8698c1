//go:build cgo

package features

import (
	"fmt"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// The ONNX Runtime environment is process-wide: it is loaded once, from the
// library Library names at the first Open, and never unloaded.
var runtimeMu sync.Mutex

func ensureRuntime() error {
	runtimeMu.Lock()
	defer runtimeMu.Unlock()
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
			LibraryEnv, lib, RuntimeVersion, err, howToGetLibrary)
	}
	return nil
}

func readInfo(path string) (ins, outs []tensorInfo, err error) {
	if err := ensureRuntime(); err != nil {
		return nil, nil, err
	}
	i, o, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading inputs and outputs: %w", err)
	}
	return convertInfo(i), convertInfo(o), nil
}

func convertInfo(infos []ort.InputOutputInfo) []tensorInfo {
	r := make([]tensorInfo, len(infos))
	for i, t := range infos {
		r[i] = tensorInfo{
			name:   t.Name,
			tensor: t.OrtValueType == ort.ONNXTypeTensor,
			dtype:  t.DataType.String(),
			shape:  append([]int64(nil), t.Dimensions...),
		}
		if t.DataType == ort.TensorElementDataTypeFloat {
			r[i].dtype = "float32"
		}
		for j, d := range r[i].shape {
			if d <= 0 {
				r[i].shape[j] = -1
			}
		}
	}
	return r
}

// session is one ONNX Runtime session with fixed input and output names.
type session struct {
	s *ort.DynamicAdvancedSession
}

func newSession(path string, inputs []string, output string, threads int) (*session, error) {
	if err := ensureRuntime(); err != nil {
		return nil, err
	}
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
	s, err := ort.NewDynamicAdvancedSession(path, inputs, []string{output}, opts)
	if err != nil {
		return nil, fmt.Errorf("creating session: %w", err)
	}
	return &session{s: s}, nil
}

// run feeds one batch (each input of the given shape) and returns the output
// values (copied) and shape.
func (s *session) run(shape []int64, inputs [][]float32) ([]float32, []int64, error) {
	values := make([]ort.Value, 0, len(inputs))
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for _, data := range inputs {
		t, err := ort.NewTensor(ort.NewShape(shape...), data)
		if err != nil {
			return nil, nil, fmt.Errorf("input tensor: %w", err)
		}
		values = append(values, t)
	}
	outputs := []ort.Value{nil}
	if err := s.s.Run(values, outputs); err != nil {
		return nil, nil, err
	}
	defer func() {
		if outputs[0] != nil {
			outputs[0].Destroy()
		}
	}()
	t, ok := outputs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, nil, fmt.Errorf("output is %T, not a float32 tensor", outputs[0])
	}
	return append([]float32(nil), t.GetData()...), append([]int64(nil), t.GetShape()...), nil
}

func (s *session) close() error {
	return s.s.Destroy()
}

// haveCgo says whether this build can load ONNX Runtime.
const haveCgo = true
