package model

import (
	"context"
	"math"
	"strings"
	"testing"
)

// fake returns its input scaled, or NaN where told to.
type fake struct{ nan bool }

func (f fake) Denoise(_ context.Context, dst, x [][]float64, _ float64) error {
	for i := range x {
		copy(dst[i], x[i])
		if f.nan {
			dst[i][1] = math.NaN()
		}
	}
	return nil
}
func (f fake) VJP(ctx context.Context, dst, x [][]float64, s float64, _ [][]float64) error {
	return f.Denoise(ctx, dst, x, s)
}
func (f fake) DenoiseEPS(ctx context.Context, dst, x [][]float64, s float64) error {
	return f.Denoise(ctx, dst, x, s)
}
func (f fake) Restore(ctx context.Context, dst, x [][]float64, s float64) error {
	return f.Denoise(ctx, dst, x, s)
}

func TestCounted(t *testing.T) {
	ctx := context.Background()
	c := &Counted{Name: "m", Model: fake{}, Dim: 2}
	x := [][]float64{{1, 2}, {3, 4}, {5, 6}}
	dst := [][]float64{make([]float64, 2), make([]float64, 2), make([]float64, 2)}
	if err := c.Denoise(ctx, dst, x, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.DenoiseEPS(ctx, dst, x, 1); err != nil {
		t.Fatal(err)
	}
	if err := c.VJP(ctx, dst, x, 1, x); err != nil {
		t.Fatal(err)
	}
	if err := c.Restore(ctx, dst, x, 1); err != nil {
		t.Fatal(err)
	}
	if c.NFE() != 9 || c.VJPs() != 3 {
		t.Errorf("counted %d NFE, %d VJP; want 9 and 3", c.NFE(), c.VJPs())
	}
	for _, tc := range []struct {
		name string
		err  error
		want string
	}{
		{"short row", c.Denoise(ctx, dst, [][]float64{{1}, {1, 2}, {1, 2}}, 1), "input row 0 has length 1"},
		{"row count", c.Denoise(ctx, dst, x[:2], 1), "2 input rows for 3 output rows"},
		{"NaN input", c.Denoise(ctx, dst, [][]float64{{1, 2}, {math.Inf(1), 0}, {0, 0}}, 1), "input row 1 holds +Inf at 0"},
		{"σ", c.Denoise(ctx, dst, x, 0), "σ must be positive"},
		{"NaN output", (&Counted{Name: "bad", Model: fake{nan: true}, Dim: 2}).Denoise(ctx, dst, x, 1), "model bad: Denoise returned NaN in row 0 at 1"},
	} {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, tc.err, tc.want)
		}
	}
}
