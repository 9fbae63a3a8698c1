// Command mkthumbs writes the thumbnails of ipbench's default benchmark,
// data/thumbnails/, from the shared image sets: the first n files by name of
// FFHQ (ffhq/) and of ImageNet val (imagenet-val/), each centre-cropped and
// area-resized with package dataset and written as 8-bit RGB PNG.
//
// Run it from the repository root:
//
//	go run ./harness/dataset/internal/mkthumbs -data ../shared/data -out data/thumbnails
//
// It prints one Markdown table row per thumbnail: the output file, its
// source file under the data folder, and the source's SHA-256.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ipbench/ipbench/harness/dataset"
)

// set is one source image set: its folder under the data folder and the
// prefix of its thumbnails' names.
type set struct {
	folder, prefix string
}

var sets = []set{
	{folder: "ffhq", prefix: "ffhq"},
	{folder: "imagenet-val", prefix: "imagenet"},
}

// thumb is one written thumbnail.
type thumb struct {
	file   string // output file name
	source string // source path relative to the data folder
	sha256 string // of the source file
}

// generate writes the first n images of each set in data, at size×size, to
// out as <prefix>_<id>.png.
func generate(data, out string, n, size int) ([]thumb, error) {
	if n <= 0 {
		return nil, fmt.Errorf("mkthumbs: %d images per set, want a positive number", n)
	}
	var thumbs []thumb
	for _, s := range sets {
		f, err := dataset.OpenFolder(filepath.Join(data, s.folder), dataset.FolderOptions{Size: size, Limit: n})
		if err != nil {
			return nil, err
		}
		if f.Len() < n {
			return nil, fmt.Errorf("mkthumbs: %s holds %d images, want %d", f.Dir(), f.Len(), n)
		}
		if err := f.Check(); err != nil {
			return nil, err
		}
		for i := range f.Len() {
			img, err := f.Load(i)
			if err != nil {
				return nil, err
			}
			name := s.prefix + "_" + img.ID + ".png"
			if err := dataset.WritePNG(filepath.Join(out, name), img.Shape, img.Pixels); err != nil {
				return nil, err
			}
			src, err := sourceName(f.Dir(), img.ID)
			if err != nil {
				return nil, err
			}
			b, err := os.ReadFile(filepath.Join(f.Dir(), src))
			if err != nil {
				return nil, err
			}
			h := sha256.Sum256(b)
			thumbs = append(thumbs, thumb{file: name, source: s.folder + "/" + src, sha256: hex.EncodeToString(h[:])})
		}
	}
	return thumbs, nil
}

// sourceName returns the name of the image file with the given id in dir.
func sourceName(dir, id string) (string, error) {
	for _, ext := range []string{".png", ".PNG", ".jpg", ".JPG", ".jpeg", ".JPEG"} {
		if _, err := os.Stat(filepath.Join(dir, id+ext)); err == nil {
			return id + ext, nil
		}
	}
	return "", fmt.Errorf("mkthumbs: no file for id %q in %s", id, dir)
}

func main() {
	data := flag.String("data", filepath.Join("..", "shared", "data"), "the shared data folder (holding ffhq/ and imagenet-val/)")
	out := flag.String("out", filepath.Join("data", "thumbnails"), "the output folder")
	n := flag.Int("n", 4, "images per set: the first n by file name")
	size := flag.Int("size", 64, "side length of the thumbnails")
	flag.Parse()
	if err := os.MkdirAll(*out, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "mkthumbs:", err)
		os.Exit(1)
	}
	thumbs, err := generate(*data, *out, *n, *size)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println("| file | source (shared/data) | source SHA-256 |")
	fmt.Println("| --- | --- | --- |")
	for _, t := range thumbs {
		fmt.Printf("| `%s` | `%s` | `%s` |\n", t.file, t.source, t.sha256)
	}
}
