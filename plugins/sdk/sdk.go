// Package sdk is what a solver author writes against: the problem a solver
// is handed, the model and operator handles it may call, and the Solver
// interface it implements.
//
// Every model call goes through a Model handle that the host owns, so the
// number of denoiser evaluations (NFE) and vector–Jacobian products (VJP) is
// counted by the host and never reported by the solver itself.
package sdk

import (
	"context"
	"math/rand/v2"

	"github.com/ipbench/ipbench/harness/operator"
)

// Operator is the measurement operator A of y = A x₀ + σ_y n.
type Operator = operator.Operator

// Problem is one linear inverse problem y = A x₀ + σ_y n, n ~ N(0, I).
type Problem struct {
	Op     Operator
	Y      []float64
	SigmaY float64

	// SigmaMax is the largest noise level of the diffusion, chosen by the
	// host to match the scale of the prior (80 for images in [-1, 1]).
	SigmaMax float64
}

// Model is the host's handle on the diffusion model. The interpolant is the
// EDM one, x_σ = x₀ + σ ε. Rows of x and dst are signals of length d; dst
// rows are overwritten. Each row counts as one NFE (Denoise, DenoiseEPS) or
// one VJP (VJP).
type Model interface {
	// Denoise sets dst[i] = D(x[i]; σ) ≈ E[x₀ | x₀ + σε = x[i]].
	Denoise(ctx context.Context, dst, x [][]float64, sigma float64) error

	// VJP sets dst[i] = J(x[i]; σ)ᵀ v[i], where J is the Jacobian of
	// D(·; σ). The forward pass it needs is part of the VJP, not an NFE.
	VJP(ctx context.Context, dst, x [][]float64, sigma float64, v [][]float64) error

	// DenoiseEPS sets dst[i] = D(μ*[i], y, σ) ≈ E[x₀ | μ*[i], y], the
	// posterior denoiser of EPS evaluated at the pivot
	//
	//	μ* = Σ* (x_σ/σ² + Aᵀy/σ_y²),  Σ* = (I/σ² + AᵀA/σ_y²)⁻¹,
	//
	// so that μ* = x₀ + N(0, Σ*). The model is bound to the problem (A, y,
	// σ_y) it was built for.
	DenoiseEPS(ctx context.Context, dst, pivot [][]float64, sigma float64) error
}

// Capability flags a solver declares in its Info.
type Capability string

const (
	NeedsVJP      Capability = "needs-vjp"
	NeedsSVD      Capability = "needs-svd"
	NeedsEPSModel Capability = "needs-eps-model"
	Conditional   Capability = "conditional"
)

// Param is a solver parameter with its default and allowed range.
type Param struct {
	Name     string
	Default  float64
	Min, Max float64
	Doc      string
}

// Info describes a solver.
type Info struct {
	Name         string
	Version      string
	Capabilities []Capability
	NFEGrid      []int // default NFE grid
	Params       []Param
}

// Solver is one inverse-problem algorithm.
type Solver interface {
	Info() Info

	// Solve draws len(dst) samples of x₀ given p.Y, writing sample i into
	// dst[i] with randomness from rng[i] only, so that a sample does not
	// depend on the batch it was drawn in. nfe is the requested number of
	// denoiser evaluations per sample; params holds every parameter of
	// Info().Params, defaults filled in.
	Solve(ctx context.Context, dst [][]float64, p Problem, m Model, rng []*rand.Rand, nfe int, params map[string]float64) error
}
