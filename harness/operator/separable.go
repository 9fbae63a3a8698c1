package operator

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas64"
	"gonum.org/v1/gonum/mat"
)

// axis is one factor of a separable operator: an n'×n matrix B with its
// full SVD B = Q P Rᵀ (Q n'×n', R n×n orthogonal, p₁ ≥ … ≥ p_r, r = min(n', n)).
type axis struct {
	out, in int
	b       []float64 // out×in row-major
	p       []float64 // r singular values
	q       []float64 // out×out row-major; column k is the k-th left singular vector
	r       []float64 // in×in row-major; column k is the k-th right singular vector
}

func newAxis(b mat.Matrix) (*axis, error) {
	out, in := b.Dims()
	if out < 1 || in < 1 {
		return nil, errors.New("operator: empty axis matrix")
	}
	ax := &axis{out: out, in: in, b: make([]float64, out*in)}
	for i := range out {
		for j := range in {
			v := b.At(i, j)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, errors.New("operator: axis matrix has a non-finite entry")
			}
			ax.b[i*in+j] = v
		}
	}
	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(out, in, ax.b), mat.SVDFull) {
		return nil, errors.New("operator: SVD of axis matrix did not converge")
	}
	ax.p = svd.Values(nil)
	var q, r mat.Dense
	svd.UTo(&q)
	svd.VTo(&r)
	ax.q = append([]float64(nil), q.RawMatrix().Data...)
	ax.r = append([]float64(nil), r.RawMatrix().Data...)
	return ax, nil
}

// general wraps row-major data as a blas64 matrix.
func general(rows, cols, stride int, data []float64) blas64.General {
	return blas64.General{Rows: rows, Cols: cols, Stride: stride, Data: data}
}

func (ax *axis) mat() blas64.General { return general(ax.out, ax.in, ax.in, ax.b) }

// rThin is R_r, the in×r matrix of the first r right singular vectors.
func (ax *axis) rThin() blas64.General { return general(ax.in, len(ax.p), ax.in, ax.r) }

// qThin is Q_r, the out×r matrix of the first r left singular vectors.
func (ax *axis) qThin() blas64.General { return general(ax.out, len(ax.p), ax.out, ax.q) }

func (ax *axis) rFull() blas64.General { return general(ax.in, ax.in, ax.in, ax.r) }
func (ax *axis) qFull() blas64.General { return general(ax.out, ax.out, ax.out, ax.q) }

// Separable is the operator that acts on each channel X ∈ ℝ^{H×W} of a
// C×H×W image as
//
//	Y = A_h X A_wᵀ ∈ ℝ^{H'×W'},  i.e. A = I_C ⊗ A_h ⊗ A_w
//
// on row-major vectors, with per-axis matrices A_h (H'×H) and A_w (W'×W).
// Measurements are C×H'×W' images, flattened the same way.
//
// With the per-axis SVDs A_h = U_h S_h V_hᵀ and A_w = U_w S_w V_wᵀ,
//
//	A = (I ⊗ U_h ⊗ U_w)(I ⊗ S_h ⊗ S_w)(I ⊗ V_h ⊗ V_w)ᵀ,
//
// so AᵀA has eigenvalues σ_{h,i}² σ_{w,j}² (σ = 0 past the rank of an axis),
// and SolveShifted is exact:
//
//	(a I + b AᵀA)⁻¹ v = v/a + V_r diag(1/(a + b σ_{h,i}² σ_{w,j}²) − 1/a) V_rᵀ v,
//
// V_r = V_{h,r} ⊗ V_{w,r} the thin factors, at the cost of a few small
// matrix products per channel.
//
// SVD coordinate order. A coordinate (c, i, j) of Uᵀy (i < H', j < W') or of
// Vᵀx (i < H, j < W) is "paired" when i < min(H', H) and j < min(W', W);
// paired coordinates of Uᵀy and Vᵀx with the same (c, i, j) are linked by
// the singular value σ_{h,i} σ_{w,j}. Ut and Vt list the paired coordinates
// first, ordered by c, then i, then j; then the unpaired ones in the same
// order. Singular() lists the products σ_{h,i} σ_{w,j} of the paired
// coordinates, then zeros up to r = min(m, d): the leading unpaired
// coordinates of the two sides are linked by a zero singular value. For the
// usual downsampling case (H' ≤ H, W' ≤ W) every coordinate of Uᵀy is paired,
// Ut is (U_h ⊗ U_w)ᵀ y in natural order, and Vt puts the (c, i < H', j < W')
// block first. Singular values are not sorted.
type Separable struct {
	shape    Shape
	outShape Shape
	h, w     *axis

	sing []float64 // r = min(m, d)
	eig  []float64 // d, natural order
	uOrd []int     // m: position k of Uᵀy holds natural coordinate uOrd[k]
	vOrd []int     // d: position k of Vᵀx holds natural coordinate vOrd[k]

	// applyHFirst chooses the cheaper order of the two products in Apply.
	applyHFirst   bool
	adjointHFirst bool

	pool    sync.Pool // *[]float64 per-channel scratch of length sc
	sc      int
	vecPool sync.Pool // *[]float64 scratch of length ≤ max(m, d)
}

var _ SVD = (*Separable)(nil)

// NewSeparable returns the separable operator Y = A_h X A_wᵀ on every
// channel of a shape image. ah must have shape.H columns and aw shape.W
// columns.
func NewSeparable(shape Shape, ah, aw mat.Matrix) (*Separable, error) {
	if err := shape.check(); err != nil {
		return nil, err
	}
	if _, c := ah.Dims(); c != shape.H {
		return nil, fmt.Errorf("operator: height matrix has %d columns, image height is %d", c, shape.H)
	}
	if _, c := aw.Dims(); c != shape.W {
		return nil, fmt.Errorf("operator: width matrix has %d columns, image width is %d", c, shape.W)
	}
	h, err := newAxis(ah)
	if err != nil {
		return nil, err
	}
	w, err := newAxis(aw)
	if err != nil {
		return nil, err
	}
	return newSeparable(shape, h, w), nil
}

func newSeparable(shape Shape, h, w *axis) *Separable {
	op := &Separable{shape: shape, outShape: Shape{C: shape.C, H: h.out, W: w.out}, h: h, w: w}
	H, W, Ho, Wo := h.in, w.in, h.out, w.out

	sh := func(i int) float64 {
		if i < len(h.p) {
			return h.p[i]
		}
		return 0
	}
	sw := func(j int) float64 {
		if j < len(w.p) {
			return w.p[j]
		}
		return 0
	}
	op.eig = make([]float64, shape.Len())
	for c := range shape.C {
		for i := range H {
			for j := range W {
				s := sh(i) * sw(j)
				op.eig[(c*H+i)*W+j] = s * s
			}
		}
	}

	ph, pw := min(H, Ho), min(W, Wo)
	order := func(n, m int) []int {
		ord := make([]int, 0, shape.C*n*m)
		for c := range shape.C {
			for i := range ph {
				for j := range pw {
					ord = append(ord, (c*n+i)*m+j)
				}
			}
		}
		for c := range shape.C {
			for i := range n {
				for j := range m {
					if i >= ph || j >= pw {
						ord = append(ord, (c*n+i)*m+j)
					}
				}
			}
		}
		return ord
	}
	op.uOrd = order(Ho, Wo)
	op.vOrd = order(H, W)
	m, d := op.Dims()
	op.sing = make([]float64, min(m, d))
	k := 0
	for range shape.C {
		for i := range ph {
			for j := range pw {
				op.sing[k] = sh(i) * sw(j)
				k++
			}
		}
	}

	// Apply: Y = A_h (X A_wᵀ) costs H·W·W' + H'·H·W'; Y = (A_h X) A_wᵀ costs
	// H'·H·W + H'·W·W'.
	op.applyHFirst = Ho*H*W+Ho*W*Wo < H*W*Wo+Ho*H*Wo
	// Adjoint: X = A_hᵀ (Y A_w) costs H'·W'·W + H·H'·W; X = (A_hᵀ Y) A_w costs
	// H·H'·W' + H·W'·W.
	op.adjointHFirst = H*Ho*Wo+H*Wo*W < Ho*Wo*W+H*Ho*W
	mx, my := max(H, Ho), max(W, Wo)
	op.sc = 2 * mx * my
	return op
}

func (op *Separable) getScratch() *[]float64 {
	if p, ok := op.pool.Get().(*[]float64); ok {
		return p
	}
	s := make([]float64, op.sc)
	return &s
}

// Shape returns the signal shape C×H×W.
func (op *Separable) Shape() Shape { return op.shape }

// OutShape returns the measurement shape C×H'×W'.
func (op *Separable) OutShape() Shape { return op.outShape }

// Dims returns C·H'·W' and C·H·W.
func (op *Separable) Dims() (m, d int) { return op.outShape.Len(), op.shape.Len() }

// Apply sets dst = A x.
func (op *Separable) Apply(dst, x []float64) {
	m, d := op.Dims()
	checkLen("Apply", dst, m, x, d)
	sp := op.getScratch()
	defer op.pool.Put(sp)
	t := *sp
	H, W, Ho, Wo := op.h.in, op.w.in, op.h.out, op.w.out
	for c := range op.shape.C {
		X := general(H, W, W, x[c*H*W:])
		Y := general(Ho, Wo, Wo, dst[c*Ho*Wo:])
		if op.applyHFirst {
			T := general(Ho, W, W, t)
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, op.h.mat(), X, 0, T)
			blas64.Gemm(blas.NoTrans, blas.Trans, 1, T, op.w.mat(), 0, Y)
		} else {
			T := general(H, Wo, Wo, t)
			blas64.Gemm(blas.NoTrans, blas.Trans, 1, X, op.w.mat(), 0, T)
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, op.h.mat(), T, 0, Y)
		}
	}
}

// Adjoint sets dst = Aᵀ y, i.e. X = A_hᵀ Y A_w per channel.
func (op *Separable) Adjoint(dst, y []float64) {
	m, d := op.Dims()
	checkLen("Adjoint", dst, d, y, m)
	sp := op.getScratch()
	defer op.pool.Put(sp)
	t := *sp
	H, W, Ho, Wo := op.h.in, op.w.in, op.h.out, op.w.out
	for c := range op.shape.C {
		Y := general(Ho, Wo, Wo, y[c*Ho*Wo:])
		X := general(H, W, W, dst[c*H*W:])
		if op.adjointHFirst {
			T := general(H, Wo, Wo, t)
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, op.h.mat(), Y, 0, T)
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, T, op.w.mat(), 0, X)
		} else {
			T := general(Ho, W, W, t)
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, Y, op.w.mat(), 0, T)
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, op.h.mat(), T, 0, X)
		}
	}
}

// SolveShifted sets dst = (a I + b AᵀA)⁻¹ v. dst may alias v.
func (op *Separable) SolveShifted(dst []float64, a, b float64, v []float64) {
	_, d := op.Dims()
	checkLen("SolveShifted", dst, d, v, d)
	checkShift(a, b)
	sp := op.getScratch()
	defer op.pool.Put(sp)
	H, W := op.h.in, op.w.in
	rh, rw := len(op.h.p), len(op.w.p)
	t1 := (*sp)[:max(H*rw, rh*W)]
	z := (*sp)[len(*sp)-rh*rw:]
	vh, vw := op.h.rThin(), op.w.rThin()
	ia := 1 / a
	for c := range op.shape.C {
		X := general(H, W, W, v[c*H*W:])
		D := general(H, W, W, dst[c*H*W:])
		Z := general(rh, rw, rw, z)
		T := general(H, rw, rw, t1)
		// Z = V_{h,r}ᵀ X V_{w,r}
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, X, vw, 0, T)
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, vh, T, 0, Z)
		for i, si := range op.h.p {
			row := z[i*rw : (i+1)*rw]
			for j, sj := range op.w.p {
				s := si * sj
				row[j] *= 1/(a+b*s*s) - ia
			}
		}
		// D = X/a + V_{h,r} Z V_{w,r}ᵀ
		for i := range H {
			xr, dr := X.Data[i*W:i*W+W], D.Data[i*W:i*W+W]
			for j := range dr {
				dr[j] = xr[j] * ia
			}
		}
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, vh, Z, 0, T)
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, T, vw, 1, D)
	}
}

// Pinv sets dst = A⁺ y = V_r S_r⁺ U_rᵀ y with singular values
// σ_{h,i} σ_{w,j} ≤ 1e-10·σ_{h,1} σ_{w,1} treated as zero.
func (op *Separable) Pinv(dst, y []float64) {
	m, d := op.Dims()
	checkLen("Pinv", dst, d, y, m)
	sp := op.getScratch()
	defer op.pool.Put(sp)
	H, W, Ho, Wo := op.h.in, op.w.in, op.h.out, op.w.out
	rh, rw := len(op.h.p), len(op.w.p)
	t1 := (*sp)[:max(Ho*rw, H*rw)]
	z := (*sp)[len(*sp)-rh*rw:]
	tol := pinvRTol * op.h.p[0] * op.w.p[0]
	for c := range op.shape.C {
		Y := general(Ho, Wo, Wo, y[c*Ho*Wo:])
		X := general(H, W, W, dst[c*H*W:])
		Z := general(rh, rw, rw, z)
		T := general(Ho, rw, rw, t1)
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, Y, op.w.qThin(), 0, T)
		blas64.Gemm(blas.Trans, blas.NoTrans, 1, op.h.qThin(), T, 0, Z)
		for i, si := range op.h.p {
			row := z[i*rw : (i+1)*rw]
			for j, sj := range op.w.p {
				if s := si * sj; s > tol {
					row[j] /= s
				} else {
					row[j] = 0
				}
			}
		}
		T = general(H, rw, rw, t1)
		blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, op.h.rThin(), Z, 0, T)
		blas64.Gemm(blas.NoTrans, blas.Trans, 1, T, op.w.rThin(), 0, X)
	}
}

// GramEigenvalues returns σ_{h,i}² σ_{w,j}² for every (c, i, j) of the
// signal, in natural order.
func (op *Separable) GramEigenvalues() []float64 { return op.eig }

// Singular returns the singular values in the order of Ut and Vt (see the
// type's documentation).
func (op *Separable) Singular() []float64 { return op.sing }

// Vt sets dst = Vᵀ x in the order of the type's documentation. dst must not
// overlap x.
func (op *Separable) Vt(dst, x []float64) {
	_, d := op.Dims()
	checkLen("Vt", dst, d, x, d)
	op.kron(dst, x, op.h.rFull(), op.w.rFull(), op.h.in, op.w.in, true, op.vOrd)
}

// V sets dst = V c. dst must not overlap c.
func (op *Separable) V(dst, c []float64) {
	_, d := op.Dims()
	checkLen("V", dst, d, c, d)
	op.kron(dst, c, op.h.rFull(), op.w.rFull(), op.h.in, op.w.in, false, op.vOrd)
}

// Ut sets dst = Uᵀ y. dst must not overlap y.
func (op *Separable) Ut(dst, y []float64) {
	m, _ := op.Dims()
	checkLen("Ut", dst, m, y, m)
	op.kron(dst, y, op.h.qFull(), op.w.qFull(), op.h.out, op.w.out, true, op.uOrd)
}

// U sets dst = U c. dst must not overlap c.
func (op *Separable) U(dst, c []float64) {
	m, _ := op.Dims()
	checkLen("U", dst, m, c, m)
	op.kron(dst, c, op.h.qFull(), op.w.qFull(), op.h.out, op.w.out, false, op.uOrd)
}

// kron applies P = I ⊗ P_h ⊗ P_w (n_h×n_h and n_w×n_w orthogonal) composed
// with the coordinate order ord: for trans, dst[k] = (Pᵀ x)[ord[k]];
// otherwise dst = P z with z[ord[k]] = x[k].
func (op *Separable) kron(dst, x []float64, ph, pw blas64.General, nh, nw int, trans bool, ord []int) {
	sp := op.getScratch()
	defer op.pool.Put(sp)
	n := nh * nw
	t := general(nh, nw, nw, (*sp)[:n])
	identity := isIdentity(ord)
	var perm []float64
	if !identity {
		pp := op.getVec(len(dst))
		defer op.vecPool.Put(pp)
		perm = *pp
		if !trans {
			for k, o := range ord {
				perm[o] = x[k]
			}
			x = perm
		}
	}
	out := dst
	if trans && !identity {
		out = perm
	}
	for c := range op.shape.C {
		X := general(nh, nw, nw, x[c*n:])
		D := general(nh, nw, nw, out[c*n:])
		if trans {
			// D = P_hᵀ X P_w
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, X, pw, 0, t)
			blas64.Gemm(blas.Trans, blas.NoTrans, 1, ph, t, 0, D)
		} else {
			// D = P_h X P_wᵀ
			blas64.Gemm(blas.NoTrans, blas.Trans, 1, X, pw, 0, t)
			blas64.Gemm(blas.NoTrans, blas.NoTrans, 1, ph, t, 0, D)
		}
	}
	if trans && !identity {
		for k, o := range ord {
			dst[k] = perm[o]
		}
	}
}

// getVec returns pooled scratch of length n (at least max(m, d)).
func (op *Separable) getVec(n int) *[]float64 {
	if p, ok := op.vecPool.Get().(*[]float64); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	m, d := op.Dims()
	s := make([]float64, max(m, d))[:n]
	return &s
}

// isIdentity reports whether ord[k] = k for all k.
func isIdentity(ord []int) bool {
	for k, o := range ord {
		if o != k {
			return false
		}
	}
	return true
}
