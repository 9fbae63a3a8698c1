package netmodel_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/harness/unet"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// benchNet is a network of the committed models' architecture (unet
// Config32 at base 16) with every weight nonzero (zero weights would let
// the matrix products skip work).
func benchNet(b *testing.B, cond, labels int) *unet.Net {
	cfg := unet.Config32()
	cfg.Base, cfg.CondChannels, cfg.Labels = 16, cond, labels
	rng := rand.New(rand.NewPCG(1, 2))
	n, err := unet.New(cfg, rng)
	if err != nil {
		b.Fatal(err)
	}
	for _, p := range n.Params() {
		for i := range p.Value {
			p.Value[i] += float32(0.02 * rng.NormFloat64())
		}
	}
	return n
}

// BenchmarkEPSvsBackbone times, per image (4 samples a batch, as the
// benchmark runs), EPS on the EPS network against the backbone's own EDM
// Heun sampler on the unconditional denoiser at the same NFE, on sr4 at
// 32 px: EPS's extra work is one shifted solve per step (the pivot) and
// the conditioning channels of its network. The EPS paper reports 1.88 s
// against 1.87 s on a GPU; compare the two ns/op of one NFE.
func BenchmarkEPSvsBackbone(b *testing.B) {
	shape := operator.Shape{C: 3, H: 32, W: 32}
	r, err := task.Resolve(task.Spec{Name: "sr4"}, shape)
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	op, err := task.Build(r, shape, rng)
	if err != nil {
		b.Fatal(err)
	}
	m, d := op.Dims()
	y := make([]float64, m)
	for i := range y {
		y[i] = 0.3 * rng.NormFloat64()
	}
	model := &netmodel.Model{Name: "bench", Denoiser: benchNet(b, 0, 0), EPS: benchNet(b, 6, len(netmodel.Tasks))}
	bound, err := model.Bind("sr4", op, 0.05, y)
	if err != nil {
		b.Fatal(err)
	}
	const n = 4
	seeds := seed.Seeds(1, "bench", "0", 0, n)
	ctx := context.Background()
	params, _ := sdk.ResolveParams(eps.Solver{}.Info(), nil)
	for _, nfe := range []int{20} {
		b.Run("backbone", func(b *testing.B) {
			dst := sdk.NewRows(n, d)
			for i := 0; i < b.N; i++ {
				sched, err := edm.HeunSchedule(nfe, params["sigma_min"], edm.SigmaMax, params["rho"])
				if err != nil {
					b.Fatal(err)
				}
				if err := edm.Start(dst, edm.SigmaMax, sdk.Rands(seeds)); err != nil {
					b.Fatal(err)
				}
				if err := edm.Heun(ctx, dst, sched, bound.Denoise); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N*n), "s/image")
		})
		b.Run("eps", func(b *testing.B) {
			dst := sdk.NewRows(n, d)
			prob := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: 0.05, SigmaMax: edm.SigmaMax}
			for i := 0; i < b.N; i++ {
				if err := (eps.Solver{}).Solve(ctx, dst, prob, bound, seeds, nfe, params); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N*n), "s/image")
		})
	}
}
