package unet

import (
	"fmt"
	"hash"
	"runtime"

	"github.com/chewxy/hm"
	"github.com/ipbench/ipbench/plugins/sdk"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// convOp is a 2-D convolution with zero padding and an optional bias:
//
//	y[b,o,i,j] = β_o + Σ_{c,u,v} W[o,c,u,v] x[b,c, s·i+u−p, s·j+v−p],
//
// inputs x (B, Cin, H, W), W (Cout, Cin, k, k) and, with bias, β (Cout), or
// with a per-sample bias β (B, Cout) added as β[b,o]: the residual blocks add
// their noise embedding this way, without a broadcast.
//
// gorgonia's Conv2d computes the same (the tests check it), but it runs
// im2col and col2im on one core, transposes its output, and its backward
// products have the forms A·B and Aᵀ·B, which gonum runs at a half and a
// third of the speed of A·Bᵀ: with nonzero weights a training step took 2.2
// times as long with it. Here every product has the form A·Bᵀ, the images of
// a batch are spread over the cores, one image's output W·col comes out in
// CHW order, and ∂L/∂x of a stride-1 convolution is itself a convolution.
type convOp struct {
	k, stride, pad int
	bias           bool
	sampleBias     bool // β is (B, Cout)
}

func (op convOp) biasDims() int {
	if op.sampleBias {
		return 2
	}
	return 1
}

func (op convOp) Arity() int {
	if op.bias {
		return 3
	}
	return 2
}
func (op convOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t4 := G.TensorType{Dims: 4, Of: a}
	if op.bias {
		return hm.NewFnType(t4, t4, G.TensorType{Dims: op.biasDims(), Of: a}, t4)
	}
	return hm.NewFnType(t4, t4, t4)
}
func (op convOp) outSize(n int) int { return (n+2*op.pad-op.k)/op.stride + 1 }
func (op convOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, ok1 := in[0].(tensor.Shape)
	w, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || x.Dims() != 4 || w.Dims() != 4 || w[1] != x[1] || w[2] != op.k || w[3] != op.k {
		return nil, fmt.Errorf("conv: input %v and filter %v do not fit a %d×%d convolution", in[0], in[1], op.k, op.k)
	}
	ho, wo := op.outSize(x[2]), op.outSize(x[3])
	if ho < 1 || wo < 1 {
		return nil, fmt.Errorf("conv: input %v too small for a %d×%d convolution", x, op.k, op.k)
	}
	if op.bias {
		want := tensor.Shape{w[0]}
		if op.sampleBias {
			want = tensor.Shape{x[0], w[0]}
		}
		if b, ok := in[2].(tensor.Shape); !ok || !b.Eq(want) {
			return nil, fmt.Errorf("conv: bias shape %v, want %v", in[2], want)
		}
	}
	return tensor.Shape{x[0], w[0], ho, wo}, nil
}
func (op convOp) ReturnsPtr() bool      { return false }
func (op convOp) CallsExtern() bool     { return false }
func (op convOp) OverwritesInput() int  { return -1 }
func (op convOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op convOp) Hashcode() uint32      { return hashOp(op) }
func (op convOp) String() string {
	return fmt.Sprintf("ConvIPB{k%d,s%d,p%d,bias=%t,%t}", op.k, op.stride, op.pad, op.bias, op.sampleBias)
}
func (op convOp) DiffWRT(n int) []bool {
	d := make([]bool, n)
	for i := range d {
		d[i] = true
	}
	return d
}

func (op convOp) geom(x, w tensor.Shape) convGeom {
	return convGeom{
		convOp: op, b: x[0], cin: x[1], h: x[2], w: x[3], cout: w[0],
		ho: op.outSize(x[2]), wo: op.outSize(x[3]),
	}
}

func (op convOp) Do(in ...G.Value) (v G.Value, err error) {
	defer recoverOp(op, &err)
	x, w := in[0].(*tensor.Dense), in[1].(*tensor.Dense)
	g := op.geom(x.Shape(), w.Shape())
	y := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(g.b, g.cout, g.ho, g.wo))
	switch x.Dtype() {
	case tensor.Float32:
		var bias []float32
		if op.bias {
			bias = in[2].(*tensor.Dense).Float32s()
		}
		convForward(g, y.Float32s(), x.Float32s(), w.Float32s(), bias)
	case tensor.Float64:
		var bias []float64
		if op.bias {
			bias = in[2].(*tensor.Dense).Float64s()
		}
		convForward(g, y.Float64s(), x.Float64s(), w.Float64s(), bias)
	default:
		return nil, fmt.Errorf("conv: dtype %v not supported", x.Dtype())
	}
	return y, nil
}

func (op convOp) SymDiff(in G.Nodes, out, grad *G.Node) (G.Nodes, error) {
	d := make(G.Nodes, len(in))
	for i := range in {
		var err error
		if d[i], err = G.ApplyOp(convGradOp{op, i}, in[0], in[1], grad); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// convGradOp takes x, W and ∂L/∂y and gives ∂L/∂x (wrt 0), ∂L/∂W (1) or
// ∂L/∂β (2).
type convGradOp struct {
	convOp
	wrt int
}

func (op convGradOp) Arity() int { return 3 }
func (op convGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	t4 := G.TensorType{Dims: 4, Of: a}
	if op.wrt == 2 {
		return hm.NewFnType(t4, t4, t4, G.TensorType{Dims: op.biasDims(), Of: a})
	}
	return hm.NewFnType(t4, t4, t4, t4)
}
func (op convGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, ok1 := in[0].(tensor.Shape)
	w, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 || x.Dims() != 4 || w.Dims() != 4 {
		return nil, fmt.Errorf("conv grad: shapes %v, %v", in[0], in[1])
	}
	return op.gradShape(x, w), nil
}

// gradShape is the shape of the input the op differentiates against.
func (op convGradOp) gradShape(x, w tensor.Shape) tensor.Shape {
	switch {
	case op.wrt == 0:
		return x.Clone()
	case op.wrt == 1:
		return w.Clone()
	case op.sampleBias:
		return tensor.Shape{x[0], w[0]}
	}
	return tensor.Shape{w[0]}
}
func (op convGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, op.String()) }
func (op convGradOp) Hashcode() uint32      { return hashOp(op) }
func (op convGradOp) String() string {
	return fmt.Sprintf("ConvIPBGrad{k%d,s%d,p%d,bias=%t,%t,wrt=%d}", op.k, op.stride, op.pad, op.bias, op.sampleBias, op.wrt)
}

func (op convGradOp) Do(in ...G.Value) (v G.Value, err error) {
	defer recoverOp(op, &err)
	x, w, dy := in[0].(*tensor.Dense), in[1].(*tensor.Dense), in[2].(*tensor.Dense)
	g := op.geom(x.Shape(), w.Shape())
	d := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(op.gradShape(x.Shape(), w.Shape())...))
	switch x.Dtype() {
	case tensor.Float32:
		convBackward(g, op.wrt, d.Float32s(), x.Float32s(), w.Float32s(), dy.Float32s())
	case tensor.Float64:
		convBackward(g, op.wrt, d.Float64s(), x.Float64s(), w.Float64s(), dy.Float64s())
	default:
		return nil, fmt.Errorf("conv grad: dtype %v not supported", x.Dtype())
	}
	return d, nil
}

// convGeom is the geometry of one convolution call.
type convGeom struct {
	convOp
	b, cin, h, w, cout, ho, wo int
}

// direct reports whether the patch matrix of an image is the image itself
// (1×1, stride 1, no padding), so no copy is needed.
func (g convGeom) direct() bool { return g.k == 1 && g.stride == 1 && g.pad == 0 }

func (g convGeom) colSize() int { return g.cin * g.k * g.k * g.ho * g.wo }

// im2col sets col, (Cin·k·k)×(H′W′), to the patches of the image x (Cin, H, W).
func im2col[T float](g convGeom, col, x []T) {
	n := g.ho * g.wo
	for c := 0; c < g.cin; c++ {
		xc := x[c*g.h*g.w : (c+1)*g.h*g.w]
		for u := 0; u < g.k; u++ {
			for v := 0; v < g.k; v++ {
				row := col[((c*g.k+u)*g.k+v)*n:][:n]
				for i := 0; i < g.ho; i++ {
					ri := row[i*g.wo : (i+1)*g.wo]
					ii := i*g.stride + u - g.pad
					if ii < 0 || ii >= g.h {
						clear(ri)
						continue
					}
					xr := xc[ii*g.w : (ii+1)*g.w]
					if g.stride == 1 {
						// ri[j] = xr[j+v−p]: one copy between zeroed edges.
						lo, hi := max(0, g.pad-v), min(g.wo, g.w+g.pad-v)
						clear(ri[:lo])
						if lo < hi {
							copy(ri[lo:hi], xr[lo+v-g.pad:hi+v-g.pad])
						}
						clear(ri[max(lo, hi):])
						continue
					}
					for j := range ri {
						if jj := j*g.stride + v - g.pad; jj >= 0 && jj < g.w {
							ri[j] = xr[jj]
						} else {
							ri[j] = 0
						}
					}
				}
			}
		}
	}
}

// im2colT sets colT, (H′W′)×(Cin·k·k), to the transpose of im2col's matrix:
// one row of patch values per output pixel.
func im2colT[T float](g convGeom, colT, x []T) {
	kk := g.cin * g.k * g.k
	for i := 0; i < g.ho; i++ {
		for j := 0; j < g.wo; j++ {
			row := colT[(i*g.wo+j)*kk:][:kk]
			q := 0
			for c := 0; c < g.cin; c++ {
				xc := x[c*g.h*g.w : (c+1)*g.h*g.w]
				for u := 0; u < g.k; u++ {
					ii := i*g.stride + u - g.pad
					if ii < 0 || ii >= g.h {
						clear(row[q : q+g.k])
						q += g.k
						continue
					}
					xr := xc[ii*g.w : (ii+1)*g.w]
					if j0 := j*g.stride - g.pad; j0 >= 0 && j0+g.k <= g.w {
						src, dst := xr[j0:j0+g.k], row[q:q+g.k]
						for v := range dst {
							dst[v] = src[v]
						}
						q += g.k
						continue
					}
					for v := 0; v < g.k; v++ {
						if jj := j*g.stride + v - g.pad; jj >= 0 && jj < g.w {
							row[q] = xr[jj]
						} else {
							row[q] = 0
						}
						q++
					}
				}
			}
		}
	}
}

// col2imT adds the rows of colT back onto the image dx, which it first
// zeroes: the adjoint of im2colT.
func col2imT[T float](g convGeom, dx, colT []T) {
	clear(dx)
	kk := g.cin * g.k * g.k
	for i := 0; i < g.ho; i++ {
		for j := 0; j < g.wo; j++ {
			row := colT[(i*g.wo+j)*kk:][:kk]
			q := 0
			for c := 0; c < g.cin; c++ {
				dc := dx[c*g.h*g.w : (c+1)*g.h*g.w]
				for u := 0; u < g.k; u++ {
					ii := i*g.stride + u - g.pad
					if ii < 0 || ii >= g.h {
						q += g.k
						continue
					}
					dr := dc[ii*g.w : (ii+1)*g.w]
					for v := 0; v < g.k; v++ {
						if jj := j*g.stride + v - g.pad; jj >= 0 && jj < g.w {
							dr[jj] += row[q]
						}
						q++
					}
				}
			}
		}
	}
}

// gemm sets c = a·b + beta·c with a m×k and b k×n, either transposed as
// stored, in row-major storage.
func gemm[T float](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	switch c := any(c).(type) {
	case []float32:
		gonum.Implementation{}.Sgemm(ta, tb, m, n, k, 1, any(a).([]float32), lda, any(b).([]float32), ldb, float32(beta), c, ldc)
	case []float64:
		gonum.Implementation{}.Dgemm(ta, tb, m, n, k, 1, any(a).([]float64), lda, any(b).([]float64), ldb, float64(beta), c, ldc)
	}
}

// workers is how many goroutines share the images of a batch.
func workers(b int) int { return max(1, min(b, runtime.GOMAXPROCS(0))) }

// overImages calls f(worker, image) for every image, spreading the images over
// the workers so that worker w always sees the same images for a given batch
// size and worker count.
func overImages(b int, f func(worker, image int)) {
	nw := workers(b)
	sdk.ParallelRows(nw, func(w int) {
		for i := w; i < b; i += nw {
			f(w, i)
		}
	})
}

// transpose sets dst (c×r) to the transpose of src (r×c), in tiles so both
// sides stay in cache.
func transpose[T float](dst, src []T, r, c int) {
	const tile = 32
	for i0 := 0; i0 < r; i0 += tile {
		i1 := min(i0+tile, r)
		for j0 := 0; j0 < c; j0 += tile {
			j1 := min(j0+tile, c)
			for i := i0; i < i1; i++ {
				row := src[i*c : (i+1)*c]
				for j := j0; j < j1; j++ {
					dst[j*r+i] = row[j]
				}
			}
		}
	}
}

// scratch is per-worker buffers, allocated on first use.
type scratch[T float] [][]T

func (s scratch[T]) get(w, n int) []T {
	if len(s[w]) < n {
		s[w] = make([]T, n)
	}
	return s[w][:n]
}

// The products below are all of the form A·Bᵀ, whose inner loop is a dot
// product over contiguous memory: gonum's fastest case by far (about twice
// the speed of A·B and three times that of Aᵀ·B at these shapes).

func convForward[T float](g convGeom, y, x, w, bias []T) {
	kk := g.cin * g.k * g.k
	n := g.ho * g.wo
	nw := workers(g.b)
	colTs := make(scratch[T], nw)
	overImages(g.b, func(wk, i int) {
		xi, yi := x[i*g.cin*g.h*g.w:(i+1)*g.cin*g.h*g.w], y[i*g.cout*n:(i+1)*g.cout*n]
		colT := colTs.get(wk, kk*n)
		if g.direct() {
			transpose(colT, xi, kk, n)
		} else {
			im2colT(g, colT, xi)
		}
		var beta T
		if bias != nil {
			bi := bias
			if g.sampleBias {
				bi = bias[i*g.cout : (i+1)*g.cout]
			}
			for o, v := range bi {
				yo := yi[o*n : (o+1)*n]
				for j := range yo {
					yo[j] = v
				}
			}
			beta = 1
		}
		// y_b = W col_b, (Cout×K)·(K×H′W′).
		gemm(false, true, g.cout, n, kk, w, kk, colT, kk, beta, yi, n)
	})
}

func convBackward[T float](g convGeom, wrt int, dst, x, w, dy []T) {
	kk := g.cin * g.k * g.k
	n := g.ho * g.wo
	nw := workers(g.b)
	switch wrt {
	case 0:
		if g.stride == 1 && 2*g.pad == g.k-1 {
			// A "same" convolution's adjoint is the same convolution of
			// ∂L/∂y with the kernel flipped and its channels swapped:
			// W̃[c,o,u,v] = W[o,c,k−1−u,k−1−v]. Its inner products run over
			// Cout·k·k values rather than Cout, which gonum does twice as fast.
			wf := make([]T, len(w))
			for o := 0; o < g.cout; o++ {
				for c := 0; c < g.cin; c++ {
					for u := 0; u < g.k; u++ {
						for v := 0; v < g.k; v++ {
							wf[((c*g.cout+o)*g.k+g.k-1-u)*g.k+g.k-1-v] = w[((o*g.cin+c)*g.k+u)*g.k+v]
						}
					}
				}
			}
			adj := g
			adj.cin, adj.cout, adj.bias, adj.sampleBias = g.cout, g.cin, false, false
			convForward(adj, dst, dy, wf, nil)
			return
		}
		// ∂L/∂x_b = col2im(Wᵀ ∂L/∂y_b), as (∂L/∂y_bᵀ W)ᵀ.
		wt := make([]T, len(w))
		transpose(wt, w, g.cout, kk)
		dyTs, dcolTs := make(scratch[T], nw), make(scratch[T], nw)
		overImages(g.b, func(wk, i int) {
			dxi, dyi := dst[i*g.cin*g.h*g.w:(i+1)*g.cin*g.h*g.w], dy[i*g.cout*n:(i+1)*g.cout*n]
			dyT, dcolT := dyTs.get(wk, n*g.cout), dcolTs.get(wk, n*kk)
			transpose(dyT, dyi, g.cout, n)
			gemm(false, true, n, kk, g.cout, dyT, g.cout, wt, g.cout, 0, dcolT, kk)
			col2imT(g, dxi, dcolT)
		})
	case 1: // ∂L/∂W = Σ_b ∂L/∂y_b col_bᵀ, summed per worker, then in worker order
		cols, part := make(scratch[T], nw), make(scratch[T], nw)
		overImages(g.b, func(wk, i int) {
			xi, dyi := x[i*g.cin*g.h*g.w:(i+1)*g.cin*g.h*g.w], dy[i*g.cout*n:(i+1)*g.cout*n]
			p := part.get(wk, len(dst))
			col := xi
			if !g.direct() {
				col = cols.get(wk, kk*n)
				im2col(g, col, xi)
			}
			gemm(false, true, g.cout, kk, n, dyi, n, col, n, 1, p, kk)
		})
		copy(dst, part[0])
		for _, p := range part[1:] {
			for j, v := range p {
				dst[j] += v
			}
		}
	case 2: // ∂L/∂β_o = Σ_{b,i,j} ∂L/∂y, or per sample Σ_{i,j}
		if g.sampleBias {
			for q := range dst {
				var s float64
				for _, v := range dy[q*n : (q+1)*n] {
					s += float64(v)
				}
				dst[q] = T(s)
			}
			return
		}
		for o := range dst {
			var s float64
			for i := 0; i < g.b; i++ {
				for _, v := range dy[(i*g.cout+o)*n : (i*g.cout+o+1)*n] {
					s += float64(v)
				}
			}
			dst[o] = T(s)
		}
	}
}
