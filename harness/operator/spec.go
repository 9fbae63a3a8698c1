package operator

import (
	"fmt"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// Spec is a complete description of an operator, from which Build makes a
// replica that gives the same bits as the original on every method: the
// replica runs the same constructor on the same numbers. It lets a solver
// process evaluate A locally instead of calling the host for each product
// (operator calls are not counted, so only the speed changes).
type Spec struct {
	Kind string // "dense", "mask", "separable", "conv" or "gaussian-blur"

	Shape Shape // the image shape of every kind but dense
	M, D  int   // dense: A is M×D

	// Data holds the numbers: dense, A row-major; mask, 1 for an observed
	// entry and 0 for a missing one; separable, A_h then A_w row-major;
	// conv, the K×K kernel row-major; gaussian-blur, nothing.
	Data []float64

	RowsH, RowsW int     // separable: the rows of A_h and of A_w
	K            int     // conv and gaussian-blur: the kernel size
	Sigma        float64 // gaussian-blur: σ in pixels
}

// Specifier is an operator that can describe itself.
type Specifier interface {
	Spec() Spec
}

// Spec describes A.
func (op *Dense) Spec() Spec {
	return Spec{Kind: "dense", M: op.m, D: op.d, Data: slices.Clone(op.a)}
}

// Spec describes A.
func (op *Mask) Spec() Spec {
	data := make([]float64, len(op.keep))
	for i, k := range op.keep {
		if k {
			data[i] = 1
		}
	}
	return Spec{Kind: "mask", Shape: op.shape, Data: data}
}

// Spec describes A.
func (op *Separable) Spec() Spec {
	return Spec{Kind: "separable", Shape: op.shape, RowsH: op.h.out, RowsW: op.w.out, Data: slices.Concat(op.h.b, op.w.b)}
}

// Spec describes A.
func (op *Conv) Spec() Spec {
	return Spec{Kind: "conv", Shape: op.shape, K: op.k, Data: slices.Clone(op.kernel)}
}

// Spec describes A.
func (op *GaussianBlur) Spec() Spec {
	return Spec{Kind: "gaussian-blur", Shape: op.shape, K: op.k, Sigma: op.sigma}
}

// Build returns the operator that s describes, checked as its constructor
// checks it.
func Build(s Spec) (Operator, error) {
	want := func(n int) error {
		if len(s.Data) != n {
			return fmt.Errorf("operator: %s description has %d numbers, want %d", s.Kind, len(s.Data), n)
		}
		return nil
	}
	switch s.Kind {
	case "dense":
		return NewDense(s.M, s.D, s.Data)
	case "mask":
		if err := s.Shape.check(); err != nil {
			return nil, err
		}
		if err := want(s.Shape.Len()); err != nil {
			return nil, err
		}
		keep := make([]bool, len(s.Data))
		for i, v := range s.Data {
			switch v {
			case 0:
			case 1:
				keep[i] = true
			default:
				return nil, fmt.Errorf("operator: mask entry %d is %v, want 0 or 1", i, v)
			}
		}
		return NewMask(s.Shape, keep)
	case "separable":
		if err := s.Shape.check(); err != nil {
			return nil, err
		}
		if s.RowsH < 1 || s.RowsW < 1 {
			return nil, fmt.Errorf("operator: separable description with %d and %d rows", s.RowsH, s.RowsW)
		}
		nh := s.RowsH * s.Shape.H
		if err := want(nh + s.RowsW*s.Shape.W); err != nil {
			return nil, err
		}
		return NewSeparable(s.Shape, mat.NewDense(s.RowsH, s.Shape.H, slices.Clone(s.Data[:nh])), mat.NewDense(s.RowsW, s.Shape.W, slices.Clone(s.Data[nh:])))
	case "conv":
		return NewConv(s.Shape, s.Data, s.K)
	case "gaussian-blur":
		if err := want(0); err != nil {
			return nil, err
		}
		return NewGaussianBlur(s.Shape, s.K, s.Sigma)
	}
	return nil, fmt.Errorf("operator: unknown kind %q", s.Kind)
}
