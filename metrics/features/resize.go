package features

import (
	"fmt"
	"math"
)

// Bilinear resizes each of the c channel-first h×w planes of src to oh×ow,
// writing into dst (len c·oh·ow), as PyTorch's
// F.interpolate(mode="bilinear", align_corners=False, antialias=False)
// does, which is how pytorch-fid resizes its input to 299×299: output
// pixel o samples the input at s = (o + ½)·h/oh − ½, clamped below at 0,
// between ⌊s⌋ and min(⌊s⌋ + 1, h − 1) with weights 1 − (s − ⌊s⌋) and
// s − ⌊s⌋.
func Bilinear(dst, src []float64, c, h, w, oh, ow int) error {
	if c < 1 || h < 1 || w < 1 || oh < 1 || ow < 1 {
		return fmt.Errorf("features: resize %d×%d×%d to %d×%d: sizes must be positive", c, h, w, oh, ow)
	}
	if len(src) != c*h*w || len(dst) != c*oh*ow {
		return fmt.Errorf("features: resize %d×%d×%d to %d×%d: %d and %d values", c, h, w, oh, ow, len(src), len(dst))
	}
	type tap struct {
		i0, i1 int
		l      float64
	}
	taps := func(in, out int) []tap {
		t := make([]tap, out)
		scale := float64(in) / float64(out)
		for o := range t {
			s := math.Max(0, (float64(o)+0.5)*scale-0.5)
			i0 := min(int(s), in-1)
			t[o] = tap{i0, min(i0+1, in-1), s - float64(i0)}
		}
		return t
	}
	ty, tx := taps(h, oh), taps(w, ow)
	for ch := 0; ch < c; ch++ {
		p := src[ch*h*w : (ch+1)*h*w]
		q := dst[ch*oh*ow : (ch+1)*oh*ow]
		for y, a := range ty {
			r0, r1 := p[a.i0*w:(a.i0+1)*w], p[a.i1*w:(a.i1+1)*w]
			for x, b := range tx {
				top := r0[b.i0] + b.l*(r0[b.i1]-r0[b.i0])
				bot := r1[b.i0] + b.l*(r1[b.i1]-r1[b.i0])
				q[y*ow+x] = top + a.l*(bot-top)
			}
		}
	}
	return nil
}

// InceptionImage returns a 3×h×w channel-first image in [-1, 1] as the
// Inception export takes it: mapped to [0, 1] and resized bilinearly to
// 299×299 (see Inception and Bilinear).
func InceptionImage(img []float64, h, w int) ([]float64, error) {
	u := make([]float64, len(img))
	for i, v := range img {
		u[i] = math.Max(0, math.Min(1, (v+1)/2))
	}
	out := make([]float64, 3*InceptionSize*InceptionSize)
	if err := Bilinear(out, u, 3, h, w, InceptionSize, InceptionSize); err != nil {
		return nil, err
	}
	return out, nil
}
