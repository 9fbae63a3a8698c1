package train

import (
	"context"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// EDM is EDM's noise-level distribution and loss weight (Karras et al.
// 2022, Table 1): ln σ ~ N(P_mean, P_std²), λ(σ) = (σ² + σ_d²)/(σ σ_d)².
type EDM struct {
	PMean, PStd, SigmaData float64
}

// DefaultEDM is EDM's choice: P_mean = −1.2, P_std = 1.2, σ_d = 0.5.
func DefaultEDM() EDM { return EDM{PMean: -1.2, PStd: 1.2, SigmaData: 0.5} }

// Sigma draws a noise level.
func (e EDM) Sigma(rng *rand.Rand) float64 { return math.Exp(e.PMean + e.PStd*rng.NormFloat64()) }

// Weight is λ(σ).
func (e EDM) Weight(sigma float64) float64 {
	sd := e.SigmaData
	return (sigma*sigma + sd*sd) / (sigma * sd * sigma * sd)
}

// Images is a training set: images of one shape as rows in CHW order, in
// [-1, 1]. Flip mirrors a drawn image left–right with probability ½ (the
// only augmentation, as in EDM's FFHQ runs).
type Images struct {
	Shape operator.Shape
	X     [][]float64
	Flip  bool
}

func (im Images) check() error {
	if len(im.X) == 0 {
		return fmt.Errorf("train: no training images")
	}
	for i, x := range im.X {
		if len(x) != im.Shape.Len() {
			return fmt.Errorf("train: training image %d has %d values, the shape %d×%d×%d has %d", i, len(x), im.Shape.C, im.Shape.H, im.Shape.W, im.Shape.Len())
		}
	}
	return nil
}

// draw sets dst to a random training image.
func (im Images) draw(dst []float64, rng *rand.Rand) {
	x := im.X[rng.IntN(len(im.X))]
	if !im.Flip || rng.IntN(2) == 0 {
		copy(dst, x)
		return
	}
	w := im.Shape.W
	for r := 0; r < len(x); r += w {
		for j := range w {
			dst[r+j] = x[r+w-1-j]
		}
	}
}

// size makes b hold n examples of length d (and conditioning rows of
// length dc, none when dc is 0).
func (b *Batch) size(n, d, dc int, labels bool) {
	grow := func(rows [][]float64, l int) [][]float64 {
		if len(rows) != n || (n > 0 && len(rows[0]) != l) {
			rows = sdk.NewRows(n, l)
		}
		return rows
	}
	b.X, b.Target = grow(b.X, d), grow(b.Target, d)
	b.Cond = nil
	if dc > 0 {
		b.Cond = grow(b.Cond, dc)
	}
	b.Sigma, b.Weight = make([]float64, n), make([]float64, n)
	b.Labels = nil
	if labels {
		b.Labels = make([]int, n)
	}
}

// Denoising is EDM's denoising objective: x = x₀ + σε, target x₀.
type Denoising struct {
	Data  Images
	Noise EDM
}

// Draw implements Objective.
func (o Denoising) Draw(b *Batch, n int, rng *rand.Rand) error {
	if err := o.Data.check(); err != nil {
		return err
	}
	b.size(n, o.Data.Shape.Len(), 0, false)
	for i := range n {
		o.Data.draw(b.Target[i], rng)
		s := o.Noise.Sigma(rng)
		b.Sigma[i], b.Weight[i] = s, o.Noise.Weight(s)
		for j, x := range b.Target[i] {
			b.X[i][j] = x + s*rng.NormFloat64()
		}
	}
	return nil
}

func (o Denoising) String() string {
	return fmt.Sprintf("denoising, EDM noise %+v, %d images, flip %v", o.Noise, len(o.Data.X), o.Data.Flip)
}

// Measured is the measurement side of a conditional objective: each
// example draws a task among Tasks, its operator A (with the task's
// per-image randomness) and y = A x₀ + σ_y n, and the network sees
// netmodel.Condition(y) and, when Labelled, the task's label.
type Measured struct {
	Tasks    []task.Resolved
	Labelled bool // an amortized network: ℓ = the task's index in netmodel.Tasks
	SigmaY   float64
}

func (m Measured) check() error {
	if len(m.Tasks) == 0 {
		return fmt.Errorf("train: no tasks")
	}
	if !m.Labelled && len(m.Tasks) > 1 {
		return fmt.Errorf("train: %d tasks for a network without task labels", len(m.Tasks))
	}
	for _, t := range m.Tasks {
		if _, err := netmodel.TaskLabel(t.Name); err != nil && m.Labelled {
			return err
		}
	}
	if !(m.SigmaY > 0) {
		return fmt.Errorf("train: σ_y = %v, want > 0", m.SigmaY)
	}
	return nil
}

// measure draws a task and its operator for x₀, sets y and the
// conditioning row, and returns the operator, y and the label.
func (m Measured) measure(cond []float64, shape operator.Shape, x0 []float64, rng *rand.Rand) (operator.Operator, []float64, int, error) {
	t := m.Tasks[rng.IntN(len(m.Tasks))]
	op, err := task.Build(t, shape, rng)
	if err != nil {
		return nil, nil, 0, err
	}
	mm, _ := op.Dims()
	y := make([]float64, mm)
	op.Apply(y, x0)
	for i := range y {
		y[i] += m.SigmaY * rng.NormFloat64()
	}
	if err := netmodel.Condition(cond, op, y, m.SigmaY); err != nil {
		return nil, nil, 0, err
	}
	label := 0
	if m.Labelled {
		label, _ = netmodel.TaskLabel(t.Name)
	}
	return op, y, label, nil
}

func (m Measured) String() string {
	names := make([]string, len(m.Tasks))
	for i, t := range m.Tasks {
		keys := slices.Sorted(maps.Keys(t.Params))
		ps := make([]string, len(keys))
		for j, k := range keys {
			ps[j] = fmt.Sprintf("%s %g", k, t.Params[k])
		}
		names[i] = fmt.Sprintf("%s (%s)", t.Name, strings.Join(ps, ", "))
	}
	return fmt.Sprintf("tasks [%s], labelled %v, σ_y %v", strings.Join(names, "; "), m.Labelled, m.SigmaY)
}

// Restoring is the objective of a conditional restorer (Palette-like): x
// = x₀ + σε and the measurement's conditioning image, target x₀.
type Restoring struct {
	Data     Images
	Noise    EDM
	Measured Measured
}

// Draw implements Objective.
func (o Restoring) Draw(b *Batch, n int, rng *rand.Rand) error {
	return drawMeasured(b, n, o.Data, o.Noise, o.Measured, rng, nil)
}

// drawMeasured draws n examples of a conditional objective: x₀ (the
// target), a task and its measurement (the conditioning row and label), σ
// and its weight, and x = x₀ + σε; then, if given, then(i, A, y) turns
// example i's x into what the network sees.
func drawMeasured(b *Batch, n int, data Images, noise EDM, m Measured, rng *rand.Rand, then func(i int, op operator.Operator, y []float64) error) error {
	if err := data.check(); err != nil {
		return err
	}
	if err := m.check(); err != nil {
		return err
	}
	d := data.Shape.Len()
	b.size(n, d, 2*d, m.Labelled)
	for i := range n {
		x0 := b.Target[i]
		data.draw(x0, rng)
		op, y, label, err := m.measure(b.Cond[i], data.Shape, x0, rng)
		if err != nil {
			return err
		}
		if b.Labels != nil {
			b.Labels[i] = label
		}
		s := noise.Sigma(rng)
		b.Sigma[i], b.Weight[i] = s, noise.Weight(s)
		for j, x := range x0 {
			b.X[i][j] = x + s*rng.NormFloat64()
		}
		if then != nil {
			if err := then(i, op, y); err != nil {
				return err
			}
		}
	}
	return nil
}

func (o Restoring) String() string {
	return fmt.Sprintf("restoring, EDM noise %+v, %d images, flip %v, %v", o.Noise, len(o.Data.X), o.Data.Flip, o.Measured)
}

// Posterior is the EPS objective E[w(σ) ‖D_θ(μ*, y, σ) − x₀‖²]: the
// network sees the pivot
//
//	μ* = Σ*(x_σ/σ² + Aᵀy/σ_y²),  Σ* = (I/σ² + AᵀA/σ_y²)⁻¹,
//
// of x_σ = x₀ + σε and y = A x₀ + σ_y n, which is an exact draw of
// x₀ + N(0, Σ*) (its covariance is Σ*(I/σ² + AᵀA/σ_y²)Σ* = Σ*): one shifted
// solve per example (eps.Pivots), no approximation. The weight is EDM's
// λ(σ) at the isotropic level σ that bounds Σ*.
type Posterior struct {
	Data     Images
	Noise    EDM
	Measured Measured
}

// Draw implements Objective.
func (o Posterior) Draw(b *Batch, n int, rng *rand.Rand) error {
	d := o.Data.Shape.Len()
	return drawMeasured(b, n, o.Data, o.Noise, o.Measured, rng, func(i int, op operator.Operator, y []float64) error {
		aty := make([]float64, d)
		op.Adjoint(aty, y)
		xs := [][]float64{b.X[i]}
		return eps.Pivots(context.Background(), xs, sdk.Local(op), xs, aty, 1, b.Sigma[i], o.Measured.SigmaY)
	})
}

func (o Posterior) String() string {
	return fmt.Sprintf("EPS posterior, EDM noise %+v, %d images, flip %v, %v", o.Noise, len(o.Data.X), o.Data.Flip, o.Measured)
}
