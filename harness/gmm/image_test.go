package gmm

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/ipbench/ipbench/harness/operator"
)

// denseOf writes a structured operator out as its matrix (row i = Aᵀeᵢ).
func denseOf(t *testing.T, op operator.Operator) *operator.Dense {
	t.Helper()
	m, d := op.Dims()
	a := make([]float64, 0, m*d)
	e, row := make([]float64, m), make([]float64, d)
	for i := 0; i < m; i++ {
		e[i] = 1
		op.Adjoint(row, e)
		e[i] = 0
		a = append(a, row...)
	}
	dn, err := operator.NewDense(m, d, a)
	if err != nil {
		t.Fatal(err)
	}
	return dn
}

// Image-shaped mixtures work with every structured operator through its
// shifted solves alone, and give the same posterior, EPS denoiser and
// sample distribution as the operator's dense matrix.
func TestImagePriorStructuredOperators(t *testing.T) {
	shape := operator.Shape{C: 3, H: 8, W: 8}
	rng := rand.New(rand.NewPCG(7, 7))
	must := func(op operator.Operator, err error) operator.Operator {
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
	ops := map[string]operator.Operator{
		"sr4":            must(operator.NewBicubicDown(shape, 4)),
		"sr4-pool":       must(operator.NewPool(shape, 4)),
		"inpaint-box":    must(operator.BoxMask(shape, 4, 4, 2, 1)),
		"inpaint-random": must(operator.RandomMask(shape, 0.7, rng)),
		"deblur-gauss":   must(operator.NewGaussianBlur(shape, 5, 1.0)),
		"deblur-motion":  must(operator.NewConv(shape, operator.MotionKernel(5, 0.5, rng), 5)),
	}
	// Two variances, so that the log-determinants matter too.
	means := SyntheticImages(shape, 4, rng)
	prior, err := NewIsotropic([]float64{0.1, 0.2, 0.3, 0.4}, means, []float64{0.01, 0.01, 0.03, 0.03})
	if err != nil {
		t.Fatal(err)
	}
	d := shape.Len()
	for name, op := range ops {
		dense := denseOf(t, op)
		m, _ := op.Dims()
		x0 := make([]float64, d)
		prior.Sample(x0, rng)
		y := make([]float64, m)
		op.Apply(y, x0)
		for i := range y {
			y[i] += 0.05 * rng.NormFloat64()
		}
		ps, err := prior.Posterior(op, y, 0.05)
		if err != nil {
			t.Fatal(err)
		}
		pd, err := prior.Posterior(dense, y, 0.05)
		if err != nil {
			t.Fatal(err)
		}
		for k := range ps.Weights() {
			if math.Abs(ps.Weights()[k]-pd.Weights()[k]) > 1e-8 {
				t.Errorf("%s: ŵ_%d = %v structured, %v dense", name, k, ps.Weights()[k], pd.Weights()[k])
			}
		}
		a, b := make([]float64, d), make([]float64, d)
		ps.Mean(a)
		pd.Mean(b)
		if e := maxDiff(a, b); e > 1e-8 {
			t.Errorf("%s: posterior means differ by %.3g", name, e)
		}
		ms, _ := prior.Model(op, 0.05)
		md, _ := prior.Model(dense, 0.05)
		for _, sigma := range []float64{0.01, 0.5, 80} {
			piv := [][]float64{make([]float64, d)}
			for i := range piv[0] {
				piv[0][i] = x0[i] + sigma*rng.NormFloat64()
			}
			os, od := [][]float64{make([]float64, d)}, [][]float64{make([]float64, d)}
			if err := ms.DenoiseEPS(context.Background(), os, piv, sigma); err != nil {
				t.Fatal(err)
			}
			if err := md.DenoiseEPS(context.Background(), od, piv, sigma); err != nil {
				t.Fatal(err)
			}
			if e := maxDiff(os[0], od[0]); e > 1e-7 {
				t.Errorf("%s at σ = %v: EPS denoisers differ by %.3g", name, sigma, e)
			}
		}
	}
}

func maxDiff(a, b []float64) float64 {
	e := 0.0
	for i := range a {
		e = math.Max(e, math.Abs(a[i]-b[i]))
	}
	return e
}
