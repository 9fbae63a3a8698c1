package gmm

import (
	"context"
	"sync"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// Model serves the exact denoisers of a mixture, bound to one problem, as an
// sdk.Model: D(x; σ), its VJP, and the EPS posterior denoiser E[x₀ | μ*].
type Model struct {
	mix *Mixture
	eps *EPS

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
