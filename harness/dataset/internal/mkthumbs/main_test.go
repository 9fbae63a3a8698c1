package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// TestThumbnailsReproducible regenerates the committed thumbnails from the
// shared data and checks that their pixels are the same (pixels, not bytes:
// the PNG encoder's output may change between Go versions).
func TestThumbnailsReproducible(t *testing.T) {
	root := filepath.Join("..", "..", "..", "..")
	data := filepath.Join(root, "..", "shared", "data")
	if _, err := os.Stat(data); err != nil {
		t.Skipf("shared data not available: %v", err)
	}
	committed := filepath.Join(root, "data", "thumbnails")
	out := t.TempDir()
	thumbs, err := generate(data, out, 4, 64)
	if err != nil {
		t.Fatal(err)
	}
	if len(thumbs) != 8 {
		t.Fatalf("%d thumbnails, want 8", len(thumbs))
	}
	pngs, err := filepath.Glob(filepath.Join(committed, "*.png"))
	if err != nil {
		t.Fatal(err)
	}
	if len(pngs) != len(thumbs) {
		t.Errorf("%s holds %d PNGs, the generator writes %d", committed, len(pngs), len(thumbs))
	}
	for _, th := range thumbs {
		got, want := decode(t, filepath.Join(out, th.file)), decode(t, filepath.Join(committed, th.file))
		if got == nil || want == nil {
			continue
		}
		if got.Bounds() != image.Rect(0, 0, 64, 64) || got.Bounds() != want.Bounds() || !bytes.Equal(got.Pix, want.Pix) {
			t.Errorf("%s: regenerated pixels differ from the committed file", th.file)
		}
	}
}

func decode(t *testing.T, path string) *image.RGBA {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return nil
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s: %v", path, err)
		return nil
	}
	rgba, ok := img.(*image.RGBA)
	if !ok {
		t.Errorf("%s: decodes as %T, want 8-bit RGB", path, img)
		return nil
	}
	return rgba
}

func TestGenerateErrors(t *testing.T) {
	if _, err := generate(t.TempDir(), t.TempDir(), 0, 64); err == nil {
		t.Error("n = 0: no error")
	}
	if _, err := generate(filepath.Join(t.TempDir(), "none"), t.TempDir(), 4, 64); err == nil {
		t.Error("missing data folder: no error")
	}
}
