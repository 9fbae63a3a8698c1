package operator

import (
	"errors"
	"fmt"
	"math"
	"math/cmplx"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Conv is 2-D circular convolution of every channel of a C×H×W image with
// one k×k kernel K (k odd, centre c = (k−1)/2):
//
//	(A x)[p, q] = Σ_{u,v} K[u, v] · x[(p − u + c) mod H, (q − v + c) mod W],
//
// so a point source is spread into K itself, centred on it. (Code that uses
// cross-correlation, such as PyTorch's conv2d in DPS, equals this with the
// kernel flipped; for symmetric kernels the two agree.) m = d = C·H·W.
//
// A is diagonal in the 2-D discrete Fourier basis: Â = diag(ĥ) with ĥ the
// DFT of K placed circularly around pixel (0, 0). Hence, exactly up to
// rounding,
//
//	Aᵀ ↔ conj(ĥ),   (a I + b AᵀA)⁻¹ ↔ 1/(a + b|ĥ|²),   A⁺ ↔ conj(ĥ)/|ĥ|²,
//
// the last with |ĥ| ≤ 1e-10·max|ĥ| treated as zero, and the eigenvalues of
// AᵀA are |ĥ|² over all H·W frequencies, repeated for each channel.
// Every method costs two real 2-D FFTs per channel.
type Conv struct {
	shape  Shape
	k      int
	kernel []float64

	hw   int          // H·(W/2+1), the size of a half spectrum
	h    []complex128 // ĥ on the half spectrum, row-major H×(W/2+1)
	h2   []float64    // |ĥ|²
	hmax float64      // max |ĥ|
	eig  []float64

	pool sync.Pool // *fftWork
}

var _ Operator = (*Conv)(nil)

// fftWork is per-goroutine FFT state: gonum's FFT values hold work space
// and may not be shared.
type fftWork struct {
	rows *fourier.FFT      // length W, real
	cols *fourier.CmplxFFT // length H
	spec []complex128      // H×(W/2+1)
	col  []complex128      // H
}

// NewConv returns circular convolution with the k×k kernel (row-major,
// len k²). k must be odd and at most H and W. The kernel is copied.
func NewConv(shape Shape, kernel []float64, k int) (*Conv, error) {
	if err := shape.check(); err != nil {
		return nil, err
	}
	if k < 1 || k%2 == 0 {
		return nil, fmt.Errorf("operator: kernel size %d must be odd and positive", k)
	}
	if k > shape.H || k > shape.W {
		return nil, fmt.Errorf("operator: kernel %d×%d is larger than the %d×%d image", k, k, shape.H, shape.W)
	}
	if len(kernel) != k*k {
		return nil, fmt.Errorf("operator: kernel has %d entries, want %d×%d", len(kernel), k, k)
	}
	sum := 0.0
	for _, v := range kernel {
		sum += v
	}
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return nil, errors.New("operator: kernel sum is not finite")
	}
	H, W := shape.H, shape.W
	op := &Conv{shape: shape, k: k, kernel: append([]float64(nil), kernel...), hw: H * (W/2 + 1)}

	// Place K so that K[c, c] sits at pixel (0, 0).
	c := (k - 1) / 2
	img := make([]float64, H*W)
	for u := range k {
		for v := range k {
			img[mod(u-c, H)*W+mod(v-c, W)] += kernel[u*k+v]
		}
	}
	op.h = make([]complex128, op.hw)
	wk := op.work()
	op.forward(wk, op.h, img)
	op.pool.Put(wk)
	op.h2 = make([]float64, op.hw)
	for i, z := range op.h {
		op.h2[i] = real(z)*real(z) + imag(z)*imag(z)
		op.hmax = max(op.hmax, cmplx.Abs(z))
	}
	if op.hmax == 0 {
		return nil, errors.New("operator: kernel is zero")
	}

	// |ĥ(p, q)|² for q > W/2 equals |ĥ(−p, W − q)|² (real kernel).
	Wc := W/2 + 1
	op.eig = make([]float64, shape.Len())
	for p := range H {
		for q := range W {
			var e float64
			if q < Wc {
				e = op.h2[p*Wc+q]
			} else {
				e = op.h2[mod(-p, H)*Wc+W-q]
			}
			for ch := range shape.C {
				op.eig[(ch*H+p)*W+q] = e
			}
		}
	}
	return op, nil
}

func (op *Conv) work() *fftWork {
	if w, ok := op.pool.Get().(*fftWork); ok {
		return w
	}
	H, W := op.shape.H, op.shape.W
	return &fftWork{
		rows: fourier.NewFFT(W),
		cols: fourier.NewCmplxFFT(H),
		spec: make([]complex128, op.hw),
		col:  make([]complex128, H),
	}
}

// forward sets spec to the unnormalised 2-D DFT of the H×W image x, half
// spectrum in the last dimension.
func (op *Conv) forward(w *fftWork, spec []complex128, x []float64) {
	H, W := op.shape.H, op.shape.W
	Wc := W/2 + 1
	for p := range H {
		w.rows.Coefficients(spec[p*Wc:(p+1)*Wc], x[p*W:(p+1)*W])
	}
	for q := range Wc {
		for p := range H {
			w.col[p] = spec[p*Wc+q]
		}
		w.cols.Coefficients(w.col, w.col)
		for p := range H {
			spec[p*Wc+q] = w.col[p]
		}
	}
}

// inverse sets x to the inverse 2-D DFT of spec (which it overwrites),
// normalised by 1/(H·W).
func (op *Conv) inverse(w *fftWork, x []float64, spec []complex128) {
	H, W := op.shape.H, op.shape.W
	Wc := W/2 + 1
	for q := range Wc {
		for p := range H {
			w.col[p] = spec[p*Wc+q]
		}
		w.cols.Sequence(w.col, w.col)
		for p := range H {
			spec[p*Wc+q] = w.col[p]
		}
	}
	s := 1 / float64(H*W)
	for p := range H {
		row := x[p*W : (p+1)*W]
		w.rows.Sequence(row, spec[p*Wc:(p+1)*Wc])
		for i := range row {
			row[i] *= s
		}
	}
}

// filter sets dst = F⁻¹ diag(g) F x per channel, with g applied to the
// half spectrum by f(i, ẑ). dst may alias x.
func (op *Conv) filter(dst, x []float64, f func(i int, z complex128) complex128) {
	w := op.work()
	defer op.pool.Put(w)
	n := op.shape.H * op.shape.W
	for c := range op.shape.C {
		op.forward(w, w.spec, x[c*n:(c+1)*n])
		for i, z := range w.spec {
			w.spec[i] = f(i, z)
		}
		op.inverse(w, dst[c*n:(c+1)*n], w.spec)
	}
}

// Shape returns the image shape.
func (op *Conv) Shape() Shape { return op.shape }

// Kernel returns a copy of the k×k kernel and k.
func (op *Conv) Kernel() ([]float64, int) { return append([]float64(nil), op.kernel...), op.k }

// Dims returns C·H·W twice.
func (op *Conv) Dims() (m, d int) { n := op.shape.Len(); return n, n }

// Apply sets dst = K ⊛ x per channel. dst may alias x.
func (op *Conv) Apply(dst, x []float64) {
	n := op.shape.Len()
	checkLen("Apply", dst, n, x, n)
	op.filter(dst, x, func(i int, z complex128) complex128 { return z * op.h[i] })
}

// Adjoint sets dst = Aᵀ y, circular cross-correlation with K. dst may alias y.
func (op *Conv) Adjoint(dst, y []float64) {
	n := op.shape.Len()
	checkLen("Adjoint", dst, n, y, n)
	op.filter(dst, y, func(i int, z complex128) complex128 { return z * cmplx.Conj(op.h[i]) })
}

// SolveShifted sets dst = (a I + b AᵀA)⁻¹ v. dst may alias v.
func (op *Conv) SolveShifted(dst []float64, a, b float64, v []float64) {
	n := op.shape.Len()
	checkLen("SolveShifted", dst, n, v, n)
	checkShift(a, b)
	op.filter(dst, v, func(i int, z complex128) complex128 {
		s := 1 / (a + b*op.h2[i])
		return complex(real(z)*s, imag(z)*s)
	})
}

// Pinv sets dst = A⁺ y. dst may alias y.
func (op *Conv) Pinv(dst, y []float64) {
	n := op.shape.Len()
	checkLen("Pinv", dst, n, y, n)
	tol := pinvRTol * op.hmax
	op.filter(dst, y, func(i int, z complex128) complex128 {
		if math.Sqrt(op.h2[i]) <= tol {
			return 0
		}
		return z / op.h[i]
	})
}

// GramEigenvalues returns |ĥ|² at every frequency (p, q) of every channel,
// in the image's index order.
func (op *Conv) GramEigenvalues() []float64 { return op.eig }
