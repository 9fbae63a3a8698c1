// Package ddrm is DDRM, Denoising Diffusion Restoration Models (Kawar,
// Elad, Ermon and Song, NeurIPS 2022, "Denoising Diffusion Restoration
// Models"), for linear problems y = A x₀ + σ_y n on the EDM backbone.
//
// DDRM runs the diffusion in the spectral space of the operator. With the
// SVD A = U S Vᵀ (singular values sᵢ), every signal is written in the basis
// V, x̄ = Vᵀx, and the measurement becomes, for sᵢ > 0,
//
//	ȳᵢ = (Uᵀy)ᵢ / sᵢ = x̄₀ᵢ + (σ_y/sᵢ) n̄ᵢ,
//
// a copy of x̄₀ᵢ under Gaussian noise of standard deviation σ_y/sᵢ: the same
// kind of corruption as a diffusion state, which is what DDRM exploits. Each
// spectral coordinate then gets its own transition (the paper's Eq. 7 and 8),
// with x̄_θ = Vᵀ D(x; σ) the denoiser's prediction of x₀ in that basis:
//
//	x̄_N,j ~ N(ȳ_j, σ_max² − σ_y²/s_j²)   if s_j > 0 and σ_max ≥ σ_y/s_j   (Eq. 7)
//	        N(0, σ_max²)                 otherwise
//	for i = 0 … N−1 (σᵢ > σᵢ₊₁ on the EDM grid, σ_N = 0):
//	    x̄_θ = Vᵀ D(V x̄; σᵢ)                                    (1 NFE)
//	    per spectral coordinate j, with z ~ N(0, 1):               (Eq. 8)
//	    s_j = 0 (unobserved):
//	        x̄_j ← x̄_θj + √(1 − η²) σᵢ₊₁ (x̄_j − x̄_θj)/σᵢ + η σᵢ₊₁ z
//	    σᵢ₊₁ < σ_y/s_j (the state is less noisy than ȳ_j):
//	        x̄_j ← x̄_θj + √(1 − η²) σᵢ₊₁ (ȳ_j − x̄_θj)/(σ_y/s_j) + η σᵢ₊₁ z
//	    σᵢ₊₁ ≥ σ_y/s_j (the state is noisier than ȳ_j):
//	        x̄_j ← (1 − η_b) x̄_θj + η_b ȳ_j + √(σᵢ₊₁² − η_b² σ_y²/s_j²) z
//	return V x̄
//
// The unobserved case is DDIM-like with the model's own noise estimate; the
// second one takes the noise direction from the measurement instead; the
// third one moves the coordinate to ȳ_j (η_b = 1) and adds just the noise
// that, together with the σ_y/s_j already in ȳ_j, makes up σᵢ₊₁.
//
// Mapping to EDM. The paper writes DDRM in the variance-exploding form
// x_t = x₀ + σ_t ε (the VP network is called on √ᾱ_t x_t with
// σ_t = √(1 − ᾱ_t)/√ᾱ_t), which is EDM's interpolant x_σ = x₀ + σε, so no
// rescaling is needed: the paper's x_{t+1} with σ_{t+1} is the current state
// xᵢ at σᵢ, its x_t with σ_t the next state at σᵢ₊₁, and its prediction
// x_θ,t = f_θ(x_{t+1}, t+1) is D(xᵢ; σᵢ). The noise levels are EDM's
// (edm.Sigmas, σ_min and ρ), not the uniformly skipped DDPM steps of the
// paper. The last level is 0, so the last step returns x̄_θ, except on the
// observed coordinates when σ_y = 0, where it returns η_b ȳ + (1 − η_b) x̄_θ.
//
// σ_y = 0 makes every observed coordinate "noisier than ȳ" at every level,
// σ = 0 included, so with η_b = 1 the sample satisfies A x = y exactly (up to
// rounding in U and V).
//
// Defaults η = 0.85 and η_b = 1 are the paper's (and the authors' code's,
// bahjat-kawar/ddrm, efficient_generalized_steps). Where this code departs
// from theirs:
//   - the case boundary is the paper's (σᵢ₊₁ ≥ σ_y/s_j is "noisier"); their
//     code sends σᵢ₊₁ = σ_y/s_j exactly, which happens at the last level when
//     σ_y = 0, to the unobserved case, so that noiseless observations are
//     not met on the last step;
//   - singular values at most 1e-10 of the largest count as zero, as in the
//     operators' pseudoinverse (their code divides by them);
//   - a coordinate with σ_max < σ_y/s_j starts from N(0, σ_max²), as in
//     their code (Eq. 7 assumes σ_T ≥ σ_y/sᵢ for every sᵢ > 0).
//
// The starting noise is edm.Start's x_N ~ N(0, σ_max² I), taken into the
// basis V (where it stays N(0, σ_max² I)) and shifted and scaled there to
// Eq. 7.
//
// NFE: one denoiser call per step, N = NFE steps, no VJP. Each step also
// costs one V and one Vᵀ of the operator.
package ddrm

import (
	"context"
	"fmt"
	"math"

	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Version is the DDRM solver's version, recorded with its results.
const Version = "0.1.0"

// zeroRTol is the relative tolerance below which a singular value counts as
// zero: sᵢ ≤ zeroRTol·s_max (the operators' Pinv uses the same).
const zeroRTol = 1e-10

// Solver is DDRM. Each step costs one NFE.
type Solver struct{}

// Info describes DDRM.
func (Solver) Info() sdk.Info {
	return sdk.Info{
		Name:         "ddrm",
		Version:      Version,
		Capabilities: []sdk.Capability{sdk.NeedsSVD},
		NFEGrid:      []int{10, 20, 50, 100, 250, 1000},
		Params: append([]sdk.Param{
			{Name: "eta", Default: 0.85, Min: 0, Max: 1, Doc: "η: share of fresh noise in the transitions of unobserved and less-noisy-than-y coordinates (paper's default 0.85)"},
			{Name: "eta_b", Default: 1, Min: 0, Max: 1, Doc: "η_b: weight of the measurement ȳ against the prediction in noisier-than-y coordinates (paper's default 1)"},
		}, edm.Params()...),
	}
}

// spectrum is the measurement in the basis of the SVD: for j < d, s[j] is the
// j-th singular value (0 for j ≥ min(m, d) and for values below the
// tolerance) and ybar[j] = (Uᵀy)_j / s[j] where s[j] > 0.
type spectrum struct {
	s, ybar []float64
}

// newSpectrum reads the singular values of op and takes y into its basis.
func newSpectrum(ctx context.Context, op sdk.SVD, y []float64) (spectrum, error) {
	mm, d := op.Dims()
	if len(y) != mm {
		return spectrum{}, fmt.Errorf("ddrm: y has length %d, the operator %d", len(y), mm)
	}
	sing, err := op.Singular(ctx)
	if err != nil {
		return spectrum{}, fmt.Errorf("ddrm: %w", err)
	}
	if r := min(mm, d); len(sing) != r {
		return spectrum{}, fmt.Errorf("ddrm: the operator has %d singular values, want min(m, d) = %d", len(sing), r)
	}
	rows := sdk.Rows(ctx, 2, mm)
	copy(rows[0], y)
	if err := op.Ut(ctx, rows[1:], rows[:1]); err != nil {
		return spectrum{}, fmt.Errorf("ddrm: %w", err)
	}
	uty := rows[1]
	smax := 0.0
	for _, s := range sing {
		if math.IsNaN(s) || s < 0 {
			return spectrum{}, fmt.Errorf("ddrm: the operator has singular value %v", s)
		}
		smax = math.Max(smax, s)
	}
	sp := spectrum{s: make([]float64, d), ybar: make([]float64, d)}
	for j, s := range sing {
		if s > zeroRTol*smax {
			sp.s[j] = s
			sp.ybar[j] = uty[j] / s
		}
	}
	return sp, nil
}

// Solve draws one sample per row of dst with nfe steps of one NFE each.
func (Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	sigmas, err := edm.Grid(nfe, p.SigmaMax, params)
	if err != nil {
		return fmt.Errorf("ddrm: %w", err)
	}
	eta, etaB := params["eta"], params["eta_b"]
	if !(eta >= 0 && eta <= 1) || !(etaB >= 0 && etaB <= 1) {
		return fmt.Errorf("ddrm: need η and η_b in [0, 1], got %v and %v", eta, etaB)
	}
	if !(p.SigmaY >= 0) {
		return fmt.Errorf("ddrm: σ_y = %v must be nonnegative", p.SigmaY)
	}
	op, ok := p.Op.(sdk.SVD)
	if !ok {
		return fmt.Errorf("ddrm: the operator (%T) has no SVD; DDRM works in the basis of A = U S Vᵀ and needs an operator that offers one (capability %s)", p.Op, sdk.NeedsSVD)
	}
	n := len(dst)
	if n == 0 {
		return nil
	}
	sp, err := newSpectrum(ctx, op, p.Y)
	if err != nil {
		return err
	}
	_, d := op.Dims()
	sy := p.SigmaY
	xbar, den, denbar := sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d)
	rng := sdk.Rands(seeds)

	// Eq. 7: x_N ~ N(0, σ_max² I) taken into the basis V, then moved to
	// ȳ_j with standard deviation √(σ_max² − σ_y²/s_j²) where s_j > 0.
	if err := edm.Start(dst, p.SigmaMax, rng); err != nil {
		return fmt.Errorf("ddrm: %w", err)
	}
	if err := op.Vt(ctx, xbar, dst); err != nil {
		return fmt.Errorf("ddrm: %w", err)
	}
	smax := p.SigmaMax
	sdk.ParallelRows(n, func(k int) {
		xb := xbar[k]
		for j, s := range sp.s {
			if s > 0 && smax*s >= sy {
				tau := sy / s
				xb[j] = sp.ybar[j] + math.Sqrt(smax*smax-tau*tau)/smax*xb[j]
			}
		}
	})

	keep := math.Sqrt(1 - eta*eta)
	for i := 0; i < nfe; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		si, sn := sigmas[i], sigmas[i+1]
		// x̄_θ = Vᵀ D(V x̄; σᵢ).
		if err := op.V(ctx, dst, xbar); err != nil {
			return fmt.Errorf("ddrm: %w", err)
		}
		if err := m.Denoise(ctx, den, dst, si); err != nil {
			return err
		}
		if err := op.Vt(ctx, denbar, den); err != nil {
			return fmt.Errorf("ddrm: %w", err)
		}
		// Eq. 8, coordinate by coordinate.
		sdk.ParallelRows(n, func(k int) {
			xb, db, rk := xbar[k], denbar[k], rng[k]
			for j, s := range sp.s {
				x0 := db[j]
				var v, std float64
				switch {
				case s == 0: // unobserved
					v = x0 + keep*sn*(xb[j]-x0)/si
					std = eta * sn
				case sn*s < sy: // σᵢ₊₁ < σ_y/s_j: less noisy than ȳ_j
					// (ȳ_j − x̄_θj)/(σ_y/s_j) = (s_j ȳ_j − s_j x̄_θj)/σ_y.
					v = x0 + keep*sn*s*(sp.ybar[j]-x0)/sy
					std = eta * sn
				default: // σᵢ₊₁ ≥ σ_y/s_j: noisier than ȳ_j
					tau := sy / s
					v = etaB*sp.ybar[j] + (1-etaB)*x0
					std = math.Sqrt(math.Max(0, sn*sn-etaB*etaB*tau*tau))
				}
				if std > 0 {
					v += std * rk.NormFloat64()
				}
				xb[j] = v
			}
		})
	}
	if err := op.V(ctx, dst, xbar); err != nil {
		return fmt.Errorf("ddrm: %w", err)
	}
	return nil
}
