// Package model holds the host's side of every model call: it checks what
// goes in and comes out and counts denoiser evaluations (NFE) and
// vector–Jacobian products (VJP), so that counts never come from a solver.
package model

import (
	"context"
	"fmt"
	"math"
	"sync"
	"sync/atomic"

	"github.com/ipbench/ipbench/plugins/sdk"
)

// Counted wraps a model, counting each row of each call: Denoise and
// DenoiseEPS and Restore rows are NFE, VJP rows are VJPs. Calls with rows of the wrong
// length are refused, and outputs holding NaN or ±Inf are errors, named with
// the model's name.
type Counted struct {
	Name  string
	Model sdk.Model
	Dim   int

	nfe, vjp atomic.Int64
}

// NFE returns the number of denoiser evaluations so far.
func (c *Counted) NFE() int64 { return c.nfe.Load() }

// VJPs returns the number of vector–Jacobian products so far.
func (c *Counted) VJPs() int64 { return c.vjp.Load() }

// Denoise counts len(x) NFE.
func (c *Counted) Denoise(ctx context.Context, dst, x [][]float64, sigma float64) error {
	if err := c.check("Denoise", sigma, dst, x); err != nil {
		return err
	}
	c.nfe.Add(int64(len(x)))
	if err := c.Model.Denoise(ctx, dst, x, sigma); err != nil {
		return fmt.Errorf("model %s: Denoise: %w", c.Name, err)
	}
	return c.finite("Denoise", dst)
}

// VJP counts len(x) VJPs.
func (c *Counted) VJP(ctx context.Context, dst, x [][]float64, sigma float64, v [][]float64) error {
	if err := c.check("VJP", sigma, dst, x, v); err != nil {
		return err
	}
	c.vjp.Add(int64(len(x)))
	if err := c.Model.VJP(ctx, dst, x, sigma, v); err != nil {
		return fmt.Errorf("model %s: VJP: %w", c.Name, err)
	}
	return c.finite("VJP", dst)
}

// DenoiseEPS counts len(pivot) NFE.
func (c *Counted) DenoiseEPS(ctx context.Context, dst, pivot [][]float64, sigma float64) error {
	if err := c.check("DenoiseEPS", sigma, dst, pivot); err != nil {
		return err
	}
	c.nfe.Add(int64(len(pivot)))
	if err := c.Model.DenoiseEPS(ctx, dst, pivot, sigma); err != nil {
		return fmt.Errorf("model %s: DenoiseEPS: %w", c.Name, err)
	}
	return c.finite("DenoiseEPS", dst)
}

// Restore counts len(x) NFE.
func (c *Counted) Restore(ctx context.Context, dst, x [][]float64, sigma float64) error {
	if err := c.check("Restore", sigma, dst, x); err != nil {
		return err
	}
	c.nfe.Add(int64(len(x)))
	if err := c.Model.Restore(ctx, dst, x, sigma); err != nil {
		return fmt.Errorf("model %s: Restore: %w", c.Name, err)
	}
	return c.finite("Restore", dst)
}

func (c *Counted) check(call string, sigma float64, dst [][]float64, in ...[][]float64) error {
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return fmt.Errorf("model %s: %s at σ = %v: σ must be positive and finite", c.Name, call, sigma)
	}
	for i, r := range dst {
		if len(r) != c.Dim {
			return fmt.Errorf("model %s: %s: output row %d has length %d, want %d", c.Name, call, i, len(r), c.Dim)
		}
	}
	for _, rows := range in {
		if len(rows) != len(dst) {
			return fmt.Errorf("model %s: %s: %d input rows for %d output rows", c.Name, call, len(rows), len(dst))
		}
		for i, r := range rows {
			if len(r) != c.Dim {
				return fmt.Errorf("model %s: %s: input row %d has length %d, want %d", c.Name, call, i, len(r), c.Dim)
			}
		}
		if i, j, v, bad := firstNonFinite(rows); bad {
			return fmt.Errorf("model %s: %s: input row %d holds %v at %d", c.Name, call, i, v, j)
		}
	}
	return nil
}

// firstNonFinite finds a NaN or ±Inf, scanning the rows in parallel.
func firstNonFinite(rows [][]float64) (row, col int, v float64, found bool) {
	var mu sync.Mutex
	row, col = len(rows), 0
	sdk.ParallelChunks(len(rows), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			for j, x := range rows[i] {
				if x-x != 0 { // NaN or ±Inf, without two calls per value
					mu.Lock()
					if i < row {
						row, col = i, j
					}
					mu.Unlock()
					return
				}
			}
		}
	})
	if row == len(rows) {
		return 0, 0, 0, false
	}
	return row, col, rows[row][col], true
}

func (c *Counted) finite(call string, dst [][]float64) error {
	if i, j, v, bad := firstNonFinite(dst); bad {
		return fmt.Errorf("model %s: %s returned %v in row %d at %d", c.Name, call, v, i, j)
	}
	return nil
}
