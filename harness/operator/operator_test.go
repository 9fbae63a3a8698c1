package operator_test

import (
	"math/rand/v2"
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
		})
	}
}
