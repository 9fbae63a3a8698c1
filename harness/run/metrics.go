package run

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/referee"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/metrics/features"
	"github.com/ipbench/ipbench/metrics/fidelity"
	"github.com/ipbench/ipbench/metrics/sliced"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// scorer computes the per-sample metrics of a run's batches. It holds what
// is costly to make: the LPIPS network, opened once, and the exact
// posterior of the (image, task) in hand, shared by every solver and NFE.
type scorer struct {
	c     *config.Config
	lpips *features.LPIPS // nil: lpips not asked for, or no model file

	postKey string
	post    *gmm.Posterior
	dirs    [][]float64 // the sliced distances' directions, drawn once per run

	elapsed time.Duration // in score, for the run's summary
}

func newScorer(c *config.Config) (*scorer, error) {
	s := &scorer{c: c}
	if slices.Contains(c.Metrics, "lpips") && c.Features.LPIPS != "" {
		sh := c.Shape()
		l, err := features.OpenLPIPS(c.Features.LPIPS, sh.H, sh.W, 0)
		if err != nil {
			return nil, fmt.Errorf("metric lpips: %w", err)
		}
		s.lpips = l
	}
	return s, nil
}

func (s *scorer) close() {
	if s.lpips != nil {
		s.lpips.Close()
	}
}

// posterior returns the exact posterior of an image and task of a gmm
// dataset, made once for all the batches that share the measurement.
func (s *scorer) posterior(b Batch, d *Dataset, op operator.Operator, y []float64) (*gmm.Posterior, error) {
	key := b.Dataset + "\x00" + b.Image + "\x00" + b.Task
	if key != s.postKey {
		post, err := d.Prior.Posterior(op, y, s.c.SigmaY)
		if err != nil {
			return nil, err
		}
		s.postKey, s.post = key, post
	}
	return s.post, nil
}

// score returns the metrics of each sample of a batch. Scores of an
// image's samples together (crps, exact) are given to each of its rows.
// lpips without a model file is left out of the rows: the report says
// "n/a (no model)" and prints no other network's number in its place.
func (s *scorer) score(b Batch, d *Dataset, op operator.Operator, y []float64, dst [][]float64, truth []float64) ([]map[string]float64, error) {
	start := time.Now()
	defer func() { s.elapsed += time.Since(start) }()
	c := s.c
	sh := c.Shape()
	out := make([]map[string]float64, len(dst))
	for i := range out {
		out[i] = map[string]float64{}
	}
	where := func(name string, i int) string {
		if i < 0 {
			return fmt.Sprintf("metric %s of %s %s %s %s NFE %d", name, b.Dataset, b.Image, b.Task, b.Solver, b.NFE)
		}
		return fmt.Sprintf("metric %s of %s %s %s %s NFE %d sample %d", name, b.Dataset, b.Image, b.Task, b.Solver, b.NFE, i)
	}
	for _, name := range c.Metrics {
		switch name {
		case "psnr", "ssim":
			// The samples in parallel, as the sampler runs them.
			vals, errs := make([]float64, len(dst)), make([]error, len(dst))
			sdk.ParallelRows(len(dst), func(i int) {
				if name == "psnr" {
					vals[i], errs[i] = fidelity.PSNR(dst[i], truth) // +Inf for an exact copy of the truth
				} else {
					vals[i], errs[i] = fidelity.SSIM(dst[i], truth, sh.C, sh.H, sh.W)
				}
			})
			for i := range dst {
				if errs[i] != nil {
					return nil, fmt.Errorf("%s: %w", where(name, i), errs[i])
				}
				out[i][name] = vals[i]
			}
		case "crps":
			v, err := fidelity.CRPS(dst, truth)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(name, -1), err)
			}
			for i := range out {
				out[i][name] = v
			}
		case "lpips":
			if s.lpips == nil {
				continue
			}
			// LPIPS sees images as the metrics do: clamped to [-1, 1].
			a, t := make([][]float64, len(dst)), make([][]float64, len(dst))
			ct := clamped(truth)
			for i := range dst {
				a[i], t[i] = clamped(dst[i]), ct
			}
			v := make([]float64, len(dst))
			if err := s.lpips.Distance(v, a, t); err != nil {
				return nil, fmt.Errorf("%s: %w", where(name, -1), err)
			}
			for i := range out {
				out[i][name] = v[i]
			}
		case "exact":
			post, err := s.posterior(b, d, op, y)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(name, -1), err)
			}
			// The referee's randomness is the run's, the image's and the
			// batch's: the same score on a resumed or sharded run.
			rng := seed.Stream(c.Seed, "referee/"+b.Dataset, b.Image+"/"+b.Task+"/"+b.Solver, b.NFE)
			if s.dirs == nil {
				// Drawing 200 directions in 3·64² dimensions costs more
				// than the distances of a few samples: once per run.
				s.dirs = sliced.Directions(ExactDirections, sh.Len(), seed.Stream(c.Seed, "referee-directions", "", 0))
			}
			sc, err := referee.Evaluate(post, dst, referee.Options{Dirs: s.dirs}, rng)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where(name, -1), err)
			}
			for i := range out {
				out[i]["sw_ratio"] = sc.Ratio
				out[i]["mean_error"], out[i]["mean_error_floor"] = sc.MeanError, sc.MeanFloor
				out[i]["weight_tv"], out[i]["weight_tv_floor"] = sc.WeightError, sc.WeightFloor
			}
		}
	}
	return out, nil
}

// ExactDirections is the number of directions of the exact-posterior
// sliced distances of a run.
const ExactDirections = 200

// clamped returns x clamped to [-1, 1].
func clamped(x []float64) []float64 {
	c := make([]float64, len(x))
	for i, v := range x {
		c[i] = math.Max(-1, math.Min(1, v))
	}
	return c
}
