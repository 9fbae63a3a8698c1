package gmm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"gonum.org/v1/gonum/floats"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// Model serves the exact denoisers of a mixture, bound to one problem, as an
// sdk.Model: D(x; σ), its VJP, and the EPS posterior denoiser E[x₀ | μ*].
type Model struct {
	mix *Mixture
	eps *EPS
	aty []float64 // Aᵀy/σ_y² once a measurement is set, for Restore

	// Per-goroutine workspaces, reused across calls so that a sampler's
	// memory does not grow with its number of steps.
	denoisers, scratch sync.Pool
}

// Model returns the exact model of m for the problem (A, σ_y).
func (m *Mixture) Model(op operator.Operator, sigmaY float64) (*Model, error) {
	e, err := m.NewEPS(op, sigmaY)
	if err != nil {
		return nil, err
	}
	md := &Model{mix: m, eps: e}
	md.denoisers.New = func() any { return m.NewDenoiser() }
	md.scratch.New = func() any { return e.NewScratch() }
	return md, nil
}

// Denoise sets dst[i] = D(x[i]; σ).
func (m *Model) Denoise(ctx context.Context, dst, x [][]float64, sigma float64) error {
	sdk.ParallelChunks(len(x), func(lo, hi int) {
		dn := m.denoisers.Get().(*Denoiser)
		defer m.denoisers.Put(dn)
		for i := lo; i < hi; i++ {
			dn.Denoise(dst[i], x[i], sigma)
		}
	})
	return ctx.Err()
}

// VJP sets dst[i] = J(x[i]; σ)ᵀ v[i].
func (m *Model) VJP(ctx context.Context, dst, x [][]float64, sigma float64, v [][]float64) error {
	sdk.ParallelChunks(len(x), func(lo, hi int) {
		dn := m.denoisers.Get().(*Denoiser)
		defer m.denoisers.Put(dn)
		for i := lo; i < hi; i++ {
			dn.VJP(dst[i], x[i], sigma, v[i])
		}
	})
	return ctx.Err()
}

// DenoiseEPS sets dst[i] = E[x₀ | μ* = pivot[i]] at noise level σ.
func (m *Model) DenoiseEPS(ctx context.Context, dst, pivot [][]float64, sigma float64) error {
	l, err := m.eps.At(sigma)
	if err != nil {
		return err
	}
	sdk.ParallelChunks(len(pivot), func(lo, hi int) {
		s := m.scratch.Get().(*Scratch)
		defer m.scratch.Put(s)
		for i := lo; i < hi; i++ {
			l.Denoise(dst[i], pivot[i], s)
		}
	})
	return ctx.Err()
}

// SetMeasurement binds the model to the measurement y of its problem, which
// Restore needs (DenoiseEPS does not: its pivot carries y).
func (m *Model) SetMeasurement(y []float64) error {
	mm, d := m.eps.op.Dims()
	if len(y) != mm {
		return fmt.Errorf("gmm: measurement of length %d for a %d×%d operator", len(y), mm, d)
	}
	aty := make([]float64, d)
	m.eps.op.Adjoint(aty, y)
	floats.Scale(m.eps.b, aty)
	m.aty = aty
	return nil
}

// Restore sets dst[i] = E[x₀ | x₀ + σε = x[i], y], the exact conditional
// denoiser: the EPS denoiser at the pivot
//
//	μ* = Σ*(x/σ² + Aᵀy/σ_y²),  Σ* = (I/σ² + AᵀA/σ_y²)⁻¹,
//
// since x₀ given (x_σ, y) depends on them only through μ*.
func (m *Model) Restore(ctx context.Context, dst, x [][]float64, sigma float64) error {
	if m.aty == nil {
		return errors.New("gmm: Restore needs the measurement (SetMeasurement)")
	}
	l, err := m.eps.At(sigma)
	if err != nil {
		return err
	}
	a := 1 / (sigma * sigma)
	sdk.ParallelChunks(len(x), func(lo, hi int) {
		s := m.scratch.Get().(*Scratch)
		defer m.scratch.Put(s)
		piv := make([]float64, len(m.aty))
		for i := lo; i < hi; i++ {
			floats.AddScaledTo(piv, m.aty, a, x[i])
			m.eps.op.SolveShifted(piv, a, m.eps.b, piv)
			l.Denoise(dst[i], piv, s)
		}
	})
	return ctx.Err()
}
