package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/task"
)

// affine is the network D(x) = w⊙x + b (one weight and bias per pixel),
// whose loss gradient is written out by hand.
type affine struct{ w, b, gw, gb []float32 }

func newAffine(d int) *affine {
	a := &affine{w: make([]float32, d), b: make([]float32, d), gw: make([]float32, d), gb: make([]float32, d)}
	for i := range a.w {
		a.w[i] = 0.5
	}
	return a
}

func (a *affine) params() []Param {
	return []Param{{Name: "w", Value: a.w, Grad: a.gw}, {Name: "b", Value: a.b, Grad: a.gb}}
}

func (a *affine) Loss(_ context.Context, x, _, target [][]float64, _, weight []float64, _ []int) (float64, error) {
	n, d := float64(len(x)), float64(len(a.w))
	loss := 0.0
	for i := range x {
		for j := range x[i] {
			r := float64(a.w[j])*x[i][j] + float64(a.b[j]) - target[i][j]
			loss += weight[i] * r * r / (n * d)
			g := 2 * weight[i] * r / (n * d)
			a.gw[j] += float32(g * x[i][j])
			a.gb[j] += float32(g)
		}
	}
	return loss, nil
}

func toyImages(n int) Images {
	shape := operator.Shape{C: 1, H: 4, W: 4}
	rng := rand.New(rand.NewPCG(7, 8))
	im := Images{Shape: shape, Flip: true}
	for range n {
		x := make([]float64, shape.Len())
		for j := range x {
			x[j] = 0.3 + 0.2*rng.NormFloat64()
		}
		im.X = append(im.X, x)
	}
	return im
}

func TestEDM(t *testing.T) {
	e := DefaultEDM()
	// λ(σ_d) = 2σ_d²/σ_d⁴ = 2/σ_d² = 8.
	if w := e.Weight(0.5); math.Abs(w-8) > 1e-12 {
		t.Errorf("λ(0.5) = %v, want 8", w)
	}
	rng := rand.New(rand.NewPCG(1, 1))
	const n = 20000
	var s, s2 float64
	for range n {
		l := math.Log(e.Sigma(rng))
		s, s2 = s+l, s2+l*l
	}
	mean, sd := s/n, math.Sqrt(s2/n-(s/n)*(s/n))
	if math.Abs(mean+1.2) > 4*1.2/math.Sqrt(n) || math.Abs(sd-1.2) > 0.03 {
		t.Errorf("ln σ has mean %v and sd %v, want −1.2 and 1.2", mean, sd)
	}
}

func TestAdamFirstStep(t *testing.T) {
	// At step 1 the bias-corrected Adam step is η·g/(|g|+ε) ≈ η·sign(g),
	// whatever the gradient's size.
	p := []Param{{Name: "p", Value: []float32{1, 1, 1}, Grad: []float32{3, -0.001, 0}}}
	s := DefaultSettings()
	s.Warmup = 0
	st := NewState(p, 1)
	st.Step = 1
	adam(p, st, s)
	want := []float64{1 - s.LR, 1 + s.LR, 1}
	for i, v := range p[0].Value {
		if math.Abs(float64(v)-want[i]) > 1e-5*s.LR+1e-7 {
			t.Errorf("θ[%d] = %v, want %v", i, v, want[i])
		}
	}
}

func TestTrainingLowersLoss(t *testing.T) {
	// At one noise level the affine net can be the denoiser of a Gaussian
	// (w = s²/(s²+σ²)): the loss falls towards it.
	a := newAffine(16)
	obj := Denoising{Data: toyImages(64), Noise: EDM{PMean: math.Log(0.5), SigmaData: 0.5}}
	s := DefaultSettings()
	s.Steps, s.Batch, s.LR, s.Warmup, s.EMAImages = 600, 32, 1e-2, 10, 500
	st := NewState(a.params(), 3)
	if err := Run(context.Background(), a, a.params(), obj, s, st, nil, nil); err != nil {
		t.Fatal(err)
	}
	// The best affine denoiser of N(0.3, 0.2²) pixels at σ = 0.5 has
	// w = s²/(s²+σ²) and λ(σ)-weighted error λ·s²σ²/(s²+σ²).
	s2, sig2 := 0.04, 0.25
	wOpt, lossOpt := s2/(s2+sig2), DefaultEDM().Weight(0.5)*s2*sig2/(s2+sig2)
	first, last := mean(st.Losses[:20]), mean(st.Losses[len(st.Losses)-100:])
	if !(first > 1.3*lossOpt) || math.Abs(last-lossOpt) > 0.15*lossOpt {
		t.Errorf("loss went from %v to %v, the best is %v", first, last, lossOpt)
	}
	w := 0.0
	for _, v := range a.w {
		w += float64(v) / float64(len(a.w))
	}
	if math.Abs(w-wOpt) > 0.05 {
		t.Errorf("mean weight %v, the best is %v", w, wOpt)
	}
}

func mean(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v
	}
	return s / float64(len(x))
}

func TestResumeIsExact(t *testing.T) {
	// A run stopped after a checkpoint and resumed ends with the same bits
	// as one that never stopped.
	dir := t.TempDir()
	obj := Denoising{Data: toyImages(10), Noise: DefaultEDM()}
	s := DefaultSettings()
	s.Steps, s.Batch, s.Every, s.EMAImages = 12, 4, 5, 20

	whole := newAffine(16)
	stw := NewState(whole.params(), 5)
	if err := Run(context.Background(), whole, whole.params(), obj, s, stw, nil, nil); err != nil {
		t.Fatal(err)
	}

	path := filepath.Join(dir, "ckpt")
	first := newAffine(16)
	st := NewState(first.params(), 5)
	ctx, cancel := context.WithCancel(context.Background())
	save := func(st *State) error {
		cancel() // stop right after the first checkpoint, at step 5
		return SaveCheckpoint(path, first.params(), st, s)
	}
	if err := Run(ctx, first, first.params(), obj, s, st, save, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want the run cancelled", err)
	}

	again := newAffine(16)
	st2, s2, err := LoadCheckpoint(path, again.params())
	if err != nil {
		t.Fatal(err)
	}
	if st2.Step != 5 || len(st2.Losses) != 5 {
		t.Fatalf("resumed at step %d with %d losses", st2.Step, len(st2.Losses))
	}
	if err := Resume(s2, s); err != nil {
		t.Fatal(err)
	}
	if err := Run(context.Background(), again, again.params(), obj, s, st2, nil, nil); err != nil {
		t.Fatal(err)
	}
	for i := range whole.w {
		if whole.w[i] != again.w[i] || whole.b[i] != again.b[i] || stw.EMA[0][i] != st2.EMA[0][i] {
			t.Fatalf("parameter %d differs after resuming: %v %v vs %v %v", i, whole.w[i], whole.b[i], again.w[i], again.b[i])
		}
	}
	for i := range stw.Losses {
		if stw.Losses[i] != st2.Losses[i] {
			t.Fatalf("loss %d differs: %v vs %v", i, stw.Losses[i], st2.Losses[i])
		}
	}

	other := s
	other.LR *= 2
	if err := Resume(s2, other); !errors.Is(err, ErrSettings) {
		t.Errorf("resuming with another learning rate: %v", err)
	}
}

func TestCheckpointErrors(t *testing.T) {
	dir := t.TempDir()
	a := newAffine(16)
	st := NewState(a.params(), 1)
	st.Losses = []float64{1, 2}
	path := filepath.Join(dir, "ckpt")
	if err := SaveCheckpoint(path, a.params(), st, DefaultSettings()); err != nil {
		t.Fatal(err)
	}
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	write := func(b []byte) string {
		n++
		p := filepath.Join(dir, fmt.Sprintf("bad%d", n))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	corrupt := append([]byte(nil), good...)
	corrupt[len(corrupt)/2] ^= 1
	newer := append([]byte(nil), good...)
	newer[4] = 9
	for _, tc := range []struct {
		name   string
		path   string
		params []Param
		want   string
	}{
		{"not a checkpoint", write([]byte("PNG....and so on")), a.params(), "not an ipbench checkpoint"},
		{"truncated", write(good[:len(good)-100]), a.params(), "checksum mismatch"},
		{"corrupt", write(corrupt), a.params(), "checksum mismatch"},
		{"newer format", write(newer), a.params(), "format version 9"},
		{"other architecture", path, newAffine(9).params(), "parameter 0 is w with 16 values, the network's is w with 9"},
		{"fewer tensors", path, newAffine(16).params()[:1], "2 parameter tensors, the network has 1"},
	} {
		_, _, err := LoadCheckpoint(tc.path, tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

func TestNonFiniteLossStops(t *testing.T) {
	a := newAffine(16)
	a.w[3] = float32(math.Inf(1))
	s := DefaultSettings()
	s.Steps = 3
	err := Run(context.Background(), a, a.params(), Denoising{Data: toyImages(4), Noise: DefaultEDM()}, s, NewState(a.params(), 1), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "step 1: the loss is") {
		t.Errorf("got %v", err)
	}
}

func TestPosteriorPivotIsExact(t *testing.T) {
	// For random inpainting Σ* is diagonal: 1/(1/σ² + 1/σ_y²) on a seen
	// pixel, σ² on a missing one. The pivot's error μ* − x₀ divided by
	// √Σ*ᵢᵢ must be standard normal.
	shape := operator.Shape{C: 1, H: 8, W: 8}
	r, err := task.Resolve(task.Spec{Name: "inpaint-random"}, shape)
	if err != nil {
		t.Fatal(err)
	}
	im := toyImages(1)
	im.Shape, im.Flip = shape, false
	im.X[0] = make([]float64, shape.Len())
	for j := range im.X[0] {
		im.X[0][j] = math.Sin(float64(j))
	}
	const sy = 0.05
	obj := Posterior{Data: im, Noise: EDM{PMean: -1, PStd: 0.5, SigmaData: 0.5}, Measured: Measured{Tasks: []task.Resolved{r}, SigmaY: sy}}
	rng := rand.New(rand.NewPCG(9, 9))
	var b Batch
	var s, s2, cnt float64
	seen := 0.0
	d := shape.Len()
	for range 40 {
		if err := obj.Draw(&b, 16, rng); err != nil {
			t.Fatal(err)
		}
		for i := range b.X {
			sig := b.Sigma[i]
			for j := range d {
				v := sig * sig
				if b.Cond[i][d+j] > 0.5 { // seen: AᵀA𝟙 is the mask
					v = 1 / (1/(sig*sig) + 1/(sy*sy))
					seen++
				}
				z := (b.X[i][j] - b.Target[i][j]) / math.Sqrt(v)
				s, s2, cnt = s+z, s2+z*z, cnt+1
			}
		}
	}
	m, v := s/cnt, s2/cnt-(s/cnt)*(s/cnt)
	if math.Abs(m) > 4/math.Sqrt(cnt) || math.Abs(v-1) > 5*math.Sqrt(2/cnt) {
		t.Errorf("standardised pivot error: mean %v, variance %v over %v values", m, v, cnt)
	}
	if frac := seen / cnt; math.Abs(frac-0.3) > 0.05 {
		t.Errorf("%.2f of the pixels seen, want 0.3", frac)
	}
	if b.Labels != nil {
		t.Error("labels on an unlabelled objective")
	}
}
