package fidelity

import (
	"math"
	"testing"
)

func TestPSNR(t *testing.T) {
	for _, tc := range []struct {
		name     string
		x, truth []float64
		want     float64
	}{
		// [0,1] values 0.5 vs 0.6: MSE 0.01 → 20 dB.
		{"constant offset", []float64{0, 0, 0, 0}, []float64{0.2, 0.2, 0.2, 0.2}, 20},
		// Out-of-range values are clamped: 3 → 1, so only one pixel differs
		// by 1 in [0,1]: MSE 1/2 → 10 log₁₀ 2.
		{"clamped", []float64{3, -1}, []float64{-1, -1}, 10 * math.Log10(2)},
		{"identical", []float64{0.3}, []float64{0.3}, math.Inf(1)},
	} {
		got, err := PSNR(tc.x, tc.truth)
		if err != nil {
			t.Fatal(err)
		}
		if !(math.Abs(got-tc.want) < 1e-12 || got == tc.want) {
			t.Errorf("%s: PSNR = %v, want %v", tc.name, got, tc.want)
		}
	}
	if _, err := PSNR([]float64{1}, []float64{1, 2}); err == nil {
		t.Error("length mismatch: no error")
	}
}
