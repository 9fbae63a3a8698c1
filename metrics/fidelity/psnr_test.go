package fidelity

import (
	"math"
	"strings"
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

// A truth in [0, 255] (or holding NaN) is an error that says so, not a
// number computed after clamping; mixture excursions a little past ±1 pass.
func TestRangeErrors(t *testing.T) {
	ok := []float64{-1.3, 0, 1.4, 0.5}
	if _, err := PSNR(ok, ok); err != nil {
		t.Errorf("truth with excursions to ±1.4: %v", err)
	}
	wide := make([]float64, 11*11*3)
	for i := range wide {
		wide[i] = float64(i % 256)
	}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"psnr 255", func() error { _, err := PSNR(wide, wide); return err }, "psnr: truth has value 3 at 3: pixels must be in [-1, 1] (it looks like [0, 255]"},
		{"ssim 255", func() error { _, err := SSIM(wide, wide, 3, 11, 11); return err }, "ssim: truth has value 3 at 3"},
		{"crps 255", func() error { _, err := CRPS([][]float64{wide}, wide); return err }, "crps: truth has value 3 at 3"},
		{"psnr NaN", func() error { _, err := PSNR(ok, []float64{0, math.NaN(), 0, 0}); return err }, "psnr: truth holds NaN at 1"},
	} {
		if err := tc.err(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
