package features

import "fmt"

// Tensor names and sizes of the exports described in the package comment.
const (
	LPIPSInput0 = "in0"      // first image, [N,3,H,W] in [-1,1]
	LPIPSInput1 = "in1"      // second image, [N,3,H,W] in [-1,1]
	LPIPSOutput = "distance" // [N,1,1,1]

	InceptionInput  = "images" // [N,3,299,299] in [0,1]
	InceptionOutput = "pool3"  // [N,2048]
	InceptionSize   = 299
	InceptionDim    = 2048
)

// LPIPS is the LPIPS distance (Zhang et al. 2018, the lpips package's "vgg"
// network, version 0.1) run from the user's .onnx export of lpips.LPIPS: two
// images in [-1,1] as inputs "in0" and "in1", the distance as output
// "distance" of shape [N,1,1,1]. It runs only the file it is given.
type LPIPS struct{ n *Network }

// OpenLPIPS loads an LPIPS export for 3×height×width images. threads is ONNX
// Runtime's intra-op thread count (0: its default).
func OpenLPIPS(path string, height, width, threads int) (*LPIPS, error) {
	if height <= 0 || width <= 0 {
		return nil, fmt.Errorf("features: LPIPS model %s: image size %d×%d must be positive", path, height, width)
	}
	n, err := open(path, []string{LPIPSInput0, LPIPSInput1}, Options{
		Output:      LPIPSOutput,
		InputShape:  []int64{-1, 3, int64(height), int64(width)},
		OutputShape: []int64{-1, 1, 1, 1},
		Threads:     threads,
	})
	if err != nil {
		return nil, err
	}
	return &LPIPS{n: n}, nil
}

// Distance sets dst[i] to the LPIPS distance between a[i] and b[i], each a
// row of 3×H×W values in [-1,1] (channel-first; the caller converts).
func (l *LPIPS) Distance(dst []float64, a, b [][]float64) error {
	if len(a) != len(dst) || len(b) != len(dst) {
		return fmt.Errorf("features: LPIPS model %s: %d and %d images for %d distances", l.n.path, len(a), len(b), len(dst))
	}
	out := make([][]float64, len(dst))
	if err := l.n.run(out, a, b); err != nil {
		return err
	}
	for i, o := range out {
		dst[i] = o[0]
	}
	return nil
}

// Close releases the model.
func (l *LPIPS) Close() error { return l.n.Close() }

// Inception is the pool3 layer (2048 features per image) of the FID
// Inception-v3 network (pytorch-fid's port of the TensorFlow FID weights),
// run from the user's .onnx export: input "images" [N,3,299,299] with values
// in [0,1] (the export keeps pytorch-fid's normalize_input=True, which maps
// [0,1] to [-1,1] inside the graph, and resize_input=False: the caller
// resizes to 299×299), output "pool3" [N,2048]. These features feed FID and
// KID. It runs only the file it is given.
type Inception struct{ n *Network }

// OpenInception loads an Inception pool3 export. threads is ONNX Runtime's
// intra-op thread count (0: its default).
func OpenInception(path string, threads int) (*Inception, error) {
	n, err := Open(path, Options{
		Input:       InceptionInput,
		Output:      InceptionOutput,
		InputShape:  []int64{-1, 3, InceptionSize, InceptionSize},
		OutputShape: []int64{-1, InceptionDim},
		Threads:     threads,
	})
	if err != nil {
		return nil, err
	}
	return &Inception{n: n}, nil
}

// Features sets dst[i] to the 2048 pool3 features of images[i], a row of
// 3×299×299 values in [0,1] (channel-first; the caller converts and resizes).
func (m *Inception) Features(dst [][]float64, images [][]float64) error {
	return m.n.Run(dst, images)
}

// Close releases the model.
func (m *Inception) Close() error { return m.n.Close() }
