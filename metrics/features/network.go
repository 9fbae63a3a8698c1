package features

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/ipbench/ipbench/internal/onnxrt"
)

// DefaultBatch is the number of images sent to ONNX Runtime per call when
// Options.Batch is 0.
const DefaultBatch = 16

// Options says which tensors of the model to use and what the caller expects
// of them.
type Options struct {
	// Input and Output name the model's input and output tensors.
	Input, Output string
	// InputShape is the expected input shape, channel-first, batch first:
	// [N, C, H, W] (or any rank ≥ 2). N may be -1 (any batch); every other
	// dimension must be fixed. A model dimension declared symbolic (free)
	// admits any expected value; a fixed one must equal it.
	InputShape []int64
	// OutputShape, when not nil, is the expected output shape, batch first;
	// -1 marks a dimension that is not checked. It is checked against the
	// model's declaration at Open and against every actual output in Run.
	OutputShape []int64
	// Threads is ONNX Runtime's intra-op thread count; 0 leaves its default.
	Threads int
	// Batch is the most images per ONNX Runtime call; 0 means DefaultBatch.
	// A model that fixes its batch dimension is always run at that size (the
	// last batch is zero-padded and the padding's outputs dropped).
	Batch int
}

// Network is a feature network run through ONNX Runtime on a user-supplied
// .onnx file: float32 in, float32 out, in batches. Its methods may be called
// from several goroutines; calls to Run are serialised.
type Network struct {
	mu       sync.Mutex
	path     string
	inputs   []string
	output   string
	shape    []int64 // expected input shape; shape[0] is -1 or a fixed batch
	outShape []int64 // expected output shape or nil
	rowLen   int     // C×H×W
	batch    int     // images per ONNX Runtime call
	fixed    bool    // the batch dimension is fixed: pad the last batch
	outLen   int     // values per image in the output, once known
	sess     *onnxrt.Session
}

// Open loads the model at path and checks its declared input and output
// against o: the names must exist, both must be float32 tensors, and the
// declared input shape must admit o.InputShape (a mismatch is an error naming
// the file, the expected and the declared shape). It needs the ONNX Runtime
// shared library (see Library) and cgo.
func Open(path string, o Options) (*Network, error) {
	if o.Input == "" {
		return nil, fmt.Errorf("features: model %s: no input name given", path)
	}
	return open(path, []string{o.Input}, o)
}

// open is Open for a model with several inputs of the same shape.
func open(path string, inputs []string, o Options) (*Network, error) {
	if err := checkOptions(path, o); err != nil {
		return nil, err
	}
	if st, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("features: opening model: %w", err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("features: opening model: %s is a directory, not an .onnx file", path)
	}
	ins, outs, err := onnxrt.ReadInfo(path)
	if err != nil {
		return nil, fmt.Errorf("features: model %s: %w", path, err)
	}
	n := &Network{
		path:     path,
		inputs:   append([]string(nil), inputs...),
		output:   o.Output,
		shape:    append([]int64(nil), o.InputShape...),
		outShape: append([]int64(nil), o.OutputShape...),
		rowLen:   1,
		batch:    o.Batch,
	}
	for _, d := range n.shape[1:] {
		n.rowLen *= int(d)
	}
	if n.batch == 0 {
		n.batch = DefaultBatch
	}
	if n.shape[0] > 0 {
		n.batch, n.fixed = int(n.shape[0]), true
	}
	if err := n.check(ins, outs); err != nil {
		return nil, err
	}
	n.sess, err = onnxrt.NewSession(path, n.inputs, []string{n.output}, onnxrt.Options{Threads: o.Threads})
	if err != nil {
		return nil, fmt.Errorf("features: model %s: %w", path, err)
	}
	return n, nil
}

func checkOptions(path string, o Options) error {
	if o.Output == "" {
		return fmt.Errorf("features: model %s: no output name given", path)
	}
	if len(o.InputShape) < 2 {
		return fmt.Errorf("features: model %s: input shape %s needs a batch and at least one more dimension", path, shapeString(o.InputShape))
	}
	if d := o.InputShape[0]; d != -1 && d <= 0 {
		return fmt.Errorf("features: model %s: input shape %s: batch dimension must be -1 (free) or positive", path, shapeString(o.InputShape))
	}
	for i, d := range o.InputShape[1:] {
		if d <= 0 {
			return fmt.Errorf("features: model %s: input shape %s: dimension %d must be fixed and positive", path, shapeString(o.InputShape), i+1)
		}
	}
	if o.OutputShape != nil && len(o.OutputShape) < 1 {
		return fmt.Errorf("features: model %s: empty output shape", path)
	}
	for _, d := range o.OutputShape {
		if d != -1 && d <= 0 {
			return fmt.Errorf("features: model %s: output shape %s: dimensions must be -1 or positive", path, shapeString(o.OutputShape))
		}
	}
	if o.Threads < 0 || o.Batch < 0 {
		return fmt.Errorf("features: model %s: negative Threads (%d) or Batch (%d)", path, o.Threads, o.Batch)
	}
	return nil
}

// check compares the model's declared inputs and outputs with what n expects
// and settles the batch size.
func (n *Network) check(ins, outs []onnxrt.Info) error {
	if len(ins) != len(n.inputs) {
		return fmt.Errorf("features: model %s has inputs %s; expected exactly %s", n.path, onnxrt.List(ins), strings.Join(n.inputs, ", "))
	}
	for _, name := range n.inputs {
		in, ok := onnxrt.Find(ins, name)
		if !ok {
			return fmt.Errorf("features: model %s has no input %q (its inputs: %s)", n.path, name, onnxrt.List(ins))
		}
		if !in.Tensor || in.DType != "float32" {
			return fmt.Errorf("features: model %s: input %q is %s, expected a float32 tensor", n.path, name, in.Describe())
		}
		if i, ok := mismatch(in.Shape, n.shape); !ok {
			return fmt.Errorf("features: model %s: input %q has shape %s, expected %s%s", n.path, name, shapeString(in.Shape), shapeString(n.shape), dimNote(in.Shape, n.shape, i))
		}
		if d := in.Shape[0]; d > 0 {
			// The model fixes the batch (and the caller's, if fixed, equals it).
			n.batch, n.fixed = int(d), true
		}
	}
	out, ok := onnxrt.Find(outs, n.output)
	if !ok {
		return fmt.Errorf("features: model %s has no output %q (its outputs: %s)", n.path, n.output, onnxrt.List(outs))
	}
	if !out.Tensor || out.DType != "float32" {
		return fmt.Errorf("features: model %s: output %q is %s, expected a float32 tensor", n.path, n.output, out.Describe())
	}
	if len(out.Shape) < 1 {
		return fmt.Errorf("features: model %s: output %q is a scalar; expected a batch-first tensor", n.path, n.output)
	}
	if n.outShape != nil {
		if i, ok := mismatch(out.Shape, n.outShape); !ok {
			return fmt.Errorf("features: model %s: output %q has shape %s, expected %s%s", n.path, n.output, shapeString(out.Shape), shapeString(n.outShape), dimNote(out.Shape, n.outShape, i))
		}
	}
	return nil
}

// Path returns the .onnx file the network was loaded from.
func (n *Network) Path() string { return n.path }

// Run computes the network's output for each image: dst[i] gets the output
// for images[i], flattened (C-order) without its batch dimension; it is
// reused when its capacity suffices and allocated otherwise. Each image is a
// row of C×H×W values (channel-first), already in the range the network
// expects: the caller converts. Values go to ONNX Runtime as float32.
func (n *Network) Run(dst [][]float64, images [][]float64) error {
	return n.run(dst, images)
}

// run is Run for one or more inputs: groups[k][i] is image i of input k.
func (n *Network) run(dst [][]float64, groups ...[][]float64) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sess == nil {
		return fmt.Errorf("features: model %s: network is closed", n.path)
	}
	if len(groups) != len(n.inputs) {
		return fmt.Errorf("features: model %s: %d input groups for %d inputs", n.path, len(groups), len(n.inputs))
	}
	count := len(dst)
	for k, g := range groups {
		if len(g) != count {
			return fmt.Errorf("features: model %s: %d images for input %q but %d outputs in dst", n.path, len(g), n.inputs[k], count)
		}
		for i, row := range g {
			if len(row) != n.rowLen {
				return fmt.Errorf("features: model %s: image %d for input %q has %d values, expected %d (%s)", n.path, i, n.inputs[k], len(row), n.rowLen, dimsString(n.shape[1:]))
			}
			for j, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return fmt.Errorf("features: model %s: image %d for input %q: value %d is %v", n.path, i, n.inputs[k], j, v)
				}
			}
		}
	}
	bufs := make([][]float32, len(groups))
	for k := range bufs {
		bufs[k] = make([]float32, n.batch*n.rowLen)
	}
	shape := append([]int64(nil), n.shape...)
	for start := 0; start < count; start += n.batch {
		b := min(n.batch, count-start)
		feed := b
		if n.fixed {
			feed = n.batch
		}
		shape[0] = int64(feed)
		ins := make([]onnxrt.Tensor, len(groups))
		for k, g := range groups {
			buf := bufs[k][:feed*n.rowLen]
			for i := range feed {
				row := buf[i*n.rowLen : (i+1)*n.rowLen]
				if i >= b {
					clear(row)
					continue
				}
				for j, v := range g[start+i] {
					row[j] = float32(v)
				}
			}
			ins[k] = onnxrt.Tensor{Shape: shape, Float32: buf}
		}
		res, err := n.sess.Run(context.Background(), ins)
		if err != nil {
			return fmt.Errorf("features: model %s: running a batch of %d: %w", n.path, feed, err)
		}
		out := res[0].Float32
		if out == nil {
			return fmt.Errorf("features: model %s: output %q is not float32", n.path, n.output)
		}
		per, err := n.checkOutput(res[0].Shape, len(out), feed)
		if err != nil {
			return err
		}
		for i := range b {
			d := dst[start+i]
			if cap(d) >= per {
				d = d[:per]
			} else {
				d = make([]float64, per)
			}
			for j, v := range out[i*per : (i+1)*per] {
				d[j] = float64(v)
			}
			dst[start+i] = d
		}
	}
	return nil
}

// checkOutput validates an actual output shape and returns the number of
// values per image.
func (n *Network) checkOutput(shape []int64, values, batch int) (int, error) {
	if len(shape) < 1 || shape[0] != int64(batch) {
		return 0, fmt.Errorf("features: model %s: output %q has shape %s for a batch of %d; expected the batch first", n.path, n.output, shapeString(shape), batch)
	}
	if n.outShape != nil {
		if i, ok := mismatch(shape, n.outShape); !ok {
			return 0, fmt.Errorf("features: model %s: output %q has shape %s, expected %s%s", n.path, n.output, shapeString(shape), shapeString(n.outShape), dimNote(shape, n.outShape, i))
		}
	}
	per := 1
	for _, d := range shape[1:] {
		per *= int(d)
	}
	if per*batch != values {
		return 0, fmt.Errorf("features: model %s: output %q has %d values for shape %s", n.path, n.output, values, shapeString(shape))
	}
	if n.outLen == 0 {
		n.outLen = per
	} else if per != n.outLen {
		return 0, fmt.Errorf("features: model %s: output %q changed size from %d to %d values per image", n.path, n.output, n.outLen, per)
	}
	return per, nil
}

// Close releases the ONNX Runtime session. It is safe to call more than once.
// (The process-wide ONNX Runtime environment stays loaded.)
func (n *Network) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.sess == nil {
		return nil
	}
	err := n.sess.Close()
	n.sess = nil
	if err != nil {
		return fmt.Errorf("features: model %s: closing: %w", n.path, err)
	}
	return nil
}

// mismatch reports whether a declared shape admits an expected one, and if
// not, the first dimension that differs (-1 when the ranks differ). A -1 on
// either side (free, symbolic or not checked) matches anything.
func mismatch(declared, expected []int64) (int, bool) {
	if len(declared) != len(expected) {
		return -1, false
	}
	for i, d := range declared {
		if e := expected[i]; d > 0 && e > 0 && d != e {
			return i, false
		}
	}
	return 0, true
}

func dimNote(declared, expected []int64, i int) string {
	if i < 0 {
		return fmt.Sprintf(" (rank %d, expected %d)", len(declared), len(expected))
	}
	return fmt.Sprintf(" (dimension %d is %d, expected %d)", i, declared[i], expected[i])
}

// shapeString writes a shape as [-1,3,299,299] (-1: free).
func shapeString(s []int64) string { return onnxrt.ShapeString(s) }

// dimsString writes dimensions as C×H×W = 3×4×4.
func dimsString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return strings.Join(parts, "×")
}
