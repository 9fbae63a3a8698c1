package daps

import (
	"context"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/ipbench/ipbench/baselines/internal/solvertest"
	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// gaussian returns the prior N(0, c I) in dimension d.
func gaussian(t *testing.T, d int, c float64) *gmm.Mixture {
	t.Helper()
	prior, err := gmm.NewIsotropic([]float64{1}, [][]float64{make([]float64, d)}, []float64{c})
	if err != nil {
		t.Fatal(err)
	}
	return prior
}

// diagonal is the 3×4 operator of the Gaussian tests, singular values 1, 2,
// 0.7 on the first three coordinates and a null fourth coordinate.
func diagonal(t *testing.T) operator.Operator {
	t.Helper()
	op, err := operator.NewDense(3, 4, []float64{
		1, 0, 0, 0,
		0, 2, 0, 0,
		0, 0, 0.7, 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// For the Gaussian prior N(0, I) DAPS's Langevin target N(x̂₀, σ²I)·N(y; Ax₀,
// σ_y²I) is not p(x₀ | x_t, y) (r_t = σ_t is broader than the true
// σ²/(1 + σ²)), its chains do not fully converge at the late levels where the
// step has decayed, and its ODE has K = 5 Euler steps, so DAPS is approximate
// even here; what it must get right is the posterior mean to within a few
// standard errors and the variances to within a band. d = 4, the 3×4
// operator above, σ_y = 0.1, n = 2000, NFE = 100 = 20 levels × K = 5. lr is
// set to 2e-3 for this problem (η·λ_max of the first level's target 0.8):
// the authors' image step 1e-4 moves the chain by ηλ ≤ 0.04 per step here and
// leaves the measurement almost unused (measured: means 166 and 91 standard
// errors off on coordinates 1 and 3, variance ratios up to 15).
// Measured with this set-up at n = 20000: mean offsets +0.0033, −0.0008,
// +0.0020, +0.0017 (a bias of at most 0.3% of the mean, 1.5 standard errors
// at n = 2000), variance ratios to the exact posterior's 1.035, 1.042, 1.116,
// 0.949. At n = 2000 the test's seeds give offsets 1.19, −0.31, 0.79, −1.11
// standard errors and ratios 0.991, 1.071, 1.123, 0.945. Bounds: 4 standard
// errors for the means; [0.8, 1.3] for the variance ratios, the measured
// ratios ± at least 4 sampling standard deviations (√(2/n) = 3.2%). With
// K = 1 (Tweedie) it fails (ratios 1.45, 1.08, 1.62, 0.74 at n = 2000).
// Every sample costs exactly NFE denoiser calls and no VJP.
func TestDAPSGaussianPosterior(t *testing.T) {
	const d, n, nfe, sigmaY = 4, 2000, 100, 0.1
	prior, op := gaussian(t, d, 1), diagonal(t)
	y := []float64{1.2, -1.5, 0.4}
	x, c := solvertest.Solve(t, Solver{}, prior, op, y, sigmaY, nfe, n, map[string]float64{"lr": 2e-3})
	post, err := prior.Posterior(op, y, sigmaY)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float64, d)
	post.Mean(want)
	sv := []float64{1, 2, 0.7, 0}
	mean, variance := solvertest.Moments(x)
	offsets, ratios := make([]float64, d), make([]float64, d)
	for j := range mean {
		v := 1 / (1 + sv[j]*sv[j]/(sigmaY*sigmaY))
		se := math.Sqrt(v / n)
		offsets[j], ratios[j] = (mean[j]-want[j])/se, variance[j]/v
		if math.Abs(offsets[j]) > 4 {
			t.Errorf("coordinate %d: mean %.4f, exact posterior mean %.4f (%.1f standard errors)", j, mean[j], want[j], offsets[j])
		}
		if ratios[j] < 0.8 || ratios[j] > 1.3 {
			t.Errorf("coordinate %d: variance %.5f, exact %.5f (ratio %.3f)", j, variance[j], v, ratios[j])
		}
	}
	t.Logf("mean offsets %.2f standard errors; variance ratios %.3f", offsets, ratios)
	if c.NFE() != nfe*n || c.VJPs() != 0 {
		t.Errorf("counted %d NFE and %d VJP, want %d and 0", c.NFE(), c.VJPs(), nfe*n)
	}
}

// The Langevin loop alone on a Gaussian target N(a, r² I)·N(y; A x, τ² I)
// with a dense, non-diagonal 3×4 A (singular values ≈ 1.59, 1.24, 0.81),
// r² = 0.5, τ² = 0.02, η = 0.01. The unadjusted chain
// x ← x + η∇log π(x) + √(2η)ε on a Gaussian π with precision
// P = I/r² + AᵀA/τ² is linear, and its stationary law is exactly
// N(P⁻¹(a/r² + Aᵀy/τ²), (P − ηP²/2)⁻¹): the target's mean, and a covariance
// that η inflates. Here λ(P) = 2, 34.9, 78.5, 128 and η λ_max = 1.28, so the
// inflation is large (2.8× in the stiffest direction) and the test checks
// the step's form, not only its limit. 4000 chains start at a and run 600
// steps (η λ_min = 0.02 per step: e⁻¹² of the start is left). Measured: mean
// offsets −2.72, 0.46, −0.70, 0.22 standard errors with this test's seeds
// (1.01, −1.51, 1.22, −1.17 with n = 40000, so no bias), variance ratios to
// the exact stationary ones 0.976–1.008. Bounds: 4 standard errors; ratios
// within 4 sampling standard deviations (4√(2/n) = 8.9%). The authors' data
// term 2Aᵀ(y − Ax)/τ² (it diverges here) or noise √η instead of √(2η)
// (variance ratios ≈ 0.5) fails it.
func TestLangevinGaussianTarget(t *testing.T) {
	const m, d, n, steps = 3, 4, 4000, 600
	const r2, tau2, eta = 0.5, 0.02, 0.01
	a := []float64{
		1.0, 0.5, 0.0, -0.3,
		0.2, 1.0, 0.8, 0.0,
		0.0, -0.4, 0.3, 1.2,
	}
	op, err := operator.NewDense(m, d, a)
	if err != nil {
		t.Fatal(err)
	}
	y := []float64{0.7, -0.2, 1.1}
	anchor0 := []float64{0.3, -0.6, 0.1, 0.9}

	// Exact stationary law of the chain.
	am := mat.NewDense(m, d, a)
	var p mat.Dense
	p.Mul(am.T(), am)
	p.Scale(1/tau2, &p)
	for j := 0; j < d; j++ {
		p.Set(j, j, p.At(j, j)+1/r2)
	}
	var pinv mat.Dense
	if err := pinv.Inverse(&p); err != nil {
		t.Fatal(err)
	}
	b := mat.NewVecDense(d, nil)
	b.MulVec(am.T(), mat.NewVecDense(m, y))
	b.ScaleVec(1/tau2, b)
	b.AddScaledVec(b, 1/r2, mat.NewVecDense(d, anchor0))
	var want mat.VecDense
	want.MulVec(&pinv, b)
	var p2, cinv, cov mat.Dense
	p2.Mul(&p, &p)
	cinv.Scale(-eta/2, &p2)
	cinv.Add(&p, &cinv)
	if err := cov.Inverse(&cinv); err != nil {
		t.Fatal(err)
	}
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(d, p.RawMatrix().Data), false) {
		t.Fatal("no eigenvalues")
	}
	lam := eig.Values(nil)
	t.Logf("λ(P) = %.3g: η λ_max = %.2f, η λ_min = %.3f", lam, eta*lam[d-1], eta*lam[0])

	x, anchor := sdk.NewRows(n, d), sdk.NewRows(n, d)
	for k := range x {
		copy(x[k], anchor0)
		copy(anchor[k], anchor0)
	}
	rng := sdk.Rands(seed.Seeds(5, "langevin", "0", 0, n))
	if err := Langevin(context.Background(), sdk.Local(op), y, x, anchor, sdk.NewRows(n, d), sdk.NewRows(n, m), r2, tau2, eta, steps, rng); err != nil {
		t.Fatal(err)
	}
	mean, variance := solvertest.Moments(x)
	offsets, ratios := make([]float64, d), make([]float64, d)
	for j := 0; j < d; j++ {
		v := cov.At(j, j)
		offsets[j] = (mean[j] - want.AtVec(j)) / math.Sqrt(v/n)
		ratios[j] = variance[j] / v
		if math.Abs(offsets[j]) > 4 {
			t.Errorf("coordinate %d: mean %.4f, stationary mean %.4f (%.1f standard errors)", j, mean[j], want.AtVec(j), offsets[j])
		}
		if tol := 4 * math.Sqrt(2.0/(n-1)); math.Abs(ratios[j]-1) > tol {
			t.Errorf("coordinate %d: variance %.5f, stationary %.5f (ratio %.3f, tolerance %.3f); target's own %.5f", j, variance[j], v, ratios[j], tol, pinv.At(j, j))
		}
	}
	t.Logf("mean offsets %.2f standard errors; variance ratios %.3f", offsets, ratios)
}

// The ODE part: for the prior N(0, c I) the denoiser is D(x; σ) = c x/(c + σ²)
// and the probability-flow ODE carries x_σ to x₀ = x_σ √(c/(c + σ²)). One
// Euler step (K = 1) is Tweedie, c x/(c + σ²), exactly; K Euler steps on the
// EDM grid converge to the ODE's solution (measured at σ = 10, c = 1, down to
// σ_ode = 0.01: largest relative error 31% at K = 5, 7.7% at K = 20, 0.77%
// at K = 200; 9e-16 at K = 1). Bounds: K = 1 within 1e-12, K = 200 within
// 1.5%. K denoiser calls per row each time.
func TestFlowClosedForm(t *testing.T) {
	const d, n, sigma, c = 3, 4, 10.0, 1.0
	prior := gaussian(t, d, c)
	exact, err := prior.Model(diagonal3(t), 0.1)
	if err != nil {
		t.Fatal(err)
	}
	counted := &model.Counted{Name: "exact", Model: exact, Dim: d}
	start := [][]float64{{1, -2, 0.5}, {3, 0, -1}, {0.1, 0.2, 0.3}, {-4, 4, 2}}
	for _, tc := range []struct {
		k      int
		factor float64
		tol    float64
	}{
		{1, c / (c + sigma*sigma), 1e-12},
		{200, math.Sqrt(c / (c + sigma*sigma)), 0.015},
	} {
		x, den := sdk.NewRows(n, d), sdk.NewRows(n, d)
		for k := range x {
			copy(x[k], start[k])
		}
		before := counted.NFE()
		if err := flow(context.Background(), counted, x, den, odeSigmas(tc.k, DefaultODESigmaMin, sigma, 7)); err != nil {
			t.Fatal(err)
		}
		worst := 0.0
		for k := range x {
			for j := range x[k] {
				w := tc.factor * start[k][j]
				worst = math.Max(worst, math.Abs(x[k][j]-w)/math.Max(math.Abs(w), 1e-3))
			}
		}
		t.Logf("K = %d: largest relative error %.2g", tc.k, worst)
		if worst > tc.tol {
			t.Errorf("K = %d: relative error %.3g above %.3g", tc.k, worst, tc.tol)
		}
		if got := counted.NFE() - before; got != int64(tc.k*n) {
			t.Errorf("K = %d: %d denoiser calls, want %d", tc.k, got, tc.k*n)
		}
	}
}

// diagonal3 is a 1×3 operator (the model needs one to be built).
func diagonal3(t *testing.T) operator.Operator {
	t.Helper()
	op, err := operator.NewDense(1, 3, []float64{1, 0, 0})
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// The step-size schedule: η at level 0, η(1 − (1 − δ)(n−1)/(n+1)) at the last.
func TestStepSize(t *testing.T) {
	if got := StepSize(1e-4, 0.01, 0, 200); got != 1e-4 {
		t.Errorf("level 0: %v, want 1e-4", got)
	}
	if got, want := StepSize(1e-4, 0.01, 199, 200), 1e-4*(1-0.99*199/201); math.Abs(got-want) > 1e-18 {
		t.Errorf("level 199 of 200: %v, want %v", got, want)
	}
	if got := StepSize(2, 1, 7, 10); got != 2 {
		t.Errorf("δ = 1: %v, want a constant 2", got)
	}
}

// Parameters that cannot run are refused before any model call, with an
// error that says why: an NFE that K does not divide or smaller than K,
// non-integer step counts, a zero step size with Langevin steps, δ outside
// [0, 1], σ_min ≥ σ_max, τ = 0 with σ_y = 0, and a step size that makes a
// level's chain unstable (lr = 0.1: η·λ_max = 0.1·(1/σ_max² + 4/σ_y²) ≈ 40
// at the first level).
func TestBadParameters(t *testing.T) {
	prior, op := gaussian(t, 4, 1), diagonal(t)
	y := []float64{1.2, -1.5, 0.4}
	exact, err := prior.Model(op, 0.1)
	if err != nil {
		t.Fatal(err)
	}
	defaults, err := sdk.ResolveParams(Solver{}.Info(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		nfe    int
		sigmaY float64
		set    map[string]float64
		want   string
	}{
		{"indivisible NFE", 101, 0.1, nil, "not a positive multiple of ode_steps K = 5"},
		{"NFE below K", 3, 0.1, nil, "not a positive multiple"},
		{"zero NFE", 0, 0.1, nil, "not a positive multiple"},
		{"fractional K", 100, 0.1, map[string]float64{"ode_steps": 2.5}, "ode_steps must be an integer"},
		{"zero K", 100, 0.1, map[string]float64{"ode_steps": 0}, "ode_steps must be an integer ≥ 1"},
		{"fractional N_L", 100, 0.1, map[string]float64{"langevin_steps": 10.5}, "langevin_steps must be an integer"},
		{"zero step", 100, 0.1, map[string]float64{"lr": 0}, "lr must be positive"},
		{"δ above 1", 100, 0.1, map[string]float64{"lr_min_ratio": 1.5}, "lr_min_ratio in [0, 1]"},
		{"σ_min ≥ σ_max", 100, 0.1, map[string]float64{"sigma_min": 200}, "0 < σ_min < σ_max"},
		{"negative τ", 100, 0.1, map[string]float64{"tau": -1}, "tau must be non-negative"},
		{"τ and σ_y zero", 100, 0, nil, "needs τ > 0"},
		{"unstable step", 100, 0.1, map[string]float64{"lr": 0.1}, "annealing level 0"},
	} {
		params := make(map[string]float64, len(defaults))
		for k, v := range defaults {
			params[k] = v
		}
		for k, v := range tc.set {
			params[k] = v
		}
		counted := &model.Counted{Name: "exact", Model: exact, Dim: 4}
		p := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: tc.sigmaY, SigmaMax: prior.SigmaMax()}
		dst := sdk.NewRows(2, 4)
		err := Solver{}.Solve(context.Background(), dst, p, counted, seed.Seeds(1, "t", "0", 0, 2), tc.nfe, params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
		if counted.NFE() != 0 {
			t.Errorf("%s: %d denoiser calls before the error", tc.name, counted.NFE())
		}
	}
	// langevin_steps = 0 needs no step size and no τ: x₀ = x̂₀ at every level.
	params := make(map[string]float64, len(defaults))
	for k, v := range defaults {
		params[k] = v
	}
	params["langevin_steps"], params["lr"] = 0, 0
	counted := &model.Counted{Name: "exact", Model: exact, Dim: 4}
	p := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: 0, SigmaMax: prior.SigmaMax()}
	if err := (Solver{}).Solve(context.Background(), sdk.NewRows(2, 4), p, counted, seed.Seeds(1, "t", "0", 0, 2), 10, params); err != nil {
		t.Errorf("langevin_steps = 0, lr = 0, σ_y = 0: %v", err)
	}
	if counted.NFE() != 20 {
		t.Errorf("langevin_steps = 0: %d NFE for 2 samples at NFE 10, want 20", counted.NFE())
	}
}

// Regression on the MCGdiff family (d = 8, m = 2, σ_y = 0.098,
// λ_max(AᵀA) = 0.42, σ_max = 278, 500 samples, 100 NFE = 20 levels × K = 5).
// The posterior puts all its weight on one component of prior weight 0.021.
// With the authors' image step size (defaults, lr = 1e-4) the Langevin chain
// hardly moves at this σ_y (η·λ_max(AᵀA)/σ_y² = 0.0045 per step at the first
// level), so the samples are close to prior samples: rms residual ‖Ax − y‖
// 28 σ_y, component weights close to the prior's. lr = 0.018 ≈ 1e-4·(σ_y/
// (0.01/√2))² is the authors' step rescaled from their likelihood's
// curvature to this one's (η·λ_max = 0.80 at the first level): the
// measurement is used (rms residual 4.9 σ_y) but the modes are still mostly
// wrong, since r_t = σ_t lets x₀ wander by σ_t in the null space of A at the
// levels where the mode is chosen, so that the prior's flow, not y, picks it.
// Measured (problem seed (3, 7), referee seed (1, 2)): defaults ratio 143.2,
// weight TV 0.982; lr = 0.018 ratio 92.4, weight TV 0.954 (at 1000 NFE:
// 80.3, 0.876; with the authors' τ, tau = 0.00707 and lr = 1e-4, at 100 NFE:
// 90.1, 0.942; DPS at 100 NFE is 102.8 in the README's table). Bounds: 1.5×
// these ratios.
func TestRefereeMCGdiff(t *testing.T) {
	for _, tc := range []struct {
		lr, bound float64
	}{{DefaultLR, 214.8}, {0.018, 138.6}} {
		sc, c, sigmaY := solvertest.Referee(t, Solver{}, 100, 500, map[string]float64{"lr": tc.lr})
		t.Logf("lr=%v: d=8 m=2 σ_y=%.3f NFE=100: SW %.3f, floor %.3f, ratio %.2f, weight TV %.3f (floor %.3f)", tc.lr, sigmaY, sc.SW, sc.SWFloor, sc.Ratio, sc.WeightError, sc.WeightFloor)
		if sc.Ratio > tc.bound {
			t.Errorf("lr=%v: referee ratio %.2f above %.1f", tc.lr, sc.Ratio, tc.bound)
		}
		if c.NFE() != 100*500 || c.VJPs() != 0 {
			t.Errorf("counted %d NFE and %d VJP, want %d and 0", c.NFE(), c.VJPs(), 100*500)
		}
	}
}
