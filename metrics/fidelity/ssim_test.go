package fidelity

import (
	"math"
	"testing"
)

// ssimTestImage rebuilds testdata/ssim_ref.py's img(c, h, w, p), scaled
// by s:
//
//	x[k,i,j] = s · sin(0.3i + 0.7j + k + p) · cos(0.2ij/(k+1) − p).
func ssimTestImage(c, h, w int, p, s float64) []float64 {
	x := make([]float64, c*h*w)
	for k := 0; k < c; k++ {
		for i := 0; i < h; i++ {
			for j := 0; j < w; j++ {
				fi, fj, fk := float64(i), float64(j), float64(k)
				x[(k*h+i)*w+j] = s * math.Sin(0.3*fi+0.7*fj+fk+p) * math.Cos(0.2*fi*fj/(fk+1)-p)
			}
		}
	}
	return x
}

// TestSSIMReference checks SSIM against scikit-image 0.19.3 (Debian
// bookworm python3-skimage 0.19.3-8). The values were printed by
//
//	/usr/bin/python3 metrics/fidelity/testdata/ssim_ref.py
//
// which calls
//
//	structural_similarity(clip((a+1)/2, 0, 1), clip((b+1)/2, 0, 1),
//	    channel_axis=0, data_range=1.0, gaussian_weights=True, sigma=1.5,
//	    use_sample_covariance=False)
//
// on the images ssimTestImage rebuilds (a scaled by sa, b unscaled).
func TestSSIMReference(t *testing.T) {
	for _, tc := range []struct {
		c, h, w    int
		pa, pb, sa float64
		want       float64
	}{
		{3, 16, 16, 0.0, 0.5, 1, 0.8204051987494708},
		{1, 12, 20, 0.0, 1.0, 1, 0.33347800748848994},
		{2, 11, 11, 0.3, 0.4, 1, 0.991904487427327},    // smallest size: 1×1 valid region
		{1, 12, 20, 0.0, 0.0, 1, 1.0},                  // an image against itself
		{2, 13, 17, 0.2, 0.9, 1.5, 0.6036070319405797}, // a clamped to [-1, 1]
	} {
		a := ssimTestImage(tc.c, tc.h, tc.w, tc.pa, tc.sa)
		b := ssimTestImage(tc.c, tc.h, tc.w, tc.pb, 1)
		got, err := SSIM(a, b, tc.c, tc.h, tc.w)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-6 {
			t.Errorf("SSIM %d×%d×%d (pa=%v pb=%v sa=%v) = %.12f, want %.12f (skimage)",
				tc.c, tc.h, tc.w, tc.pa, tc.pb, tc.sa, got, tc.want)
		}
	}
}

// TestSSIMClosedForm checks cases worked by hand from the definition.
func TestSSIMClosedForm(t *testing.T) {
	const c1, c2 = 1e-4, 9e-4
	constant := func(v float64, n int) []float64 {
		x := make([]float64, n)
		for i := range x {
			x[i] = v
		}
		return x
	}
	const h, w = 12, 14
	n := h * w
	for _, tc := range []struct {
		name     string
		x, truth []float64
		want     float64
	}{
		// Constant images: all variances vanish, S = (2μₓμ_y + C₁)/(μₓ² + μ_y² + C₁).
		// [-1,1] values 0 and 0.5 are 1/2 and 3/4 on [0,1].
		{"constants", constant(0, n), constant(0.5, n),
			(2*0.5*0.75 + c1) / (0.25 + 0.5625 + c1)},
		// Black against white: μₓ = 0, μ_y = 1 → C₁/(1 + C₁).
		{"black/white", constant(-1, n), constant(1, n), c1 / (1 + c1)},
		// Values beyond [-1, 1] clamp to the same image.
		{"clamped equal", constant(-3, n), constant(-1, n), 1},
	} {
		got, err := SSIM(tc.x, tc.truth, 1, h, w)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: SSIM = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSSIMErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		x, truth []float64
		c, h, w  int
	}{
		{"too small", make([]float64, 10*20), make([]float64, 10*20), 1, 10, 20},
		{"too narrow", make([]float64, 20*10), make([]float64, 20*10), 1, 20, 10},
		{"length mismatch", make([]float64, 3*11*11), make([]float64, 11*11), 3, 11, 11},
		{"shape mismatch", make([]float64, 11*11), make([]float64, 11*11), 2, 11, 11},
		{"bad shape", nil, nil, 0, 11, 11},
	} {
		if _, err := SSIM(tc.x, tc.truth, tc.c, tc.h, tc.w); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
