package operator_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/operator/operatortest"
)

func randn(n int, rng *rand.Rand) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = rng.NormFloat64()
	}
	return x
}

// TestOperators runs operatortest.Check on every operator of the package.
func TestOperators(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	must := func(op operator.Operator, err error) operator.Operator {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	dense := func(m, d int) operator.Operator {
		op, err := operator.NewDense(m, d, randn(m*d, rng))
		return must(op, err)
	}
	// A 6×9 matrix of rank 3, so that Pinv must drop singular values.
	lowRank := func() operator.Operator {
		l, r := randn(6*3, rng), randn(3*9, rng)
		a := make([]float64, 6*9)
		for i := range 6 {
			for j := range 9 {
				for k := range 3 {
					a[i*9+j] += l[i*3+k] * r[k*9+j]
				}
			}
		}
		op, err := operator.NewDense(6, 9, a)
		return must(op, err)
	}
	s3 := operator.Shape{C: 3, H: 16, W: 16}
	s2 := operator.Shape{C: 2, H: 12, W: 8}
	box := func(s operator.Shape, h, w, top, left int) operator.Operator {
		op, err := operator.BoxMask(s, h, w, top, left)
		return must(op, err)
	}
	random := func(s operator.Shape, missing float64) operator.Operator {
		op, err := operator.RandomMask(s, missing, rng)
		return must(op, err)
	}
	bicubic := func(s operator.Shape, f int) operator.Operator {
		op, err := operator.NewBicubicDown(s, f)
		return must(op, err)
	}
	pool := func(s operator.Shape, f int) operator.Operator {
		op, err := operator.NewPool(s, f)
		return must(op, err)
	}
	gauss := func(s operator.Shape, k int, sigma float64) operator.Operator {
		op, err := operator.NewGaussianBlur(s, k, sigma)
		return must(op, err)
	}
	motion := func(s operator.Shape, k int, intensity float64) operator.Operator {
		op, err := operator.NewConv(s, operator.MotionKernel(k, intensity, rng), k)
		return must(op, err)
	}
	conv := func(s operator.Shape, k int) operator.Operator {
		op, err := operator.NewConv(s, randn(k*k, rng), k)
		return must(op, err)
	}
	sep := func(s operator.Shape, ho, wo int) operator.Operator {
		ah := mat.NewDense(ho, s.H, randn(ho*s.H, rng))
		aw := mat.NewDense(wo, s.W, randn(wo*s.W, rng))
		op, err := operator.NewSeparable(s, ah, aw)
		return must(op, err)
	}

	for _, tc := range []struct {
		name string
		op   operator.Operator
		opts operatortest.Options
	}{
		{name: "dense-4x30", op: dense(4, 30)},
		{name: "dense-9x6", op: dense(9, 6)},
		{name: "dense-lowrank", op: lowRank()},
		{name: "box-3x16x16", op: box(s3, 6, 5, 3, 4)},
		{name: "box-2x12x8", op: box(s2, 5, 5, 7, 0)},
		{name: "random-3x16x16", op: random(s3, 0.7)},
		{name: "random-2x12x8", op: random(s2, 0.3)},
		{name: "bicubic4-3x16x16", op: bicubic(s3, 4)},
		{name: "bicubic4-2x12x8", op: bicubic(s2, 4)},
		{name: "bicubic2-2x12x8", op: bicubic(s2, 2)},
		{name: "pool4-3x16x16", op: pool(s3, 4)},
		{name: "pool2-2x12x8", op: pool(s2, 2)},
		{name: "separable-wide-tall", op: sep(operator.Shape{C: 2, H: 5, W: 4}, 3, 7)},
		{name: "separable-tall-wide", op: sep(operator.Shape{C: 1, H: 4, W: 6}, 6, 2)},
		{name: "gauss-3x16x16", op: gauss(s3, 5, 1)},
		{name: "gauss-2x12x8", op: gauss(s2, 7, 1.5)},
		{name: "motion-3x16x16", op: motion(s3, 9, 0.5)},
		{name: "motion-2x12x8", op: motion(s2, 5, 0.5)},
		{name: "conv-random-2x12x8", op: conv(s2, 5)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			operatortest.Check(t, tc.op, rand.New(rand.NewPCG(3, 4)), tc.opts)
			checkReplica(t, tc.op, rand.New(rand.NewPCG(5, 6)))
		})
	}
}

// checkReplica checks that the operator built from op's Spec gives the same
// bits as op on every method, so that a plugin's replica changes nothing.
func checkReplica(t *testing.T, op operator.Operator, rng *rand.Rand) {
	t.Helper()
	sp, ok := op.(operator.Specifier)
	if !ok {
		t.Fatalf("%T cannot describe itself", op)
	}
	rep, err := operator.Build(sp.Spec())
	if err != nil {
		t.Fatalf("Build(Spec()): %v", err)
	}
	if fmt.Sprintf("%T", rep) != fmt.Sprintf("%T", op) {
		t.Errorf("replica is a %T, want %T", rep, op)
	}
	m, d := op.Dims()
	if rm, rd := rep.Dims(); rm != m || rd != d {
		t.Fatalf("replica is %d×%d, want %d×%d", rm, rd, m, d)
	}
	x, y := randn(d, rng), randn(m, rng)
	same := func(name string, f func(o operator.Operator, dst []float64), n int) {
		t.Helper()
		want, got := make([]float64, n), make([]float64, n)
		f(op, want)
		f(rep, got)
		for i := range want {
			if math.Float64bits(want[i]) != math.Float64bits(got[i]) {
				t.Errorf("%s: replica differs at %d: %v, want %v", name, i, got[i], want[i])
				return
			}
		}
	}
	same("Apply", func(o operator.Operator, dst []float64) { o.Apply(dst, x) }, m)
	same("Adjoint", func(o operator.Operator, dst []float64) { o.Adjoint(dst, y) }, d)
	same("SolveShifted", func(o operator.Operator, dst []float64) { o.SolveShifted(dst, 0.3, 2, x) }, d)
	same("Pinv", func(o operator.Operator, dst []float64) { o.Pinv(dst, y) }, d)
	same("GramEigenvalues", func(o operator.Operator, dst []float64) { copy(dst, o.GramEigenvalues()) }, d)
	if s, ok := op.(operator.SVD); ok {
		if _, ok := rep.(operator.SVD); !ok {
			t.Fatal("replica lost the SVD")
		}
		k := len(s.Singular())
		same("Singular", func(o operator.Operator, dst []float64) { copy(dst, o.(operator.SVD).Singular()) }, k)
		same("Vt", func(o operator.Operator, dst []float64) { o.(operator.SVD).Vt(dst, x) }, d)
		same("Ut", func(o operator.Operator, dst []float64) { o.(operator.SVD).Ut(dst, y) }, m)
	}
}

// A description that does not make an operator is an error naming what is
// wrong, not a panic.
func TestBuildBadSpec(t *testing.T) {
	s := operator.Shape{C: 1, H: 4, W: 4}
	for _, tc := range []struct {
		name string
		spec operator.Spec
		want string
	}{
		{"unknown", operator.Spec{Kind: "fft"}, "unknown kind"},
		{"dense-short", operator.Spec{Kind: "dense", M: 2, D: 3, Data: make([]float64, 5)}, "needs 6 entries"},
		{"mask-value", operator.Spec{Kind: "mask", Shape: s, Data: append(make([]float64, 15), 0.5)}, "want 0 or 1"},
		{"mask-short", operator.Spec{Kind: "mask", Shape: s, Data: make([]float64, 3)}, "has 3 numbers, want 16"},
		{"mask-shape", operator.Spec{Kind: "mask", Shape: operator.Shape{C: 1, H: -4, W: 4}}, "operator"},
		{"separable-rows", operator.Spec{Kind: "separable", Shape: s, RowsH: 0, RowsW: 1}, "rows"},
		{"separable-short", operator.Spec{Kind: "separable", Shape: s, RowsH: 1, RowsW: 1, Data: make([]float64, 7)}, "want 8"},
		{"conv-even", operator.Spec{Kind: "conv", Shape: s, K: 2, Data: make([]float64, 4)}, "odd"},
		{"gauss-sigma", operator.Spec{Kind: "gaussian-blur", Shape: s, K: 3, Sigma: -1}, "σ"},
		{"gauss-data", operator.Spec{Kind: "gaussian-blur", Shape: s, K: 3, Sigma: 1, Data: []float64{1}}, "want 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := operator.Build(tc.spec)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Build: error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
