package gmm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/ipbench/ipbench/harness/operator"
)

// SyntheticImages returns k smooth random images of the given shape with
// values in (−1, 1): per channel a sum of a few low-frequency plane waves
// passed through tanh. They stand in for real images as mixture means where
// no image files are at hand (tests, the embedded default benchmark).
func SyntheticImages(shape operator.Shape, k int, rng *rand.Rand) [][]float64 {
	out := make([][]float64, k)
	for n := range out {
		img := make([]float64, shape.Len())
		for c := 0; c < shape.C; c++ {
			type wave struct{ fy, fx, ph, amp float64 }
			waves := make([]wave, 5)
			for i := range waves {
				waves[i] = wave{
					fy:  2 * math.Pi * float64(rng.IntN(4)) / float64(shape.H),
					fx:  2 * math.Pi * float64(rng.IntN(4)) / float64(shape.W),
					ph:  2 * math.Pi * rng.Float64(),
					amp: 0.3 + 0.5*rng.Float64(),
				}
			}
			off := rng.Float64() - 0.5
			plane := img[c*shape.H*shape.W : (c+1)*shape.H*shape.W]
			for y := 0; y < shape.H; y++ {
				for x := 0; x < shape.W; x++ {
					v := off
					for _, w := range waves {
						v += w.amp * math.Cos(w.fy*float64(y)+w.fx*float64(x)+w.ph)
					}
					plane[y*shape.W+x] = math.Tanh(v)
				}
			}
		}
		out[n] = img
	}
	return out
}

// NewImagePrior returns the image-shaped mixture with the given means (each
// of length shape.Len()), equal weights and shared variance c: Σₖ (1/K) N(mₖ, cI).
func NewImagePrior(shape operator.Shape, means [][]float64, c float64) (*Mixture, error) {
	for k, m := range means {
		if len(m) != shape.Len() {
			return nil, fmt.Errorf("gmm: image mean %d has %d values, shape %dx%dx%d needs %d", k, len(m), shape.C, shape.H, shape.W, shape.Len())
		}
	}
	w := make([]float64, len(means))
	vars := make([]float64, len(means))
	for k := range w {
		w[k] = 1 / float64(len(means))
		vars[k] = c
	}
	return NewIsotropic(w, means, vars)
}
