package sdk

import (
	"context"
	"fmt"

	"github.com/ipbench/ipbench/harness/operator"
)

// Local returns the in-process handle of op: batched calls run the rows in
// parallel. If op has an SVD, the handle is an SVD too.
func Local(op operator.Operator) Operator {
	l := local{op}
	if s, ok := op.(operator.SVD); ok {
		return localSVD{l, s}
	}
	return l
}

type local struct{ op operator.Operator }

func (l local) Dims() (m, d int) { return l.op.Dims() }

// rows applies f row by row after checking the row lengths.
func (l local) rows(ctx context.Context, name string, dst, src [][]float64, nd, ns int, f func(dst, src []float64)) error {
	if len(dst) != len(src) {
		return fmt.Errorf("operator %s: %d output rows for %d input rows", name, len(dst), len(src))
	}
	for i := range src {
		if len(src[i]) != ns || len(dst[i]) != nd {
			return fmt.Errorf("operator %s: row %d has lengths %d → %d, want %d → %d", name, i, len(src[i]), len(dst[i]), ns, nd)
		}
	}
	ParallelRows(len(src), func(i int) { f(dst[i], src[i]) })
	return ctx.Err()
}

func (l local) Apply(ctx context.Context, dst, x [][]float64) error {
	m, d := l.op.Dims()
	return l.rows(ctx, "Apply", dst, x, m, d, l.op.Apply)
}

func (l local) Adjoint(ctx context.Context, dst, y [][]float64) error {
	m, d := l.op.Dims()
	return l.rows(ctx, "Adjoint", dst, y, d, m, l.op.Adjoint)
}

func (l local) SolveShifted(ctx context.Context, dst [][]float64, a, b float64, v [][]float64) error {
	if !(a > 0) || !(b >= 0) {
		return fmt.Errorf("operator SolveShifted: need a > 0 and b ≥ 0, got a = %v, b = %v", a, b)
	}
	_, d := l.op.Dims()
	return l.rows(ctx, "SolveShifted", dst, v, d, d, func(dst, v []float64) { l.op.SolveShifted(dst, a, b, v) })
}

func (l local) Pinv(ctx context.Context, dst, y [][]float64) error {
	m, d := l.op.Dims()
	return l.rows(ctx, "Pinv", dst, y, d, m, l.op.Pinv)
}

func (l local) GramEigenvalues(ctx context.Context) ([]float64, error) {
	return append([]float64(nil), l.op.GramEigenvalues()...), ctx.Err()
}

type localSVD struct {
	local
	s operator.SVD
}

func (l localSVD) Singular(ctx context.Context) ([]float64, error) {
	return append([]float64(nil), l.s.Singular()...), ctx.Err()
}

func (l localSVD) Vt(ctx context.Context, dst, x [][]float64) error {
	_, d := l.op.Dims()
	return l.rows(ctx, "Vt", dst, x, d, d, l.s.Vt)
}

func (l localSVD) V(ctx context.Context, dst, c [][]float64) error {
	_, d := l.op.Dims()
	return l.rows(ctx, "V", dst, c, d, d, l.s.V)
}

func (l localSVD) Ut(ctx context.Context, dst, y [][]float64) error {
	m, _ := l.op.Dims()
	return l.rows(ctx, "Ut", dst, y, m, m, l.s.Ut)
}

func (l localSVD) U(ctx context.Context, dst, c [][]float64) error {
	m, _ := l.op.Dims()
	return l.rows(ctx, "U", dst, c, m, m, l.s.U)
}

// Underlying returns the operator behind a handle made by Local.
func Underlying(op Operator) (operator.Operator, bool) {
	switch l := op.(type) {
	case local:
		return l.op, true
	case localSVD:
		return l.op, true
	}
	return nil, false
}
