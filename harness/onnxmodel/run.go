package onnxmodel

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/ipbench/ipbench/internal/onnxrt"
)

// graph is one ONNX Runtime session over a denoiser or VJP file. Its image
// shape is the Net's: Open checks the VJP graph against the denoiser.
type graph struct {
	path   string
	inputs []string // in feed order
	output string
	batch  int  // rows per call (0: all)
	fixed  bool // batch is the file's N: pad the last chunk
	sess   *onnxrt.Session
}

func openGraph(path, output string, sp spec, o Options, provider string) (*graph, error) {
	g := &graph{path: path, inputs: sp.inputs, output: output, batch: o.Batch}
	if sp.batch > 0 {
		g.batch, g.fixed = sp.batch, true
	}
	var err error
	g.sess, err = onnxrt.NewSession(path, g.inputs, []string{output}, onnxrt.Options{Threads: o.Threads, Provider: provider})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// rows are the per-row arguments of one Denoise or VJP call.
type rows struct {
	x, cond, v [][]float64
	sigma      []float64
	labels     []int
}

// Denoise sets dst[i] to D(x[i], cond[i]; sigma[i]) with label labels[i]:
// the model's output denoised for that row. Each row of x, and of dst, is
// C·H·W values in CHW order; a row of cond is Cc·H·W values. cond must be
// empty for a model without cond, and labels (class or task indices in
// [0, K)) empty for a model without a label input. dst[i] is reused when its
// capacity suffices and allocated otherwise. Values go to ONNX Runtime as
// float32. A NaN or infinite output is an error naming the row.
func (n *Net) Denoise(ctx context.Context, dst, x, cond [][]float64, sigma []float64, labels []int) error {
	return n.run(ctx, n.den, dst, rows{x: x, cond: cond, sigma: sigma, labels: labels})
}

// VJP sets dst[i] to J_x D(x[i], cond[i]; sigma[i])ᵀ v[i], the
// vector-Jacobian product of the denoiser at row i, from the VJP graph.
// Arguments are as for Denoise, with v shaped like x. Without a VJP graph it
// returns an error wrapping ErrNoVJP.
func (n *Net) VJP(ctx context.Context, dst, x, cond [][]float64, sigma []float64, labels []int, v [][]float64) error {
	if n.vjp == nil {
		return fmt.Errorf("onnxmodel: model %s: %w (open it with Options.VJPPath naming its exported VJP graph)", n.path, ErrNoVJP)
	}
	return n.run(ctx, n.vjp, dst, rows{x: x, cond: cond, sigma: sigma, labels: labels, v: v})
}

func (n *Net) run(ctx context.Context, g *graph, dst [][]float64, r rows) error {
	n.mu.RLock()
	defer n.mu.RUnlock()
	if n.closed {
		return fmt.Errorf("onnxmodel: model %s is closed", n.name())
	}
	if err := n.checkRows(g, dst, r); err != nil {
		return fmt.Errorf("onnxmodel: model %s: %w", g.path, err)
	}
	count := len(r.x)
	step := g.batch
	if step == 0 {
		step = count
	}
	for start := 0; start < count; start += step {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("onnxmodel: model %s: %w", g.path, err)
		}
		b := min(step, count-start)
		if err := n.chunk(ctx, g, dst, r, start, b); err != nil {
			return err
		}
	}
	return nil
}

// checkRows validates one call's arguments against the model.
func (n *Net) checkRows(g *graph, dst [][]float64, r rows) error {
	d := n.shape
	count := len(r.x)
	xLen, condLen := d.c*d.h*d.w, d.cc*d.h*d.w
	if len(dst) != count || len(r.sigma) != count {
		return fmt.Errorf("%d rows of x, %d σ and %d rows of dst; all must agree", count, len(r.sigma), len(dst))
	}
	if err := checkValues("x", r.x, xLen, d.c, d.h, d.w); err != nil {
		return err
	}
	for i, s := range r.sigma {
		if !(s > 0) || math.IsInf(s, 0) {
			return fmt.Errorf("σ of row %d is %v; it must be positive and finite", i, s)
		}
	}
	if d.cc == 0 {
		if len(r.cond) != 0 {
			return fmt.Errorf("%d rows of cond for a %s, which takes no cond", len(r.cond), n.role)
		}
	} else {
		if len(r.cond) != count {
			return fmt.Errorf("%d rows of cond for %d rows of x", len(r.cond), count)
		}
		if err := checkValues("cond", r.cond, condLen, d.cc, d.h, d.w); err != nil {
			return err
		}
	}
	if d.k == 0 {
		if len(r.labels) != 0 {
			return fmt.Errorf("%d labels for a model without class_labels or task input", len(r.labels))
		}
	} else {
		if len(r.labels) != count {
			return fmt.Errorf("%d labels for %d rows of x (input %q needs one per row)", len(r.labels), count, n.label)
		}
		for i, l := range r.labels {
			if l < 0 || l >= d.k {
				return fmt.Errorf("label %d of row %d is outside [0, %d)", l, i, d.k)
			}
		}
	}
	if g == n.vjp {
		if len(r.v) != count {
			return fmt.Errorf("%d rows of v for %d rows of x", len(r.v), count)
		}
		if err := checkValues("v", r.v, xLen, d.c, d.h, d.w); err != nil {
			return err
		}
	}
	return nil
}

func checkValues(name string, rows [][]float64, n, c, h, w int) error {
	for i, row := range rows {
		if len(row) != n {
			return fmt.Errorf("row %d of %s has %d values, expected %d (%d×%d×%d)", i, name, len(row), n, c, h, w)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("row %d of %s: value %d is %v", i, name, j, v)
			}
		}
	}
	return nil
}

// chunk runs rows start..start+b-1 through g, padded to the fixed batch with
// copies of the last row, and writes the outputs to dst.
func (n *Net) chunk(ctx context.Context, g *graph, dst [][]float64, r rows, start, b int) error {
	feed := b
	if g.fixed {
		feed = g.batch
	}
	// row maps a position in the chunk to a row of the call.
	row := func(i int) int { return start + min(i, b-1) }
	d := n.shape
	plane := d.h * d.w
	images := func(src [][]float64, c int) onnxrt.Tensor {
		buf := make([]float32, 0, feed*c*plane)
		for i := range feed {
			for _, v := range src[row(i)] {
				buf = append(buf, float32(v))
			}
		}
		return onnxrt.Tensor{Shape: []int64{int64(feed), int64(c), int64(d.h), int64(d.w)}, Float32: buf}
	}
	ins := make([]onnxrt.Tensor, len(g.inputs))
	for k, name := range g.inputs {
		switch name {
		case NameX:
			ins[k] = images(r.x, d.c)
		case NameCond:
			ins[k] = images(r.cond, d.cc)
		case NameV:
			ins[k] = images(r.v, d.c)
		case NameSigma:
			buf := make([]float32, feed)
			for i := range buf {
				buf[i] = float32(r.sigma[row(i)])
			}
			ins[k] = onnxrt.Tensor{Shape: []int64{int64(feed)}, Float32: buf}
		case NameClassLabels, NameTask:
			buf := make([]float32, feed*d.k)
			for i := range feed {
				buf[i*d.k+r.labels[row(i)]] = 1
			}
			ins[k] = onnxrt.Tensor{Shape: []int64{int64(feed), int64(d.k)}, Float32: buf}
		default:
			return fmt.Errorf("onnxmodel: model %s: no feed for input %q", g.path, name) // check admits no other
		}
	}
	res, err := g.sess.Run(ctx, ins)
	if err != nil {
		return fmt.Errorf("onnxmodel: model %s: running rows %d to %d (batch of %d): %w", g.path, start, start+b-1, feed, err)
	}
	out := res[0]
	per := d.c * plane
	if want := []int64{int64(feed), int64(d.c), int64(d.h), int64(d.w)}; !slices.Equal(out.Shape, want) || len(out.Float32) != feed*per {
		return fmt.Errorf("onnxmodel: model %s: output %q has shape %s for a batch of %d; expected %s",
			g.path, g.output, onnxrt.ShapeString(out.Shape), feed, onnxrt.ShapeString(want))
	}
	for i := range b {
		vals := out.Float32[i*per : (i+1)*per]
		for j, v := range vals {
			if f := float64(v); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("onnxmodel: model %s: output %q of row %d (σ = %g) is %v at value %d", g.path, g.output, start+i, r.sigma[start+i], f, j)
			}
		}
		dd := dst[start+i]
		if cap(dd) >= per {
			dd = dd[:per]
		} else {
			dd = make([]float64, per)
		}
		for j, v := range vals {
			dd[j] = float64(v)
		}
		dst[start+i] = dd
	}
	return nil
}
