package operator

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Mask is the inpainting operator: A keeps the observed entries of a C×H×W
// image and drops the others, so A is a 0/1 selection matrix with AAᵀ = I,
// m is the number of observed entries and (Ax)ₖ = x_{iₖ} for the observed
// indices i₀ < i₁ < … in flattened order.
//
// AᵀA = diag(keep), so (a I + b AᵀA)⁻¹ is diagonal with 1/(a + b) on observed
// and 1/a on missing entries, and A⁺ = Aᵀ.
//
// Its SVD has U = I, S = [I 0] and V the permutation that lists the observed
// entries first, in index order, then the missing ones: (Vᵀx)ₖ = x_{iₖ}.
type Mask struct {
	shape Shape
	keep  []bool
	sel   []uint8 // 1 observed, 0 missing
	perm  []int   // observed indices then missing indices; perm[:m] observed
	m     int
	eig   []float64
	ones  []float64
}

var _ SVD = (*Mask)(nil)

// NewMask returns the mask operator on shape that observes entry i when
// keep[i] is true. len(keep) must be shape.Len(); keep is copied.
func NewMask(shape Shape, keep []bool) (*Mask, error) {
	if err := shape.check(); err != nil {
		return nil, err
	}
	d := shape.Len()
	if len(keep) != d {
		return nil, fmt.Errorf("operator: mask has %d entries for a %d×%d×%d image (%d)", len(keep), shape.C, shape.H, shape.W, d)
	}
	op := &Mask{shape: shape, keep: append([]bool(nil), keep...), sel: make([]uint8, d), perm: make([]int, 0, d), eig: make([]float64, d)}
	for i, k := range keep {
		if k {
			op.perm = append(op.perm, i)
			op.eig[i] = 1
			op.sel[i] = 1
		}
	}
	op.m = len(op.perm)
	if op.m == 0 {
		return nil, errors.New("operator: mask observes no entry")
	}
	for i, k := range keep {
		if !k {
			op.perm = append(op.perm, i)
		}
	}
	op.ones = make([]float64, op.m)
	for i := range op.ones {
		op.ones[i] = 1
	}
	return op, nil
}

// BoxMask returns the mask that misses the h×w box with top-left pixel
// (top, left) in every channel. The box must lie inside the image and must
// not cover all of it.
func BoxMask(shape Shape, h, w, top, left int) (*Mask, error) {
	if err := shape.check(); err != nil {
		return nil, err
	}
	if h < 1 || w < 1 || top < 0 || left < 0 || top+h > shape.H || left+w > shape.W {
		return nil, fmt.Errorf("operator: box %d×%d at (%d, %d) does not fit in a %d×%d image", h, w, top, left, shape.H, shape.W)
	}
	keep := make([]bool, shape.Len())
	for c := range shape.C {
		for i := range shape.H {
			for j := range shape.W {
				in := i >= top && i < top+h && j >= left && j < left+w
				keep[(c*shape.H+i)*shape.W+j] = !in
			}
		}
	}
	return NewMask(shape, keep)
}

// RandomMask returns a mask that misses round(missing·H·W) pixels chosen
// uniformly at random without replacement, the same pixels in every
// channel. missing must be in [0, 1).
func RandomMask(shape Shape, missing float64, rng *rand.Rand) (*Mask, error) {
	if err := shape.check(); err != nil {
		return nil, err
	}
	if !(missing >= 0 && missing < 1) {
		return nil, fmt.Errorf("operator: missing fraction %v not in [0, 1)", missing)
	}
	hw := shape.H * shape.W
	n := int(math.Round(missing * float64(hw)))
	if n >= hw {
		n = hw - 1
	}
	gone := make([]bool, hw)
	for _, p := range rng.Perm(hw)[:n] {
		gone[p] = true
	}
	keep := make([]bool, shape.Len())
	for c := range shape.C {
		for p := range hw {
			keep[c*hw+p] = !gone[p]
		}
	}
	return NewMask(shape, keep)
}

// Shape returns the image shape.
func (op *Mask) Shape() Shape { return op.shape }

// Keep returns a copy of the observation pattern: true where observed.
func (op *Mask) Keep() []bool { return append([]bool(nil), op.keep...) }

// Dims returns the number of observed entries and C·H·W.
func (op *Mask) Dims() (m, d int) { return op.m, len(op.keep) }

// Apply sets dst to the observed entries of x.
func (op *Mask) Apply(dst, x []float64) {
	checkLen("Apply", dst, op.m, x, len(op.keep))
	for k, i := range op.perm[:op.m] {
		dst[k] = x[i]
	}
}

// Adjoint sets dst = Aᵀ y: y at the observed entries, zero elsewhere.
func (op *Mask) Adjoint(dst, y []float64) {
	checkLen("Adjoint", dst, len(op.keep), y, op.m)
	clear(dst)
	for k, i := range op.perm[:op.m] {
		dst[i] = y[k]
	}
}

// SolveShifted sets dst = (a I + b AᵀA)⁻¹ v. dst may alias v.
func (op *Mask) SolveShifted(dst []float64, a, b float64, v []float64) {
	checkLen("SolveShifted", dst, len(op.keep), v, len(op.keep))
	checkShift(a, b)
	scale := [2]float64{1 / a, 1 / (a + b)}
	v = v[:len(op.sel)]
	dst = dst[:len(op.sel)]
	for i, k := range op.sel {
		dst[i] = v[i] * scale[k&1]
	}
}

// Pinv sets dst = A⁺ y = Aᵀ y.
func (op *Mask) Pinv(dst, y []float64) { op.Adjoint(dst, y) }

// GramEigenvalues returns the diagonal of AᵀA: 1 observed, 0 missing.
func (op *Mask) GramEigenvalues() []float64 { return op.eig }

// Singular returns m ones.
func (op *Mask) Singular() []float64 { return op.ones }

// Vt sets dst = Vᵀ x: the observed entries of x, then the missing ones.
// dst must not overlap x.
func (op *Mask) Vt(dst, x []float64) {
	checkLen("Vt", dst, len(op.keep), x, len(op.keep))
	for k, i := range op.perm {
		dst[k] = x[i]
	}
}

// V sets dst = V c, the inverse of Vt. dst must not overlap c.
func (op *Mask) V(dst, c []float64) {
	checkLen("V", dst, len(op.keep), c, len(op.keep))
	for k, i := range op.perm {
		dst[i] = c[k]
	}
}

// Ut sets dst = y (U = I).
func (op *Mask) Ut(dst, y []float64) {
	checkLen("Ut", dst, op.m, y, op.m)
	copy(dst, y)
}

// U sets dst = c (U = I).
func (op *Mask) U(dst, c []float64) {
	checkLen("U", dst, op.m, c, op.m)
	copy(dst, c)
}

// check reports whether all the dimensions of s are positive.
func (s Shape) check() error {
	if s.C < 1 || s.H < 1 || s.W < 1 {
		return fmt.Errorf("operator: image shape %d×%d×%d must be positive", s.C, s.H, s.W)
	}
	return nil
}
