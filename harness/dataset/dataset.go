// Package dataset reads the image sets of ipbench's benchmarks and writes
// images back out.
//
// Inside the harness an image is channel-first (C×H×W, row-major) float64
// with values in [−1, 1]: an 8-bit sample v ∈ {0, …, 255} maps to
// v/127.5 − 1. A Folder turns a folder of PNG/JPEG files of any size into
// square RGB images of one side length: centre crop to a square, then an
// exact area resize (see the Folder documentation).
package dataset

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/jpeg" // Register the JPEG decoder.
	_ "image/png"  // Register the PNG decoder.
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	"github.com/ipbench/ipbench/harness/operator"
)

// Image is one image of a dataset: its id and pixels, channel-first
// (C×H×W, row-major), in [−1, 1].
type Image struct {
	ID     string
	Shape  operator.Shape
	Pixels []float64
}

// DefaultSize is the side length of the images a Folder yields when
// FolderOptions.Size is zero.
const DefaultSize = 64

// MaxPixels is the largest number of pixels (width·height) a source image
// may have. Larger images are rejected before they are decoded, so that a
// corrupt or hostile header cannot exhaust memory.
const MaxPixels = 1 << 26

// FolderOptions are the options of OpenFolder.
type FolderOptions struct {
	// Size is the side length of the output images; DefaultSize if zero.
	Size int
	// Offset is the number of files skipped, after sorting by file name.
	Offset int
	// Limit is the largest number of files selected after Offset; zero
	// selects all the rest.
	Limit int
}

// Folder is a folder of PNG/JPEG images: the regular files (or links to
// them) whose names end in .png, .jpg or .jpeg, in any letter case, sorted
// by file name (byte order). Other files, names beginning with a dot and
// subfolders are ignored. The id of an image is its file name without the
// extension; ids must be unique within the folder.
//
// Load yields each selected image as a 3×Size×Size RGB image in [−1, 1]:
//
//  1. Decode. Gray images give three equal channels; alpha is dropped (the
//     colour channels are taken as stored, not premultiplied); 16-bit
//     samples keep their full precision; JPEG's YCbCr is converted to 8-bit
//     RGB by color.YCbCrToRGB.
//
//  2. Centre-crop to a square of side s = min(H, W): the larger side loses
//     |H − W| pixels, ⌊|H − W|/2⌋ at the top or left and the rest (one more
//     when |H − W| is odd) at the bottom or right.
//
//  3. Area-resize the s×s square to n×n, n = Size, separably: along each
//     axis output pixel j covers the source interval [j·s/n, (j+1)·s/n) and
//     is the mean of the source pixels over it, each weighted by the length
//     of its overlap with the interval,
//
//     y_j = (n/s) Σ_i |[i, i+1) ∩ [j·s/n, (j+1)·s/n)| · x_i.
//
//     For downscaling (s > n) this is the exact box filter; it preserves the
//     image mean for every ratio. For upscaling (s < n) the same formula
//     gives nearest-neighbour-like blocks: an output pixel inside one source
//     pixel copies it, and one that straddles a source boundary gets the
//     overlap-weighted mean of the two. For s = n it is the identity.
//
//  4. Map [0, 255] to [−1, 1] as v/127.5 − 1 (16-bit samples: v/32767.5 − 1).
//
// The sums of step 3 are carried out in integer sample units with integer
// overlap weights, so they are exact; the only rounding is the final
// division. The bytes of every selected file are read and hashed when the
// folder is opened; Load and Check fail if a file has changed since.
//
// A Folder is safe for concurrent use by several goroutines.
type Folder struct {
	dir    string
	size   int
	names  []string   // selected file names
	ids    []string   // file names without extension
	hashes [][32]byte // SHA-256 of each selected file's bytes
	sum    string     // Checksum
}

// imageExt reports whether name has an image extension and returns the
// name without it.
func imageExt(name string) (id string, ok bool) {
	ext := filepath.Ext(name)
	switch strings.ToLower(ext) {
	case ".png", ".jpg", ".jpeg":
		return strings.TrimSuffix(name, ext), true
	}
	return "", false
}

// OpenFolder lists the images of dir, sorts them by file name, selects
// o.Limit of them (all if zero) after skipping o.Offset, and reads and hashes
// the selected files. It returns an error that names dir if the folder is
// missing or unreadable, holds no images, or the options are invalid
// (negative size, offset or limit, or an offset at or past the number of
// images), and one that names the file if two images share an id or a
// selected file cannot be read.
func OpenFolder(dir string, o FolderOptions) (*Folder, error) {
	if o.Size < 0 {
		return nil, fmt.Errorf("dataset: folder %s: negative size %d", dir, o.Size)
	}
	if o.Offset < 0 {
		return nil, fmt.Errorf("dataset: folder %s: negative offset %d", dir, o.Offset)
	}
	if o.Limit < 0 {
		return nil, fmt.Errorf("dataset: folder %s: negative limit %d", dir, o.Limit)
	}
	size := o.Size
	if size == 0 {
		size = DefaultSize
	}
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: image folder %s: %w", dir, err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("dataset: image folder %s is not a folder", dir)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: image folder %s: %w", dir, err)
	}
	var names []string
	byID := make(map[string]string)
	for _, e := range entries {
		name := e.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		id, ok := imageExt(name)
		if !ok {
			continue
		}
		mode := e.Type()
		if mode&fs.ModeSymlink != 0 {
			// Follow links; a link to a folder or a dangling link is skipped
			// like any other non-file.
			fi, err := os.Stat(filepath.Join(dir, name))
			if err != nil {
				continue
			}
			mode = fi.Mode()
		}
		if !mode.IsRegular() {
			continue
		}
		if other, dup := byID[id]; dup {
			a, b := other, name
			if b < a {
				a, b = b, a
			}
			return nil, fmt.Errorf("dataset: image folder %s: %s and %s have the same id %q", dir, a, b, id)
		}
		byID[id] = name
		names = append(names, name)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("dataset: image folder %s holds no .png, .jpg or .jpeg files", dir)
	}
	sort.Strings(names)
	if o.Offset >= len(names) {
		return nil, fmt.Errorf("dataset: image folder %s: offset %d is past the end (%d images)", dir, o.Offset, len(names))
	}
	names = names[o.Offset:]
	if o.Limit > 0 && o.Limit < len(names) {
		names = names[:o.Limit]
	}
	names = append([]string(nil), names...)

	f := &Folder{
		dir:    dir,
		size:   size,
		names:  names,
		ids:    make([]string, len(names)),
		hashes: make([][32]byte, len(names)),
	}
	sum := sha256.New()
	for i, name := range names {
		f.ids[i], _ = imageExt(name)
		data, err := os.ReadFile(f.path(i))
		if err != nil {
			return nil, fmt.Errorf("dataset: %w", err)
		}
		f.hashes[i] = sha256.Sum256(data)
		sum.Write([]byte(name))
		sum.Write([]byte{0})
		sum.Write(f.hashes[i][:])
	}
	f.sum = hex.EncodeToString(sum.Sum(nil))
	return f, nil
}

// path returns the path of the i-th selected file.
func (f *Folder) path(i int) string { return filepath.Join(f.dir, f.names[i]) }

// Dir returns the folder's path as given to OpenFolder.
func (f *Folder) Dir() string { return f.dir }

// Len returns the number of selected images.
func (f *Folder) Len() int { return len(f.names) }

// Shape returns the shape of the images Load yields, 3×Size×Size.
func (f *Folder) Shape() operator.Shape { return operator.Shape{C: 3, H: f.size, W: f.size} }

// IDs returns the ids of the selected images (their file names without the
// extension), in order. The caller may modify the returned slice.
func (f *Folder) IDs() []string { return append([]string(nil), f.ids...) }

// Checksum returns the hexadecimal SHA-256 over, for each selected file in
// order, its file name, a zero byte and the 32-byte SHA-256 of its bytes, as
// read by OpenFolder. It changes if any selected file's name or bytes change
// or the selection (offset, limit, the files present) changes; it does not
// depend on the folder's path or on Size.
func (f *Folder) Checksum() string { return f.sum }

// read returns the bytes of the i-th selected file, checked against the
// hash taken by OpenFolder.
func (f *Folder) read(i int) ([]byte, error) {
	if i < 0 || i >= len(f.names) {
		return nil, fmt.Errorf("dataset: image folder %s: index %d out of range [0, %d)", f.dir, i, len(f.names))
	}
	data, err := os.ReadFile(f.path(i))
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if sha256.Sum256(data) != f.hashes[i] {
		return nil, fmt.Errorf("dataset: %s changed since its folder was opened", f.path(i))
	}
	return data, nil
}

// decode decodes the i-th selected file, checking its header first.
func (f *Folder) decode(i int) (image.Image, error) {
	data, err := f.read(i)
	if err != nil {
		return nil, err
	}
	img, err := decodeImage(data)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", f.path(i), err)
	}
	return img, nil
}

// decodeImage decodes a PNG or JPEG image after checking its header's size.
func decodeImage(data []byte) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decoding header: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("empty %s image (%d×%d)", format, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%s image of %d×%d pixels is larger than %d pixels", format, cfg.Width, cfg.Height, MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decoding %s: %w", format, err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, fmt.Errorf("%s image decodes to %d×%d but its header says %d×%d", format, b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return img, nil
}

// Check reads every selected file, checks it is unchanged since OpenFolder,
// and decodes its header and then the whole image, so that bad data is
// caught before any work starts. It returns an error naming the first file
// (in order) that fails. Files are decoded in parallel.
func (f *Folder) Check() error {
	return f.each(func(i int) error {
		_, err := f.decode(i)
		return err
	})
}

// LoadAll loads every selected image (Load, in parallel), or returns the
// error of the first file (in order) that fails: Check and the loads in
// one pass.
func (f *Folder) LoadAll() ([]Image, error) {
	imgs := make([]Image, len(f.names))
	err := f.each(func(i int) (err error) {
		imgs[i], err = f.Load(i)
		return err
	})
	if err != nil {
		return nil, err
	}
	return imgs, nil
}

// each calls fn for every selected file on GOMAXPROCS goroutines and
// returns the error of the first file, in order, whose call failed.
func (f *Folder) each(fn func(i int) error) error {
	n := len(f.names)
	errs := make([]error, n)
	workers := min(runtime.GOMAXPROCS(0), n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				errs[i] = fn(i)
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// Load decodes the i-th selected image and returns it centre-cropped and
// area-resized to 3×Size×Size, in [−1, 1], as the Folder documentation
// describes.
func (f *Folder) Load(i int) (Image, error) {
	img, err := f.decode(i)
	if err != nil {
		return Image{}, err
	}
	pix, err := squareRGB(img, f.size)
	if err != nil {
		return Image{}, fmt.Errorf("dataset: %s: %w", f.path(i), err)
	}
	return Image{ID: f.ids[i], Shape: f.Shape(), Pixels: pix}, nil
}
