// Package mpgd is MPGD, Manifold Preserving Guided Diffusion (He, Murata,
// Lai, Takida, Uesaka, Kim, Liao, Mitsufuji, Kolter, Salakhutdinov and
// Ermon, ICLR 2024, "Manifold Preserving Guided Diffusion"), in its variant
// for pixel-space models without an autoencoder ("MPGD w/o Proj." in the
// paper's tables, method mpgd_wo_proj of the authors' code), for linear
// problems y = A x₀ + σ_y n on the EDM backbone.
//
// MPGD's shortcut: the guidance acts on the clean-data estimate x₀|ₜ, which
// lies on (near) the data manifold, instead of on x_t, so the loss gradient
// is taken with respect to x₀|ₜ and never passes through the denoiser (no
// vector–Jacobian product). The guided estimate then replaces x₀|ₜ in a DDIM
// step whose noise direction is still the model's ε. In the paper's VP
// notation (x_t = √ᾱ_t x₀ + √(1 − ᾱ_t) ε), the sampler as the authors' code
// runs it (k = 1 there):
//
//	x_T ~ N(0, I)
//	for t = T … 1:
//	    x₀|ₜ = (x_t − √(1 − ᾱ_t) ε_θ(x_t, t)) / √ᾱ_t               (1 NFE)
//	    repeat k times:  x₀|ₜ ← x₀|ₜ − c_t ∇_{x₀|ₜ} L(x₀|ₜ; y)
//	    s_t = η √((1 − ᾱ_{t−1})/(1 − ᾱ_t)) √(1 − ᾱ_t/ᾱ_{t−1})
//	    x_{t−1} = √ᾱ_{t−1} x₀|ₜ + √(1 − ᾱ_{t−1} − s_t²) ε_θ(x_t, t) + s_t z
//
// What the authors' code (github.com/KellyYutongHe/mpgd_pytorch, the first
// author's repository, commit 01ebec2, folder linear_inv/) does for linear
// inverse problems, which fixes what the paper's generic loss leaves open:
//
//   - the loss is the norm, not its square, as in DPS: L = ‖y − A x₀|ₜ‖, so
//     ∇L = −Aᵀr/‖r‖ with r = y − A x₀|ₜ, a step of length ≤ c_t‖A‖ that does
//     not depend on the size of the residual (condition_methods.py,
//     grad_and_value; the norm is over the whole batch, which is one image
//     in their scripts: here it is per sample);
//   - c_t = ζ/√ᾱ_{t−1}, with ᾱ_{t−1} that of the level the step goes to
//     (they pass alpha_bar_prev as `at` and subtract scale·∇L/√at), so that
//     the guidance moves the VP state x_{t−1} = √ᾱ_{t−1} x₀|ₜ + … by the
//     constant ζ∇L at every step; one gradient step (k = 1);
//   - ζ: 17.5, 7.5 and 4 at 20, 50 and 100 DDIM steps for ×4
//     super-resolution on FFHQ 256 with σ_y = 0.05
//     (scripts/wo_proj_ffhq_super_resolution.sh; argparse default 10 at 100
//     steps), i.e. ζN = 350, 375, 400: the total guidance is roughly fixed
//     and ζ falls as 1/N. That repository publishes no w/o-proj settings for
//     inpainting or deblurring;
//   - η = 0.5 (configs/mgpd_diffusion_config.yaml, argparse default);
//   - ε is the model's, from the unguided x₀|ₜ (x0ddim's p_sample_loop
//     computes it before the guidance);
//   - x₀|ₜ is clipped to [−1, 1] before the guidance (clip_denoised). We do
//     not clip: the host's priors are not all in [−1, 1], and no other
//     baseline clips.
//
// On EDM's VE interpolant x_σ = x₀ + σε the same process is the VP one
// divided by √ᾱ, with σ² = (1 − ᾱ)/ᾱ, so 1/√ᾱ = √(1 + σ²); x₀|ₜ = D(x_σ; σ)
// and ε̂ = (x_σ − x₀|ₜ)/σ are unchanged. The DDIM step becomes the VE DDIM
// step of η (the same as ΠGDM's here), and c_t on the EDM grid is
//
//	cᵢ = ζ √(1 + σᵢ₊₁²) √(d/d₀),   ζ = scale_total/N.
//
// The factor √(d/d₀) is ours. ∇L has length ‖Aᵀr‖/‖r‖, which does not grow
// with the dimension d, so the step per coordinate shrinks as 1/√d: ζ was
// tuned for d₀ = 3·256² = 196 608, and √(d/d₀) keeps the authors' step per
// pixel at other sizes (it is 1 at theirs; ref_dim = d turns it off).
// ζ = scale_total/N with scale_total = 375 (the middle of the authors'
// 350–400) gives their ζ to within about 7% at 20, 50 and 100 steps. Their
// steps are evenly spaced in DDPM time on the linear β schedule, ours on
// EDM's ρ = 7 grid, which puts more of the steps at small σ (40% below
// σ = 1 against 26% for theirs), so the same ζ guides a little more
// strongly here.
//
// The sampler, on the EDM grid σ₀ = σ_max > … > σ_{N−1} = σ_min > σ_N = 0:
//
//	x_0 ~ N(0, σ_max² I)
//	for i = 0 … N−1:
//	    x̂₀ = D(xᵢ; σᵢ)                                           (1 NFE)
//	    ε̂ = (xᵢ − x̂₀)/σᵢ
//	    repeat k times:  r = y − A x̂₀,  x̂₀ ← x̂₀ + cᵢ Aᵀr/‖r‖
//	    s = η σᵢ₊₁ √(1 − σᵢ₊₁²/σᵢ²)
//	    xᵢ₊₁ = x̂₀ + √(σᵢ₊₁² − s²) ε̂ + s z,   z ~ N(0, I)
//
// The last step (σ_N = 0) returns the guided x̂₀ with c = ζ√(d/d₀).
//
// MPGD is not a posterior sampler: its guidance is normalised gradient
// descent on ‖y − A x̂₀‖, blind to σ_y and to the prior's spread. Directions
// of large singular value are fitted, with a scatter of about c that the
// fixed-length steps leave, and directions of small singular value are
// pulled slowly, since Aᵀr/‖r‖ weighs direction j by sⱼ (see the tests).
//
// NFE: one denoiser call per step, N = NFE steps, no VJP. The guidance costs
// k operator applications and k adjoints per step, which are not NFE.
package mpgd

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"

	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Version is the MPGD solver's version, recorded with its results.
const Version = "0.1.0"

// RefDim is d₀ = 3·256·256, the dimension of the FFHQ images the authors
// tuned ζ on.
const RefDim = 3 * 256 * 256

// Solver is MPGD without projection. Each step costs one NFE and no VJP.
type Solver struct{}

// Info describes MPGD.
func (Solver) Info() sdk.Info {
	return sdk.Info{
		Name:    "mpgd",
		Version: Version,
		NFEGrid: []int{10, 20, 50, 100, 200},
		Params: append([]sdk.Param{
			{Name: "eta", Default: 0.5, Min: 0, Max: 1, Doc: "η of the DDIM step: 1 ancestral, 0 deterministic; 0.5 as in the authors' code"},
			{Name: "scale_total", Default: 375, Min: 0, Max: 1e6, Doc: "ζN: the step-size scale ζ of c = ζ/√ᾱ_{t−1} times the number of steps N (authors' FFHQ ×4 SR: ζ = 17.5, 7.5, 4 at N = 20, 50, 100)"},
			{Name: "ref_dim", Default: RefDim, Min: 1, Max: 1e12, Doc: "d₀ of the factor √(d/d₀) on c, the dimension ζ was tuned at (3·256²); set it to d for the authors' raw step"},
			{Name: "grad_steps", Default: 1, Min: 1, Max: 100, Doc: "k, gradient steps on x̂₀ per diffusion step (integer); 1 as in the authors' code"},
		}, edm.Params()...),
	}
}

// StepSize returns cᵢ = ζ √(1 + σ²) √(d/d₀), the step size of the guidance
// in a step to noise level σ (σᵢ₊₁): the authors' ζ/√ᾱ_{t−1} with
// ᾱ = 1/(1 + σ²), scaled from dimension d₀ to d.
func StepSize(zeta, sigmaNext float64, d int, refDim float64) float64 {
	return zeta * math.Sqrt(1+sigmaNext*sigmaNext) * math.Sqrt(float64(d)/refDim)
}

// Solve draws one sample per row of dst with nfe steps.
func (Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	sigmas, err := edm.Grid(nfe, p.SigmaMax, params)
	if err != nil {
		return fmt.Errorf("mpgd: %w", err)
	}
	eta, total, refDim, k := params["eta"], params["scale_total"], params["ref_dim"], params["grad_steps"]
	if !(eta >= 0 && eta <= 1) || !(total >= 0) || math.IsInf(total, 0) || !(refDim > 0) || math.IsInf(refDim, 0) {
		return fmt.Errorf("mpgd: need η in [0, 1], finite scale_total ≥ 0 and finite ref_dim > 0, got %v, %v, %v", eta, total, refDim)
	}
	if !(k >= 1 && k <= 100 && k == math.Trunc(k)) {
		return fmt.Errorf("mpgd: grad_steps must be an integer in [1, 100], got %v", k)
	}
	if p.SigmaY < 0 {
		return fmt.Errorf("mpgd: negative σ_y %v", p.SigmaY)
	}
	mm, d := p.Op.Dims()
	if len(p.Y) != mm {
		return fmt.Errorf("mpgd: y has length %d, the operator %d rows", len(p.Y), mm)
	}
	if len(seeds) != len(dst) {
		return fmt.Errorf("mpgd: %d seeds for %d samples", len(seeds), len(dst))
	}
	n := len(dst)
	if n == 0 {
		return nil
	}
	zeta := total / float64(nfe)
	x0, g, r := sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, mm)
	rng := sdk.Rands(seeds)
	if err := edm.Start(dst, p.SigmaMax, rng); err != nil {
		return fmt.Errorf("mpgd: %w", err)
	}
	for i := 0; i < nfe; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		si, sn := sigmas[i], sigmas[i+1]
		// x̂₀ = D(xᵢ; σᵢ).
		if err := m.Denoise(ctx, x0, dst, si); err != nil {
			return err
		}
		// ε̂ = (xᵢ − x̂₀)/σᵢ, kept in dst.
		sdk.ParallelRows(n, func(q int) {
			x, xh := dst[q], x0[q]
			for j := range x {
				x[j] = (x[j] - xh[j]) / si
			}
		})
		if c := StepSize(zeta, sn, d, refDim); c > 0 {
			if err := guide(ctx, p.Op, p.Y, x0, r, g, c, int(k)); err != nil {
				return err
			}
		}
		// xᵢ₊₁ = x̂₀ + √(σᵢ₊₁² − s²) ε̂ + s z.
		keep, s := edm.DDIM(eta, si, sn)
		sdk.ParallelRows(n, func(q int) {
			x, xh, rq := dst[q], x0[q], rng[q]
			for j := range x {
				v := xh[j] + keep*x[j]
				if s > 0 {
					v += s * rq.NormFloat64()
				}
				x[j] = v
			}
		})
	}
	return nil
}

// guide takes k steps x ← x + c Aᵀr/‖r‖, r = y − A x, on every row of x in
// place: gradient descent with step c on L(x) = ‖y − A x‖, whose gradient is
// −Aᵀr/‖r‖ (0 where r = 0). r (m columns) and g (d columns) are scratch.
func guide(ctx context.Context, op sdk.Operator, y []float64, x, r, g [][]float64, c float64, k int) error {
	for range k {
		if err := op.Apply(ctx, r, x); err != nil {
			return err
		}
		sdk.ParallelRows(len(r), func(q int) {
			floats.SubTo(r[q], y, r[q])
			if norm := floats.Norm(r[q], 2); norm > 0 {
				floats.Scale(c/norm, r[q])
			}
		})
		if err := op.Adjoint(ctx, g, r); err != nil {
			return err
		}
		sdk.ParallelRows(len(x), func(q int) { floats.Add(x[q], g[q]) })
	}
	return nil
}
