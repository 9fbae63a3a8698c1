package operator

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// pinvRTol is the relative tolerance below which a singular value counts as
// zero in Pinv: sᵢ ≤ pinvRTol·s_max.
const pinvRTol = 1e-10

// Dense is an arbitrary m×d matrix A held row-major, with its thin singular
// value decomposition A = U_r S_r V_rᵀ, r = min(m, d), computed once at
// construction.
//
// SolveShifted uses
//
//	(a I + b AᵀA)⁻¹ v = v/a + V_r diag(1/(a + b sᵢ²) − 1/a) V_rᵀ v,
//
// which costs O(r·d) and allocates nothing for r ≤ 16.
//
// The full orthogonal factors U ∈ ℝ^{m×m} and V ∈ ℝ^{d×d} that the SVD
// methods need are completed lazily, on the first call to Vt, V, Ut or U,
// by a QR factorization of the thin factors; their first r columns are the
// thin singular vectors, so Singular()[i] pairs coordinate i of Vᵀx with
// coordinate i of Uᵀy for i < r. Singular values are in decreasing order.
type Dense struct {
	m, d int
	a    []float64 // m×d row-major

	s  []float64 // r singular values, decreasing
	vt []float64 // r×d row-major: row i is the right singular vector vᵢ
	ut []float64 // r×m row-major: row i is the left singular vector uᵢ

	eig []float64 // d eigenvalues of AᵀA

	once  sync.Once
	vfull []float64 // d×d row-major: rows are the columns of V
	ufull []float64 // m×m row-major: rows are the columns of U
}

var _ SVD = (*Dense)(nil)

// NewDense returns the operator of the m×d matrix whose row-major entries
// are a. a is copied.
func NewDense(m, d int, a []float64) (*Dense, error) {
	if m < 1 || d < 1 {
		return nil, fmt.Errorf("operator: dense matrix dimensions %d×%d must be positive", m, d)
	}
	if len(a) != m*d {
		return nil, fmt.Errorf("operator: dense matrix %d×%d needs %d entries, got %d", m, d, m*d, len(a))
	}
	for _, v := range a {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, errors.New("operator: dense matrix has a non-finite entry")
		}
	}
	op := &Dense{m: m, d: d, a: append([]float64(nil), a...)}

	var svd mat.SVD
	if !svd.Factorize(mat.NewDense(m, d, op.a), mat.SVDThin) {
		return nil, errors.New("operator: SVD of dense matrix did not converge")
	}
	r := min(m, d)
	op.s = svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	op.vt = make([]float64, r*d)
	op.ut = make([]float64, r*m)
	for i := range r {
		for j := range d {
			op.vt[i*d+j] = v.At(j, i)
		}
		for j := range m {
			op.ut[i*m+j] = u.At(j, i)
		}
	}
	op.eig = make([]float64, d)
	for i, s := range op.s {
		op.eig[i] = s * s
	}
	return op, nil
}

// Dims returns m and d.
func (op *Dense) Dims() (m, d int) { return op.m, op.d }

// Matrix returns a copy of A, m×d row-major.
func (op *Dense) Matrix() []float64 { return append([]float64(nil), op.a...) }

// Apply sets dst = A x.
func (op *Dense) Apply(dst, x []float64) {
	checkLen("Apply", dst, op.m, x, op.d)
	d := op.d
	for i := range dst {
		dst[i] = floats.Dot(op.a[i*d:(i+1)*d], x)
	}
}

// Adjoint sets dst = Aᵀ y.
func (op *Dense) Adjoint(dst, y []float64) {
	checkLen("Adjoint", dst, op.d, y, op.m)
	clear(dst)
	d := op.d
	for i, yi := range y {
		floats.AddScaled(dst, yi, op.a[i*d:(i+1)*d])
	}
}

// SolveShifted sets dst = (a I + b AᵀA)⁻¹ v. dst may alias v.
func (op *Dense) SolveShifted(dst []float64, a, b float64, v []float64) {
	checkLen("SolveShifted", dst, op.d, v, op.d)
	checkShift(a, b)
	r, d := len(op.s), op.d
	var buf [16]float64
	var c []float64
	if r <= len(buf) {
		c = buf[:r]
	} else {
		c = make([]float64, r)
	}
	// cᵢ = (1/(a + b sᵢ²) − 1/a) vᵢᵀv, computed before dst is written.
	for i, s := range op.s {
		c[i] = floats.Dot(op.vt[i*d:(i+1)*d], v) * (1/(a+b*s*s) - 1/a)
	}
	floats.ScaleTo(dst, 1/a, v)
	for i, ci := range c {
		floats.AddScaled(dst, ci, op.vt[i*d:(i+1)*d])
	}
}

// Pinv sets dst = A⁺ y = V_r S_r⁺ U_rᵀ y.
func (op *Dense) Pinv(dst, y []float64) {
	checkLen("Pinv", dst, op.d, y, op.m)
	clear(dst)
	m, d := op.m, op.d
	tol := pinvRTol * op.s[0]
	for i, s := range op.s {
		if s <= tol {
			break // decreasing
		}
		c := floats.Dot(op.ut[i*m:(i+1)*m], y) / s
		floats.AddScaled(dst, c, op.vt[i*d:(i+1)*d])
	}
}

// GramEigenvalues returns s₁², …, s_r² followed by d − r zeros.
func (op *Dense) GramEigenvalues() []float64 { return op.eig }

// Singular returns s₁ ≥ … ≥ s_r.
func (op *Dense) Singular() []float64 { return op.s }

// Vt sets dst = Vᵀ x. dst must not overlap x.
func (op *Dense) Vt(dst, x []float64) {
	checkLen("Vt", dst, op.d, x, op.d)
	op.complete()
	matVec(dst, op.vfull, x)
}

// V sets dst = V c. dst must not overlap c.
func (op *Dense) V(dst, c []float64) {
	checkLen("V", dst, op.d, c, op.d)
	op.complete()
	matTVec(dst, op.vfull, c)
}

// Ut sets dst = Uᵀ y. dst must not overlap y.
func (op *Dense) Ut(dst, y []float64) {
	checkLen("Ut", dst, op.m, y, op.m)
	op.complete()
	matVec(dst, op.ufull, y)
}

// U sets dst = U c. dst must not overlap c.
func (op *Dense) U(dst, c []float64) {
	checkLen("U", dst, op.m, c, op.m)
	op.complete()
	matTVec(dst, op.ufull, c)
}

// complete computes the full orthogonal factors once.
func (op *Dense) complete() {
	op.once.Do(func() {
		op.vfull = completeBasis(op.vt, len(op.s), op.d)
		op.ufull = completeBasis(op.ut, len(op.s), op.m)
	})
}

// completeBasis returns an n×n row-major matrix whose first r rows are the
// orthonormal rows q (r×n) and whose other rows complete them to an
// orthonormal basis of ℝⁿ (from the full Q of a QR factorization of qᵀ).
func completeBasis(q []float64, r, n int) []float64 {
	out := make([]float64, n*n)
	copy(out, q[:r*n])
	if r == n {
		return out
	}
	var qr mat.QR
	qr.Factorize(mat.NewDense(r, n, q[:r*n]).T())
	var full mat.Dense
	qr.QTo(&full)
	for k := r; k < n; k++ {
		for j := range n {
			out[k*n+j] = full.At(j, k)
		}
	}
	return out
}

// matVec sets dst = M x for a square row-major M.
func matVec(dst, m, x []float64) {
	n := len(x)
	for i := range dst {
		dst[i] = floats.Dot(m[i*n:(i+1)*n], x)
	}
}

// matTVec sets dst = Mᵀ x for a square row-major M.
func matTVec(dst, m, x []float64) {
	n := len(dst)
	clear(dst)
	for i, xi := range x {
		floats.AddScaled(dst, xi, m[i*n:(i+1)*n])
	}
}

// checkLen panics when len(dst) ≠ nd or len(src) ≠ ns.
func checkLen(method string, dst []float64, nd int, src []float64, ns int) {
	if len(dst) != nd || len(src) != ns {
		panic(fmt.Sprintf("operator: %s: lengths (dst %d, src %d), want (%d, %d)", method, len(dst), len(src), nd, ns))
	}
}

// checkShift panics unless a > 0 and b ≥ 0.
func checkShift(a, b float64) {
	if !(a > 0) || !(b >= 0) || math.IsInf(a, 0) || math.IsInf(b, 0) {
		panic(fmt.Sprintf("operator: SolveShifted needs a > 0 and b ≥ 0 finite, got a=%v b=%v", a, b))
	}
}

// errorf returns an error prefixed with the package name.
func errorf(format string, args ...any) error {
	return fmt.Errorf("operator: "+format, args...)
}
