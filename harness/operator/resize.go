package operator

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// NewBicubicDown returns ×factor bicubic downsampling as MATLAB's
// imresize(x, 1/factor, 'bicubic') computes it (antialiasing on), applied
// to each channel: a Separable operator whose two axis matrices are
// BicubicMatrix(H, factor) and BicubicMatrix(W, factor). H and W must be
// divisible by factor.
func NewBicubicDown(shape Shape, factor int) (*Separable, error) {
	if err := checkFactor(shape, factor); err != nil {
		return nil, err
	}
	return NewSeparable(shape, BicubicMatrix(shape.H, factor), BicubicMatrix(shape.W, factor))
}

// NewPool returns factor×factor average pooling of each channel: a
// Separable operator with axis matrices PoolMatrix(H, factor) and
// PoolMatrix(W, factor). H and W must be divisible by factor.
func NewPool(shape Shape, factor int) (*Separable, error) {
	if err := checkFactor(shape, factor); err != nil {
		return nil, err
	}
	return NewSeparable(shape, PoolMatrix(shape.H, factor), PoolMatrix(shape.W, factor))
}

func checkFactor(shape Shape, factor int) error {
	if err := shape.check(); err != nil {
		return err
	}
	if factor < 1 {
		return fmt.Errorf("operator: downsampling factor %d must be positive", factor)
	}
	if shape.H%factor != 0 || shape.W%factor != 0 {
		return fmt.Errorf("operator: image size %d×%d is not divisible by the factor %d", shape.H, shape.W, factor)
	}
	return nil
}

// Cubic is Keys' cubic convolution kernel with a = −0.5, the kernel of
// MATLAB's 'bicubic':
//
//	k(x) = 1.5|x|³ − 2.5|x|² + 1          for |x| ≤ 1,
//	k(x) = −0.5|x|³ + 2.5|x|² − 4|x| + 2  for 1 < |x| ≤ 2,
//	k(x) = 0                              otherwise.
func Cubic(x float64) float64 {
	x = math.Abs(x)
	switch {
	case x <= 1:
		return (1.5*x-2.5)*x*x + 1
	case x <= 2:
		return ((-0.5*x+2.5)*x-4)*x + 2
	}
	return 0
}

// BicubicMatrix returns the (n/factor)×n matrix of one axis of MATLAB's
// imresize(·, 1/factor, 'bicubic') with antialiasing, following the
// contributions() function of MATLAB's imresize.m:
//
//   - scale s = 1/factor; the antialiased kernel is h(x) = s·k(s·x), of
//     width 4/s = 4·factor;
//   - output pixel x = 1, …, n/factor (1-based) sits at input coordinate
//     u = x/s + (1 − 1/s)/2;
//   - it uses the input pixels left + 0, …, left + P − 1 with
//     left = ⌊u − 2/s⌋ and P = ⌈4/s⌉ + 2, with weights h(u − index)
//     normalised to sum to 1;
//   - out-of-range indices are mirrored (symmetric padding, the edge pixel
//     repeated): index i maps to aux[(i − 1) mod 2n] with
//     aux = [1, 2, …, n, n, n−1, …, 1], and weights of repeated indices add.
//
// For factor 1 the kernel is not stretched (MATLAB skips antialiasing when
// s ≥ 1) and the matrix is the identity.
func BicubicMatrix(n, factor int) *mat.Dense {
	if factor < 1 || n%factor != 0 {
		panic(fmt.Sprintf("operator: BicubicMatrix(%d, %d): n must be a positive multiple of factor", n, factor))
	}
	out := n / factor
	s := 1 / float64(factor)
	h := func(x float64) float64 { return s * Cubic(s*x) }
	width := 4.0 / s
	if s >= 1 {
		h = Cubic
		width = 4
	}
	b := mat.NewDense(out, n, nil)
	p := int(math.Ceil(width)) + 2
	w := make([]float64, p)
	for x := 1; x <= out; x++ {
		u := float64(x)/s + 0.5*(1-1/s)
		left := int(math.Floor(u - width/2))
		sum := 0.0
		for k := range p {
			w[k] = h(u - float64(left+k))
			sum += w[k]
		}
		for k := range p {
			i := left + k // 1-based, maybe out of range
			j := mod(i-1, 2*n)
			if j >= n {
				j = 2*n - 1 - j
			}
			b.Set(x-1, j, b.At(x-1, j)+w[k]/sum)
		}
	}
	return b
}

// PoolMatrix returns the (n/factor)×n matrix that averages consecutive
// blocks of factor entries.
func PoolMatrix(n, factor int) *mat.Dense {
	if factor < 1 || n%factor != 0 {
		panic(fmt.Sprintf("operator: PoolMatrix(%d, %d): n must be a positive multiple of factor", n, factor))
	}
	b := mat.NewDense(n/factor, n, nil)
	for i := range n / factor {
		for k := range factor {
			b.Set(i, i*factor+k, 1/float64(factor))
		}
	}
	return b
}

// mod returns a mod n in [0, n).
func mod(a, n int) int {
	a %= n
	if a < 0 {
		a += n
	}
	return a
}
