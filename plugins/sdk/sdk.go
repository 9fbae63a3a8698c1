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
)

// Operator is the host's handle on the measurement operator A: ℝᵈ → ℝᵐ of
// y = A x₀ + σ_y n. Calls are batched: each row of dst and of the input is
// one vector. dst may alias the input in SolveShifted.
type Operator interface {
	// Dims returns m and d.
	Dims() (m, d int)
	// Apply sets dst[i] = A x[i].
	Apply(ctx context.Context, dst, x [][]float64) error
	// Adjoint sets dst[i] = Aᵀ y[i].
	Adjoint(ctx context.Context, dst, y [][]float64) error
	// SolveShifted sets dst[i] = (a I + b AᵀA)⁻¹ v[i], a > 0, b ≥ 0.
	SolveShifted(ctx context.Context, dst [][]float64, a, b float64, v [][]float64) error
	// Pinv sets dst[i] = A⁺ y[i].
	Pinv(ctx context.Context, dst, y [][]float64) error
	// GramEigenvalues returns the d eigenvalues of AᵀA.
	GramEigenvalues(ctx context.Context) ([]float64, error)
}

// SVD is an operator with a real SVD A = U S Vᵀ (see harness/operator.SVD
// for the conventions).
type SVD interface {
	Operator
	Singular(ctx context.Context) ([]float64, error)
	Vt(ctx context.Context, dst, x [][]float64) error
	V(ctx context.Context, dst, c [][]float64) error
	Ut(ctx context.Context, dst, y [][]float64) error
	U(ctx context.Context, dst, c [][]float64) error
}

// Seed is the state of one sample's random stream.
type Seed struct{ Hi, Lo uint64 }

// Rand returns the sample's random stream.
func (s Seed) Rand() *rand.Rand { return rand.New(rand.NewPCG(s.Hi, s.Lo)) }

// Rands returns the streams of seeds.
func Rands(seeds []Seed) []*rand.Rand {
	r := make([]*rand.Rand, len(seeds))
	for i, s := range seeds {
		r[i] = s.Rand()
	}
	return r
}

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

	// Restore sets dst[i] = D(x[i], y; σ) ≈ E[x₀ | x₀ + σε = x[i], y], the
	// denoiser of a model conditioned on the measurement y it is bound to
	// (a conditional restorer, Palette-like). A model without one returns
	// an error; solvers that call it declare Conditional.
	Restore(ctx context.Context, dst, x [][]float64, sigma float64) error
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
	// dst[i] with randomness from seeds[i].Rand() only, so that a sample
	// does not depend on the batch it was drawn in. nfe is the requested
	// number of denoiser evaluations per sample; params holds every
	// parameter of Info().Params, defaults filled in.
	Solve(ctx context.Context, dst [][]float64, p Problem, m Model, seeds []Seed, nfe int, params map[string]float64) error
}
