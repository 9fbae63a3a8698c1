package unet

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestTransplant(t *testing.T) {
	// A conditional network started from a denoiser is the denoiser,
	// whatever its conditioning image and label.
	base := Config{Resolution: 8, Channels: 3, Base: 4, Mults: []int{1, 2}, Blocks: 1, Groups: 2, SigmaData: 0.5}
	rng := rand.New(rand.NewPCG(1, 2))
	src, err := New(base, rng)
	if err != nil {
		t.Fatal(err)
	}
	// Weights that are not the fresh network's zeros, so F matters.
	for _, p := range src.Params() {
		for i := range p.Value {
			p.Value[i] = float32(0.2 * rng.NormFloat64())
		}
	}
	cond := base
	cond.CondChannels, cond.Labels = 6, 5
	dst, err := New(cond, rng)
	if err != nil {
		t.Fatal(err)
	}
	if err := Transplant(dst, src); err != nil {
		t.Fatal(err)
	}
	d := 3 * 8 * 8
	x, c := [][]float64{make([]float64, d)}, [][]float64{make([]float64, 2*d)}
	for i := range x[0] {
		x[0][i] = rng.NormFloat64()
	}
	for i := range c[0] {
		c[0][i] = 3 * rng.NormFloat64()
	}
	want, got := [][]float64{make([]float64, d)}, [][]float64{make([]float64, d)}
	ctx := context.Background()
	if err := src.Denoise(ctx, want, x, nil, []float64{0.7}, nil); err != nil {
		t.Fatal(err)
	}
	if err := dst.Denoise(ctx, got, x, c, []float64{0.7}, []int{3}); err != nil {
		t.Fatal(err)
	}
	for i := range want[0] {
		if d := got[0][i] - want[0][i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("output %d: %v, the source gives %v", i, got[0][i], want[0][i])
		}
	}
	other := base
	other.Base = 8
	o, err := New(other, rng)
	if err != nil {
		t.Fatal(err)
	}
	if err := Transplant(o, src); err == nil || !strings.Contains(err.Error(), "Base is 4, want 8") {
		t.Errorf("another width: %v", err)
	}
	if err := Transplant(src, dst); err == nil || !strings.Contains(err.Error(), "from one of 6 and 5") {
		t.Errorf("dropping the conditioning: %v", err)
	}
}
