package operator

import (
	"sync"

	"gonum.org/v1/gonum/mat"
)

// GaussianBlur is circular convolution with the k×k Gaussian kernel
// GaussianKernel(k, σ) = g gᵀ. Apply, Adjoint, SolveShifted, Pinv and
// GramEigenvalues are those of the embedded Conv (FFT-exact). Because the
// kernel is separable, A = I_C ⊗ C_h ⊗ C_w with circulant per-axis matrices
// C_h[p, p'] = Σ_u g[u]·[p − p' ≡ u − c (mod H)] (likewise C_w), and
// GaussianBlur also implements SVD through the equivalent Separable
// operator (see Separable for the coordinate order; here m = d, so every
// coordinate is paired and Singular() lists σ_{h,i} σ_{w,j} in (c, i, j)
// order). The per-axis SVDs (O(H³ + W³)) are computed on the first call to
// an SVD method.
type GaussianBlur struct {
	*Conv
	g     []float64 // 1-D kernel
	sigma float64
	once  sync.Once
	sep   *Separable
}

var _ SVD = (*GaussianBlur)(nil)

// NewGaussianBlur returns circular Gaussian blur with a k×k kernel of
// standard deviation σ pixels. k must be odd and at most H and W; σ > 0.
func NewGaussianBlur(shape Shape, k int, sigma float64) (*GaussianBlur, error) {
	if err := shape.check(); err != nil {
		return nil, err
	}
	if !(sigma > 0) {
		return nil, errorf("Gaussian σ = %v must be positive", sigma)
	}
	conv, err := NewConv(shape, GaussianKernel(k, sigma), k)
	if err != nil {
		return nil, err
	}
	return &GaussianBlur{Conv: conv, g: GaussianKernel1D(k, sigma), sigma: sigma}, nil
}

// svd returns the equivalent Separable operator, building it once.
func (op *GaussianBlur) svd() *Separable {
	op.once.Do(func() {
		sep, err := NewSeparable(op.shape, CirculantMatrix(op.shape.H, op.g), CirculantMatrix(op.shape.W, op.g))
		if err != nil {
			panic(err) // the inputs were checked by NewGaussianBlur
		}
		op.sep = sep
	})
	return op.sep
}

// CirculantMatrix returns the n×n matrix of circular convolution with the
// odd-length, centred 1-D kernel g (len(g) ≤ n):
// C[p, p'] = Σ_u g[u]·[p − p' ≡ u − c (mod n)], c = (len(g)−1)/2.
func CirculantMatrix(n int, g []float64) *mat.Dense {
	c := (len(g) - 1) / 2
	m := mat.NewDense(n, n, nil)
	for p := range n {
		for u, gu := range g {
			q := mod(p-u+c, n)
			m.Set(p, q, m.At(p, q)+gu)
		}
	}
	return m
}

// Singular returns the singular values in the order of Ut and Vt.
func (op *GaussianBlur) Singular() []float64 { return op.svd().Singular() }

// Vt sets dst = Vᵀ x. dst must not overlap x.
func (op *GaussianBlur) Vt(dst, x []float64) { op.svd().Vt(dst, x) }

// V sets dst = V c. dst must not overlap c.
func (op *GaussianBlur) V(dst, c []float64) { op.svd().V(dst, c) }

// Ut sets dst = Uᵀ y. dst must not overlap y.
func (op *GaussianBlur) Ut(dst, y []float64) { op.svd().Ut(dst, y) }

// U sets dst = U c. dst must not overlap c.
func (op *GaussianBlur) U(dst, c []float64) { op.svd().U(dst, c) }
