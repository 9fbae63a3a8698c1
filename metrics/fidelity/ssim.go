package fidelity

import (
	"fmt"
	"math"
)

// SSIM window and constants of Wang et al. (2004), as scikit-image's
// structural_similarity uses them with gaussian_weights=True.
const (
	ssimSigma  = 1.5
	ssimRadius = 5 // int(3.5σ + 0.5), scipy.ndimage's truncation at 3.5σ
	ssimWin    = 2*ssimRadius + 1
	ssimK1     = 0.01
	ssimK2     = 0.03
)

// ssimWeights is the normalised 1-D Gaussian window
//
//	g(k) = exp(−k²/(2σ²)) / Σⱼ exp(−j²/(2σ²)),  k = −5, …, 5,  σ = 1.5,
//
// the kernel scipy.ndimage.gaussian_filter1d builds for sigma=1.5,
// truncate=3.5.
var ssimWeights = func() [ssimWin]float64 {
	var g [ssimWin]float64
	s := 0.0
	for k := -ssimRadius; k <= ssimRadius; k++ {
		v := math.Exp(-0.5 * float64(k*k) / (ssimSigma * ssimSigma))
		g[k+ssimRadius] = v
		s += v
	}
	for i := range g {
		g[i] /= s
	}
	return g
}()

// SSIM returns the mean structural similarity index of Wang et al. (2004)
// between x and the truth, both channel-first c×h×w images in [-1, 1],
// measured on [0, 1] after clamping with data range L = 1.
//
// It follows scikit-image 0.19's
//
//	structural_similarity(x, truth, channel_axis=0, data_range=1,
//	    gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
//
// per channel: with G the separable 11×11 Gaussian window (σ = 1.5,
// truncated at 3.5σ) and ∗ filtering,
//
//	μₓ = G∗x,  μ_y = G∗y,
//	σₓ² = G∗(x·x) − μₓ²,  σ_y² = G∗(y·y) − μ_y²,  σₓᵧ = G∗(x·y) − μₓμ_y,
//	S = (2μₓμ_y + C₁)(2σₓᵧ + C₂) / ((μₓ² + μ_y² + C₁)(σₓ² + σ_y² + C₂)),
//
// C₁ = (0.01 L)², C₂ = (0.03 L)². The SSIM map S is averaged over the valid
// region only, the pixels at least 5 from every border (scikit-image filters
// with mode='reflect' and then crops 5 pixels from each side; the cropped-in
// pixels' windows never reach the border, so the reflection never enters
// the result and this function does not compute it). The channel means are
// averaged over channels.
//
// SSIM returns an error if the lengths do not match c·h·w or if h or w is
// smaller than the 11-pixel window.
func SSIM(x, truth []float64, c, h, w int) (float64, error) {
	if c < 1 || h < 1 || w < 1 {
		return 0, fmt.Errorf("ssim: bad shape %d×%d×%d", c, h, w)
	}
	if n := c * h * w; len(x) != n || len(truth) != n {
		return 0, fmt.Errorf("ssim: %d and %d values for a %d×%d×%d image", len(x), len(truth), c, h, w)
	}
	if h < ssimWin || w < ssimWin {
		return 0, fmt.Errorf("ssim: image %d×%d is smaller than the %d×%d window", h, w, ssimWin, ssimWin)
	}
	if err := CheckRange("ssim: truth", truth); err != nil {
		return 0, err
	}
	const (
		c1 = (ssimK1 * 1) * (ssimK1 * 1)
		c2 = (ssimK2 * 1) * (ssimK2 * 1)
	)
	g := &ssimWeights
	hv, wv := h-2*ssimRadius, w-2*ssimRadius // valid region
	// The five images to filter, on [0, 1].
	var in [5][]float64
	for k := range in {
		in[k] = make([]float64, h*w)
	}
	// Row-filtered maps: all h rows, valid columns only.
	var rows [5][]float64
	for k := range rows {
		rows[k] = make([]float64, h*wv)
	}
	total := 0.0
	for ch := 0; ch < c; ch++ {
		off := ch * h * w
		for i := 0; i < h*w; i++ {
			a, b := unit(x[off+i]), unit(truth[off+i])
			in[0][i], in[1][i] = a, b
			in[2][i], in[3][i], in[4][i] = a*a, b*b, a*b
		}
		for k := range in {
			src, dst := in[k], rows[k]
			for r := 0; r < h; r++ {
				for j := 0; j < wv; j++ {
					s := 0.0
					for t := 0; t < ssimWin; t++ {
						s += g[t] * src[r*w+j+t]
					}
					dst[r*wv+j] = s
				}
			}
		}
		sum := 0.0
		for i := 0; i < hv; i++ {
			for j := 0; j < wv; j++ {
				var f [5]float64
				for k := range f {
					s := 0.0
					for t := 0; t < ssimWin; t++ {
						s += g[t] * rows[k][(i+t)*wv+j]
					}
					f[k] = s
				}
				ux, uy := f[0], f[1]
				vx := f[2] - ux*ux
				vy := f[3] - uy*uy
				vxy := f[4] - ux*uy
				sum += (2*ux*uy + c1) * (2*vxy + c2) /
					((ux*ux + uy*uy + c1) * (vx + vy + c2))
			}
		}
		total += sum / float64(hv*wv)
	}
	return total / float64(c), nil
}
