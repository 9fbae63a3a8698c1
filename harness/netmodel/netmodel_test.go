package netmodel

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/operator"
)

// shrink is the exact denoiser of a N(0, s²I) prior, D(x; σ) =
// s²/(s²+σ²)·x, plus the mean of its conditioning row when it has one, and
// remembers what it was called with.
type shrink struct {
	c, h, w, cc, labels int
	s2                  float64

	gotCond   [][]float64
	gotLabels []int
	gotSigma  []float64
}

func (n *shrink) Shape() (int, int, int, int) { return n.c, n.h, n.w, n.cc }
func (n *shrink) Labels() int                 { return n.labels }

func (n *shrink) Denoise(_ context.Context, dst, x, cond [][]float64, sigma []float64, labels []int) error {
	n.gotCond, n.gotLabels, n.gotSigma = cond, labels, sigma
	for i := range x {
		k := n.s2 / (n.s2 + sigma[i]*sigma[i])
		off := 0.0
		if cond != nil {
			for _, v := range cond[i] {
				off += v / float64(len(cond[i]))
			}
		}
		for j := range x[i] {
			dst[i][j] = k*x[i][j] + off
		}
	}
	return nil
}

type shrinkVJP struct{ *shrink }

func (n shrinkVJP) VJP(_ context.Context, dst, x, _ [][]float64, sigma []float64, _ []int, v [][]float64) error {
	for i := range x {
		k := n.s2 / (n.s2 + sigma[i]*sigma[i])
		for j := range v[i] {
			dst[i][j] = k * v[i][j]
		}
	}
	return nil
}

func TestConditionMask(t *testing.T) {
	// For a mask, AᵀA = diag(m): the first half is y/(σ_y²+1) on the seen
	// pixels and 0 elsewhere, the second half is the mask.
	const d, sy = 12, 0.1
	keep := make([]bool, d)
	for i := range keep {
		keep[i] = i%3 != 1
	}
	op, err := operator.NewMask(operator.Shape{C: 1, H: 3, W: 4}, keep)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := op.Dims()
	y := make([]float64, m)
	for i := range y {
		y[i] = float64(i) - 3.5
	}
	dst := make([]float64, 2*d)
	if err := Condition(dst, op, y, sy); err != nil {
		t.Fatal(err)
	}
	k := 0
	for i := range d {
		want, vis := 0.0, 0.0
		if keep[i] {
			want, vis = y[k]/(sy*sy+1), 1
			k++
		}
		if math.Abs(dst[i]-want) > 1e-12 || dst[d+i] != vis {
			t.Errorf("pixel %d: got (%v, %v), want (%v, %v)", i, dst[i], dst[d+i], want, vis)
		}
	}
}

func TestConditionDense(t *testing.T) {
	// Against the normal equations solved by hand: (σ_y² I + AᵀA) c = Aᵀy.
	const m, d, sy = 3, 4, 0.3
	rng := rand.New(rand.NewPCG(3, 4))
	a := make([]float64, m*d)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	op, err := operator.NewDense(m, d, a)
	if err != nil {
		t.Fatal(err)
	}
	y := []float64{0.5, -1, 2}
	dst := make([]float64, 2*d)
	if err := Condition(dst, op, y, sy); err != nil {
		t.Fatal(err)
	}
	for i := range d {
		// Row i of (σ_y² I + AᵀA) c − Aᵀy.
		r := sy * sy * dst[i]
		for j := range d {
			for k := range m {
				r += a[k*d+i] * a[k*d+j] * dst[j]
			}
		}
		vis := 0.0
		for k := range m {
			r -= a[k*d+i] * y[k]
			rowSum := 0.0
			for j := range d {
				rowSum += a[k*d+j]
			}
			vis += a[k*d+i] * rowSum
		}
		if math.Abs(r) > 1e-10 {
			t.Errorf("normal equation %d: residual %v", i, r)
		}
		if math.Abs(dst[d+i]-vis) > 1e-10 {
			t.Errorf("AᵀA𝟙[%d] = %v, want %v", i, dst[d+i], vis)
		}
	}
	for _, bad := range []struct {
		dst, y []float64
		sy     float64
		want   string
	}{
		{make([]float64, d), y, sy, "length 4, want 2d = 8"},
		{dst, y[:2], sy, "measurement of length 2"},
		{dst, y, 0, "σ_y = 0"},
	} {
		if err := Condition(bad.dst, op, bad.y, bad.sy); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("got %v, want an error saying %q", err, bad.want)
		}
	}
}

func TestBind(t *testing.T) {
	const c, h, w = 1, 2, 2
	keep := []bool{true, false, true, true}
	op, err := operator.NewMask(operator.Shape{C: c, H: h, W: w}, keep)
	if err != nil {
		t.Fatal(err)
	}
	y := []float64{1, 2, 3}
	den := &shrink{c: c, h: h, w: w, s2: 4}
	eps := &shrink{c: c, h: h, w: w, cc: 2, labels: len(Tasks), s2: 4}
	rest := &shrink{c: c, h: h, w: w, cc: 2, s2: 4}
	m := &Model{Name: "toy", Denoiser: shrinkVJP{den}, EPS: eps, Restorer: rest, RestorerTask: "inpaint-random"}
	b, err := m.Bind("inpaint-random", op, 0.05, y)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	x := [][]float64{{1, 2, 3, 4}, {-1, 0, 1, 2}}
	dst := [][]float64{make([]float64, 4), make([]float64, 4)}

	if err := b.Denoise(ctx, dst, x, 2); err != nil {
		t.Fatal(err)
	}
	if den.gotCond != nil || den.gotLabels != nil || den.gotSigma[1] != 2 || dst[1][3] != 1 {
		t.Errorf("Denoise: cond %v labels %v σ %v out %v", den.gotCond, den.gotLabels, den.gotSigma, dst)
	}
	if err := b.VJP(ctx, dst, x, 2, x); err != nil || dst[0][0] != 0.5 {
		t.Errorf("VJP: %v, %v", err, dst)
	}

	want := make([]float64, 8)
	if err := Condition(want, op, y, 0.05); err != nil {
		t.Fatal(err)
	}
	if err := b.DenoiseEPS(ctx, dst, x, 1); err != nil {
		t.Fatal(err)
	}
	if len(eps.gotCond) != 2 || eps.gotCond[1][0] != want[0] || eps.gotCond[1][7] != want[7] {
		t.Errorf("EPS conditioning %v, want %v", eps.gotCond, want)
	}
	if l, _ := TaskLabel("inpaint-random"); len(eps.gotLabels) != 2 || eps.gotLabels[0] != l {
		t.Errorf("EPS labels %v, want %d", eps.gotLabels, l)
	}
	if err := b.Restore(ctx, dst, x, 1); err != nil || rest.gotLabels != nil || rest.gotCond == nil {
		t.Errorf("Restore: %v, labels %v, cond %v", err, rest.gotLabels, rest.gotCond)
	}

	// The single-task restorer does not serve another task, and a denoiser
	// without a VJP gives none.
	m2 := &Model{Name: "toy", Denoiser: den, Restorer: rest, RestorerTask: "sr4"}
	b2, err := m2.Bind("inpaint-random", op, 0.05, y)
	if err != nil {
		t.Fatal(err)
	}
	for name, err := range map[string]error{
		"Restore":    b2.Restore(ctx, dst, x, 1),
		"DenoiseEPS": b2.DenoiseEPS(ctx, dst, x, 1),
		"VJP":        b2.VJP(ctx, dst, x, 1, x),
	} {
		if !errors.Is(err, ErrNotServed) || !strings.Contains(err.Error(), "model toy") {
			t.Errorf("%s: got %v, want ErrNotServed naming the model", name, err)
		}
	}
	if m2.HasVJP() || !m.HasVJP() {
		t.Error("HasVJP")
	}
}

func TestCheck(t *testing.T) {
	den := &shrink{c: 3, h: 4, w: 4}
	for _, tc := range []struct {
		m    Model
		want string
	}{
		{Model{Name: "a"}, "no denoiser"},
		{Model{Name: "a", Denoiser: &shrink{c: 3, h: 4, w: 4, cc: 6}}, "denoiser takes 6 conditioning channels"},
		{Model{Name: "a", Denoiser: &shrink{c: 3, h: 4, w: 4, labels: 1000}}, "takes class labels (1000 classes)"},
		{Model{Name: "a", Denoiser: den, EPS: &shrink{c: 3, h: 8, w: 8, cc: 6, labels: 6}}, "EPS network takes 3×8×8 images"},
		{Model{Name: "a", Denoiser: den, EPS: &shrink{c: 3, h: 4, w: 4, cc: 3, labels: 6}}, "takes 3 conditioning channels, want 6"},
		{Model{Name: "a", Denoiser: den, Restorer: &shrink{c: 3, h: 4, w: 4, cc: 6}}, "no task labels and no task named"},
		{Model{Name: "a", Denoiser: den, Restorer: &shrink{c: 3, h: 4, w: 4, cc: 6, labels: 4}}, "tells 4 labels apart, want 6"},
	} {
		err := tc.m.Check()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("got %v, want an error saying %q", err, tc.want)
		}
	}
	op, err := operator.NewMask(operator.Shape{C: 1, H: 1, W: 5}, []bool{true, false, true, false, true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := (&Model{Name: "a", Denoiser: den}).Bind("sr4", op, 0.05, nil); err == nil || !strings.Contains(err.Error(), "3×4×4 images (48 values), the problem's signals have 5") {
		t.Errorf("Bind with the wrong size: %v", err)
	}
}
