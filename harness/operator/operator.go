// Package operator provides the linear measurement operators A of ipbench's
// inverse problems y = A x₀ + σ_y n.
//
// Signals are flattened channel-first images (C×H×W, row-major) or plain
// vectors in ℝᵈ; measurements are vectors in ℝᵐ. Every operator solves the
// shifted normal equations (a I + b AᵀA) x = v exactly (or to machine
// precision), which is what the exact posterior score of EPS needs.
//
// All methods are safe for concurrent use by several goroutines.
package operator

// Operator is a linear map A: ℝᵈ → ℝᵐ.
type Operator interface {
	// Dims returns m, the length of a measurement, and d, the length of a
	// signal.
	Dims() (m, d int)

	// Apply sets dst = A x. len(dst) = m and len(x) = d.
	Apply(dst, x []float64)

	// Adjoint sets dst = Aᵀ y. len(dst) = d and len(y) = m.
	Adjoint(dst, y []float64)

	// SolveShifted sets dst = (a I + b AᵀA)⁻¹ v for a > 0 and b ≥ 0.
	// len(dst) = len(v) = d; dst may alias v.
	SolveShifted(dst []float64, a, b float64, v []float64)

	// Pinv sets dst = A⁺ y, the Moore–Penrose pseudo-inverse applied to y.
	// Singular values below a relative tolerance of 1e-10·s_max count as zero.
	Pinv(dst, y []float64)

	// GramEigenvalues returns the d eigenvalues λᵢ of AᵀA (with multiplicity,
	// in no particular order). The returned slice must not be modified.
	GramEigenvalues() []float64
}

// SVD is an operator that also exposes a real singular value decomposition
//
//	A = U S Vᵀ,  U ∈ ℝ^{m×m}, V ∈ ℝ^{d×d} orthogonal,
//
// where S is m×d with s₁, …, s_r (r = min(m, d)) on its diagonal. This is
// what DDRM-style solvers work in.
type SVD interface {
	Operator

	// Singular returns s₁, …, s_r, r = min(m, d), in the order that Vt and Ut
	// use: coordinate i of Vᵀx and of Uᵀy pairs with Singular()[i] for i < r.
	// Zeros are allowed. The returned slice must not be modified.
	Singular() []float64

	// Vt sets dst = Vᵀ x (len d).
	Vt(dst, x []float64)
	// V sets dst = V c (len d).
	V(dst, c []float64)
	// Ut sets dst = Uᵀ y (len m).
	Ut(dst, y []float64)
	// U sets dst = U c (len m).
	U(dst, c []float64)
}

// Shape is the shape of a channel-first image.
type Shape struct {
	C, H, W int
}

// Len returns C·H·W.
func (s Shape) Len() int { return s.C * s.H * s.W }
