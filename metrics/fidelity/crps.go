package fidelity

import (
	"fmt"
	"math"
	"slices"
)

// CRPS returns the continuous ranked probability score of the empirical
// distribution of the samples against the truth, averaged over pixels.
// samples[i] is the i-th sample image; all images are in [-1, 1] and are
// scored on [0, 1] after clamping, like PSNR. Lower is better; a single
// sample gives the mean absolute error.
//
// For each pixel, with sample values x₁, …, xₙ and true value y, it uses
// the energy form of the CRPS of the empirical distribution
// (Gneiting & Raftery 2007, eq. 21),
//
//	CRPS = (1/n) Σᵢ |xᵢ − y| − (1/(2n²)) Σᵢ Σⱼ |xᵢ − xⱼ|,
//
// which equals ∫ (F̂(z) − 1{z ≥ y})² dz for the empirical CDF F̂. The
// double sum is computed in O(n log n) from the sorted values
// x₍₁₎ ≤ … ≤ x₍ₙ₎ as Σᵢ Σⱼ |xᵢ − xⱼ| = 2 Σₖ (2k − n − 1) x₍ₖ₎.
// This is the plug-in (V-statistic) form: as an estimate of the CRPS of the
// distribution the samples come from, its expectation exceeds that CRPS by
// E|X − X′|/(2n).
//
// CRPS returns an error if there are no samples, no pixels, or a sample
// whose length differs from the truth's.
func CRPS(samples [][]float64, truth []float64) (float64, error) {
	n := len(samples)
	if n == 0 {
		return 0, fmt.Errorf("crps: no samples")
	}
	if len(truth) == 0 {
		return 0, fmt.Errorf("crps: empty truth")
	}
	for i, s := range samples {
		if len(s) != len(truth) {
			return 0, fmt.Errorf("crps: sample %d has %d values, truth has %d", i, len(s), len(truth))
		}
	}
	if err := CheckRange("crps: truth", truth); err != nil {
		return 0, err
	}
	fn := float64(n)
	v := make([]float64, n)
	total := 0.0
	for p, t := range truth {
		y := unit(t)
		abs := 0.0
		for i, s := range samples {
			v[i] = unit(s[p])
			abs += math.Abs(v[i] - y)
		}
		slices.Sort(v)
		// Σ_{k=1..n} (2k − n − 1) x₍ₖ₎ = ½ Σᵢⱼ |xᵢ − xⱼ|.
		spread := 0.0
		for k, x := range v {
			spread += float64(2*k+1-n) * x
		}
		total += abs/fn - spread/(fn*fn)
	}
	return total / float64(len(truth)), nil
}
