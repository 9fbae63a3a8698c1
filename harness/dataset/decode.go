package dataset

import (
	"fmt"
	"image"
	"image/color"
	"math"
)

// cropSquare returns the centred square of side min(H, W) of r: the larger
// side loses ⌊d/2⌋ pixels at its start and ⌈d/2⌉ at its end, d = |H − W|.
func cropSquare(r image.Rectangle) image.Rectangle {
	w, h := r.Dx(), r.Dy()
	s := min(w, h)
	x0 := r.Min.X + (w-s)/2
	y0 := r.Min.Y + (h-s)/2
	return image.Rect(x0, y0, x0+s, y0+s)
}

// samples returns the samples of img inside the rectangle sq as
// integer-valued planes of sq's size, row-major (one plane for gray images,
// three for colour) and the sample value of full intensity (255 or 65535).
// Alpha is dropped: colour channels are taken non-premultiplied.
func samples(img image.Image, sq image.Rectangle) (planes [][]float64, full float64) {
	w, h := sq.Dx(), sq.Dy()
	newPlanes := func(c int) [][]float64 {
		p := make([][]float64, c)
		for i := range p {
			p[i] = make([]float64, w*h)
		}
		return p
	}
	// fromPix reads the first c channels of pixels laid out as the image
	// package's Pix buffers are: stride bytes per pixel, one byte per
	// sample, or two big-endian bytes when wide.
	fromPix := func(pix []uint8, offset func(x, y int) int, c, stride int, wide bool) ([][]float64, float64) {
		planes := newPlanes(c)
		for y := range h {
			off := offset(sq.Min.X, sq.Min.Y+y)
			for x := range w {
				p := pix[off+stride*x:]
				for ch := range c {
					if wide {
						planes[ch][y*w+x] = float64(uint16(p[2*ch])<<8 | uint16(p[2*ch+1]))
					} else {
						planes[ch][y*w+x] = float64(p[ch])
					}
				}
			}
		}
		if wide {
			return planes, 65535
		}
		return planes, 255
	}
	switch m := img.(type) {
	case *image.Gray:
		return fromPix(m.Pix, m.PixOffset, 1, 1, false)
	case *image.Gray16:
		return fromPix(m.Pix, m.PixOffset, 1, 2, true)
	case *image.NRGBA:
		return fromPix(m.Pix, m.PixOffset, 3, 4, false)
	case *image.NRGBA64:
		return fromPix(m.Pix, m.PixOffset, 3, 8, true)
	case *image.RGBA:
		if !m.SubImage(sq).(*image.RGBA).Opaque() {
			break // premultiplied: un-premultiply in the general case
		}
		return fromPix(m.Pix, m.PixOffset, 3, 4, false)
	case *image.RGBA64:
		if !m.SubImage(sq).(*image.RGBA64).Opaque() {
			break
		}
		return fromPix(m.Pix, m.PixOffset, 3, 8, true)
	case *image.YCbCr:
		planes = newPlanes(3)
		for y := range h {
			for x := range w {
				yi := m.YOffset(sq.Min.X+x, sq.Min.Y+y)
				ci := m.COffset(sq.Min.X+x, sq.Min.Y+y)
				r, g, b := color.YCbCrToRGB(m.Y[yi], m.Cb[ci], m.Cr[ci])
				planes[0][y*w+x] = float64(r)
				planes[1][y*w+x] = float64(g)
				planes[2][y*w+x] = float64(b)
			}
		}
		return planes, 255
	case *image.Paletted:
		pal := make([]color.NRGBA, len(m.Palette))
		for i, c := range m.Palette {
			pal[i] = color.NRGBAModel.Convert(c).(color.NRGBA)
		}
		planes = newPlanes(3)
		for y := range h {
			off := m.PixOffset(sq.Min.X, sq.Min.Y+y)
			for x := range w {
				var c color.NRGBA // an index past the palette is black, as in image.Paletted.At
				if idx := int(m.Pix[off+x]); idx < len(pal) {
					c = pal[idx]
				}
				planes[0][y*w+x] = float64(c.R)
				planes[1][y*w+x] = float64(c.G)
				planes[2][y*w+x] = float64(c.B)
			}
		}
		return planes, 255
	}
	// General case (CMYK JPEGs, translucent premultiplied images, …).
	planes = newPlanes(3)
	for y := range h {
		for x := range w {
			c := color.NRGBA64Model.Convert(img.At(sq.Min.X+x, sq.Min.Y+y)).(color.NRGBA64)
			planes[0][y*w+x] = float64(c.R)
			planes[1][y*w+x] = float64(c.G)
			planes[2][y*w+x] = float64(c.B)
		}
	}
	return planes, 65535
}

// squareRGB returns img centre-cropped to a square, area-resized to n×n and
// mapped to [−1, 1], as 3×n×n channel-first pixels.
func squareRGB(img image.Image, n int) ([]float64, error) {
	if n <= 0 {
		return nil, fmt.Errorf("output size %d is not positive", n)
	}
	sq := cropSquare(img.Bounds())
	s := sq.Dx()
	if s <= 0 {
		return nil, fmt.Errorf("empty image (%d×%d)", img.Bounds().Dx(), img.Bounds().Dy())
	}
	planes, full := samples(img, sq)
	spans := areaSpans(s, n)
	tmp := make([]float64, s*n)
	out := make([]float64, 3*n*n)
	// v/full ∈ [0, 1] maps to 2v/full − 1; the area sums carry a factor s².
	d := float64(s) * float64(s) * full
	for c, p := range planes {
		dst := out[c*n*n : (c+1)*n*n]
		resizeSums(dst, p, s, s, spans, spans, tmp)
		for i, v := range dst {
			dst[i] = math.Max(-1, math.Min(1, 2*v/d-1))
		}
	}
	if len(planes) == 1 {
		copy(out[n*n:], out[:n*n])
		copy(out[2*n*n:], out[:n*n])
	}
	return out, nil
}
