// Package train fits denoiser networks: EDM's loss and noise-level
// distribution (Karras et al. 2022), Adam, an exponential moving average
// of the weights, and checkpoints from which a run resumes exactly where it
// stopped.
//
// A step draws a batch from an Objective (a plain denoiser, the EPS
// posterior denoiser, a conditional restorer), evaluates the network's
// weighted loss
//
//	L = (1/N) Σᵢ λ(σᵢ) ‖D_θ(xᵢ; σᵢ, cᵢ, ℓᵢ) − x₀ᵢ‖² / d,
//
// with λ(σ) = (σ² + σ_d²)/(σ σ_d)², and updates θ with Adam. The network
// adds ∂L/∂θ into its parameters' gradients; the optimiser, the average and
// the checkpoint see the parameters only as float32 slices, so any network
// with a Loss and a parameter list trains here.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Param is one parameter tensor: its values and the gradient that the
// network's Loss adds into. Both alias the network's storage.
type Param struct {
	Name        string
	Value, Grad []float32
}

// Net is a network to train.
type Net interface {
	// Loss returns the weighted loss of a batch (see the package doc) and
	// adds its gradient into the parameters' Grad slices.
	Loss(ctx context.Context, x, cond, target [][]float64, sigma, weight []float64, labels []int) (float64, error)
}

// Batch is one batch of training examples: the network's inputs x (and
// conditioning images and labels, nil when it takes none), the noise
// levels, the loss weights and the targets.
type Batch struct {
	X, Cond, Target [][]float64
	Sigma, Weight   []float64
	Labels          []int
}

// Objective draws batches.
type Objective interface {
	// Draw fills b with n examples, drawn from rng.
	Draw(b *Batch, n int, rng *rand.Rand) error
}

// Settings are a run's hyper-parameters. A checkpoint records them, and a
// run resumes only with the same ones (Steps may grow).
type Settings struct {
	Steps     int     `json:"steps"`
	Batch     int     `json:"batch"`
	LR        float64 `json:"lr"`         // Adam's learning rate
	Warmup    int     `json:"warmup"`     // steps of linear learning-rate warm-up
	Beta1     float64 `json:"beta1"`      // 0.9
	Beta2     float64 `json:"beta2"`      // 0.999
	Eps       float64 `json:"eps"`        // 1e-8
	EMAImages float64 `json:"ema_images"` // half-life of the weight average, in images
	EMARampup float64 `json:"ema_rampup"` // the half-life is at most this fraction of the images seen (EDM: 0.05)
	Seed      uint64  `json:"seed"`       // of the example stream
	Every     int     `json:"checkpoint"` // steps between checkpoints
	Objective string  `json:"objective"`  // the objective's description, to refuse resuming another run
}

// DefaultSettings are the settings of the small networks of this project
// (a higher learning rate than EDM's 1e-4 at batch 512: these nets are
// small and their batches too).
func DefaultSettings() Settings {
	return Settings{Steps: 2000, Batch: 16, LR: 1e-3, Warmup: 100, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		EMAImages: 5000, EMARampup: 0.05, Seed: 1, Every: 100}
}

// Validate says which setting is out of range.
func (s Settings) Validate() error {
	switch {
	case s.Steps < 1:
		return fmt.Errorf("train: steps = %d, want ≥ 1", s.Steps)
	case s.Batch < 1:
		return fmt.Errorf("train: batch = %d, want ≥ 1", s.Batch)
	case !(s.LR > 0) || math.IsInf(s.LR, 0):
		return fmt.Errorf("train: learning rate %v, want > 0", s.LR)
	case s.Warmup < 0:
		return fmt.Errorf("train: warm-up %d, want ≥ 0", s.Warmup)
	case !(s.Beta1 >= 0 && s.Beta1 < 1) || !(s.Beta2 >= 0 && s.Beta2 < 1):
		return fmt.Errorf("train: Adam's β₁ = %v, β₂ = %v, want both in [0, 1)", s.Beta1, s.Beta2)
	case !(s.Eps > 0):
		return fmt.Errorf("train: Adam's ε = %v, want > 0", s.Eps)
	case !(s.EMAImages >= 0) || !(s.EMARampup >= 0):
		return fmt.Errorf("train: EMA half-life %v images, ramp-up %v, want ≥ 0", s.EMAImages, s.EMARampup)
	case s.Every < 1:
		return fmt.Errorf("train: checkpoint every %d steps, want ≥ 1", s.Every)
	}
	return nil
}

// State is everything a run needs to go on: the step reached, the Adam
// moments, the weight average, the example stream and the losses so far.
// The parameters themselves live in the network.
type State struct {
	Step   int
	M, V   [][]float32 // Adam's first and second moments, one per Param
	EMA    [][]float32 // the average of the weights, one per Param
	RNG    *rand.PCG
	Losses []float64 // one per step done
}

// NewState returns the state of a run that has not started: zero moments,
// the average equal to the initial weights.
func NewState(params []Param, seed uint64) *State {
	s := &State{RNG: rand.NewPCG(seed, 0x1b0e9c)}
	for _, p := range params {
		s.M = append(s.M, make([]float32, len(p.Value)))
		s.V = append(s.V, make([]float32, len(p.Value)))
		s.EMA = append(s.EMA, append([]float32(nil), p.Value...))
	}
	return s
}

func (s *State) fits(params []Param) error {
	if len(s.M) != len(params) || len(s.V) != len(params) || len(s.EMA) != len(params) {
		return fmt.Errorf("train: the state has %d/%d/%d tensors for %d parameters", len(s.M), len(s.V), len(s.EMA), len(params))
	}
	for i, p := range params {
		if len(s.M[i]) != len(p.Value) || len(s.V[i]) != len(p.Value) || len(s.EMA[i]) != len(p.Value) {
			return fmt.Errorf("train: the state's tensor %d has %d values, parameter %s has %d", i, len(s.M[i]), p.Name, len(p.Value))
		}
	}
	return nil
}

// Progress is told of each step done.
type Progress func(step int, loss float64, elapsed time.Duration)

// Run trains net from state st until s.Steps, writing a checkpoint every
// s.Every steps and at the end through save (nil: none). A non-finite loss
// stops the run with an error; the last checkpoint stays as it was.
func Run(ctx context.Context, net Net, params []Param, obj Objective, s Settings, st *State, save func(*State) error, progress Progress) error {
	if err := s.Validate(); err != nil {
		return err
	}
	if err := st.fits(params); err != nil {
		return err
	}
	rng := rand.New(st.RNG)
	var b Batch
	start := time.Now()
	for st.Step < s.Steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := obj.Draw(&b, s.Batch, rng); err != nil {
			return fmt.Errorf("train: step %d: drawing a batch: %w", st.Step+1, err)
		}
		for _, p := range params {
			clear(p.Grad)
		}
		loss, err := net.Loss(ctx, b.X, b.Cond, b.Target, b.Sigma, b.Weight, b.Labels)
		if err != nil {
			return fmt.Errorf("train: step %d: %w", st.Step+1, err)
		}
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return fmt.Errorf("train: step %d: the loss is %v (the last checkpoint is kept; try a lower learning rate)", st.Step+1, loss)
		}
		st.Step++
		adam(params, st, s)
		average(params, st, s)
		st.Losses = append(st.Losses, loss)
		if progress != nil {
			progress(st.Step, loss, time.Since(start))
		}
		if save != nil && (st.Step%s.Every == 0 || st.Step == s.Steps) {
			if err := save(st); err != nil {
				return fmt.Errorf("train: checkpoint at step %d: %w", st.Step, err)
			}
		}
	}
	return nil
}

// adam takes one Adam step (Kingma & Ba 2015) at step t = st.Step:
//
//	m ← β₁m + (1−β₁)g,  v ← β₂v + (1−β₂)g²,
//	θ ← θ − η_t · (m/(1−β₁ᵗ)) / (√(v/(1−β₂ᵗ)) + ε),
//
// with η_t = η·min(1, t/warm-up).
func adam(params []Param, st *State, s Settings) {
	t := float64(st.Step)
	lr := s.LR
	if s.Warmup > 0 {
		lr *= math.Min(1, t/float64(s.Warmup))
	}
	c1, c2 := 1-math.Pow(s.Beta1, t), 1-math.Pow(s.Beta2, t)
	b1, b2 := float32(s.Beta1), float32(s.Beta2)
	for i, p := range params {
		m, v := st.M[i], st.V[i]
		for j, g := range p.Grad {
			m[j] = b1*m[j] + (1-b1)*g
			v[j] = b2*v[j] + (1-b2)*g*g
			mh, vh := float64(m[j])/c1, float64(v[j])/c2
			p.Value[j] -= float32(lr * mh / (math.Sqrt(vh) + s.Eps))
		}
	}
}

// average updates the weight average with EDM's rule: a half-life of h
// images, at most a fraction r of the images seen so far,
//
//	β = ½^(N / h'),  h' = min(h, r·t·N),  ema ← β·ema + (1−β)·θ,
//
// N the batch size and t the step.
func average(params []Param, st *State, s Settings) {
	n := float64(s.Batch)
	h := s.EMAImages
	if s.EMARampup > 0 {
		h = math.Min(h, s.EMARampup*float64(st.Step)*n)
	}
	beta := 0.0
	if h > 0 {
		beta = math.Pow(0.5, n/h)
	}
	b := float32(beta)
	for i, p := range params {
		e := st.EMA[i]
		for j, v := range p.Value {
			e[j] = b*e[j] + (1-b)*v
		}
	}
}

// ErrSettings is wrapped by the error of resuming with other settings.
var ErrSettings = errors.New("train: the checkpoint was made with other settings")
