package dataset

import (
	"bytes"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/operator"
)

func TestWritePNGRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, shape := range []operator.Shape{{C: 3, H: 5, W: 7}, {C: 1, H: 4, W: 3}, {C: 3, H: 1, W: 1}} {
		pix := make([]float64, shape.Len())
		for i := range pix {
			pix[i] = 2.4*rng.Float64() - 1.2 // some outside [−1, 1]: clamped
		}
		pix[0], pix[len(pix)-1] = math.Inf(-1), math.Inf(1)
		path := filepath.Join(t.TempDir(), "x.png")
		if err := WritePNG(path, shape, pix); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if b := img.Bounds(); b.Dx() != shape.W || b.Dy() != shape.H {
			t.Fatalf("%v: decoded size %v", shape, b)
		}
		wantType := "RGBA" // opaque 8-bit RGB
		if shape.C == 1 {
			wantType = "Gray"
		}
		if got := typeName(img); got != wantType {
			t.Errorf("%v: decodes as %s, want %s", shape, got, wantType)
		}
		plane := shape.H * shape.W
		for y := range shape.H {
			for x := range shape.W {
				r, g, b, _ := img.At(x, y).RGBA()
				got := []uint32{r >> 8, g >> 8, b >> 8}
				for c := range shape.C {
					v := math.Max(-1, math.Min(1, pix[c*plane+y*shape.W+x]))
					back := float64(got[c])/127.5 - 1
					if math.Abs(back-v) > 1.0/255+1e-12 {
						t.Errorf("%v: channel %d at (%d, %d): wrote %v, read %v", shape, c, x, y, v, back)
					}
				}
			}
		}
	}
}

// TestWritePNGLoad writes an RGB image of exact 8-bit levels and reads it
// back with Load at its own size: the values come back exactly.
func TestWritePNGLoad(t *testing.T) {
	shape := operator.Shape{C: 3, H: 6, W: 6}
	pix := make([]float64, shape.Len())
	for i := range pix {
		pix[i] = float64((i*37)%256)/127.5 - 1
	}
	dir := t.TempDir()
	if err := WritePNG(filepath.Join(dir, "levels.png"), shape, pix); err != nil {
		t.Fatal(err)
	}
	f, err := OpenFolder(dir, FolderOptions{Size: 6})
	if err != nil {
		t.Fatal(err)
	}
	img, err := f.Load(0)
	if err != nil {
		t.Fatal(err)
	}
	if img.Shape != shape || !equalWithin(img.Pixels, pix, 1e-15) {
		t.Errorf("Load after WritePNG: %v %v, want %v %v", img.Shape, img.Pixels, shape, pix)
	}
}

func TestWritePNGRounding(t *testing.T) {
	for _, test := range []struct {
		v    float64
		want uint8
	}{
		{-1, 0}, {1, 255}, {-2, 0}, {3, 255}, {0, 128}, // (0+1)·127.5 = 127.5 rounds up
		{1/127.5 - 1, 1}, {0.49/127.5 - 1, 0}, {0.51/127.5 - 1, 1},
	} {
		path := filepath.Join(t.TempDir(), "p.png")
		if err := WritePNG(path, operator.Shape{C: 1, H: 1, W: 1}, []float64{test.v}); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if got := img.(*image.Gray).Pix[0]; got != test.want {
			t.Errorf("value %v stored as %d, want %d", test.v, got, test.want)
		}
	}
}

func TestWritePNGErrors(t *testing.T) {
	dir := t.TempDir()
	for _, test := range []struct {
		name  string
		shape operator.Shape
		n     int
		nan   bool
		want  string
	}{
		{"two channels", operator.Shape{C: 2, H: 2, W: 2}, 8, false, "2 channels"},
		{"four channels", operator.Shape{C: 4, H: 2, W: 2}, 16, false, "4 channels"},
		{"short", operator.Shape{C: 3, H: 2, W: 2}, 11, false, "11 values"},
		{"long", operator.Shape{C: 1, H: 2, W: 2}, 5, false, "5 values"},
		{"empty", operator.Shape{C: 1, H: 0, W: 2}, 0, false, "not positive"},
		{"negative", operator.Shape{C: 1, H: -1, W: -2}, 2, false, "not positive"},
		{"NaN", operator.Shape{C: 1, H: 2, W: 2}, 4, true, "NaN"},
	} {
		path := filepath.Join(dir, test.name+".png")
		pix := make([]float64, test.n)
		if test.nan {
			pix[2] = math.NaN()
		}
		err := WritePNG(path, test.shape, pix)
		if err == nil || !strings.Contains(err.Error(), test.want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and containing %q", test.name, err, path, test.want)
		}
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("%s: file written despite the error", test.name)
		}
	}
	// A folder that does not exist.
	path := filepath.Join(dir, "missing", "x.png")
	if err := WritePNG(path, operator.Shape{C: 1, H: 1, W: 1}, []float64{0}); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("missing folder: error %v does not name %s", err, path)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// ReadPNG gives back what EncodePNG stored: each value within half a level
// (1/255) of the clamped original, exactly q/127.5 − 1 of the stored level;
// a file of another size is an error naming both sizes.
func TestReadPNG(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	shape := operator.Shape{C: 3, H: 6, W: 9}
	pix := make([]float64, shape.Len())
	for i := range pix {
		pix[i] = 2.2*rng.Float64() - 1.1
	}
	path := filepath.Join(t.TempDir(), "x.png")
	if err := WritePNG(path, shape, pix); err != nil {
		t.Fatal(err)
	}
	got, err := ReadPNG(path, shape)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range pix {
		c := math.Max(-1, math.Min(1, v))
		q := math.Round((got[i] + 1) * 127.5)
		if math.Abs(got[i]-c) > 1.0/255+1e-12 || math.Abs(q/127.5-1-got[i]) > 1e-15 {
			t.Fatalf("value %d: wrote %v, read %v", i, v, got[i])
		}
	}
	// Quantized is the same round trip without the file.
	for i, v := range Quantized(pix) {
		if math.Abs(v-got[i]) > 1e-15 {
			t.Fatalf("Quantized[%d] = %v, ReadPNG %v", i, v, got[i])
		}
	}
	if _, err := ReadPNG(path, operator.Shape{C: 3, H: 9, W: 6}); err == nil || !strings.Contains(err.Error(), "is 9×6, want 6×9") {
		t.Errorf("wrong size: error %v", err)
	}
}
