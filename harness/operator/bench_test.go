package operator_test

import (
	"math/rand/v2"
	"testing"

	"github.com/ipbench/ipbench/harness/operator"
)

var benchShape = operator.Shape{C: 3, H: 256, W: 256}

// benchOps builds the operators of the five tasks at 3×256×256, with the
// parameters of DESIGN.md.
func benchOps(b *testing.B) map[string]operator.Operator {
	b.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	ops := map[string]operator.Operator{}
	add := func(name string, op operator.Operator, err error) {
		if err != nil {
			b.Fatal(err)
		}
		ops[name] = op
	}
	op1, err := operator.NewDense(4, 800, randn(3200, rng))
	add("Dense800x4", op1, err)
	op2, err := operator.BoxMask(benchShape, 128, 128, 64, 32)
	add("BoxMask", op2, err)
	op3, err := operator.RandomMask(benchShape, 0.7, rng)
	add("RandomMask", op3, err)
	op4, err := operator.NewBicubicDown(benchShape, 4)
	add("Bicubic4", op4, err)
	op5, err := operator.NewPool(benchShape, 4)
	add("Pool4", op5, err)
	op6, err := operator.NewGaussianBlur(benchShape, 61, 3)
	add("GaussianBlur", op6, err)
	op7, err := operator.NewConv(benchShape, operator.MotionKernel(61, 0.5, rng), 61)
	add("MotionBlur", op7, err)
	return ops
}

var benchNames = []string{"Dense800x4", "BoxMask", "RandomMask", "Bicubic4", "Pool4", "GaussianBlur", "MotionBlur"}

func BenchmarkSolveShifted(b *testing.B) {
	ops := benchOps(b)
	for _, name := range benchNames {
		op := ops[name]
		b.Run(name, func(b *testing.B) {
			_, d := op.Dims()
			v := randn(d, rand.New(rand.NewPCG(3, 4)))
			x := make([]float64, d)
			for b.Loop() {
				op.SolveShifted(x, 1e-2, 400, v)
			}
		})
	}
}

func BenchmarkApply(b *testing.B) {
	ops := benchOps(b)
	for _, name := range benchNames {
		op := ops[name]
		b.Run(name, func(b *testing.B) {
			m, d := op.Dims()
			x := randn(d, rand.New(rand.NewPCG(3, 4)))
			y := make([]float64, m)
			for b.Loop() {
				op.Apply(y, x)
			}
		})
	}
}

func BenchmarkVt(b *testing.B) {
	ops := benchOps(b)
	for _, name := range benchNames {
		s, ok := ops[name].(operator.SVD)
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			_, d := s.Dims()
			x := randn(d, rand.New(rand.NewPCG(3, 4)))
			y := make([]float64, d)
			for b.Loop() {
				s.Vt(y, x)
			}
		})
	}
}

func BenchmarkConstruct(b *testing.B) {
	b.Run("Bicubic4", func(b *testing.B) {
		for b.Loop() {
			if _, err := operator.NewBicubicDown(benchShape, 4); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("GaussianBlur", func(b *testing.B) {
		for b.Loop() {
			if _, err := operator.NewGaussianBlur(benchShape, 61, 3); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MotionBlur", func(b *testing.B) {
		rng := rand.New(rand.NewPCG(1, 1))
		for b.Loop() {
			if _, err := operator.NewConv(benchShape, operator.MotionKernel(61, 0.5, rng), 61); err != nil {
				b.Fatal(err)
			}
		}
	})
}
