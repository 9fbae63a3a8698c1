package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/harness/operator"
)

// WritePNG writes a channel-first image in [−1, 1] to path as an 8-bit PNG:
// RGB for C = 3, gray for C = 1. Each value v is clamped to [−1, 1] and
// stored as round((v + 1)·127.5), halves away from zero. The file is
// written atomically (atomicfile.Write). It returns an error for C other
// than 1 or 3, a non-positive H or W, len(pixels) ≠ C·H·W or a NaN value.
func WritePNG(path string, shape operator.Shape, pixels []float64) error {
	if shape.C != 1 && shape.C != 3 {
		return fmt.Errorf("dataset: writing %s: %d channels, want 1 or 3", path, shape.C)
	}
	if shape.H <= 0 || shape.W <= 0 {
		return fmt.Errorf("dataset: writing %s: image size %d×%d is not positive", path, shape.H, shape.W)
	}
	if len(pixels) != shape.Len() {
		return fmt.Errorf("dataset: writing %s: %d values for a %d×%d×%d image, want %d",
			path, len(pixels), shape.C, shape.H, shape.W, shape.Len())
	}
	to8 := func(v float64) uint8 {
		return uint8(math.Round((math.Max(-1, math.Min(1, v)) + 1) * 127.5))
	}
	for i, v := range pixels {
		if math.IsNaN(v) {
			return fmt.Errorf("dataset: writing %s: value %d is NaN", path, i)
		}
	}
	h, w := shape.H, shape.W
	plane := h * w
	var img image.Image
	if shape.C == 1 {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i, v := range pixels {
			g.Pix[i] = to8(v)
		}
		img = g
	} else {
		// An opaque *image.RGBA is encoded as 8-bit RGB without alpha.
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		for i := range plane {
			p := m.Pix[4*i : 4*i+4]
			p[0] = to8(pixels[i])
			p[1] = to8(pixels[plane+i])
			p[2] = to8(pixels[2*plane+i])
			p[3] = 255
		}
		img = m
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("dataset: writing %s: %w", path, err)
	}
	if err := atomicfile.Write(path, buf.Bytes()); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	return nil
}
