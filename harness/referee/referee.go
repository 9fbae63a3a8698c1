// Package referee scores posterior samples against an exact Gaussian-mixture
// posterior, the way an outside referee would: from the problem alone.
//
// The sliced Wasserstein distance between two finite sample sets is never
// zero, and between two sets of the posterior's own exact samples it is set
// by the sample size (and, for well-separated modes, by the multinomial noise
// of the mode counts). So a solver's distance is reported beside that floor,
// both averaged over several fresh exact sets, and as their ratio: a ratio
// near 1 means the samples cannot be told from exact ones at this size.
package referee

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"

	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/metrics/sliced"
)

// Options of a score.
type Options struct {
	Directions int // random directions of the sliced distance (default 200)
	Repeats    int // fresh exact sets to average over (default 4)
	// Dirs, if set, are the unit directions of every sliced distance
	// (Directions is then ignored): a caller scoring many small sets draws
	// them once (sliced.Directions), which saves most of the time.
	Dirs [][]float64
}

// Score compares samples with the exact posterior.
type Score struct {
	N int `json:"n"` // samples

	SW      float64 `json:"sw"`       // mean SW₂(samples, fresh exact set)
	SWFloor float64 `json:"sw_floor"` // mean SW₂(exact set, another exact set)
	Ratio   float64 `json:"ratio"`    // SW / SWFloor

	// MeanError is ‖x̄ − E[x₀|y]‖/√d, the root-mean-square error per
	// coordinate of the sample mean; MeanFloor is the same for exact sets.
	MeanError float64 `json:"mean_error"`
	MeanFloor float64 `json:"mean_floor"`

	// WeightError is the total variation ½Σₖ|ŵₖ − w̃ₖ| between the true
	// posterior weights and those estimated from the samples by their mean
	// responsibilities; WeightFloor is the same for exact sets.
	WeightError float64 `json:"weight_error"`
	WeightFloor float64 `json:"weight_floor"`
}

// Evaluate scores samples against post, drawing fresh exact sets of the same
// size from rng.
func Evaluate(post *gmm.Posterior, samples [][]float64, o Options, rng *rand.Rand) (Score, error) {
	if o.Directions == 0 {
		o.Directions = 200
	}
	if o.Repeats == 0 {
		o.Repeats = 4
	}
	n := len(samples)
	if n < 2 {
		return Score{}, fmt.Errorf("referee: need at least 2 samples, got %d", n)
	}
	d := len(post.ComponentMean(0))
	for i, s := range samples {
		if len(s) != d {
			return Score{}, fmt.Errorf("referee: sample %d has dimension %d, the problem %d", i, len(s), d)
		}
	}
	exact := func() [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			post.Sample(x[i], rng)
		}
		return x
	}
	mean := make([]float64, d)
	post.Mean(mean)
	sc := Score{N: n}
	sc.MeanError = meanError(samples, mean)
	sc.WeightError = weightError(post, samples)
	var ps sliced.Projections // the samples' projections, while the directions stay
	var err error
	for r := 0; r < o.Repeats; r++ {
		a, b := exact(), exact()
		// The same directions for both distances of a repeat; each set is
		// projected once.
		dirs := o.Dirs
		if dirs == nil {
			dirs = sliced.Directions(o.Directions, d, rand.New(rand.NewPCG(rng.Uint64(), 1)))
		}
		if ps == nil || o.Dirs == nil {
			if ps, err = sliced.Project(samples, dirs); err != nil {
				return Score{}, err
			}
		}
		pa, err := sliced.Project(a, dirs)
		if err != nil {
			return Score{}, err
		}
		pb, err := sliced.Project(b, dirs)
		if err != nil {
			return Score{}, err
		}
		s1, err := sliced.DistanceProjected(ps, pa)
		if err != nil {
			return Score{}, err
		}
		s2, err := sliced.DistanceProjected(pb, pa)
		if err != nil {
			return Score{}, err
		}
		sc.SW += s1 / float64(o.Repeats)
		sc.SWFloor += s2 / float64(o.Repeats)
		sc.MeanFloor += meanError(b, mean) / float64(o.Repeats)
		sc.WeightFloor += weightError(post, b) / float64(o.Repeats)
	}
	sc.Ratio = sc.SW / sc.SWFloor
	return sc, nil
}

func meanError(x [][]float64, mean []float64) float64 {
	avg := make([]float64, len(mean))
	for _, s := range x {
		floats.Add(avg, s)
	}
	floats.Scale(1/float64(len(x)), avg)
	return floats.Distance(avg, mean, 2) / math.Sqrt(float64(len(mean)))
}

func weightError(post *gmm.Posterior, x [][]float64) float64 {
	w := post.Weights()
	est, r := make([]float64, len(w)), make([]float64, len(w))
	for _, s := range x {
		post.Responsibilities(r, s)
		floats.Add(est, r)
	}
	tv := 0.0
	for k := range w {
		tv += math.Abs(est[k]/float64(len(x)) - w[k])
	}
	return tv / 2
}
