package dataset

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/operator"
)

// sharedData returns the path of the shared image sets (see its MANIFEST.md)
// relative to this package, or skips the test if they are not there.
func sharedData(t *testing.T, sub string) string {
	t.Helper()
	dir := filepath.Join("..", "..", "..", "shared", "data", sub)
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	return dir
}

// encodePNG returns img encoded as PNG.
func encodePNG(t *testing.T, img image.Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// to1 maps an 8-bit sample to [−1, 1].
func to1(v uint8) float64 { return float64(v)/127.5 - 1 }

// to1x16 maps a 16-bit sample to [−1, 1].
func to1x16(v uint16) float64 { return float64(v)/32767.5 - 1 }

// opaqueTypes wraps an image so that only the image.Image interface is
// visible, which sends it down the general conversion path.
type opaqueTypes struct{ image.Image }

func TestCropSquare(t *testing.T) {
	for _, test := range []struct {
		in, want image.Rectangle
	}{
		{image.Rect(0, 0, 4, 4), image.Rect(0, 0, 4, 4)},
		{image.Rect(0, 0, 5, 3), image.Rect(1, 0, 4, 3)}, // 2 columns off: 1 left, 1 right
		{image.Rect(0, 0, 6, 3), image.Rect(1, 0, 4, 3)}, // 3 columns off: 1 left, 2 right
		{image.Rect(0, 0, 2, 5), image.Rect(0, 1, 2, 3)}, // 3 rows off: 1 top, 2 bottom
		{image.Rect(0, 0, 1, 2), image.Rect(0, 0, 1, 1)}, // 1 row off: at the bottom
		{image.Rect(10, 20, 16, 23), image.Rect(11, 20, 14, 23)},
	} {
		if got := cropSquare(test.in); got != test.want {
			t.Errorf("cropSquare(%v) = %v, want %v", test.in, got, test.want)
		}
	}
}

// TestLoadCentreCrop writes non-square PNGs whose pixels encode their
// coordinates and checks which rows and columns Load keeps.
func TestLoadCentreCrop(t *testing.T) {
	for _, test := range []struct {
		name      string
		w, h      int
		x0, y0, s int // the expected crop
	}{
		{name: "wide-odd", w: 6, h: 3, x0: 1, y0: 0, s: 3},
		{name: "wide-even", w: 7, h: 3, x0: 2, y0: 0, s: 3},
		{name: "tall-odd", w: 4, h: 9, x0: 0, y0: 2, s: 4},
		{name: "tall-one", w: 3, h: 4, x0: 0, y0: 0, s: 3},
	} {
		dir := t.TempDir()
		img := image.NewNRGBA(image.Rect(0, 0, test.w, test.h))
		for y := range test.h {
			for x := range test.w {
				img.SetNRGBA(x, y, color.NRGBA{R: uint8(20 * x), G: uint8(20 * y), B: 77, A: 255})
			}
		}
		writeFile(t, filepath.Join(dir, test.name+".png"), encodePNG(t, img))
		f, err := OpenFolder(dir, FolderOptions{Size: test.s})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Load(0)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Image{ID: test.name, Shape: f.Shape()}); got.ID != want.ID || got.Shape != want.Shape {
			t.Fatalf("%s: id %q shape %v, want %q %v", test.name, got.ID, got.Shape, want.ID, want.Shape)
		}
		s := test.s
		for y := range s {
			for x := range s {
				want := [3]float64{to1(uint8(20 * (x + test.x0))), to1(uint8(20 * (y + test.y0))), to1(77)}
				for c := range 3 {
					if g := got.Pixels[c*s*s+y*s+x]; math.Abs(g-want[c]) > 1e-15 {
						t.Errorf("%s: channel %d at (%d, %d) = %v, want %v", test.name, c, x, y, g, want[c])
					}
				}
			}
		}
	}
}

// TestLoadFormats decodes PNGs of every colour type Go writes, at their own
// size (where the resize is the identity) and at half size, and checks the
// pixels against the samples that were written.
func TestLoadFormats(t *testing.T) {
	const n = 4
	gray := image.NewGray(image.Rect(0, 0, n, n))
	gray16 := image.NewGray16(image.Rect(0, 0, n, n))
	nrgba := image.NewNRGBA(image.Rect(0, 0, n, n))
	rgba := image.NewRGBA(image.Rect(0, 0, n, n))
	nrgba64 := image.NewNRGBA64(image.Rect(0, 0, n, n))
	rgba64 := image.NewRGBA64(image.Rect(0, 0, n, n))
	pal := color.Palette{color.NRGBA{10, 20, 30, 255}, color.NRGBA{200, 100, 0, 128}, color.NRGBA{255, 255, 255, 0}}
	paletted := image.NewPaletted(image.Rect(0, 0, n, n), pal)
	// want[c][y·n + x] in [−1, 1].
	wants := map[string]*[3][n * n]float64{}
	for _, k := range []string{"gray", "gray16", "nrgba", "rgba", "nrgba64", "rgba64", "paletted"} {
		wants[k] = new([3][n * n]float64)
	}
	set := func(k string, i int, v [3]float64) {
		for c := range 3 {
			wants[k][c][i] = v[c]
		}
	}
	for y := range n {
		for x := range n {
			i := y*n + x
			g := uint8(17*i + 3)
			gray.SetGray(x, y, color.Gray{g})
			set("gray", i, [3]float64{to1(g), to1(g), to1(g)})
			g16 := uint16(4099*i + 1) // not multiples of 257
			gray16.SetGray16(x, y, color.Gray16{g16})
			set("gray16", i, [3]float64{to1x16(g16), to1x16(g16), to1x16(g16)})
			// Translucent and transparent pixels: alpha is dropped.
			c := color.NRGBA{R: uint8(15 * i), G: uint8(255 - 9*i), B: uint8(7 * i), A: uint8(17 * i)}
			nrgba.SetNRGBA(x, y, c)
			set("nrgba", i, [3]float64{to1(c.R), to1(c.G), to1(c.B)})
			rgba.SetRGBA(x, y, color.RGBA{R: c.R, G: c.G, B: c.B, A: 255})
			set("rgba", i, [3]float64{to1(c.R), to1(c.G), to1(c.B)})
			c64 := color.NRGBA64{R: uint16(4001 * i), G: uint16(65535 - 3001*i), B: uint16(333 * i), A: uint16(4000 * i)}
			nrgba64.SetNRGBA64(x, y, c64)
			set("nrgba64", i, [3]float64{to1x16(c64.R), to1x16(c64.G), to1x16(c64.B)})
			rgba64.SetRGBA64(x, y, color.RGBA64{R: c64.R, G: c64.G, B: c64.B, A: 65535})
			set("rgba64", i, [3]float64{to1x16(c64.R), to1x16(c64.G), to1x16(c64.B)})
			p := uint8(i % 3)
			paletted.SetColorIndex(x, y, p)
			pc := pal[p].(color.NRGBA)
			set("paletted", i, [3]float64{to1(pc.R), to1(pc.G), to1(pc.B)})
		}
	}
	for _, test := range []struct {
		name     string
		img      image.Image
		decodeAs image.Image // the type image/png decodes the file to
	}{
		{"gray", gray, &image.Gray{}},
		{"gray16", gray16, &image.Gray16{}},
		{"nrgba", nrgba, &image.NRGBA{}},
		{"rgba", rgba, &image.RGBA{}},
		{"nrgba64", nrgba64, &image.NRGBA64{}},
		{"rgba64", rgba64, &image.RGBA64{}},
		{"paletted", paletted, &image.Paletted{}},
	} {
		data := encodePNG(t, test.img)
		dec, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := typeName(dec), typeName(test.decodeAs); got != want {
			t.Errorf("%s: decodes as %s, want %s", test.name, got, want)
		}
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, test.name+".PNG"), data)
		want := wants[test.name]
		for _, size := range []int{n, n / 2} {
			f, err := OpenFolder(dir, FolderOptions{Size: size})
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Load(0)
			if err != nil {
				t.Fatal(err)
			}
			if got.Shape != shape3(size) || len(got.Pixels) != 3*size*size {
				t.Fatalf("%s: shape %v with %d values", test.name, got.Shape, len(got.Pixels))
			}
			r := n / size
			for c := range 3 {
				for y := range size {
					for x := range size {
						var w float64 // mean of the r×r block
						for dy := range r {
							for dx := range r {
								w += want[c][(r*y+dy)*n+r*x+dx]
							}
						}
						w /= float64(r * r)
						if g := got.Pixels[c*size*size+y*size+x]; math.Abs(g-w) > 1e-14 {
							t.Errorf("%s at size %d: channel %d at (%d, %d) = %v, want %v", test.name, size, c, x, y, g, w)
						}
					}
				}
			}
		}
	}
}

// shape3 is the shape of a 3×n×n image.
func shape3(n int) operator.Shape { return operator.Shape{C: 3, H: n, W: n} }

func typeName(img image.Image) string {
	switch img.(type) {
	case *image.Gray:
		return "Gray"
	case *image.Gray16:
		return "Gray16"
	case *image.NRGBA:
		return "NRGBA"
	case *image.RGBA:
		return "RGBA"
	case *image.NRGBA64:
		return "NRGBA64"
	case *image.RGBA64:
		return "RGBA64"
	case *image.Paletted:
		return "Paletted"
	case *image.YCbCr:
		return "YCbCr"
	}
	return "other"
}

// TestFastPaths checks that the conversion of each concrete image type
// agrees with the general one through image.Image.At, on opaque images
// (the general path un-premultiplies, which loses the colour of transparent
// pixels, so the two differ there by design). YCbCr's fast path converts to
// 8 bits, the general one to 16, so they agree to one 8-bit step.
func TestFastPaths(t *testing.T) {
	const w, h = 7, 5
	r := image.Rect(2, 1, 2+w, 1+h) // not at the origin
	gray := image.NewGray(r)
	gray16 := image.NewGray16(r)
	nrgba := image.NewNRGBA(r)
	rgba := image.NewRGBA(r)
	nrgba64 := image.NewNRGBA64(r)
	rgba64 := image.NewRGBA64(r)
	pal := color.Palette{color.NRGBA{10, 20, 30, 255}, color.RGBA{200, 100, 0, 255}, color.Gray{77}}
	paletted := image.NewPaletted(r, pal)
	ycc := image.NewYCbCr(r, image.YCbCrSubsampleRatio420)
	cmyk := image.NewCMYK(r)
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			i := 37*x + 11*y
			gray.SetGray(x, y, color.Gray{uint8(i)})
			gray16.SetGray16(x, y, color.Gray16{uint16(1001 * i)})
			nrgba.SetNRGBA(x, y, color.NRGBA{uint8(i), uint8(3 * i), uint8(5 * i), 255})
			rgba.SetRGBA(x, y, color.RGBA{uint8(i), uint8(3 * i), uint8(5 * i), 255})
			nrgba64.SetNRGBA64(x, y, color.NRGBA64{uint16(901 * i), uint16(3 * i), uint16(5003 * i), 65535})
			rgba64.SetRGBA64(x, y, color.RGBA64{uint16(901 * i), uint16(3 * i), uint16(5003 * i), 65535})
			paletted.SetColorIndex(x, y, uint8(i%3))
			cmyk.SetCMYK(x, y, color.CMYK{uint8(i), uint8(2 * i), uint8(3 * i), uint8(i / 4)})
		}
	}
	for i := range ycc.Y {
		ycc.Y[i] = uint8(13 * i)
	}
	for i := range ycc.Cb {
		ycc.Cb[i] = uint8(100 + 7*i)
		ycc.Cr[i] = uint8(200 - 5*i)
	}
	for _, test := range []struct {
		name string
		img  image.Image
		tol  float64
	}{
		{"gray", gray, 1e-14},
		{"gray16", gray16, 1e-14},
		{"nrgba", nrgba, 1e-14},
		{"rgba", rgba, 1e-14},
		{"nrgba64", nrgba64, 1e-14},
		{"rgba64", rgba64, 1e-14},
		{"paletted", paletted, 1e-14},
		{"ycbcr", ycc, 2.0 / 255},
		{"cmyk", cmyk, 0},
	} {
		for _, size := range []int{5, 3, 8} {
			fast, err := squareRGB(test.img, size)
			if err != nil {
				t.Fatal(err)
			}
			slow, err := squareRGB(opaqueTypes{test.img}, size)
			if err != nil {
				t.Fatal(err)
			}
			if !equalWithin(fast, slow, test.tol) {
				t.Errorf("%s at size %d: fast path %v differs from the general path %v", test.name, size, fast, slow)
			}
		}
	}
}

// TestLoadTranslucentRGBA checks the general path on a premultiplied image
// with translucent pixels: the colour is un-premultiplied.
func TestLoadTranslucentRGBA(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 1, 1))
	img.SetRGBA(0, 0, color.RGBA{R: 100, G: 50, B: 0, A: 128}) // NRGBA about (199, 100, 0)
	got, err := squareRGB(img, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := color.NRGBA64Model.Convert(img.At(0, 0)).(color.NRGBA64)
	for c, v := range []uint16{want.R, want.G, want.B} {
		if math.Abs(got[c]-to1x16(v)) > 1e-15 {
			t.Errorf("channel %d = %v, want %v", c, got[c], to1x16(v))
		}
	}
}

func TestLoadJPEG(t *testing.T) {
	dir := sharedData(t, "imagenet-val")
	f, err := OpenFolder(dir, FolderOptions{Limit: 3})
	if err != nil {
		t.Fatal(err)
	}
	if f.Len() != 3 {
		t.Fatalf("Len = %d, want 3", f.Len())
	}
	for i, id := range f.IDs() {
		img, err := f.Load(i)
		if err != nil {
			t.Fatal(err)
		}
		if img.ID != id || !strings.HasPrefix(id, "ILSVRC2012_val_") {
			t.Errorf("image %d: id %q, IDs()[%d] = %q", i, img.ID, i, id)
		}
		if want := shape3(64); img.Shape != want || len(img.Pixels) != 3*64*64 {
			t.Fatalf("%s: shape %v with %d values, want %v", id, img.Shape, len(img.Pixels), want)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range img.Pixels {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		if !(lo >= -1 && hi <= 1 && hi-lo > 0.5) {
			t.Errorf("%s: values span [%v, %v]", id, lo, hi)
		}
		// The YCbCr fast path (8-bit conversion) agrees with the general
		// path (16-bit conversion) to within one 8-bit step.
		data, err := os.ReadFile(filepath.Join(dir, f.names[i]))
		if err != nil {
			t.Fatal(err)
		}
		dec, err := decodeImage(data)
		if err != nil {
			t.Fatal(err)
		}
		if typeName(dec) != "YCbCr" {
			t.Errorf("%s decodes as %s", id, typeName(dec))
		}
		slow, err := squareRGB(opaqueTypes{dec}, 64)
		if err != nil {
			t.Fatal(err)
		}
		if !equalWithin(img.Pixels, slow, 2.0/255) {
			t.Errorf("%s: YCbCr fast path differs from the general path by more than 1/255", id)
		}
	}
}

// TestLoadFFHQ checks a 256×256 FFHQ PNG against its decoded samples: at
// size 256 Load is the identity, at 64 it is the mean of 4×4 blocks.
func TestLoadFFHQ(t *testing.T) {
	dir := sharedData(t, "ffhq")
	for _, size := range []int{256, 64} {
		f, err := OpenFolder(dir, FolderOptions{Size: size, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		got, err := f.Load(0)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(dir, f.names[0]))
		if err != nil {
			t.Fatal(err)
		}
		dec, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		if b := dec.Bounds(); b.Dx() != 256 || b.Dy() != 256 {
			t.Fatalf("%s is %v, want 256×256", f.names[0], b)
		}
		r := 256 / size
		var worst float64
		for y := range size {
			for x := range size {
				var sum [3]float64
				for dy := range r {
					for dx := range r {
						c := color.NRGBAModel.Convert(dec.At(r*x+dx, r*y+dy)).(color.NRGBA)
						sum[0] += float64(c.R)
						sum[1] += float64(c.G)
						sum[2] += float64(c.B)
					}
				}
				for c := range 3 {
					want := sum[c]/float64(r*r)/127.5 - 1
					worst = math.Max(worst, math.Abs(got.Pixels[c*size*size+y*size+x]-want))
				}
			}
		}
		if worst > 1e-14 {
			t.Errorf("size %d: largest error %v", size, worst)
		}
	}
}

// TestLoadRatios loads a 227×227 JPEG at sizes that are not divisors of
// 227, down and up, and checks the result against the area resize of the
// image at its own size (the map to [−1, 1] is affine and the weights sum to
// one, so it commutes with the resize): values stay in [−1, 1] and the mean
// is kept.
func TestLoadRatios(t *testing.T) {
	dir := sharedData(t, "imagenet-val")
	load := func(size int) Image {
		t.Helper()
		f, err := OpenFolder(dir, FolderOptions{Size: size, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		img, err := f.Load(0)
		if err != nil {
			t.Fatal(err)
		}
		return img
	}
	full := load(227)
	const n = 227 * 227
	for _, size := range []int{64, 50, 256, 300} {
		img := load(size)
		var want []float64
		for c := range 3 {
			want = append(want, areaResize(full.Pixels[c*n:(c+1)*n], 227, 227, size, size)...)
		}
		if !equalWithin(img.Pixels, want, 1e-13) {
			t.Errorf("size %d: Load differs from the area resize of the full image", size)
		}
		for _, v := range img.Pixels {
			if !(v >= -1 && v <= 1) {
				t.Fatalf("size %d: value %v out of [−1, 1]", size, v)
			}
		}
		if m, r := mean(img.Pixels), mean(full.Pixels); math.Abs(m-r) > 1e-12 {
			t.Errorf("size %d: mean %v, want %v", size, m, r)
		}
	}
}

// makeFolder writes n small distinct PNGs named img0.png, img1.png, … to a
// new temporary folder.
func makeFolder(t *testing.T, n int) string {
	t.Helper()
	dir := t.TempDir()
	for i := range n {
		img := image.NewGray(image.Rect(0, 0, 3, 2))
		for j := range img.Pix {
			img.Pix[j] = uint8(40*i + j)
		}
		writeFile(t, filepath.Join(dir, "img"+string(rune('0'+i))+".png"), encodePNG(t, img))
	}
	return dir
}

func TestOpenFolderSelection(t *testing.T) {
	dir := t.TempDir()
	tiny := encodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	for _, name := range []string{"b.png", "a.JPG", "c.jpeg", "D.Png"} {
		writeFile(t, filepath.Join(dir, name), tiny) // decodable as PNG whatever the extension
	}
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("x"))
	writeFile(t, filepath.Join(dir, "e.gif"), tiny)
	writeFile(t, filepath.Join(dir, ".hidden.png"), tiny)
	if err := os.Mkdir(filepath.Join(dir, "sub.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "sub.png", "f.png"), tiny)
	if err := os.Symlink("b.png", filepath.Join(dir, "link.png")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("missing.png", filepath.Join(dir, "dangling.png")); err != nil {
		t.Fatal(err)
	}
	all := []string{"D", "a", "b", "c", "link"} // byte order: upper case first
	for _, test := range []struct {
		offset, limit int
		want          []string
	}{
		{0, 0, all},
		{0, 2, all[:2]},
		{1, 0, all[1:]},
		{1, 3, all[1:4]},
		{3, 10, all[3:]},
		{4, 1, all[4:]},
	} {
		f, err := OpenFolder(dir, FolderOptions{Offset: test.offset, Limit: test.limit})
		if err != nil {
			t.Fatalf("offset %d limit %d: %v", test.offset, test.limit, err)
		}
		if got := f.IDs(); strings.Join(got, ",") != strings.Join(test.want, ",") || f.Len() != len(test.want) {
			t.Errorf("offset %d limit %d: IDs %v (Len %d), want %v", test.offset, test.limit, got, f.Len(), test.want)
		}
		if err := f.Check(); err != nil {
			t.Errorf("offset %d limit %d: Check: %v", test.offset, test.limit, err)
		}
		if f.Shape() != shape3(DefaultSize) {
			t.Errorf("Shape = %v, want 3×%d×%d", f.Shape(), DefaultSize, DefaultSize)
		}
	}
}

func TestOpenFolderErrors(t *testing.T) {
	good := makeFolder(t, 3)
	empty := t.TempDir()
	others := t.TempDir()
	writeFile(t, filepath.Join(others, "readme.txt"), []byte("no images"))
	dup := makeFolder(t, 1)
	writeFile(t, filepath.Join(dup, "img0.JPG"), []byte("x"))
	file := filepath.Join(good, "img0.png")
	missing := filepath.Join(empty, "nowhere")
	for _, test := range []struct {
		name string
		dir  string
		o    FolderOptions
		want []string // substrings of the error
	}{
		{"missing", missing, FolderOptions{}, []string{missing}},
		{"file", file, FolderOptions{}, []string{file, "not a folder"}},
		{"empty", empty, FolderOptions{}, []string{empty, "no .png"}},
		{"no images", others, FolderOptions{}, []string{others, "no .png"}},
		{"duplicate id", dup, FolderOptions{}, []string{dup, "img0.JPG", "img0.png", "same id"}},
		{"negative offset", good, FolderOptions{Offset: -1}, []string{good, "negative offset"}},
		{"negative limit", good, FolderOptions{Limit: -2}, []string{good, "negative limit"}},
		{"negative size", good, FolderOptions{Size: -64}, []string{good, "negative size"}},
		{"offset at end", good, FolderOptions{Offset: 3}, []string{good, "offset 3 is past the end (3 images)"}},
		{"offset past end", good, FolderOptions{Offset: 7, Limit: 1}, []string{good, "offset 7"}},
	} {
		f, err := OpenFolder(test.dir, test.o)
		if err == nil {
			t.Errorf("%s: no error (folder of %d)", test.name, f.Len())
			continue
		}
		for _, w := range test.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not contain %q", test.name, err, w)
			}
		}
	}
}

func TestOpenFolderUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any folder")
	}
	dir := makeFolder(t, 1)
	if err := os.Chmod(dir, 0); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	_, err := OpenFolder(dir, FolderOptions{})
	if err == nil || !strings.Contains(err.Error(), dir) {
		t.Errorf("unreadable folder: error %v does not name %s", err, dir)
	}
}

func TestChecksum(t *testing.T) {
	dir := makeFolder(t, 4)
	sum := func(o FolderOptions) string {
		t.Helper()
		f, err := OpenFolder(dir, o)
		if err != nil {
			t.Fatal(err)
		}
		return f.Checksum()
	}
	base := sum(FolderOptions{})
	if len(base) != 64 {
		t.Fatalf("Checksum %q is not hex SHA-256", base)
	}
	for _, test := range []struct {
		name string
		o    FolderOptions
		same bool
	}{
		{"again", FolderOptions{}, true},
		{"size", FolderOptions{Size: 256}, true},
		{"limit covering all", FolderOptions{Limit: 4}, true},
		{"limit past the end", FolderOptions{Limit: 9}, true},
		{"offset", FolderOptions{Offset: 1}, false},
		{"limit", FolderOptions{Limit: 3}, false},
		{"offset and limit", FolderOptions{Offset: 1, Limit: 2}, false},
	} {
		if got := sum(test.o); (got == base) != test.same {
			t.Errorf("%s: checksum %s, base %s, want same = %v", test.name, got, base, test.same)
		}
	}
	// A file that is not an image, or the folder's path, change nothing.
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("x"))
	if got := sum(FolderOptions{}); got != base {
		t.Errorf("adding a text file changes the checksum")
	}
	moved := filepath.Join(t.TempDir(), "moved")
	if err := os.Rename(dir, moved); err != nil {
		t.Fatal(err)
	}
	dir = moved
	if got := sum(FolderOptions{}); got != base {
		t.Errorf("moving the folder changes the checksum")
	}
	// One changed byte of one file changes it.
	path := filepath.Join(dir, "img2.png")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-5] ^= 1
	writeFile(t, path, data)
	if got := sum(FolderOptions{}); got == base {
		t.Errorf("changing img2.png leaves the checksum unchanged")
	}
	// but not the checksum of a selection without that file.
	data[len(data)-5] ^= 1
	f, err := OpenFolder(dir, FolderOptions{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	before := f.Checksum()
	data[len(data)-5] ^= 1
	writeFile(t, path, data)
	if got := sum(FolderOptions{Limit: 2}); got != before {
		t.Errorf("changing an unselected file changes the checksum")
	}
	// Renaming a file changes it.
	if err := os.Rename(filepath.Join(dir, "img0.png"), filepath.Join(dir, "img00.png")); err != nil {
		t.Fatal(err)
	}
	if got := sum(FolderOptions{Limit: 2}); got == before {
		t.Errorf("renaming img0.png leaves the checksum unchanged")
	}
}

func TestCheckCorrupt(t *testing.T) {
	dir := makeFolder(t, 4)
	good, err := os.ReadFile(filepath.Join(dir, "img1.png"))
	if err != nil {
		t.Fatal(err)
	}
	// img1 truncated, img5 not an image at all: Check names img1.
	writeFile(t, filepath.Join(dir, "img1.png"), good[:len(good)/2])
	writeFile(t, filepath.Join(dir, "img5.jpg"), []byte("not a JPEG"))
	f, err := OpenFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Check()
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "img1.png")) {
		t.Errorf("Check: error %v does not name img1.png", err)
	}
	if _, err := f.Load(1); err == nil || !strings.Contains(err.Error(), "img1.png") {
		t.Errorf("Load(1): error %v does not name img1.png", err)
	}
	if imgs, err := f.LoadAll(); err == nil || imgs != nil || !strings.Contains(err.Error(), "img1.png") {
		t.Errorf("LoadAll: error %v does not name img1.png", err)
	}
	if _, err := f.Load(0); err != nil {
		t.Errorf("Load(0): %v", err)
	}
	// From offset 2 the first bad file is img5.jpg.
	f, err = OpenFolder(dir, FolderOptions{Offset: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err == nil || !strings.Contains(err.Error(), "img5.jpg") {
		t.Errorf("Check from offset 2: error %v does not name img5.jpg", err)
	}
	// A header claiming a huge image is refused before decoding.
	huge := image.NewGray(image.Rect(0, 0, 1, 1))
	data := encodePNG(t, huge)
	// IHDR width and height are bytes 16–23; claim 65535×65535.
	copy(data[16:24], []byte{0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff})
	hdir := t.TempDir()
	writeFile(t, filepath.Join(hdir, "huge.png"), data)
	f, err = OpenFolder(hdir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); err == nil || !strings.Contains(err.Error(), "huge.png") {
		t.Errorf("Check of a huge header: error %v does not name huge.png", err)
	}
}

func TestLoadIndexAndChanges(t *testing.T) {
	dir := makeFolder(t, 2)
	f, err := OpenFolder(dir, FolderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// LoadAll gives what Load gives, image by image.
	all, err := f.LoadAll()
	if err != nil || len(all) != 2 {
		t.Fatalf("LoadAll: %d images, %v", len(all), err)
	}
	for i := range all {
		one, err := f.Load(i)
		if err != nil || !reflect.DeepEqual(one, all[i]) {
			t.Errorf("LoadAll[%d] differs from Load(%d) (%v)", i, i, err)
		}
	}
	for _, i := range []int{-1, 2} {
		if _, err := f.Load(i); err == nil || !strings.Contains(err.Error(), dir) {
			t.Errorf("Load(%d): error %v", i, err)
		}
	}
	// A file rewritten after OpenFolder is refused.
	img := image.NewGray(image.Rect(0, 0, 2, 2))
	writeFile(t, filepath.Join(dir, "img1.png"), encodePNG(t, img))
	if _, err := f.Load(1); err == nil || !strings.Contains(err.Error(), "img1.png changed") {
		t.Errorf("Load of a changed file: error %v", err)
	}
	if err := f.Check(); err == nil || !strings.Contains(err.Error(), "img1.png changed") {
		t.Errorf("Check of a changed file: error %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "img1.png")); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Load(1); err == nil || !strings.Contains(err.Error(), "img1.png") {
		t.Errorf("Load of a removed file: error %v", err)
	}
}

func TestCheckShared(t *testing.T) {
	for _, test := range []struct {
		sub   string
		limit int
	}{
		{"ffhq", 0},
		{"imagenet-val", 200},
	} {
		f, err := OpenFolder(sharedData(t, test.sub), FolderOptions{Limit: test.limit})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Check(); err != nil {
			t.Errorf("%s: %v", test.sub, err)
		}
	}
}
