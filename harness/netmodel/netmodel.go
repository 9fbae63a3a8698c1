// Package netmodel serves denoiser networks (a Go network trained here, or
// an ONNX export) as the Model of one inverse problem: it binds the
// networks to the problem's operator A, noise level σ_y and measurement y,
// and hands the solvers the four calls of the Model service.
//
// A model is up to three networks, all EDM-style denoisers
// D(x; σ, c, ℓ) on images in [-1, 1]:
//
//   - the denoiser, D(x; σ) ≈ E[x₀ | x₀ + σε = x], unconditional;
//   - the EPS network, D(μ*; σ, c(y), ℓ) ≈ E[x₀ | μ*, y], evaluated at the
//     pivot μ* = x₀ + N(0, Σ*) of the EPS paper;
//   - the conditional restorer, D(x; σ, c(y), ℓ) ≈ E[x₀ | x₀ + σε = x, y].
//
// The last two see the measurement through the conditioning image c(y)
// (Condition) and, when they are amortized over tasks, the task's label ℓ
// (the index of the task in Tasks).
package netmodel

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// Network is a denoiser network D(x; σ, c, ℓ). Rows of x, dst and cond are
// images in CHW order; cond is nil for a network without conditioning
// channels and labels is nil for one without labels.
type Network interface {
	// Shape gives the layout of a row (channels, height, width) and the
	// number of conditioning channels.
	Shape() (channels, height, width, condChannels int)
	// Labels is the number of labels ℓ the network tells apart (0: none).
	Labels() int
	// Denoise sets dst[i] = D(x[i]; σ[i], cond[i], labels[i]).
	Denoise(ctx context.Context, dst, x, cond [][]float64, sigma []float64, labels []int) error
}

// VJPNetwork is a Network that also gives vector–Jacobian products
// dst[i] = J(x[i])ᵀ v[i], J the Jacobian of D with respect to x.
type VJPNetwork interface {
	Network
	VJP(ctx context.Context, dst, x, cond [][]float64, sigma []float64, labels []int, v [][]float64) error
}

// Tasks are the tasks an amortized network tells apart, in label order: a
// network with Labels() = len(Tasks) gets ℓ = the task's index.
var Tasks = []string{"sr4", "sr4-pool", "inpaint-box", "inpaint-random", "deblur-gauss", "deblur-motion"}

// TaskLabel returns the label of task in Tasks.
func TaskLabel(task string) (int, error) {
	if i := slices.Index(Tasks, task); i >= 0 {
		return i, nil
	}
	return 0, fmt.Errorf("task %q has no label (the labelled tasks are %v)", task, Tasks)
}

// CondChannels is the number of conditioning channels of an image of c
// channels: Condition gives two planes per channel.
func CondChannels(c int) int { return 2 * c }

// Condition sets dst, of length 2d, to the conditioning image of a
// measurement y of the operator A:
//
//	c(y) = [ (σ_y² I + AᵀA)⁻¹ Aᵀ y ;  AᵀA 𝟙 ].
//
// The first half is the measurement mapped into image space by the
// Tikhonov (Wiener) inverse at the noise level, which unlike A⁺y does not
// blow up the noise of an ill-conditioned blur; the second says how much
// of each pixel A sees (the mask of an inpainting, the pattern of a
// down-sampling), which the network cannot tell from the first half alone
// (a black pixel and a missing one look the same there).
func Condition(dst []float64, op operator.Operator, y []float64, sigmaY float64) error {
	m, d := op.Dims()
	if len(y) != m {
		return fmt.Errorf("netmodel: measurement of length %d for an operator with m = %d", len(y), m)
	}
	if len(dst) != 2*d {
		return fmt.Errorf("netmodel: conditioning image of length %d, want 2d = %d", len(dst), 2*d)
	}
	if !(sigmaY > 0) {
		return fmt.Errorf("netmodel: σ_y = %v must be positive", sigmaY)
	}
	inv, vis := dst[:d], dst[d:]
	op.Adjoint(inv, y)
	op.SolveShifted(inv, sigmaY*sigmaY, 1, inv)
	ones, ay := make([]float64, d), make([]float64, m)
	for i := range ones {
		ones[i] = 1
	}
	op.Apply(ay, ones)
	op.Adjoint(vis, ay)
	return nil
}

// Model is the networks of one model. Denoiser is required; EPS and
// Restorer may be nil, and then the calls that need them are errors (and
// CheckSolver-style planning says so first: see Gives).
type Model struct {
	Name     string
	Denoiser Network
	EPS      Network
	Restorer Network
	// EPSTask and RestorerTask name the task a single-task network
	// (Labels() = 0) was trained for; an amortized one (Labels() =
	// len(Tasks)) serves every task in Tasks.
	EPSTask, RestorerTask string
}

// Check says what is wrong with the networks' shapes: they must agree on
// the image layout, the denoiser takes no conditioning, and the EPS and
// restorer networks take Condition's channels and either no labels (and a
// task) or one label per task.
func (m *Model) Check() error {
	if m.Denoiser == nil {
		return fmt.Errorf("model %s: no denoiser network", m.Name)
	}
	c, h, w, cc := m.Denoiser.Shape()
	if cc != 0 {
		return fmt.Errorf("model %s: the denoiser takes %d conditioning channels; an unconditional denoiser takes none", m.Name, cc)
	}
	if l := m.Denoiser.Labels(); l != 0 {
		return fmt.Errorf("model %s: the denoiser takes class labels (%d classes); a benchmark image has no class here, so it needs an unconditional denoiser", m.Name, l)
	}
	for _, n := range []struct {
		role string
		net  Network
		task string
	}{{"EPS", m.EPS, m.EPSTask}, {"restorer", m.Restorer, m.RestorerTask}} {
		if n.net == nil {
			continue
		}
		nc, nh, nw, ncc := n.net.Shape()
		if nc != c || nh != h || nw != w {
			return fmt.Errorf("model %s: the %s network takes %d×%d×%d images, the denoiser %d×%d×%d", m.Name, n.role, nc, nh, nw, c, h, w)
		}
		if ncc != CondChannels(c) {
			return fmt.Errorf("model %s: the %s network takes %d conditioning channels, want %d (netmodel.Condition)", m.Name, n.role, ncc, CondChannels(c))
		}
		switch l := n.net.Labels(); {
		case l == 0 && n.task == "":
			return fmt.Errorf("model %s: the %s network has no task labels and no task named", m.Name, n.role)
		case l != 0 && l != len(Tasks):
			return fmt.Errorf("model %s: the %s network tells %d labels apart, want %d (one per task: %v) or none", m.Name, n.role, l, len(Tasks), Tasks)
		}
	}
	return nil
}

// Serves says whether the role's network ("eps" or "restorer") can serve
// task: it is there, and amortized or trained for that task.
func (m *Model) Serves(role, task string) bool {
	net, t := m.EPS, m.EPSTask
	if role == "restorer" {
		net, t = m.Restorer, m.RestorerTask
	}
	if net == nil {
		return false
	}
	if net.Labels() == 0 {
		return t == task
	}
	return slices.Contains(Tasks, task)
}

// String returns the model's name.
func (m *Model) String() string { return m.Name }

// Binder is a trained model that the run binds to each problem: a Model
// (networks in this process) or a model plugin process
// (plugins/modelhost.Plugin). The planning asks it what it gives.
type Binder interface {
	// Bind returns the Model service of one problem: task, A, σ_y and y.
	// A model that holds resources per problem returns an sdk.Model that
	// is also an io.Closer, closed when the problem is done.
	Bind(task string, op operator.Operator, sigmaY float64, y []float64) (sdk.Model, error)
	// HasVJP says whether the denoiser gives vector–Jacobian products.
	HasVJP() bool
	// Serves says whether the role ("eps" or "restorer") serves task.
	Serves(role, task string) bool
	// String names the model in errors.
	String() string
}

var _ Binder = (*Model)(nil)

// HasVJP says whether the denoiser gives vector–Jacobian products.
func (m *Model) HasVJP() bool {
	_, ok := vjpOf(m.Denoiser)
	return ok
}

// vjpOf returns net as a VJPNetwork when it gives vector–Jacobian products:
// it has the VJP method and, if it also has a HasVJP() bool method (an ONNX
// network opened without its VJP graph), that says true.
func vjpOf(net Network) (VJPNetwork, bool) {
	v, ok := net.(VJPNetwork)
	if !ok {
		return nil, false
	}
	if h, ok := v.(interface{ HasVJP() bool }); ok && !h.HasVJP() {
		return nil, false
	}
	return v, true
}

// ErrNotServed is wrapped by the errors of calls the model cannot serve.
var ErrNotServed = errors.New("not served by this model")

// Bind returns the Model service of one problem: task, A, σ_y and y.
func (m *Model) Bind(task string, op operator.Operator, sigmaY float64, y []float64) (sdk.Model, error) {
	if err := m.Check(); err != nil {
		return nil, err
	}
	c, h, w, _ := m.Denoiser.Shape()
	if _, d := op.Dims(); d != c*h*w {
		return nil, fmt.Errorf("model %s: takes %d×%d×%d images (%d values), the problem's signals have %d", m.Name, c, h, w, c*h*w, d)
	}
	b := &bound{m: m, task: task, d: c * h * w}
	if m.EPS != nil || m.Restorer != nil {
		b.cond = make([]float64, 2*b.d)
		if err := Condition(b.cond, op, y, sigmaY); err != nil {
			return nil, fmt.Errorf("model %s: %w", m.Name, err)
		}
	}
	return b, nil
}

// bound is a Model bound to one problem.
type bound struct {
	m    *Model
	task string
	d    int
	cond []float64
}

// args repeats σ, the problem's conditioning image and the task's label
// for n rows.
func (b *bound) args(net Network, n int, sigma float64, cond bool) (sig []float64, conds [][]float64, labels []int, err error) {
	sig = make([]float64, n)
	for i := range sig {
		sig[i] = sigma
	}
	if cond {
		conds = make([][]float64, n)
		for i := range conds {
			conds[i] = b.cond
		}
	}
	if net.Labels() > 0 {
		l, err := TaskLabel(b.task)
		if err != nil {
			return nil, nil, nil, err
		}
		labels = make([]int, n)
		for i := range labels {
			labels[i] = l
		}
	}
	return sig, conds, labels, nil
}

func (b *bound) Denoise(ctx context.Context, dst, x [][]float64, sigma float64) error {
	sig, _, _, err := b.args(b.m.Denoiser, len(x), sigma, false)
	if err != nil {
		return err
	}
	return b.m.Denoiser.Denoise(ctx, dst, x, nil, sig, nil)
}

func (b *bound) VJP(ctx context.Context, dst, x [][]float64, sigma float64, v [][]float64) error {
	net, ok := vjpOf(b.m.Denoiser)
	if !ok {
		return fmt.Errorf("model %s: VJP: the denoiser has no vector–Jacobian product: %w", b.m.Name, ErrNotServed)
	}
	sig, _, _, err := b.args(net, len(x), sigma, false)
	if err != nil {
		return err
	}
	return net.VJP(ctx, dst, x, nil, sig, nil, v)
}

func (b *bound) conditional(ctx context.Context, role string, net Network, dst, x [][]float64, sigma float64) error {
	if !b.m.Serves(role, b.task) {
		return fmt.Errorf("model %s: no %s network for task %s: %w", b.m.Name, role, b.task, ErrNotServed)
	}
	sig, conds, labels, err := b.args(net, len(x), sigma, true)
	if err != nil {
		return err
	}
	return net.Denoise(ctx, dst, x, conds, sig, labels)
}

func (b *bound) DenoiseEPS(ctx context.Context, dst, pivot [][]float64, sigma float64) error {
	return b.conditional(ctx, "eps", b.m.EPS, dst, pivot, sigma)
}

func (b *bound) Restore(ctx context.Context, dst, x [][]float64, sigma float64) error {
	return b.conditional(ctx, "restorer", b.m.Restorer, dst, x, sigma)
}
