// Package daps is DAPS, Decoupled Annealing Posterior Sampling (Zhang, Chu,
// Berner, Meng, Anandkumar and Song, CVPR 2025, "Improving Diffusion Inverse
// Problem Solving with Decoupled Noise Annealing", arXiv 2407.01521), for
// linear problems y = A x₀ + σ_y n on the EDM backbone.
//
// DAPS does not take small steps of a reverse process. At each noise level
// σ_t of an annealing schedule it draws a clean x₀ from an approximation of
// p(x₀ | x_t, y) and then noises it afresh to the next level, so that
// consecutive states are decoupled and an early error can be undone later.
// The paper's Algorithm 1 as the authors' code runs it (sampler.py,
// cores/mcmc.py), on EDM's interpolant x_σ = x₀ + σε, which the paper uses:
//
//	x_{t_0} ~ N(0, σ_max² I)
//	for i = 0 … N_A−1 (annealing levels σᵢ > σᵢ₊₁, σ_{N_A} = 0):
//	    x̂₀ = x̂₀(xᵢ): the probability-flow ODE dx/dσ = (x − D(x; σ))/σ
//	         integrated from σᵢ to 0 by K Euler steps       (K NFE)
//	    x⁽⁰⁾ = x̂₀
//	    for j = 0 … N_L−1 (Langevin dynamics on x₀):
//	        x⁽ʲ⁺¹⁾ = x⁽ʲ⁾ + ηᵢ ∇ log p(x⁽ʲ⁾ | xᵢ, y) + √(2ηᵢ) εⱼ,   εⱼ ~ N(0, I)
//	    xᵢ₊₁ = x⁽ᴺᴸ⁾ + σᵢ₊₁ z,   z ~ N(0, I)
//	return x_{N_A}
//
// with p(x₀ | x_t) approximated by N(x̂₀(x_t), r_t² I). The paper leaves r_t
// a hyperparameter; the authors' code takes r_t = σ_t (its prior_solver
// "gaussian": prior score (x̂₀ − x_t)/σ_t² plus (x_t − x₀)/σ_t²), and so does
// this package. Then
//
//	∇ log p(x₀ | x_t, y) = (x̂₀ − x₀)/r_t² + Aᵀ(y − A x₀)/τ²
//
// for the linear Gaussian likelihood N(y; A x₀, τ² I): one Apply and one
// Adjoint per Langevin step, no model call and no VJP. The Langevin target
// of level t is the Gaussian N(m, P⁻¹), P = I/r_t² + AᵀA/τ²,
// m = P⁻¹(x̂₀/r_t² + Aᵀy/τ²).
//
// Step size: ηᵢ decays linearly with the annealing step,
//
//	ηᵢ = η (1 − (1 − δ) i/(N_A + 1)),
//
// η the parameter lr and δ lr_min_ratio; the denominator N_A + 1 is that of
// the authors' code (cores/mcmc.py get_lr, called with step/num_steps where
// the scheduler's num_steps is N_A + 1), so the last level's step is
// η(δ + 2(1 − δ)/(N_A + 1)), not δη (0.0199η, not 0.01η, for DAPS-1K).
//
// Schedules. The annealing levels are EDM's, edm.Sigmas(N_A, σ_min, σ_max,
// ρ), from the problem's σ_max down to σ_min as the last level; the ODE of
// level σᵢ runs on the K Euler steps of edm.Sigmas(K, σ_ode, σᵢ, ρ), down to
// σ_ode = min(ode_sigma_min, σᵢ) and then to 0, so K = 1 is Tweedie's
// x̂₀ = D(xᵢ; σᵢ). (Where σᵢ ≤ ode_sigma_min the K − 1 first steps have zero
// length: they cost their NFE and change nothing.)
//
// Defaults and their source. The authors' repository
// (github.com/zhangbingliang2019/DAPS; configs/sampler/edm_daps.yaml,
// configs/task/*.yaml, cores/mcmc.py, cores/scheduler.py, sampler.py), the
// "DAPS-1K" setting of the paper's pixel-space experiments
// (commands/pixel_ffhq.sh):
//
//   - N_A = 200 annealing levels, EDM poly-7 grid from σ_max = 100 to
//     σ_min = 0.1; K = 5 ODE Euler steps down to σ = 0.01 (ode_steps = 5,
//     ode_sigma_min = 0.01 here), so DAPS-1K is 1000 NFE;
//   - N_L = 100 Langevin steps, lr η = 1e-4 (5e-5 for box inpainting and
//     motion blur), lr_min_ratio δ = 0.01, τ = 0.01, prior_solver "gaussian"
//     (r_t = σ_t).
//
// Here σ_max comes with the problem (80 for images), and σ_min and ρ are the
// parameters of edm.Params with σ_min's default set to DAPS's 0.1. Three
// differences from that code, on purpose: (1) its last annealing level is
// one grid step above σ_min (it drops σ_min from its grid); here σ_min is the
// last level. (2) Its ODE stops at σ = 0.01 and returns that state; here the
// ODE's last Euler step goes from σ_ode to 0, i.e. returns D(x; σ_ode), so
// that K = 1 is Tweedie. (3) Its data term is −∇‖A x₀ − y‖²/τ² =
// 2Aᵀ(y − A x₀)/τ², the score of N(y; A x₀, (τ²/2) I) (while its Metropolis
// variant uses ‖·‖²/(2τ²)); here τ is the standard deviation of the
// likelihood, and the default τ = 0 means the problem's σ_y, so the
// Langevin targets the model's own p(x₀ | x_t, y). The authors' image
// setting τ = 0.01 in their convention is tau = 0.01/√2 ≈ 0.00707 here.
//
// lr is in the units of x₀² and was tuned for images in [−1, 1] with the
// authors' τ: the Langevin moves a coordinate of curvature λ (of the target's
// precision P) by a fraction of about ηλ per step and is stable only for
// ηλ < 2. On data of another scale or with τ = σ_y, lr must be chosen anew.
// Solve checks ηᵢ λ_max(P) < 2 at every level before it calls the model
// (λ_max(AᵀA) from the operator's GramEigenvalues) and refuses an unstable
// setting with an error that names the level, rather than change the step.
//
// NFE: every denoiser call counts; each annealing level costs K calls, so a
// requested NFE gives N_A = NFE/K levels, and an NFE that K does not divide
// (or that is smaller than K) is an error. No VJP.
package daps

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Version is the DAPS solver's version, recorded with its results.
const Version = "0.1.0"

// Defaults of the authors' pixel-space DAPS-1K setting (see the package
// comment for the files they come from).
const (
	DefaultODESteps      = 5
	DefaultODESigmaMin   = 0.01
	DefaultLangevinSteps = 100
	DefaultLR            = 1e-4
	DefaultLRMinRatio    = 0.01
	DefaultSigmaMin      = 0.1
)

// Solver is DAPS. Each annealing level costs ode_steps NFE; no VJP.
type Solver struct{}

// Info describes DAPS.
func (Solver) Info() sdk.Info {
	sched := edm.Params()
	for i := range sched {
		if sched[i].Name == "sigma_min" {
			sched[i].Default = DefaultSigmaMin
			sched[i].Doc = "last annealing level σ_min (DAPS: 0.1)"
		}
	}
	return sdk.Info{
		Name:    "daps",
		Version: Version,
		NFEGrid: []int{50, 100, 200, 500, 1000},
		Params: append([]sdk.Param{
			{Name: "ode_steps", Default: DefaultODESteps, Min: 1, Max: 1000, Doc: "K: Euler steps (= NFE) of the probability-flow ODE giving x̂₀ at each annealing level; NFE must be a multiple of K"},
			{Name: "ode_sigma_min", Default: DefaultODESigmaMin, Min: 1e-6, Max: 1, Doc: "last nonzero level of each level's ODE grid before the step to 0"},
			{Name: "langevin_steps", Default: DefaultLangevinSteps, Min: 0, Max: 100000, Doc: "N_L: Langevin steps on x₀ per annealing level"},
			{Name: "lr", Default: DefaultLR, Min: 0, Max: 1e6, Doc: "η: Langevin step size at the first annealing level, in units of x₀²"},
			{Name: "lr_min_ratio", Default: DefaultLRMinRatio, Min: 0, Max: 1, Doc: "δ: the step size decays linearly as η(1 − (1 − δ) i/(N_A + 1))"},
			{Name: "tau", Default: 0, Min: 0, Max: 1e6, Doc: "τ: standard deviation of the Langevin likelihood N(y; A x₀, τ² I); 0 means the problem's σ_y (authors' images: 0.01/√2)"},
		}, sched...),
	}
}

// config is a checked parameter set.
type config struct {
	k, langevin             int
	odeMin, lr, lrMin       float64
	tau2                    float64
	sigmaMin, sigmaMax, rho float64
	levels                  int
	sigmas                  []float64
}

// count reads an integer-valued parameter.
func count(params map[string]float64, name string, lo int) (int, error) {
	v := params[name]
	if v != math.Trunc(v) || v < float64(lo) || v > 1e9 {
		return 0, fmt.Errorf("daps: %s must be an integer ≥ %d, got %v", name, lo, v)
	}
	return int(v), nil
}

// check validates the parameters against the problem and the requested NFE.
func check(p sdk.Problem, nfe int, params map[string]float64) (config, error) {
	var c config
	var err error
	if c.k, err = count(params, "ode_steps", 1); err != nil {
		return c, err
	}
	if c.langevin, err = count(params, "langevin_steps", 0); err != nil {
		return c, err
	}
	if nfe < c.k || nfe%c.k != 0 {
		return c, fmt.Errorf("daps: NFE %d is not a positive multiple of ode_steps K = %d: each annealing level costs K denoiser calls, so NFE must be N_A·K", nfe, c.k)
	}
	c.levels = nfe / c.k
	c.sigmaMin, c.rho, c.sigmaMax = params["sigma_min"], params["rho"], p.SigmaMax
	if !(c.sigmaMin > 0 && c.sigmaMax > c.sigmaMin && c.rho > 0) {
		return c, fmt.Errorf("daps: need 0 < σ_min < σ_max and ρ > 0, got σ_min=%v σ_max=%v ρ=%v", c.sigmaMin, c.sigmaMax, c.rho)
	}
	c.odeMin, c.lr, c.lrMin = params["ode_sigma_min"], params["lr"], params["lr_min_ratio"]
	if !(c.odeMin > 0) || !(c.lr >= 0) || !(c.lrMin >= 0 && c.lrMin <= 1) {
		return c, fmt.Errorf("daps: need ode_sigma_min > 0, lr ≥ 0 and lr_min_ratio in [0, 1], got %v, %v, %v", c.odeMin, c.lr, c.lrMin)
	}
	if c.langevin > 0 && !(c.lr > 0) {
		return c, fmt.Errorf("daps: lr must be positive when langevin_steps = %d", c.langevin)
	}
	if !(p.SigmaY >= 0) {
		return c, fmt.Errorf("daps: σ_y must be non-negative, got %v", p.SigmaY)
	}
	tau := params["tau"]
	if !(tau >= 0) || math.IsInf(tau, 0) {
		return c, fmt.Errorf("daps: tau must be non-negative and finite, got %v", tau)
	}
	if tau == 0 {
		tau = p.SigmaY
	}
	if c.langevin > 0 && !(tau > 0) {
		return c, fmt.Errorf("daps: the Langevin likelihood needs τ > 0: σ_y is 0, so set tau")
	}
	c.tau2 = tau * tau
	c.sigmas = edm.Sigmas(c.levels, c.sigmaMin, c.sigmaMax, c.rho)
	return c, nil
}

// stable checks, before any model call, that the Langevin chain of every
// annealing level is stable: its target is Gaussian with precision
// P = I/σᵢ² + AᵀA/τ², and the unadjusted chain contracts only if
// ηᵢ λ_max(P) < 2.
func stable(ctx context.Context, op sdk.Operator, c config) error {
	eig, err := op.GramEigenvalues(ctx)
	if err != nil {
		return err
	}
	top := 0.0
	for _, e := range eig {
		top = math.Max(top, e)
	}
	for i := 0; i < c.levels; i++ {
		s := c.sigmas[i]
		eta := StepSize(c.lr, c.lrMin, i, c.levels)
		if h := eta * (1/(s*s) + top/c.tau2); !(h < 2) {
			return fmt.Errorf("daps: the Langevin step size η = %.3g of annealing level %d (σ = %.4g) is unstable for this problem: η·λ_max(I/σ² + AᵀA/τ²) = %.3g, must be below 2; lower lr or raise sigma_min or tau", eta, i, s, h)
		}
	}
	return nil
}

// StepSize returns the Langevin step size of annealing level i of n,
// η(1 − (1 − δ) i/(n + 1)).
func StepSize(lr, lrMinRatio float64, i, n int) float64 {
	return lr * (1 - (1-lrMinRatio)*float64(i)/float64(n+1))
}

// Solve draws one posterior sample per row of dst.
func (Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	c, err := check(p, nfe, params)
	if err != nil {
		return err
	}
	mm, d := p.Op.Dims()
	if len(p.Y) != mm {
		return fmt.Errorf("daps: y has %d values, the operator %d rows", len(p.Y), mm)
	}
	n := len(dst)
	if len(seeds) != n {
		return fmt.Errorf("daps: %d seeds for %d samples", len(seeds), n)
	}
	if c.langevin > 0 {
		if err := stable(ctx, p.Op, c); err != nil {
			return err
		}
	}
	x0, anchor, work, res := sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, mm)
	rng := sdk.Rands(seeds)
	if err := edm.Start(dst, c.sigmaMax, rng); err != nil {
		return fmt.Errorf("daps: %w", err)
	}
	for i := 0; i < c.levels; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		si, sn := c.sigmas[i], c.sigmas[i+1]
		// x̂₀ from xᵢ by K Euler steps of the probability-flow ODE.
		for k := range dst {
			copy(x0[k], dst[k])
		}
		if err := flow(ctx, m, x0, work, odeSigmas(c.k, c.odeMin, si, c.rho)); err != nil {
			return err
		}
		// Langevin dynamics on x₀ targeting N(x̂₀, σᵢ² I)·N(y; A x₀, τ² I).
		for k := range x0 {
			copy(anchor[k], x0[k])
		}
		eta := StepSize(c.lr, c.lrMin, i, c.levels)
		if err := Langevin(ctx, p.Op, p.Y, x0, anchor, work, res, si*si, c.tau2, eta, c.langevin, rng); err != nil {
			return err
		}
		// xᵢ₊₁ = x₀ + σᵢ₊₁ z.
		sdk.ParallelRows(n, func(k int) {
			x, x0k, r := dst[k], x0[k], rng[k]
			for j := range x {
				x[j] = x0k[j]
				if sn > 0 {
					x[j] += sn * r.NormFloat64()
				}
			}
		})
	}
	return nil
}

// odeSigmas returns the K Euler steps of the ODE of annealing level σ:
// edm.Sigmas(K, min(odeMin, σ), σ, ρ), from σ down to min(odeMin, σ) and
// then to 0.
func odeSigmas(k int, odeMin, sigma, rho float64) []float64 {
	return edm.Sigmas(k, math.Min(odeMin, sigma), sigma, rho)
}

// flow integrates the probability-flow ODE dx/dσ = (x − D(x; σ))/σ along
// sigmas (decreasing, ending at 0) by Euler steps, in place on x; den is
// scratch. Each step costs one denoiser call per row; the step to σ = 0
// returns D(x; σ) itself.
func flow(ctx context.Context, m sdk.Model, x, den [][]float64, sigmas []float64) error {
	for s := 0; s+1 < len(sigmas); s++ {
		sc, sn := sigmas[s], sigmas[s+1]
		if err := m.Denoise(ctx, den, x, sc); err != nil {
			return err
		}
		ratio := sn / sc // x + (sn − sc)(x − D)/sc = D + (sn/sc)(x − D)
		sdk.ParallelRows(len(x), func(k int) {
			xk, dk := x[k], den[k]
			for j := range xk {
				if ratio == 0 {
					xk[j] = dk[j]
				} else {
					xk[j] = dk[j] + ratio*(xk[j]-dk[j])
				}
			}
		})
	}
	return nil
}

// Langevin runs steps of the unadjusted Langevin algorithm on the rows of x,
// in place, targeting
//
//	N(x₀; anchor, r2 I) · N(y; A x₀, tau2 I),
//
// with step size eta:
//
//	x ← x + η ((anchor − x)/r2 + Aᵀ(y − A x)/tau2) + √(2η) ε,   ε ~ N(0, I),
//
// row k's noise from rng[k]. g (rows of length d) and res (rows of length m)
// are scratch. For this Gaussian target of precision P = I/r2 + AᵀA/tau2 the
// chain's stationary law is N(P⁻¹(anchor/r2 + Aᵀy/tau2), (P − ηP²/2)⁻¹)
// when η λ_max(P) < 2.
func Langevin(ctx context.Context, op sdk.Operator, y []float64, x, anchor, g, res [][]float64, r2, tau2, eta float64, steps int, rng []*rand.Rand) error {
	n := len(x)
	noise := math.Sqrt(2 * eta)
	for s := 0; s < steps; s++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		// g = Aᵀ(y − A x).
		if err := op.Apply(ctx, res, x); err != nil {
			return err
		}
		for k := range res {
			rk := res[k]
			for j := range rk {
				rk[j] = y[j] - rk[j]
			}
		}
		if err := op.Adjoint(ctx, g, res); err != nil {
			return err
		}
		sdk.ParallelRows(n, func(k int) {
			xk, ak, gk, r := x[k], anchor[k], g[k], rng[k]
			for j := range xk {
				xk[j] += eta*((ak[j]-xk[j])/r2+gk[j]/tau2) + noise*r.NormFloat64()
			}
		})
	}
	return nil
}
