package ddrm

import (
	"context"
	"math"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/baselines/internal/solvertest"
	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// solve runs DDRM with the exact model of prior behind a counter. The model's
// own σ_y only matters for DenoiseEPS, which DDRM never calls.
func solve(t *testing.T, prior *gmm.Mixture, op operator.Operator, y []float64, sigmaY float64, nfe, n int, given map[string]float64) ([][]float64, *model.Counted) {
	t.Helper()
	return solvertest.Solve(t, Solver{}, prior, op, y, sigmaY, nfe, n, given)
}

func moments(x [][]float64) (mean, variance []float64) { return solvertest.Moments(x) }

// standard returns the prior N(0, I) in ℝᵈ.
func standard(t *testing.T, d int) *gmm.Mixture {
	t.Helper()
	prior := solvertest.StandardNormal(t, d)
	return prior
}

// householder returns the reflection I − 2vvᵀ/(vᵀv).
func householder(v []float64) [][]float64 {
	vv := 0.0
	for _, x := range v {
		vv += x * x
	}
	h := make([][]float64, len(v))
	for i := range h {
		h[i] = make([]float64, len(v))
		for j := range h[i] {
			if i == j {
				h[i][j] = 1
			}
			h[i][j] -= 2 * v[i] * v[j] / vv
		}
	}
	return h
}

// dense3x4 is A = U diag(2, 1, 0.7) V_rᵀ with U, V Householder reflections,
// so that A is dense (every entry nonzero) and its singular vectors are
// not coordinate axes.
func dense3x4(t *testing.T) *operator.Dense {
	t.Helper()
	const m, d = 3, 4
	s := []float64{2, 1, 0.7}
	u, v := householder([]float64{1, 2, -1}), householder([]float64{1, -1, 2, 1})
	a := make([]float64, m*d)
	for i := 0; i < m; i++ {
		for j := 0; j < d; j++ {
			for k := 0; k < m; k++ {
				a[i*d+j] += u[i][k] * s[k] * v[j][k]
			}
		}
	}
	op, err := operator.NewDense(m, d, a)
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// DDRM against the exact posterior of the Gaussian prior N(0, I) in ℝ⁴ with
// the dense 3×4 operator above (singular values 2, 1, 0.7) and σ_y = 0.1.
// The posterior is diagonal in the basis V of the SVD, with mean
// sⱼ(Uᵀy)ⱼ/(sⱼ² + σ_y²) and variance (1 + sⱼ²/σ_y²)⁻¹ (1 for the null
// direction), so the samples are compared there, coordinate by coordinate.
//
// DDRM is not an exact posterior sampler even here: it plugs the
// unconditional denoiser into transitions built for the true x₀. Measured
// with n = 40000 samples, 50 steps, η = 0.85 (the default): offsets of the
// sample mean from the exact mean −0.0003, 0.0000, −0.0018, 0.0049 (−1.4,
// −0.1, −2.7, 1.0 standard errors at that n, so about −0.3, 0.0, −0.6, 0.2
// at n = 2000); variance over the exact variance 0.29, 0.25, 0.23 (the
// observed directions, τⱼ = σ_y/sⱼ = 0.05, 0.1, 0.14: the "less noisy than
// ȳ" steps pull the state toward ȳ by a fixed fraction σᵢ₊₁/τⱼ per step, so
// the spread falls as steps are added: 0.17, 0.14, 0.14 at 100 steps, 0.05,
// 0.03, 0.02 at 1000) and 0.68 (null direction, DDRM's fixed share η of fresh
// noise under-disperses with the exact denoiser, as in DDNM). At 20 steps
// the mean is off by +0.0032 and +0.0041 in the first and third directions
// (12.6 and 5.7 standard errors at n = 40000): a discretisation bias of the
// coarse grid, below the posterior's own shrinkage τⱼ²ȳⱼ/(1 + τⱼ²) = 0.0024
// and 0.0094 there.
//
// Asserted at n = 2000, 50 steps: every mean within 4 standard errors of the
// exact posterior mean (standard error from the exact variance, an upper
// bound on the sampler's own), every variance ratio within ±0.08 of the
// measured one (about 6 standard errors of a ratio near 0.25 and 3 near
// 0.68 at this n), NFE = 50·n and no VJP.
func TestDDRMGaussianPosterior(t *testing.T) {
	const d, n, nfe, sigmaY = 4, 2000, 50, 0.1
	prior := standard(t, d)
	op := dense3x4(t)
	y := []float64{1.2, -1.5, 0.4}
	x, c := solve(t, prior, op, y, sigmaY, nfe, n, nil)

	post, err := prior.Posterior(op, y, sigmaY)
	if err != nil {
		t.Fatal(err)
	}
	mean := make([]float64, d)
	post.Mean(mean)
	want := make([]float64, d)
	op.Vt(want, mean)
	xb := make([][]float64, n)
	for i := range x {
		xb[i] = make([]float64, d)
		op.Vt(xb[i], x[i])
	}
	got, variance := moments(xb)
	s := append(append([]float64(nil), op.Singular()...), 0)
	measured := []float64{0.29, 0.25, 0.23, 0.68}
	z, ratio := make([]float64, d), make([]float64, d)
	for j := range got {
		v := 1 / (1 + s[j]*s[j]/(sigmaY*sigmaY))
		z[j] = (got[j] - want[j]) / math.Sqrt(v/n)
		ratio[j] = variance[j] / v
		if math.Abs(z[j]) > 4 {
			t.Errorf("direction %d (s = %.2f): mean %.4f, exact posterior mean %.4f: %.1f standard errors", j, s[j], got[j], want[j], z[j])
		}
		if math.Abs(ratio[j]-measured[j]) > 0.08 {
			t.Errorf("direction %d (s = %.2f): variance %.4f is %.3f× the exact %.4f, measured %.2f×", j, s[j], variance[j], ratio[j], v, measured[j])
		}
	}
	t.Logf("in the basis V: mean %.4f (exact %.4f), offsets %.2f standard errors; variance / exact %.3f", got, want, z, ratio)
	if c.NFE() != nfe*n || c.VJPs() != 0 {
		t.Errorf("counted %d NFE and %d VJP, want %d and 0", c.NFE(), c.VJPs(), nfe*n)
	}
}

// Noiseless inpainting (σ_y = 0) of N(0, I) on a 1×2×3 image with entries
// 0, 2 and 5 observed. Every observed coordinate is "noisier than ȳ" at
// every level, σ = 0 included, so with η_b = 1 it is ȳ = y exactly. The
// others are independent of y under this prior, so the exact posterior there
// is N(0, 1): the mean must be within 4 standard errors (4/√n = 0.089) of 0;
// the variance under-disperses as in the null direction above (0.684 there
// at n = 40000; measured here 0.726, 0.704, 0.715 at 50 steps, n = 2000),
// asserted within 0.68 ± 0.1. With the dense operator above and σ_y = 0 the
// samples meet A x = y to rounding (measured largest |A x − y| 1.6e-15;
// bound 1e-10). With a 5×3 operator of full column rank every direction is
// observed and every sample is A⁺y (measured largest difference 0;
// bound 1e-12).
func TestDDRMNoiseless(t *testing.T) {
	const d, n, nfe = 6, 2000, 50
	keep := []bool{true, false, true, false, false, true}
	op, err := operator.NewMask(operator.Shape{C: 1, H: 2, W: 3}, keep)
	if err != nil {
		t.Fatal(err)
	}
	y := []float64{0.8, -1.1, 0.3}
	x, c := solve(t, standard(t, d), op, y, 0, nfe, n, nil)
	obs := []int{0, 2, 5}
	for i, row := range x {
		for k, j := range obs {
			if row[j] != y[k] {
				t.Fatalf("sample %d: observed entry %d = %v, want y = %v", i, j, row[j], y[k])
			}
		}
	}
	mean, variance := moments(x)
	t.Logf("missing entries 1, 3, 4: mean %.3f %.3f %.3f, variance %.3f %.3f %.3f", mean[1], mean[3], mean[4], variance[1], variance[3], variance[4])
	for _, j := range []int{1, 3, 4} {
		if math.Abs(mean[j]) > 4/math.Sqrt(n) || math.Abs(variance[j]-0.68) > 0.1 {
			t.Errorf("missing entry %d: mean %.3f, variance %.3f; want 0 and 0.68 ± 0.1", j, mean[j], variance[j])
		}
	}
	if c.NFE() != nfe*n || c.VJPs() != 0 {
		t.Errorf("counted %d NFE and %d VJP, want %d and 0", c.NFE(), c.VJPs(), nfe*n)
	}

	dense := dense3x4(t)
	yd := []float64{1.2, -1.5, 0.4}
	x, _ = solve(t, standard(t, 4), dense, yd, 0, 20, 200, nil)
	worst := 0.0
	ax := make([]float64, 3)
	for _, row := range x {
		dense.Apply(ax, row)
		for k := range ax {
			worst = math.Max(worst, math.Abs(ax[k]-yd[k]))
		}
	}
	t.Logf("dense operator, σ_y = 0: largest |A x − y| = %.2g", worst)
	if worst > 1e-10 {
		t.Errorf("dense operator, σ_y = 0: |A x − y| up to %.3g", worst)
	}

	tall, err := operator.NewDense(5, 3, []float64{
		1, 0.5, 0,
		0, 2, -1,
		0.3, 0, 1,
		1, 1, 1,
		-0.5, 0.2, 0.7,
	})
	if err != nil {
		t.Fatal(err)
	}
	yt := []float64{0.4, -1, 2, 0.1, 0.9}
	pinv := make([]float64, 3)
	tall.Pinv(pinv, yt)
	x, _ = solve(t, standard(t, 3), tall, yt, 0, 20, 200, nil)
	worst = 0
	for _, row := range x {
		for j := range row {
			worst = math.Max(worst, math.Abs(row[j]-pinv[j]))
		}
	}
	t.Logf("5×3 operator, σ_y = 0: largest |x − A⁺y| = %.2g", worst)
	if worst > 1e-12 {
		t.Errorf("5×3 operator, σ_y = 0: samples off A⁺y by up to %.3g", worst)
	}
}

// A sample depends on its seed only, not on the batch it is drawn in: the
// first three samples of a batch of 5 equal a batch of 3, bit for bit.
func TestDDRMBatchIndependent(t *testing.T) {
	op := dense3x4(t)
	y := []float64{1.2, -1.5, 0.4}
	a, _ := solve(t, standard(t, 4), op, y, 0.1, 10, 5, nil)
	b, _ := solve(t, standard(t, 4), op, y, 0.1, 10, 3, nil)
	for i := range b {
		for j := range b[i] {
			if a[i][j] != b[i][j] {
				t.Fatalf("sample %d differs between batches of 5 and 3: %v and %v", i, a[i], b[i])
			}
		}
	}
}

// Eq. 7, the start. One step from σ_max to 0 returns D(x_N; σ_max), which
// for the prior N(0, I) is x_N/(1 + σ_max²), so the law of x_N shows: in the
// basis V, N(ȳⱼ, σ_max² − τⱼ²) in the observed directions (τⱼ = σ_y/sⱼ) and
// N(0, σ_max²) in the null direction. Here σ_max = 2 (given directly, not
// from the prior) and σ_y = 1, so that τⱼ = 0.5, 1, 1.43 visibly lower the
// variances 3.75, 3, 1.96 against 4. Asserted with n = 4000: means within 4
// standard errors, variances within 4 relative standard errors (4√(2/n) =
// 9%) of those. Measured: offsets −1.33, 0.80, −0.98, −0.86 standard
// errors; variance ratios 0.997, 1.064, 0.970, 1.011.
func TestDDRMStart(t *testing.T) {
	const d, n, sigmaY, sigmaMax = 4, 4000, 1.0, 2.0
	prior := standard(t, d)
	op := dense3x4(t)
	y := []float64{1.2, -1.5, 0.4}
	exact, err := prior.Model(op, sigmaY)
	if err != nil {
		t.Fatal(err)
	}
	c := &model.Counted{Name: "exact", Model: exact, Dim: d}
	params, err := sdk.ResolveParams(Solver{}.Info(), nil)
	if err != nil {
		t.Fatal(err)
	}
	x := sdk.NewRows(n, d)
	p := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: sigmaY, SigmaMax: sigmaMax}
	if err := (Solver{}).Solve(context.Background(), x, p, c, seed.Seeds(1, "t", "0", 0, n), 1, params); err != nil {
		t.Fatal(err)
	}
	xb := make([][]float64, n)
	for i := range x {
		xb[i] = make([]float64, d)
		op.Vt(xb[i], x[i])
		for j := range xb[i] {
			xb[i][j] *= 1 + sigmaMax*sigmaMax
		}
	}
	mean, variance := moments(xb)
	s := op.Singular()
	uty := make([]float64, len(y))
	op.Ut(uty, y)
	z, ratio := make([]float64, d), make([]float64, d)
	for j := range mean {
		wantMean, wantVar := 0.0, sigmaMax*sigmaMax
		if j < len(s) {
			tau := sigmaY / s[j]
			wantMean, wantVar = uty[j]/s[j], sigmaMax*sigmaMax-tau*tau
		}
		z[j] = (mean[j] - wantMean) / math.Sqrt(wantVar/n)
		ratio[j] = variance[j] / wantVar
		if math.Abs(z[j]) > 4 || math.Abs(ratio[j]-1) > 4*math.Sqrt(2.0/n) {
			t.Errorf("direction %d: x_N has mean %.3f and variance %.3f, want %.3f and %.3f", j, mean[j], variance[j], wantMean, wantVar)
		}
	}
	t.Logf("x_N in the basis V: offsets %.2f standard errors, variance / Eq. 7's %.3f", z, ratio)
	if c.NFE() != n {
		t.Errorf("counted %d NFE, want %d", c.NFE(), n)
	}
}

// noSVD hides the SVD of an operator.
type noSVD struct{ operator.Operator }

// An operator without an SVD is refused before any model call, with an
// error that names the SVD.
func TestDDRMNeedsSVD(t *testing.T) {
	const d, n = 4, 3
	prior := standard(t, d)
	op := noSVD{dense3x4(t)}
	exact, err := prior.Model(op, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	c := &model.Counted{Name: "exact", Model: exact, Dim: d}
	params, err := sdk.ResolveParams(Solver{}.Info(), nil)
	if err != nil {
		t.Fatal(err)
	}
	p := sdk.Problem{Op: sdk.Local(op), Y: []float64{1, 2, 3}, SigmaY: 0.1, SigmaMax: prior.SigmaMax()}
	if _, ok := p.Op.(sdk.SVD); ok {
		t.Fatal("the wrapped operator still offers an SVD")
	}
	err = Solver{}.Solve(context.Background(), sdk.NewRows(n, d), p, c, seed.Seeds(1, "t", "0", 0, n), 10, params)
	if err == nil || !strings.Contains(err.Error(), "SVD") {
		t.Fatalf("Solve with an operator without SVD: error %v, want one naming the SVD", err)
	}
	t.Logf("error: %v", err)
	if c.NFE() != 0 {
		t.Errorf("%d NFE spent before the error", c.NFE())
	}
	if info := (Solver{}).Info(); len(info.Capabilities) != 1 || info.Capabilities[0] != sdk.NeedsSVD {
		t.Errorf("capabilities %v, want [%s]", info.Capabilities, sdk.NeedsSVD)
	}
}

// Regression on the MCGdiff family (d = 8, m = 2, 500 samples, 100 NFE).
// This problem's posterior sits (weight 1.000) on one mode whose prior
// weight is 0.021. DDRM pins the two observed spectral directions to ȳ only
// while σ ≥ σ_y/sⱼ and leaves the choice of mode to the unconditional
// denoiser, whose responsibilities at the noise levels where the mode is
// decided are close to the prior's; so most samples land in modes of large
// prior weight (0.53 of them in a mode of prior weight 0.17 and posterior
// weight 0.000) and the ratio to the exact floor is far above 1.
// Measured (problem seed (3, 7), σ_y = 0.098, referee seed (1, 2)): ratio
// 73.4, weight TV 0.790 (floor 0.000). For reference: η = 0 gives 82.7
// (TV 0.93), η = 1 75.3; at 20 steps 80.1, at 1000 steps 54.5 (TV 0.53).
// Bound: 1.5× the default's ratio.
func TestRefereeMCGdiff(t *testing.T) {
	sc, c, sigmaY := solvertest.Referee(t, Solver{}, 100, 500, nil)
	t.Logf("d=8 m=2 σ_y=%.3f NFE=100: SW %.3f, floor %.3f, ratio %.2f, weight TV %.3f (floor %.3f)", sigmaY, sc.SW, sc.SWFloor, sc.Ratio, sc.WeightError, sc.WeightFloor)
	if sc.Ratio > 110 {
		t.Errorf("referee ratio %.2f above 110", sc.Ratio)
	}
	if c.NFE() != 100*500 || c.VJPs() != 0 {
		t.Errorf("counted %d NFE and %d VJP, want %d and 0", c.NFE(), c.VJPs(), 100*500)
	}
}
