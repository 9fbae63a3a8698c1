package features

import (
	"math"
	"testing"
)

// PyTorch's bilinear resize (align_corners=False) worked by hand: a row
// [a, b] upsampled ×2 is [a, ¾a + ¼b, ¼a + ¾b, b]; [a, b, c, d] halved is
// [(a+b)/2, (c+d)/2]; a 1×1 image spreads to every pixel; the two axes
// combine as the product of their weights.
func TestBilinear(t *testing.T) {
	for _, tc := range []struct {
		name            string
		src             []float64
		c, h, w, oh, ow int
		want            []float64
	}{
		{"up x2 row", []float64{1, 5}, 1, 1, 2, 1, 4, []float64{1, 2, 4, 5}},
		{"down x2 row", []float64{1, 3, 6, 10}, 1, 1, 4, 1, 2, []float64{2, 8}},
		{"1x1", []float64{7}, 1, 1, 1, 2, 3, []float64{7, 7, 7, 7, 7, 7}},
		{"2x2 up, two channels", []float64{0, 4, 8, 12, 1, 1, 1, 1}, 2, 2, 2, 4, 4, []float64{
			0, 1, 3, 4,
			2, 3, 5, 6,
			6, 7, 9, 10,
			8, 9, 11, 12,
			1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
		}},
	} {
		dst := make([]float64, tc.c*tc.oh*tc.ow)
		if err := Bilinear(dst, tc.src, tc.c, tc.h, tc.w, tc.oh, tc.ow); err != nil {
			t.Fatal(err)
		}
		for i := range dst {
			if math.Abs(dst[i]-tc.want[i]) > 1e-12 {
				t.Errorf("%s: %v, want %v", tc.name, dst, tc.want)
				break
			}
		}
	}
	if err := Bilinear(make([]float64, 3), make([]float64, 4), 1, 2, 2, 2, 2); err == nil {
		t.Error("wrong dst length: no error")
	}
	img, err := InceptionImage([]float64{-1, 1, 0, 3, -1, 1, 0, 3, -1, 1, 0, 3}, 2, 2)
	if err != nil || len(img) != 3*299*299 || img[0] != 0 || img[299*299-1] != 1 {
		t.Errorf("InceptionImage: len %d, corners %v %v, %v", len(img), img[0], img[299*299-1], err)
	}
}
