// Package ddnm is DDNM, the Denoising Diffusion Null-Space Model (Wang, Yu
// and Zhang, ICLR 2023, "Zero-Shot Image Restoration Using Denoising
// Diffusion Null-Space Model"), and its noise-aware variant DDNM⁺, on the EDM
// backbone.
//
// DDNM keeps the range space of x̂₀ fixed by the measurement and lets the
// diffusion model fill in the null space (range–null-space decomposition,
// Sec. 3.1 of the paper):
//
//	x̂₀|t = A⁺y + (I − A⁺A) x₀|t = x₀|t − A⁺(A x₀|t − y).
//
// DDNM⁺ (Sec. 3.3, noisy measurements y = A x₀ + σ_y n) scales the correction
// and shrinks the fresh noise so that the noise A⁺(σ_y n) carried in by the
// correction plus the added noise matches the noise level of the next state:
//
//	x̂₀|t = x₀|t − Σ_t A⁺(A x₀|t − y),   Σ_t = λ_t I,
//	x_{t−1} ~ N(μ_t(x_t, x̂₀|t), γ_t² I),
//
// with λ_t = 1 where the next noise level can absorb σ_y and
// λ_t = (noise level)/σ_y below it, and γ_t² = (noise level)² − λ_t² σ_y².
//
// On the EDM (variance-exploding) interpolant x_σ = x₀ + σε the coefficient
// of x₀ in every state is 1, so the paper's comparison σ_t ≥ a_t σ_y (a_t the
// coefficient of x₀ in the next state, σ_t its noise) reads σᵢ₊₁ ≥ σ_y, and
// the algorithm, with the DDIM-type transition that the authors' code uses
// ("simplified" DDNM, mixing weight η), is:
//
//	x_N ~ N(0, σ_max² I)
//	for i = 0 … N−1 (σᵢ > σᵢ₊₁ on the EDM grid, σ_N = 0):
//	    x₀|t = D(xᵢ; σᵢ)                                  (1 NFE)
//	    ε̂ = (xᵢ − x₀|t)/σᵢ
//	    λᵢ = 1,  γᵢ = σᵢ₊₁                                   (DDNM)
//	    λᵢ = min(1, σᵢ₊₁/σ_y),  γᵢ = √(σᵢ₊₁² − λᵢ²σ_y²)      (DDNM⁺)
//	    x̂₀|t = x₀|t − λᵢ A⁺(A x₀|t − y)
//	    xᵢ₊₁ = x̂₀|t + γᵢ (η z + √(1 − η²) ε̂),  z ~ N(0, I)
//
// Equation numbers are those the authors' code cites: x₀|t by Eq. (12), the
// correction by Eq. (17), λ_t and γ_t by Eq. (19). η = 0.85 is the authors'
// default (hard-coded in their simplified DDNM⁺). Their mixing of fresh
// noise and ε̂ is DDRM's (weights η and √(1 − η²) of the next noise level,
// independent of the step size), not DDIM's; with an exact denoiser it
// under-disperses (see the tests). Their code also writes the VP forms with
// ᾱ where √ᾱ belongs; the VE forms above are the paper's intent: the noise
// left in xᵢ₊₁ has standard deviation √(λᵢ²σ_y² + γᵢ²) = σᵢ₊₁. The scalar λᵢ treats the measurement
// noise in A⁺y as having standard deviation σ_y in every range direction,
// which is exact when the nonzero singular values of A are 1 (masks,
// A = I, orthogonal projections) and the paper's simple form otherwise; the
// per-singular-value form would need the operator's SVD.
//
// Time travel (DDNM⁺, the paper's Sec. 3.3 and Algorithm 2): after every
// block of l steps that ends at σᵢ₊₁ (before the last step), the sample is
// noised back to the level l steps earlier,
//
//	x ← x + √(σᵢ₊₁₋ₗ² − σᵢ₊₁²) z,   z ~ N(0, I),
//
// and the block is redone, r − 1 times, so that the range-space correction
// and the denoiser agree better. travel_length l = 0 (the default) turns it
// off; the authors' examples use l = 10, r = 3 on 100 steps.
//
// NFE: one denoiser call per step, no VJP. With N base steps, time travel
// adds (r − 1)·l calls per block: NFE = N + (r − 1)·l·⌊(N − 1)/l⌋. The
// requested NFE is that total; one the rule cannot reach is an error that
// names the nearest that it can.
package ddnm

import (
	"context"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"

	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Version is the DDNM solver's version, recorded with its results.
const Version = "0.2.0"

// Solver is DDNM (plus = 0) or DDNM⁺ (plus = 1), with optional time travel.
// Each step costs one NFE.
type Solver struct{}

// Info describes DDNM.
func (Solver) Info() sdk.Info {
	return sdk.Info{
		Name:    "ddnm",
		Version: Version,
		NFEGrid: []int{10, 20, 50, 100, 250, 1000},
		Params: append([]sdk.Param{
			{Name: "eta", Default: 0.85, Min: 0, Max: 1, Doc: "η: weight of fresh noise against the model's ε̂ in each transition (0: deterministic DDIM)"},
			{Name: "plus", Default: 1, Min: 0, Max: 1, Doc: "1: DDNM⁺, noise-aware scaling λ_t and γ_t for σ_y > 0; 0: plain DDNM, full range-space replacement"},
			{Name: "travel_length", Default: 0, Min: 0, Max: 1000, Doc: "l: steps a time travel goes back (DDNM⁺'s Algorithm 2); 0: no time travel"},
			{Name: "travel_repeat", Default: 3, Min: 1, Max: 100, Doc: "r: times each block is run when time travel is on"},
		}, edm.Params()...),
	}
}

// Step returns λ and γ of a step to the noise level next: DDNM⁺'s rule when
// plus is set, else DDNM's λ = 1, γ = next.
func Step(next, sigmaY float64, plus bool) (lambda, gamma float64) {
	if !plus || next >= sigmaY {
		lambda = 1
	} else {
		lambda = next / sigmaY
	}
	if !plus {
		return lambda, next
	}
	return lambda, math.Sqrt(math.Max(0, next*next-lambda*lambda*sigmaY*sigmaY))
}

// TravelNFE is the number of denoiser calls of n base steps with time
// travel of length l repeated r times (l = 0: none).
func TravelNFE(n, l, r int) int {
	if l <= 0 || r <= 1 || n < 1 {
		return n
	}
	return n + (r-1)*l*((n-1)/l)
}

// baseSteps returns the base steps N whose TravelNFE is nfe.
// TravelNFE grows strictly with N (and is at least N), so the search ends
// at the first N that reaches nfe or passes it.
func baseSteps(nfe, l, r int) (int, error) {
	below := 0
	for n := 1; ; n++ {
		t := TravelNFE(n, l, r)
		if t == nfe {
			return n, nil
		}
		if t > nfe {
			return 0, fmt.Errorf("NFE %d is not reachable with time travel of length %d repeated %d times (NFE = N + (r−1)·l·⌊(N−1)/l⌋); the nearest are %d and %d", nfe, l, r, below, t)
		}
		below = t
	}
}

// Solve draws one sample per row of dst with nfe denoiser calls.
func (Solver) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	tl, tr := params["travel_length"], params["travel_repeat"]
	if tl != math.Trunc(tl) || tr != math.Trunc(tr) || tl < 0 || tr < 1 {
		return fmt.Errorf("ddnm: travel_length %v and travel_repeat %v must be whole numbers, ≥ 0 and ≥ 1", tl, tr)
	}
	tlen, trep := int(tl), int(tr)
	steps := nfe
	if tlen > 0 && trep > 1 && nfe >= 1 {
		var err error
		if steps, err = baseSteps(nfe, tlen, trep); err != nil {
			return fmt.Errorf("ddnm: %w", err)
		}
	}
	sigmas, err := edm.Grid(steps, p.SigmaMax, params)
	if err != nil {
		return fmt.Errorf("ddnm: %w", err)
	}
	eta, plus := params["eta"], params["plus"] != 0
	if !(eta >= 0 && eta <= 1) {
		return fmt.Errorf("ddnm: η = %v outside [0, 1]", eta)
	}
	if p.SigmaY < 0 {
		return fmt.Errorf("ddnm: negative σ_y %v", p.SigmaY)
	}
	mm, d := p.Op.Dims()
	n := len(dst)
	x0, corr, r := sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, mm)
	rng := sdk.Rands(seeds)
	if err := edm.Start(dst, p.SigmaMax, rng); err != nil {
		return fmt.Errorf("ddnm: %w", err)
	}
	keep := math.Sqrt(1 - eta*eta)
	travelled := 0 // times the block in hand has been rewound
	for i := 0; i < steps; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		si, sn := sigmas[i], sigmas[i+1]
		// x₀|t = D(xᵢ; σᵢ).
		if err := m.Denoise(ctx, x0, dst, si); err != nil {
			return err
		}
		// corr = A⁺(A x₀|t − y).
		lambda, gamma := Step(sn, p.SigmaY, plus)
		if lambda > 0 {
			if err := p.Op.Apply(ctx, r, x0); err != nil {
				return err
			}
			for k := range r {
				floats.Sub(r[k], p.Y)
			}
			if err := p.Op.Pinv(ctx, corr, r); err != nil {
				return err
			}
		}
		sdk.ParallelRows(n, func(k int) {
			x, xh, c, rk := dst[k], x0[k], corr[k], rng[k]
			for j := range x {
				eps := (x[j] - xh[j]) / si
				v := xh[j]
				if lambda > 0 {
					v -= lambda * c[j]
				}
				if gamma > 0 {
					v += gamma * keep * eps
					if eta > 0 {
						v += gamma * eta * rk.NormFloat64()
					}
				}
				x[j] = v
			}
		})
		// Time travel: at the end of a block of l steps (not the last
		// step), noise back l levels and run the block again.
		if tlen > 0 && trep > 1 && (i+1)%tlen == 0 && i+1 < steps {
			if travelled == trep-1 {
				travelled = 0 // the block is done; the next one starts afresh
				continue
			}
			travelled++
			back := i + 1 - tlen
			add := math.Sqrt(math.Max(0, sigmas[back]*sigmas[back]-sn*sn))
			sdk.ParallelRows(n, func(k int) {
				x, rk := dst[k], rng[k]
				for j := range x {
					x[j] += add * rk.NormFloat64()
				}
			})
			i = back - 1
		}
	}
	return nil
}
