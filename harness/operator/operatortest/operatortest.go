// Package operatortest checks implementations of operator.Operator and
// operator.SVD against their definitions, for use in tests.
package operatortest

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ipbench/ipbench/harness/operator"
)

// SolveTol is the largest relative residual ‖(aI + bAᵀA)x − v‖/‖v‖ that
// Check accepts from SolveShifted.
const SolveTol = 1e-5

// MaxDenseLen is the largest d for which Check builds the dense matrix.
const MaxDenseLen = 1200

// Options tunes Check.
type Options struct {
	// PinvTol is the relative tolerance of the comparison of Pinv with the
	// dense pseudo-inverse; 1e-8 when zero. Operators with singular values
	// close to the cut-off 1e-10·s_max need a looser one.
	PinvTol float64
}

// Check runs the identities every operator must satisfy as subtests of t:
//
//   - the adjoint identity ⟨Ax, y⟩ = ⟨x, Aᵀy⟩ (relative 1e-12);
//   - SolveShifted's residual for a ∈ {1e-4, 1, 1e4}, b ∈ {0, 1, 400},
//     also with dst aliasing v;
//   - for d ≤ MaxDenseLen, agreement with the dense matrix built column by
//     column from Apply: Adjoint, GramEigenvalues (gonum's EigenSym of AᵀA),
//     Pinv (the dense SVD pseudo-inverse) and, for operator.SVD, A = U S Vᵀ
//     with U and V orthogonal and Vt, Ut their transposes.
func Check(t *testing.T, op operator.Operator, rng *rand.Rand, opts Options) {
	t.Helper()
	if opts.PinvTol == 0 {
		opts.PinvTol = 1e-8
	}
	m, d := op.Dims()

	t.Run("adjoint", func(t *testing.T) {
		for range 3 {
			x, y := randn(d, rng), randn(m, rng)
			ax, aty := make([]float64, m), make([]float64, d)
			op.Apply(ax, x)
			op.Adjoint(aty, y)
			lhs, rhs := floats.Dot(ax, y), floats.Dot(x, aty)
			scale := math.Max(floats.Norm(ax, 2)*floats.Norm(y, 2), floats.Norm(x, 2)*floats.Norm(aty, 2))
			if math.Abs(lhs-rhs) > 1e-12*scale {
				t.Errorf("<Ax,y> = %v, <x,Aᵀy> = %v (scale %v)", lhs, rhs, scale)
			}
		}
	})

	t.Run("solve", func(t *testing.T) {
		worst := 0.0
		for _, a := range []float64{1e-4, 1, 1e4} {
			for _, b := range []float64{0, 1, 400} {
				v := randn(d, rng)
				x := make([]float64, d)
				op.SolveShifted(x, a, b, v)
				res := Residual(op, a, b, x, v)
				worst = math.Max(worst, res)
				if !(res < SolveTol) {
					t.Errorf("a=%g b=%g: relative residual %.3g", a, b, res)
				}
				w := slices.Clone(v)
				op.SolveShifted(w, a, b, w)
				if e := relDiff(w, x); !(e <= 1e-12) {
					t.Errorf("a=%g b=%g: aliased dst differs by %.3g", a, b, e)
				}
			}
		}
		t.Logf("worst relative residual %.3g", worst)
	})

	if d > MaxDenseLen {
		return
	}
	A := DenseOf(op)
	t.Run("dense", func(t *testing.T) {
		amax := maxAbs(A.RawMatrix().Data)
		var at mat.Dense
		at.CloneFrom(A.T())
		adj := mat.NewDense(d, m, nil)
		y, col := make([]float64, m), make([]float64, d)
		for i := range m {
			clear(y)
			y[i] = 1
			op.Adjoint(col, y)
			adj.SetCol(i, col)
		}
		if !mat.EqualApprox(adj, &at, 1e-12*math.Max(amax, 1e-300)) {
			t.Errorf("Adjoint is not the transpose of Apply")
		}

		var g mat.SymDense
		g.SymOuterK(1, A.T())
		var es mat.EigenSym
		if !es.Factorize(&g, false) {
			t.Fatal("EigenSym failed")
		}
		want := es.Values(nil)
		got := slices.Clone(op.GramEigenvalues())
		if len(got) != d {
			t.Fatalf("GramEigenvalues has %d values, want %d", len(got), d)
		}
		slices.Sort(got)
		slices.Sort(want)
		lmax := math.Max(want[d-1], 1e-300)
		for i := range want {
			if math.Abs(got[i]-want[i]) > 1e-10*lmax {
				t.Errorf("eigenvalue %d: got %v, want %v", i, got[i], want[i])
				break
			}
		}

		yv := randn(m, rng)
		x := make([]float64, d)
		op.Pinv(x, yv)
		ref := DensePinv(A, yv)
		if e := relDiff(x, ref); !(e <= opts.PinvTol) {
			t.Errorf("Pinv differs from the dense pseudo-inverse by %.3g", e)
		}
	})

	s, ok := op.(operator.SVD)
	if !ok {
		return
	}
	t.Run("svd", func(t *testing.T) {
		r := min(m, d)
		sv := s.Singular()
		if len(sv) != r {
			t.Fatalf("Singular has %d values, want %d", len(sv), r)
		}
		for i, v := range sv {
			if !(v >= 0) {
				t.Fatalf("singular value %d = %v", i, v)
			}
		}
		U := columns(m, s.U)
		V := columns(d, s.V)
		checkOrthogonal(t, "U", U)
		checkOrthogonal(t, "V", V)

		// A = U_r diag(s) V_rᵀ.
		us := mat.NewDense(m, r, nil)
		us.Apply(func(i, j int, _ float64) float64 { return U.At(i, j) * sv[j] }, us)
		var usv mat.Dense
		usv.Mul(us, V.Slice(0, d, 0, r).T())
		amax := maxAbs(A.RawMatrix().Data)
		if !mat.EqualApprox(&usv, A, 1e-10*math.Max(amax, 1e-300)) {
			t.Errorf("U S Vᵀ ≠ A")
		}

		x := randn(d, rng)
		got := make([]float64, d)
		s.Vt(got, x)
		want := mat.NewVecDense(d, nil)
		want.MulVec(V.T(), mat.NewVecDense(d, x))
		if e := relDiff(got, want.RawVector().Data); !(e <= 1e-10) {
			t.Errorf("Vt ≠ Vᵀ: %.3g", e)
		}
		y := randn(m, rng)
		goty := make([]float64, m)
		s.Ut(goty, y)
		wanty := mat.NewVecDense(m, nil)
		wanty.MulVec(U.T(), mat.NewVecDense(m, y))
		if e := relDiff(goty, wanty.RawVector().Data); !(e <= 1e-10) {
			t.Errorf("Ut ≠ Uᵀ: %.3g", e)
		}
	})
}

// Residual returns ‖(a I + b AᵀA) x − v‖ / ‖v‖ computed with Apply and
// Adjoint.
func Residual(op operator.Operator, a, b float64, x, v []float64) float64 {
	m, d := op.Dims()
	ax, r := make([]float64, m), make([]float64, d)
	op.Apply(ax, x)
	op.Adjoint(r, ax)
	for i := range r {
		r[i] = a*x[i] + b*r[i] - v[i]
	}
	return floats.Norm(r, 2) / floats.Norm(v, 2)
}

// DenseOf returns the m×d matrix of op, built column by column by applying
// it to the unit vectors.
func DenseOf(op operator.Operator) *mat.Dense {
	m, d := op.Dims()
	A := mat.NewDense(m, d, nil)
	e, col := make([]float64, d), make([]float64, m)
	for j := range d {
		clear(e)
		e[j] = 1
		op.Apply(col, e)
		A.SetCol(j, col)
	}
	return A
}

// DensePinv returns A⁺ y from gonum's SVD of A, with singular values
// ≤ 1e-10·s_max treated as zero.
func DensePinv(A *mat.Dense, y []float64) []float64 {
	var svd mat.SVD
	if !svd.Factorize(A, mat.SVDThin) {
		panic("operatortest: SVD failed")
	}
	s := svd.Values(nil)
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	_, d := A.Dims()
	x := make([]float64, d)
	for i, si := range s {
		if si <= 1e-10*s[0] {
			continue
		}
		c := floats.Dot(mat.Col(nil, i, &u), y) / si
		floats.AddScaled(x, c, mat.Col(nil, i, &v))
	}
	return x
}

func columns(n int, f func(dst, c []float64)) *mat.Dense {
	M := mat.NewDense(n, n, nil)
	e, col := make([]float64, n), make([]float64, n)
	for j := range n {
		clear(e)
		e[j] = 1
		f(col, e)
		M.SetCol(j, col)
	}
	return M
}

func checkOrthogonal(t *testing.T, name string, Q *mat.Dense) {
	t.Helper()
	n, _ := Q.Dims()
	var g mat.Dense
	g.Mul(Q.T(), Q)
	for i := range n {
		g.Set(i, i, g.At(i, i)-1)
	}
	if e := maxAbs(g.RawMatrix().Data); e > 1e-10 {
		t.Errorf("%sᵀ%s − I has max entry %.3g", name, name, e)
	}
}

func randn(n int, rng *rand.Rand) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

// relDiff returns ‖a − b‖/‖b‖ (‖a − b‖ when b = 0).
func relDiff(a, b []float64) float64 {
	if len(a) != len(b) {
		panic(fmt.Sprintf("operatortest: lengths %d and %d", len(a), len(b)))
	}
	num, den := 0.0, 0.0
	for i := range a {
		num += (a[i] - b[i]) * (a[i] - b[i])
		den += b[i] * b[i]
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}
