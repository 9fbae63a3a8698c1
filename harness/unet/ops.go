package unet

import (
	"fmt"
	"hash"
	"hash/fnv"
	"math"

	"github.com/chewxy/hm"
	"github.com/ipbench/ipbench/plugins/sdk"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// This file holds operations the network needs that gorgonia v0.9.18 lacks
// or gets wrong. Its GroupNorm merges partial moments with m1 passed where
// m2 is meant, so for groups of more than 256 values (every group here) the
// variance, and so the output, is wrong: off by 15 on unit-scale outputs for
// groups of 1024 values. Its backward pass also logs every incoming gradient
// through the standard logger, and it keeps its statistics in the op. It has
// no SiLU, and its nearest upsampling boxes every element through
// At/SetAt. Each op here has a forward op and backward ops reached through
// SymDiff, works in float32 and float64, and keeps no state between calls, so
// one graph can run any number of times.

// groupNormOp is y = γ_c (x − μ_bg) / √(v_bg + ε) + β_c for x of shape
// (B, C, H, W), where μ_bg and v_bg are the mean and the (biased) variance of
// the C/groups channels of group g in sample b. Inputs: x, γ (C), β (C).
type groupNormOp struct {
	groups int
	eps    float64
}

func (op groupNormOp) Arity() int { return 3 }
func (op groupNormOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(G.TensorType{Dims: 4, Of: a}, G.TensorType{Dims: 1, Of: a}, G.TensorType{Dims: 1, Of: a}, G.TensorType{Dims: 4, Of: a})
}
func (op groupNormOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != 4 {
		return nil, fmt.Errorf("groupnorm: input shape %v is not 4-D", in[0])
	}
	if s[1]%op.groups != 0 {
		return nil, fmt.Errorf("groupnorm: %d channels do not split into %d groups", s[1], op.groups)
	}
	for _, p := range in[1:] {
		if ps, ok := p.(tensor.Shape); !ok || ps.TotalSize() != s[1] {
			return nil, fmt.Errorf("groupnorm: scale/shift shape %v, want (%d)", p, s[1])
		}
	}
	return s.Clone(), nil
}
func (op groupNormOp) ReturnsPtr() bool      { return false }
func (op groupNormOp) CallsExtern() bool     { return false }
func (op groupNormOp) OverwritesInput() int  { return -1 }
func (op groupNormOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op groupNormOp) Hashcode() uint32      { return hashOp(op) }
func (op groupNormOp) String() string        { return fmt.Sprintf("GroupNormIPB{%d,%g}", op.groups, op.eps) }
func (op groupNormOp) DiffWRT(int) []bool    { return []bool{true, true, true} }

func (op groupNormOp) Do(in ...G.Value) (v G.Value, err error) {
	defer recoverOp(op, &err)
	x, gamma, beta := in[0].(*tensor.Dense), in[1].(*tensor.Dense), in[2].(*tensor.Dense)
	y := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(x.Shape().Clone()...))
	s := x.Shape()
	switch x.Dtype() {
	case tensor.Float32:
		gnForward(y.Float32s(), x.Float32s(), gamma.Float32s(), beta.Float32s(), s[0], s[1], s[2]*s[3], op.groups, op.eps)
	case tensor.Float64:
		gnForward(y.Float64s(), x.Float64s(), gamma.Float64s(), beta.Float64s(), s[0], s[1], s[2]*s[3], op.groups, op.eps)
	default:
		return nil, fmt.Errorf("groupnorm: dtype %v not supported", x.Dtype())
	}
	return y, nil
}

func (op groupNormOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	dx, err := G.ApplyOp(groupNormGradOp{op, gnGradX}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dgamma, err := G.ApplyOp(groupNormGradOp{op, gnGradGamma}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	dbeta, err := G.ApplyOp(groupNormGradOp{op, gnGradBeta}, in[0], in[1], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{dx, dgamma, dbeta}, nil
}

// What a groupNormGradOp computes.
const (
	gnGradX = iota
	gnGradGamma
	gnGradBeta
)

// groupNormGradOp takes x, γ and ∂L/∂y and gives one of ∂L/∂x, ∂L/∂γ, ∂L/∂β.
// With x̂ the normalised input, r = 1/√(v + ε) and ĝ = γ_c ∂L/∂y,
//
//	∂L/∂x = r (ĝ − mean(ĝ) − x̂ mean(ĝ x̂)),  ∂L/∂γ_c = Σ ∂L/∂y x̂,  ∂L/∂β_c = Σ ∂L/∂y,
//
// the means over a group of one sample, the sums over samples and pixels. It
// recomputes the statistics rather than keep them from the forward pass.
type groupNormGradOp struct {
	groupNormOp
	wrt int
}

func (op groupNormGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t4, t1 := G.TensorType{Dims: 4, Of: a}, G.TensorType{Dims: 1, Of: a}
	if op.wrt == gnGradX {
		return hm.NewFnType(t4, t1, t4, t4)
	}
	return hm.NewFnType(t4, t1, t4, t1)
}
func (op groupNormGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != 4 {
		return nil, fmt.Errorf("groupnorm grad: input shape %v is not 4-D", in[0])
	}
	if op.wrt == gnGradX {
		return s.Clone(), nil
	}
	return tensor.Shape{s[1]}, nil
}
func (op groupNormGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op groupNormGradOp) Hashcode() uint32      { return hashOp(op) }
func (op groupNormGradOp) String() string {
	return fmt.Sprintf("GroupNormIPBGrad{%d,%g,%d}", op.groups, op.eps, op.wrt)
}

func (op groupNormGradOp) Do(in ...G.Value) (v G.Value, err error) {
	defer recoverOp(op, &err)
	x, gamma, dy := in[0].(*tensor.Dense), in[1].(*tensor.Dense), in[2].(*tensor.Dense)
	s := x.Shape()
	shape := tensor.Shape{s[1]}
	if op.wrt == gnGradX {
		shape = s.Clone()
	}
	d := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(shape...))
	switch x.Dtype() {
	case tensor.Float32:
		gnBackward(op.wrt, d.Float32s(), x.Float32s(), gamma.Float32s(), dy.Float32s(), s[0], s[1], s[2]*s[3], op.groups, op.eps)
	case tensor.Float64:
		gnBackward(op.wrt, d.Float64s(), x.Float64s(), gamma.Float64s(), dy.Float64s(), s[0], s[1], s[2]*s[3], op.groups, op.eps)
	default:
		return nil, fmt.Errorf("groupnorm grad: dtype %v not supported", x.Dtype())
	}
	return d, nil
}

type float interface{ ~float32 | ~float64 }

// gnStats returns the mean and 1/√(v + ε) of one group, accumulated in float64.
func gnStats[T float](x []T, eps float64) (mean, rstd float64) {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	mean = s / float64(len(x))
	var ss float64
	for _, v := range x {
		d := float64(v) - mean
		ss += d * d
	}
	return mean, 1 / math.Sqrt(ss/float64(len(x))+eps)
}

func gnForward[T float](y, x, gamma, beta []T, b, c, hw, groups int, eps float64) {
	cg := c / groups
	n := cg * hw
	sdk.ParallelRows(b*groups, func(i int) {
		xs, ys := x[i*n:(i+1)*n], y[i*n:(i+1)*n]
		mean, rstd := gnStats(xs, eps)
		c0 := (i % groups) * cg
		for j := 0; j < cg; j++ {
			a := float64(gamma[c0+j]) * rstd
			off := float64(beta[c0+j]) - a*mean
			xc, yc := xs[j*hw:(j+1)*hw], ys[j*hw:(j+1)*hw]
			for k, v := range xc {
				yc[k] = T(a*float64(v) + off)
			}
		}
	})
}

func gnBackward[T float](wrt int, dst, x, gamma, dy []T, b, c, hw, groups int, eps float64) {
	cg := c / groups
	n := cg * hw
	if wrt != gnGradX {
		// Per-channel sums over samples: accumulate per sample and group
		// in parallel, then add up in order so the result is deterministic.
		part := make([]float64, b*c)
		sdk.ParallelRows(b*groups, func(i int) {
			xs, dys := x[i*n:(i+1)*n], dy[i*n:(i+1)*n]
			mean, rstd := 0.0, 1.0
			if wrt == gnGradGamma {
				mean, rstd = gnStats(xs, eps)
			}
			for j := 0; j < cg; j++ {
				var s float64
				xc, dyc := xs[j*hw:(j+1)*hw], dys[j*hw:(j+1)*hw]
				if wrt == gnGradGamma {
					for k, g := range dyc {
						s += float64(g) * (float64(xc[k]) - mean)
					}
					s *= rstd
				} else {
					for _, g := range dyc {
						s += float64(g)
					}
				}
				part[i*cg+j] = s
			}
		})
		for ch := 0; ch < c; ch++ {
			var s float64
			for bi := 0; bi < b; bi++ {
				s += part[bi*c+ch]
			}
			dst[ch] = T(s)
		}
		return
	}
	sdk.ParallelRows(b*groups, func(i int) {
		xs, dys, dxs := x[i*n:(i+1)*n], dy[i*n:(i+1)*n], dst[i*n:(i+1)*n]
		mean, rstd := gnStats(xs, eps)
		c0 := (i % groups) * cg
		// mean(ĝ) and mean(ĝ x̂) over the group.
		var sg, sgx float64
		for j := 0; j < cg; j++ {
			gm := float64(gamma[c0+j])
			xc, dyc := xs[j*hw:(j+1)*hw], dys[j*hw:(j+1)*hw]
			var a, bx float64
			for k, g := range dyc {
				a += float64(g)
				bx += float64(g) * (float64(xc[k]) - mean)
			}
			sg += gm * a
			sgx += gm * bx * rstd
		}
		sg /= float64(n)
		sgx /= float64(n)
		for j := 0; j < cg; j++ {
			gm := float64(gamma[c0+j])
			xc, dyc, dxc := xs[j*hw:(j+1)*hw], dys[j*hw:(j+1)*hw], dxs[j*hw:(j+1)*hw]
			for k, g := range dyc {
				xh := (float64(xc[k]) - mean) * rstd
				dxc[k] = T(rstd * (gm*float64(g) - sg - xh*sgx))
			}
		}
	})
}

// siluOp is SiLU(x) = x σ(x) elementwise, σ the logistic function. Its
// gradient op takes x and ∂L/∂y and gives ∂L/∂x = ∂L/∂y σ(x)(1 + x(1 − σ(x))).
// gorgonia has no SiLU; composing it from Sigmoid and HadamardProd costs two
// passes forward and four backward, against one each here.
type siluOp struct{ grad bool }

func (op siluOp) Arity() int {
	if op.grad {
		return 2
	}
	return 1
}
func (op siluOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	if op.grad {
		return hm.NewFnType(a, a, a)
	}
	return hm.NewFnType(a, a)
}
func (op siluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("silu: input shape %v", in[0])
	}
	return s.Clone(), nil
}
func (op siluOp) ReturnsPtr() bool      { return false }
func (op siluOp) CallsExtern() bool     { return false }
func (op siluOp) OverwritesInput() int  { return -1 }
func (op siluOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op siluOp) Hashcode() uint32      { return hashOp(op) }
func (op siluOp) String() string {
	if op.grad {
		return "SiLUIPBGrad"
	}
	return "SiLUIPB"
}
func (op siluOp) DiffWRT(int) []bool { return []bool{true} }

func (op siluOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(siluOp{grad: true}, in[0], grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

func (op siluOp) Do(in ...G.Value) (v G.Value, err error) {
	defer recoverOp(op, &err)
	x := in[0].(*tensor.Dense)
	y := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(x.Shape().Clone()...))
	switch x.Dtype() {
	case tensor.Float32:
		var dy []float32
		if op.grad {
			dy = in[1].(*tensor.Dense).Float32s()
		}
		silu(y.Float32s(), x.Float32s(), dy)
	case tensor.Float64:
		var dy []float64
		if op.grad {
			dy = in[1].(*tensor.Dense).Float64s()
		}
		silu(y.Float64s(), x.Float64s(), dy)
	default:
		return nil, fmt.Errorf("silu: dtype %v not supported", x.Dtype())
	}
	return y, nil
}

// silu sets y = x σ(x), or with dy, y = dy σ(x)(1 + x(1 − σ(x))).
func silu[T float](y, x, dy []T) {
	// In chunks of 16 Ki values: a small tensor stays on the caller's
	// goroutine.
	const chunk = 1 << 14
	sdk.ParallelRows((len(x)+chunk-1)/chunk, func(c int) {
		lo, hi := c*chunk, min((c+1)*chunk, len(x))
		for i, v := range x[lo:hi] {
			s := 1 / (1 + math.Exp(-float64(v)))
			if dy == nil {
				y[lo+i] = T(float64(v) * s)
			} else {
				y[lo+i] = T(float64(dy[lo+i]) * s * (1 + float64(v)*(1-s)))
			}
		}
	})
}

// upsampleOp is nearest-neighbour upsampling by 2 of a (B, C, H, W) tensor:
// y[b,c,i,j] = x[b,c,⌊i/2⌋,⌊j/2⌋]. Its adjoint, upsampleGradOp, sums each
// 2×2 block.
type upsampleOp struct{}

func (op upsampleOp) Arity() int { return 1 }
func (op upsampleOp) Type() hm.Type {
	t := G.TensorType{Dims: 4, Of: hm.TypeVariable('a')}
	return hm.NewFnType(t, t)
}
func (op upsampleOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != 4 {
		return nil, fmt.Errorf("upsample: input shape %v is not 4-D", in[0])
	}
	return tensor.Shape{s[0], s[1], 2 * s[2], 2 * s[3]}, nil
}
func (op upsampleOp) ReturnsPtr() bool      { return false }
func (op upsampleOp) CallsExtern() bool     { return false }
func (op upsampleOp) OverwritesInput() int  { return -1 }
func (op upsampleOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op upsampleOp) Hashcode() uint32      { return hashOp(op) }
func (op upsampleOp) String() string        { return "Upsample2xIPB" }
func (op upsampleOp) DiffWRT(int) []bool    { return []bool{true} }

func (op upsampleOp) Do(in ...G.Value) (v G.Value, err error) {
	defer recoverOp(op, &err)
	x := in[0].(*tensor.Dense)
	s := x.Shape()
	y := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(s[0], s[1], 2*s[2], 2*s[3]))
	switch x.Dtype() {
	case tensor.Float32:
		upsample(y.Float32s(), x.Float32s(), s[0]*s[1], s[2], s[3])
	case tensor.Float64:
		upsample(y.Float64s(), x.Float64s(), s[0]*s[1], s[2], s[3])
	default:
		return nil, fmt.Errorf("upsample: dtype %v not supported", x.Dtype())
	}
	return y, nil
}

func (op upsampleOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(upsampleGradOp{}, grad)
	if err != nil {
		return nil, err
	}
	return G.Nodes{d}, nil
}

type upsampleGradOp struct{ upsampleOp }

func (op upsampleGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok || s.Dims() != 4 || s[2]%2 != 0 || s[3]%2 != 0 {
		return nil, fmt.Errorf("upsample grad: input shape %v is not 4-D with even sides", in[0])
	}
	return tensor.Shape{s[0], s[1], s[2] / 2, s[3] / 2}, nil
}
func (op upsampleGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op upsampleGradOp) Hashcode() uint32      { return hashOp(op) }
func (op upsampleGradOp) String() string        { return "Upsample2xIPBGrad" }

func (op upsampleGradOp) Do(in ...G.Value) (v G.Value, err error) {
	defer recoverOp(op, &err)
	g := in[0].(*tensor.Dense)
	s := g.Shape()
	d := tensor.New(tensor.Of(g.Dtype()), tensor.WithShape(s[0], s[1], s[2]/2, s[3]/2))
	switch g.Dtype() {
	case tensor.Float32:
		blockSum(d.Float32s(), g.Float32s(), s[0]*s[1], s[2]/2, s[3]/2)
	case tensor.Float64:
		blockSum(d.Float64s(), g.Float64s(), s[0]*s[1], s[2]/2, s[3]/2)
	default:
		return nil, fmt.Errorf("upsample grad: dtype %v not supported", g.Dtype())
	}
	return d, nil
}

func upsample[T float](y, x []T, planes, h, w int) {
	sdk.ParallelRows(planes, func(p int) {
		xp, yp := x[p*h*w:(p+1)*h*w], y[p*4*h*w:(p+1)*4*h*w]
		for i := 0; i < h; i++ {
			r0 := yp[2*i*2*w : (2*i+1)*2*w]
			for j, v := range xp[i*w : (i+1)*w] {
				r0[2*j], r0[2*j+1] = v, v
			}
			copy(yp[(2*i+1)*2*w:(2*i+2)*2*w], r0)
		}
	})
}

// blockSum sets d[p,i,j] = Σ of the 2×2 block of g at (2i, 2j); d is h×w.
func blockSum[T float](d, g []T, planes, h, w int) {
	sdk.ParallelRows(planes, func(p int) {
		gp, dp := g[p*4*h*w:(p+1)*4*h*w], d[p*h*w:(p+1)*h*w]
		for i := 0; i < h; i++ {
			r0, r1 := gp[2*i*2*w:(2*i+1)*2*w], gp[(2*i+1)*2*w:(2*i+2)*2*w]
			for j := range dp[i*w : (i+1)*w] {
				dp[i*w+j] = r0[2*j] + r0[2*j+1] + r1[2*j] + r1[2*j+1]
			}
		}
	})
}

func hashOp(op fmt.Stringer) uint32 {
	h := fnv.New32a()
	fmt.Fprint(h, op.String())
	return h.Sum32()
}

// recoverOp turns a panic inside an op into an error: gorgonia's tape
// machine runs ops on its own goroutine, where a panic could not be caught.
func recoverOp(op fmt.Stringer, err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("unet: %v panicked: %v", op, r)
	}
}
