// Package edm is the sampler of Karras et al. (2022), "Elucidating the
// Design Space of Diffusion-Based Generative Models" (EDM): its noise
// schedule and its deterministic Heun integrator of the probability-flow ODE
//
//	dx/dσ = (x − D(x; σ)) / σ,
//
// for the interpolant x_σ = x₀ + σ ε. Any solver that only replaces the
// denoiser D (EPS does) reuses it as it is.
package edm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ipbench/ipbench/plugins/sdk"
)

// Defaults of the EDM paper for images in [-1, 1].
const (
	SigmaMin = 0.002
	SigmaMax = 80.0
	Rho      = 7.0
)

// Params are the schedule's parameters as solver parameters, for the
// solvers that run on EDM levels: σ_min and ρ (σ_max comes with the problem).
func Params() []sdk.Param {
	return []sdk.Param{
		{Name: "sigma_min", Default: SigmaMin, Min: 1e-6, Max: 1, Doc: "smallest nonzero noise level of the EDM schedule"},
		{Name: "rho", Default: Rho, Min: 1, Max: 100, Doc: "EDM schedule exponent ρ"},
	}
}

// Sigmas returns the n+1 EDM noise levels σ₀ > σ₁ > … > σ_{n−1} > σ_n = 0,
//
//	σᵢ = (σ_max^{1/ρ} + i/(n−1) (σ_min^{1/ρ} − σ_max^{1/ρ}))^ρ,  i < n,
//
// with σ₀ = σ_max and, for n = 1, just σ_max followed by 0.
func Sigmas(n int, sigmaMin, sigmaMax, rho float64) []float64 {
	s := make([]float64, n+1)
	s[0] = sigmaMax
	if n == 1 {
		return s
	}
	hi, lo := math.Pow(sigmaMax, 1/rho), math.Pow(sigmaMin, 1/rho)
	for i := 1; i < n-1; i++ {
		s[i] = math.Pow(hi+float64(i)/float64(n-1)*(lo-hi), rho)
	}
	s[n-1], s[n] = sigmaMin, 0 // the ends exactly, not through the ρ-th power
	return s
}

// Schedule is a sequence of steps σᵢ → σᵢ₊₁; Heun[i] says whether step i
// takes Heun's second-order correction (one more denoiser evaluation).
type Schedule struct {
	Sigmas []float64 // len(Heun)+1 levels, the last one 0
	Heun   []bool
}

// NFE returns the number of denoiser evaluations the schedule costs per
// sample: one per step and one more per corrected step.
func (s Schedule) NFE() int {
	n := len(s.Heun)
	for _, h := range s.Heun {
		if h {
			n++
		}
	}
	return n
}

// HeunSchedule returns the schedule that costs exactly nfe denoiser
// evaluations. As in the EDM paper, N steps cost 2N − 1 evaluations: every
// step is a Heun step except the last one, to σ = 0, which is an Euler step.
// An odd nfe therefore takes N = (nfe+1)/2 steps. An even nfe takes
// N = nfe/2 + 1 steps whose first step (at σ_max, where D is nearly constant)
// is an Euler step too. nfe = 1 is a single Euler step from σ_max to 0, whose
// result is D(x; σ_max): the MMSE estimate.
func HeunSchedule(nfe int, sigmaMin, sigmaMax, rho float64) (Schedule, error) {
	if nfe < 1 {
		return Schedule{}, fmt.Errorf("edm: NFE must be at least 1, got %d", nfe)
	}
	if !(sigmaMin > 0 && sigmaMax > sigmaMin && rho > 0) {
		return Schedule{}, fmt.Errorf("edm: need 0 < σ_min < σ_max and ρ > 0, got σ_min=%v σ_max=%v ρ=%v", sigmaMin, sigmaMax, rho)
	}
	n := (nfe + 1) / 2
	if nfe%2 == 0 {
		n = nfe/2 + 1
	}
	s := Schedule{Sigmas: Sigmas(n, sigmaMin, sigmaMax, rho), Heun: make([]bool, n)}
	for i := 0; i < n-1; i++ {
		s.Heun[i] = true
	}
	if nfe%2 == 0 {
		s.Heun[0] = false
	}
	return s, nil
}

// Start draws the sampler's starting state x_N ~ N(0, σ_max² I), row i from
// rng[i] alone.
func Start(dst [][]float64, sigmaMax float64, rng []*rand.Rand) error {
	if len(rng) != len(dst) {
		return fmt.Errorf("edm: %d random streams for %d samples", len(rng), len(dst))
	}
	for i, row := range dst {
		for j := range row {
			row[j] = sigmaMax * rng[i].NormFloat64()
		}
	}
	return nil
}

// Denoiser evaluates D(x; σ) row by row into dst.
type Denoiser func(ctx context.Context, dst, x [][]float64, sigma float64) error

// Heun integrates the probability-flow ODE along s from x (at σ₀) to σ = 0,
// in place (Algorithm 1 of the EDM paper, deterministic):
//
//	dᵢ = (xᵢ − D(xᵢ; σᵢ)) / σᵢ
//	xᵢ₊₁ = xᵢ + (σᵢ₊₁ − σᵢ) dᵢ
//	if Heun[i]:  d′ = (xᵢ₊₁ − D(xᵢ₊₁; σᵢ₊₁)) / σᵢ₊₁,  xᵢ₊₁ = xᵢ + (σᵢ₊₁ − σᵢ)(dᵢ + d′)/2
//
// Its scratch is allocated once, so memory does not grow with the steps.
func Heun(ctx context.Context, x [][]float64, s Schedule, denoise Denoiser) error {
	n := len(x)
	if n == 0 {
		return nil
	}
	out := x
	d := len(x[0])
	dir, next, den := sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d), sdk.Rows(ctx, n, d)
	defer func() {
		// After an odd number of swaps the result sits in the scratch rows.
		if &x[0] != &out[0] {
			for r := range out {
				copy(out[r], x[r])
			}
		}
	}()
	for i, heun := range s.Heun {
		if err := ctx.Err(); err != nil {
			return err
		}
		si, sn := s.Sigmas[i], s.Sigmas[i+1]
		if err := denoise(ctx, den, x, si); err != nil {
			return err
		}
		h := sn - si
		sdk.ParallelRows(n, func(r int) {
			xr, dr, nr, er := x[r], dir[r], next[r], den[r]
			for j := range xr {
				dr[j] = (xr[j] - er[j]) / si
				nr[j] = xr[j] + h*dr[j]
			}
		})
		if heun && sn > 0 {
			if err := denoise(ctx, den, next, sn); err != nil {
				return err
			}
			sdk.ParallelRows(n, func(r int) {
				xr, dr, nr, er := x[r], dir[r], next[r], den[r]
				for j := range xr {
					nr[j] = xr[j] + h*0.5*(dr[j]+(nr[j]-er[j])/sn)
				}
			})
		}
		x, next = next, x // the new state is in next; x's rows become scratch
	}
	return nil
}

// Grid returns the noise levels of a solver that takes nfe steps on the EDM
// grid, σ₀ = σ_max > … > σ_{nfe−1} = σ_min, σ_nfe = 0, with σ_min and ρ
// from params (Params), after checking nfe ≥ 1, 0 < σ_min < σ_max and
// ρ > 0.
func Grid(nfe int, sigmaMax float64, params map[string]float64) ([]float64, error) {
	if nfe < 1 {
		return nil, fmt.Errorf("NFE must be at least 1, got %d", nfe)
	}
	sigmaMin, rho := params["sigma_min"], params["rho"]
	if !(sigmaMin > 0 && sigmaMax > sigmaMin && rho > 0) || math.IsInf(sigmaMax, 0) {
		return nil, fmt.Errorf("need 0 < σ_min < σ_max and ρ > 0, got σ_min=%v σ_max=%v ρ=%v", sigmaMin, sigmaMax, rho)
	}
	return Sigmas(nfe, sigmaMin, sigmaMax, rho), nil
}

// DDIM returns the coefficients of a DDIM step (Song, Meng and Ermon 2021)
// from σ to next in EDM's time: with x̂ the denoised estimate and
// ε̂ = (x − x̂)/σ,
//
//	x_next = x̂ + c ε̂ + s z,  s = η next √(1 − next²/σ²),  c = √(next² − s²),
//
// so the noise left in x_next has standard deviation next; η = 1 is the
// ancestral (DDPM-like) step, η = 0 the probability-flow ODE's Euler step.
func DDIM(eta, sigma, next float64) (c, s float64) {
	s = eta * next * math.Sqrt(math.Max(0, 1-next*next/(sigma*sigma)))
	return math.Sqrt(math.Max(0, next*next-s*s)), s
}
