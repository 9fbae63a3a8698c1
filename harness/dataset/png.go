package dataset

import (
	"bytes"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/harness/operator"
)

// WritePNG writes pixels (C×H×W in [-1, 1], C = 1 or 3) to path as an
// 8-bit PNG, atomically and durably (see EncodePNG for the mapping).
func WritePNG(path string, shape operator.Shape, pixels []float64) error {
	data, err := EncodePNG(shape, pixels)
	if err != nil {
		return fmt.Errorf("dataset: writing %s: %w", path, err)
	}
	if err := atomicfile.Write(path, data); err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	return nil
}

// EncodePNG encodes a channel-first image in [−1, 1] as an 8-bit PNG: RGB
// for C = 3, gray for C = 1. Each value v is clamped to [−1, 1] and stored
// as round((v + 1)·127.5), halves away from zero. It returns an error for C
// other than 1 or 3, a non-positive H or W, len(pixels) ≠ C·H·W or a NaN
// value.
func EncodePNG(shape operator.Shape, pixels []float64) ([]byte, error) {
	img, err := ToImage(shape, pixels)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ToImage returns a channel-first image in [−1, 1] as an 8-bit image, with
// EncodePNG's mapping and errors.
func ToImage(shape operator.Shape, pixels []float64) (image.Image, error) {
	if shape.C != 1 && shape.C != 3 {
		return nil, fmt.Errorf("%d channels, want 1 or 3", shape.C)
	}
	if shape.H <= 0 || shape.W <= 0 {
		return nil, fmt.Errorf("image size %d×%d is not positive", shape.H, shape.W)
	}
	if len(pixels) != shape.Len() {
		return nil, fmt.Errorf("%d values for a %d×%d×%d image, want %d",
			len(pixels), shape.C, shape.H, shape.W, shape.Len())
	}
	for i, v := range pixels {
		if math.IsNaN(v) {
			return nil, fmt.Errorf("value %d is NaN", i)
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
	return img, nil
}

// ReadPNG reads an image that EncodePNG wrote (or any PNG of exactly that
// shape) back into [−1, 1] channel-first pixels: sample q of full scale F
// (255 for 8-bit files) becomes 2q/F − 1, so an 8-bit level comes back as
// q/127.5 − 1; a gray file fills every channel. An image of another size is
// an error that names the file and both sizes, not a resized guess.
func ReadPNG(path string, shape operator.Shape) ([]float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	b := img.Bounds()
	if b.Dx() != shape.W || b.Dy() != shape.H {
		return nil, fmt.Errorf("%s is %d×%d, want %d×%d", path, b.Dx(), b.Dy(), shape.W, shape.H)
	}
	if shape.C != 3 {
		return nil, fmt.Errorf("%s: reading %d channels is not supported, only 3", path, shape.C)
	}
	planes, full := samples(img, b)
	plane := shape.H * shape.W
	out := make([]float64, 3*plane)
	for c := range 3 {
		src := planes[min(c, len(planes)-1)]
		for i, v := range src {
			out[c*plane+i] = 2*v/full - 1
		}
	}
	return out, nil
}

// Quantized returns x as EncodePNG stores it and ReadPNG reads it back: each
// value clamped to [−1, 1] and rounded to the nearest of the 256 levels.
func Quantized(x []float64) []float64 {
	q := make([]float64, len(x))
	for i, v := range x {
		q[i] = float64(to8(v))/127.5 - 1
	}
	return q
}

// to8 is the 8-bit level of v ∈ [−1, 1] (clamped), halves away from zero.
func to8(v float64) uint8 {
	return uint8(math.Round((math.Max(-1, math.Min(1, v)) + 1) * 127.5))
}
