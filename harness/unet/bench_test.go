package unet

import (
	"context"
	"fmt"
	"testing"
)

// benchNet returns a network of cfg with every weight nonzero: a new
// network's zero convolutions would let gonum skip work and flatter the
// timings.
func benchNet(b *testing.B, cfg Config) *Net {
	b.Helper()
	return perturbed(b, cfg, 1, 0.02)
}

func benchDenoise(b *testing.B, cfg Config, batch int) {
	n := benchNet(b, cfg)
	p := newProblem(n, newRand(2), batch)
	dst := p.denoise(b, n) // builds the graph
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := n.Denoise(ctx, dst, p.x, p.cond, p.sigma, p.labels); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n.NumParams()), "params")
}

func benchVJP(b *testing.B, cfg Config, batch int) {
	n := benchNet(b, cfg)
	p := newProblem(n, newRand(2), batch)
	dst := p.denoise(b, n)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := n.VJP(ctx, dst, p.x, p.cond, p.sigma, p.labels, p.v); err != nil {
			b.Fatal(err)
		}
	}
}

func benchLoss(b *testing.B, cfg Config, batch int) {
	n := benchNet(b, cfg)
	p := newProblem(n, newRand(2), batch)
	ctx := context.Background()
	if _, err := n.Loss(ctx, p.x, p.cond, p.target, p.sigma, p.weight, p.labels); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := n.Loss(ctx, p.x, p.cond, p.target, p.sigma, p.weight, p.labels); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(n.NumParams()), "params")
}

// BenchmarkLossConfig32 is one training step's forward and backward pass.
func BenchmarkLossConfig32(b *testing.B) { benchLoss(b, Config32(), 16) }

// BenchmarkDenoiseConfig32 is one sampler step for four images.
func BenchmarkDenoiseConfig32(b *testing.B) { benchDenoise(b, Config32(), 4) }

// BenchmarkSizes covers both configs, the three calls and batches 4 and 16.
func BenchmarkSizes(b *testing.B) {
	for _, c := range []struct {
		name string
		cfg  Config
	}{{"Config32", Config32()}, {"Config64", Config64()}} {
		for _, batch := range []int{4, 16} {
			b.Run(fmt.Sprintf("%s/Denoise/%d", c.name, batch), func(b *testing.B) { benchDenoise(b, c.cfg, batch) })
			b.Run(fmt.Sprintf("%s/VJP/%d", c.name, batch), func(b *testing.B) { benchVJP(b, c.cfg, batch) })
			b.Run(fmt.Sprintf("%s/Loss/%d", c.name, batch), func(b *testing.B) { benchLoss(b, c.cfg, batch) })
		}
	}
}
