// Package fidelity holds per-image fidelity metrics against the ground
// truth. Images are in [-1, 1] inside ipbench; metrics see them in [0, 1]
// after clamping, with data range 1, as DESIGN.md fixes.
package fidelity

import (
	"fmt"
	"math"
)

// unit maps v ∈ [-1, 1] to [0, 1], clamping.
func unit(v float64) float64 { return math.Min(1, math.Max(0, (v+1)/2)) }

// PSNR returns 10 log₁₀(1/MSE) between x and the truth, both in [-1, 1],
// measured on [0, 1] after clamping. Identical images give +Inf.
func PSNR(x, truth []float64) (float64, error) {
	if len(x) != len(truth) || len(x) == 0 {
		return 0, fmt.Errorf("psnr: %d values against %d", len(x), len(truth))
	}
	if err := CheckRange("psnr: truth", truth); err != nil {
		return 0, err
	}
	s := 0.0
	for i := range x {
		d := unit(x[i]) - unit(truth[i])
		s += d * d
	}
	mse := s / float64(len(x))
	return 10 * math.Log10(1/mse), nil
}
