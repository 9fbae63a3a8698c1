package sample

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gonum.org/v1/gonum/floats"

	dpspkg "github.com/ipbench/ipbench/baselines/dps"
	epspkg "github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/harness/problem"
	"github.com/ipbench/ipbench/harness/referee"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func family(t testing.TB, d, m int, seed uint64) *problem.Problem {
	t.Helper()
	f, err := problem.MCGdiff(d, m, rand.New(rand.NewPCG(seed, 7)))
	if err != nil {
		t.Fatal(err)
	}
	p, err := f.Problem()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The host counts exactly the requested NFE for EPS (Heun, the last step an
// Euler step, see edm.HeunSchedule), and one NFE and one VJP per step for DPS.
func TestCountedNFE(t *testing.T) {
	p := family(t, 8, 2, 1)
	var eps, dps sdk.Solver = epspkg.Solver{}, dpspkg.Solver{}
	for _, nfe := range []int{1, 2, 3, 4, 5, 10, 21} {
		r, err := Run(context.Background(), eps, p, Options{NFE: nfe, N: 3})
		if err != nil {
			t.Fatal(err)
		}
		if r.NFE != float64(nfe) || r.VJP != 0 {
			t.Errorf("eps at %d NFE: counted %v NFE, %v VJP", nfe, r.NFE, r.VJP)
		}
		r, err = Run(context.Background(), dps, p, Options{NFE: nfe, N: 3})
		if err != nil {
			t.Fatal(err)
		}
		if r.NFE != float64(nfe) || r.VJP != float64(nfe) {
			t.Errorf("dps at %d NFE: counted %v NFE, %v VJP", nfe, r.NFE, r.VJP)
		}
	}
}

// 1 NFE of EPS is the MMSE estimate E[x₀ | y] up to the O(1/σ_max²)
// difference between E[x₀ | x_σmax, y] and E[x₀ | y].
func TestEPSOneNFEIsMMSE(t *testing.T) {
	p := family(t, 80, 4, 2)
	var eps sdk.Solver = epspkg.Solver{}
	r, err := Run(context.Background(), eps, p, Options{NFE: 1, N: 4, SigmaMax: 1e4})
	if err != nil {
		t.Fatal(err)
	}
	post, err := p.Prior.Posterior(p.Op, p.Y, p.SigmaY)
	if err != nil {
		t.Fatal(err)
	}
	mean := make([]float64, 80)
	post.Mean(mean)
	for i, s := range r.Samples {
		if dist := floats.Distance(s, mean, 2); dist > 0.05*floats.Norm(mean, 2) {
			t.Errorf("sample %d is %.3g from E[x₀|y] (‖E[x₀|y]‖ = %.3g)", i, dist, floats.Norm(mean, 2))
		}
	}
}

// Samples depend on their own stream only: the same seed gives the same
// first sample whatever the batch size.
func TestBatchIndependence(t *testing.T) {
	p := family(t, 8, 2, 3)
	for name, s := range map[string]sdk.Solver{"eps": epspkg.Solver{}, "dps": dpspkg.Solver{}} {
		a, err := Run(context.Background(), s, p, Options{NFE: 10, N: 1, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Run(context.Background(), s, p, Options{NFE: 10, N: 7, Seed: 5})
		if err != nil {
			t.Fatal(err)
		}
		if !floats.Equal(a.Samples[0], b.Samples[0]) {
			t.Errorf("%s: sample 0 differs between batches of 1 and 7", name)
		}
	}
}

// The referee's verdict on EPS at 100 NFE across the MCGdiff family: the
// sliced Wasserstein distance to fresh exact samples against the floor of two
// exact sets. With σ_max = 20R the start distribution N(0, σ_max²I) is close
// enough to the noised posterior that EPS is within 1.5× the floor on every
// problem here. With DESIGN.md's σ_max = 5R the start is off by a shift of
// order R/σ_max = 1/5, which leaves a measurable error in the mixture weights
// on some problems (up to about 2× the floor here; see the README), so that
// bound is 2.5×. d = 800 runs in `ipbench gmm referee` and the benchmark.
func TestEPSMatchesExactPosterior(t *testing.T) {
	if testing.Short() {
		t.Skip("samples 12 problems")
	}
	var eps sdk.Solver = epspkg.Solver{}
	for _, tc := range []struct {
		radii, bound float64
	}{{5, 2.5}, {20, 1.5}} {
		for _, d := range []int{8, 80} {
			for _, m := range []int{1, 2, 4} {
				p := family(t, d, m, uint64(10*d+m))
				r, err := Run(context.Background(), eps, p, Options{NFE: 100, N: 1000, Seed: 1, Radii: tc.radii})
				if err != nil {
					t.Fatal(err)
				}
				post, err := p.Prior.Posterior(p.Op, p.Y, p.SigmaY)
				if err != nil {
					t.Fatal(err)
				}
				sc, err := referee.Evaluate(post, r.Samples, referee.Options{Repeats: 6}, rand.New(rand.NewPCG(1, 2)))
				if err != nil {
					t.Fatal(err)
				}
				t.Logf("σ_max = %.0fR: d=%d m=%d: SW %.3f, floor %.3f, ratio %.2f, weight TV %.3f (floor %.3f)", tc.radii, d, m, sc.SW, sc.SWFloor, sc.Ratio, sc.WeightError, sc.WeightFloor)
				if sc.Ratio > tc.bound {
					t.Errorf("σ_max = %.0fR, d=%d m=%d: EPS at 100 NFE is %.2f× the exact floor (bound %.1f)", tc.radii, d, m, sc.Ratio, tc.bound)
				}
			}
		}
	}
}

// A solver that ignored y would fail the referee: prior samples score far
// above the floor, so the check above can fail.
func TestRefereeRejectsPriorSamples(t *testing.T) {
	p := family(t, 8, 4, 4)
	rng := rand.New(rand.NewPCG(3, 3))
	x := make([][]float64, 1000)
	for i := range x {
		x[i] = make([]float64, 8)
		p.Prior.Sample(x[i], rng)
	}
	post, _ := p.Prior.Posterior(p.Op, p.Y, p.SigmaY)
	sc, err := referee.Evaluate(post, x, referee.Options{}, rng)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Ratio < 3 {
		t.Errorf("prior samples scored a ratio of %.2f to the exact floor", sc.Ratio)
	}
}

// peakHeap runs f while polling the live heap and returns its peak.
func peakHeap(f func()) uint64 {
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			metrics.Read(sample)
			if v := sample[0].Value.Uint64(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-done:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	f()
	close(done)
	wg.Wait()
	return peak.Load()
}

// BenchmarkEPS is the acceptance benchmark: EPS with the exact model,
// d = 800, m = 4, 2000 samples. The 20- and 100-NFE runs report the peak
// live heap, which must not grow with the number of steps; "exact" is the
// exact reference sampler for the same 2000 samples.
func BenchmarkEPS(b *testing.B) {
	p := family(b, 800, 4, 1)
	var eps sdk.Solver = epspkg.Solver{}
	for _, nfe := range []int{20, 100} {
		b.Run("d800_m4_n2000_nfe"+strconv.Itoa(nfe), func(b *testing.B) {
			b.ReportAllocs()
			var peak uint64
			for i := 0; i < b.N; i++ {
				peak = max(peak, peakHeap(func() {
					if _, err := Run(context.Background(), eps, p, Options{NFE: nfe, N: 2000, Seed: uint64(i)}); err != nil {
						b.Fatal(err)
					}
				}))
			}
			b.ReportMetric(float64(peak)/(1<<20), "peak-MiB")
		})
	}
	b.Run("exact_d800_m4_n2000", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			post, err := p.Prior.Posterior(p.Op, p.Y, p.SigmaY)
			if err != nil {
				b.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(uint64(i), 1))
			x := make([]float64, 800)
			for j := 0; j < 2000; j++ {
				post.Sample(x, rng)
			}
		}
	})
}

// flaky fails on the batch that holds sample index 2.
type flaky struct{ epspkg.Solver }

func (f flaky) Solve(ctx context.Context, dst [][]float64, p sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	if err := f.Solver.Solve(ctx, dst, p, m, seeds, nfe, params); err != nil {
		return err
	}
	for _, s := range seeds {
		if s == seed.Of(1, "problem-file", "0", 2) {
			return fmt.Errorf("flaky: batch refused")
		}
	}
	return nil
}

// A failed batch is marked failed; the other batches keep their samples,
// identical to an undisturbed run, and the counts cover them only.
func TestFailedBatch(t *testing.T) {
	p := family(t, 8, 2, 5)
	r, err := Run(context.Background(), flaky{}, p, Options{NFE: 5, N: 6, Batch: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failed) != 1 || r.Failed[0].From != 2 || r.Failed[0].To != 4 || !strings.Contains(r.Failed[0].Error, "batch refused") {
		t.Fatalf("failed = %+v", r.Failed)
	}
	if r.Samples[2] != nil || r.Samples[3] != nil || r.NFE != 5 {
		t.Errorf("failed samples %v %v, NFE %v", r.Samples[2], r.Samples[3], r.NFE)
	}
	whole, err := Run(context.Background(), epspkg.Solver{}, p, Options{NFE: 5, N: 6, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 1, 4, 5} {
		if !floats.Equal(r.Samples[i], whole.Samples[i]) {
			t.Errorf("sample %d differs from the undisturbed run", i)
		}
	}
}
