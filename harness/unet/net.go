package unet

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// Param is one parameter tensor of a Net. Value and Grad alias the network's
// storage: an optimiser may update Value in place and the next call sees it.
type Param struct {
	Name  string
	Shape []int
	Value []float32
	Grad  []float32
}

// Net is an EDM-preconditioned UNet denoiser (see the package doc).
//
// A Net may be called from several goroutines; its calls run one at a time,
// and an optimiser must not change Params while one runs. A call runs its
// batch in chunks of at most 64 rows, checking its context before each; it
// keeps the compiled graphs of the last 6 (chunk size, call) pairs it ran.
type Net struct {
	cfg    Config
	params []Param
	values []*tensor.Dense // backing tensors of params[i].Value

	mu     sync.Mutex
	graphs []*graph // most recently used last
}

const (
	maxChunk  = 64
	maxGraphs = 6
)

// New returns a network with architecture cfg and fresh weights drawn from
// rng: He-normal convolutions and dense layers, GroupNorm scale 1 and shift 0,
// zero biases, N(0, 1) label embeddings, and zero for the last convolution of
// every residual block and of the output, so a new network has F = 0 and
// D(x; σ) = c_skip(σ) x.
func New(cfg Config, rng *rand.Rand) (*Net, error) {
	if rng == nil {
		return nil, errors.New("unet: New needs a random source")
	}
	return newNet(cfg, rng)
}

// newNet builds the network's parameters and its batch-1 denoising graph;
// with a nil rng every parameter is zero.
func newNet(cfg Config, rng *rand.Rand) (n *Net, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	n = &Net{cfg: cfg.clone()}
	defer recoverInto(&err, "building the network")
	gr := n.build(1, modeDenoise, rng, true)
	if err := gr.compile(); err != nil {
		return nil, err
	}
	n.graphs = append(n.graphs, gr)
	return n, nil
}

// build returns the graph for batch size b in mode m.
func (n *Net) build(b int, m mode, rng *rand.Rand, declare bool) *graph {
	bl := &builder{net: n, g: G.NewGraph(), declare: declare, rng: rng}
	gr := bl.build(b, m)
	if bl.next != len(n.params) {
		panic(fmt.Sprintf("unet: internal error: the graph uses %d of %d parameters", bl.next, len(n.params)))
	}
	return gr
}

// compile compiles only what the graph's outputs need: a VJP does not
// compute the gradients of the weights, for example.
func (gr *graph) compile() error {
	outs := append(G.Nodes{gr.out}, gr.grads...)
	sub := gr.g.ExactSubgraphRoots(outs...)
	prog, locMap, err := G.CompileFunction(gr.g, sub.Inputs(), outs)
	if err != nil {
		return fmt.Errorf("unet: compiling the %v graph for batch %d: %w", gr.mode, gr.batch, err)
	}
	gr.vm = G.NewTapeMachine(gr.g, G.WithPrecompiled(prog, locMap))
	return nil
}

func (gr *graph) run() (err error) {
	defer recoverInto(&err, "running the "+gr.mode.String()+" graph")
	defer gr.vm.Reset()
	if err := gr.vm.RunAll(); err != nil {
		return fmt.Errorf("unet: running the %v graph for batch %d: %w", gr.mode, gr.batch, err)
	}
	return nil
}

// graph returns the cached or newly built graph for b rows in mode m.
func (n *Net) graph(b int, m mode) (gr *graph, err error) {
	for i, g := range n.graphs {
		if g.batch == b && g.mode == m {
			n.graphs = append(append(n.graphs[:i:i], n.graphs[i+1:]...), g)
			return g, nil
		}
	}
	defer recoverInto(&err, "building the "+m.String()+" graph")
	gr = n.build(b, m, nil, false)
	if err := gr.compile(); err != nil {
		return nil, err
	}
	if len(n.graphs) == maxGraphs {
		n.graphs = slices.Delete(n.graphs, 0, 1)
	}
	n.graphs = append(n.graphs, gr)
	return gr, nil
}

// recoverInto turns a panic (gorgonia's Must, for one) into an error.
func recoverInto(err *error, doing string) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("unet: %s: %v", doing, r)
	}
}

// Config returns the network's architecture.
func (n *Net) Config() Config { return n.cfg.clone() }

// Shape gives the image layout the net takes: rows are C·H·W values in CHW
// order, and conditioning rows condChannels·H·W values.
func (n *Net) Shape() (channels, height, width, condChannels int) {
	return n.cfg.Channels, n.cfg.Resolution, n.cfg.Resolution, n.cfg.CondChannels
}

// Labels returns the number of labels the network embeds; 0 for none.
func (n *Net) Labels() int { return n.cfg.Labels }

// Params lists the parameters in a fixed order: the order of the builder, the
// same for every network of a Config. The list and the shapes are copies; the
// Value and Grad slices alias the network's storage.
func (n *Net) Params() []Param {
	ps := slices.Clone(n.params)
	for i := range ps {
		ps[i].Shape = slices.Clone(ps[i].Shape)
	}
	return ps
}

// NumParams returns the number of scalar parameters.
func (n *Net) NumParams() int {
	var s int
	for _, p := range n.params {
		s += len(p.Value)
	}
	return s
}

// Precondition returns the EDM coefficients of σ (Karras et al. 2022,
// Table 1): c_skip = σ_d²/(σ²+σ_d²), c_out = σσ_d/√(σ²+σ_d²),
// c_in = 1/√(σ²+σ_d²) and c_noise = ¼ ln σ.
func Precondition(sigma, sigmaData float64) (cSkip, cOut, cIn, cNoise float64) {
	h := math.Hypot(sigma, sigmaData) // no overflow for huge σ
	r := sigmaData / h
	return r * r, sigmaData * (sigma / h), 1 / h, math.Log(sigma) / 4
}

// noiseFeatures sets dst = [cos(c fₖ)…, sin(c fₖ)…] with fₖ = 10⁻⁴^(k/(h−1)),
// k < h = len(dst)/2: the positional embedding of EDM's DDPM++.
func noiseFeatures(dst []float32, c float64) {
	h := len(dst) / 2
	for k := 0; k < h; k++ {
		f := math.Pow(1e-4, float64(k)/float64(h-1))
		dst[k] = float32(math.Cos(c * f))
		dst[h+k] = float32(math.Sin(c * f))
	}
}

// batch is the validated arguments of one call.
type batch struct {
	x, cond, aux [][]float64
	sigma, wt    []float64
	labels       []int
}

// check validates a call's arguments; op names the method in errors.
func (n *Net) check(op string, dst [][]float64, hasDst bool, bt batch, auxName string) error {
	c, h, w, cc := n.Shape()
	size, condSize := c*h*w, cc*h*w
	b := len(bt.x)
	bad := func(format string, args ...any) error {
		return fmt.Errorf("unet: %s: %s", op, fmt.Sprintf(format, args...))
	}
	if len(bt.sigma) != b {
		return bad("%d sigmas for %d rows of x", len(bt.sigma), b)
	}
	if hasDst && len(dst) != b {
		return bad("%d rows of dst for %d rows of x", len(dst), b)
	}
	if auxName != "" && len(bt.aux) != b {
		return bad("%d rows of %s for %d rows of x", len(bt.aux), auxName, b)
	}
	if bt.wt != nil && len(bt.wt) != b {
		return bad("%d weights for %d rows of x", len(bt.wt), b)
	}
	if cc == 0 && len(bt.cond) != 0 {
		return bad("cond given but the network takes no conditioning channels")
	}
	if cc > 0 && len(bt.cond) != b {
		return bad("%d rows of cond for %d rows of x (the network takes %d conditioning channels)", len(bt.cond), b, cc)
	}
	if n.cfg.Labels == 0 && len(bt.labels) != 0 {
		return bad("labels given but the network has no label embedding")
	}
	if n.cfg.Labels > 0 && len(bt.labels) != b {
		return bad("%d labels for %d rows of x (the network embeds %d labels)", len(bt.labels), b, n.cfg.Labels)
	}
	row := func(name string, i int, r []float64, want int) error {
		if len(r) != want {
			return bad("%s[%d] has %d values, want %d", name, i, len(r), want)
		}
		for j, v := range r {
			if f := float32(v); math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
				return bad("%s[%d][%d] = %v is not finite in float32", name, i, j, v)
			}
		}
		return nil
	}
	for i := 0; i < b; i++ {
		if err := row("x", i, bt.x[i], size); err != nil {
			return err
		}
		if hasDst && len(dst[i]) != size {
			return bad("dst[%d] has %d values, want %d", i, len(dst[i]), size)
		}
		if auxName != "" {
			if err := row(auxName, i, bt.aux[i], size); err != nil {
				return err
			}
		}
		if cc > 0 {
			if err := row("cond", i, bt.cond[i], condSize); err != nil {
				return err
			}
		}
		if s := bt.sigma[i]; !(s > 0) || math.IsInf(s, 0) {
			return bad("sigma[%d] = %v is not positive and finite", i, s)
		}
		if bt.wt != nil {
			if v := bt.wt[i]; !(v >= 0) || math.IsInf(v, 0) {
				return bad("weight[%d] = %v is not non-negative and finite", i, v)
			}
		}
		if n.cfg.Labels > 0 {
			if l := bt.labels[i]; l < 0 || l >= n.cfg.Labels {
				return bad("labels[%d] = %d is not in [0, %d)", i, l, n.cfg.Labels)
			}
		}
	}
	return nil
}

// fill copies rows lo … lo+gr.batch−1 of bt into gr's inputs. scale is the
// loss normalisation 1/(N·C·H·W).
func (n *Net) fill(gr *graph, bt batch, lo int, scale float64) {
	c, h, w, cc := n.Shape()
	size, condSize := c*h*w, cc*h*w
	f := n.cfg.Base
	for i := 0; i < gr.batch; i++ {
		k := lo + i
		to32(gr.x[i*size:(i+1)*size], bt.x[k])
		if cc > 0 {
			to32(gr.cond[i*condSize:(i+1)*condSize], bt.cond[k])
		}
		if gr.aux != nil {
			to32(gr.aux[i*size:(i+1)*size], bt.aux[k])
		}
		if gr.weight != nil {
			gr.weight[i] = float32(bt.wt[k] * scale)
		}
		cSkip, cOut, cIn, cNoise := Precondition(bt.sigma[k], n.cfg.SigmaData)
		gr.cskip[i], gr.cout[i], gr.cin[i] = float32(cSkip), float32(cOut), float32(cIn)
		noiseFeatures(gr.feat[i*f:(i+1)*f], cNoise)
		if n.cfg.Labels > 0 {
			oh := gr.onehot[i*n.cfg.Labels : (i+1)*n.cfg.Labels]
			clear(oh)
			oh[bt.labels[k]] = 1
		}
	}
}

func to32(dst []float32, src []float64) {
	for i, v := range src {
		dst[i] = float32(v)
	}
}

// each runs fn on the batch in chunks of at most maxChunk rows, checking ctx
// before each chunk.
func (n *Net) each(ctx context.Context, b int, m mode, fn func(gr *graph, lo int) error) error {
	for lo := 0; lo < b; lo += maxChunk {
		if err := ctx.Err(); err != nil {
			return err
		}
		gr, err := n.graph(min(maxChunk, b-lo), m)
		if err != nil {
			return err
		}
		if err := fn(gr, lo); err != nil {
			return err
		}
	}
	return nil
}

// Denoise sets dst[i] = D(x[i]; σ[i], cond[i], labels[i]). cond is nil when
// the network takes no conditioning channels, labels nil when it has no label
// embedding. Any batch size; dst rows must have the length of x's.
func (n *Net) Denoise(ctx context.Context, dst, x, cond [][]float64, sigma []float64, labels []int) error {
	bt := batch{x: x, cond: cond, sigma: sigma, labels: labels}
	if err := n.check("Denoise", dst, true, bt, ""); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.each(ctx, len(x), modeDenoise, func(gr *graph, lo int) error {
		n.fill(gr, bt, lo, 0)
		if err := gr.run(); err != nil {
			return err
		}
		return readRows(dst[lo:lo+gr.batch], gr.out)
	})
}

// VJP sets dst[i] = J(x[i])ᵀ v[i], J the Jacobian of D(x; σ[i], cond[i],
// labels[i]) with respect to x, c_skip term included, by reverse-mode
// differentiation through the graph.
func (n *Net) VJP(ctx context.Context, dst, x, cond [][]float64, sigma []float64, labels []int, v [][]float64) error {
	bt := batch{x: x, cond: cond, aux: v, sigma: sigma, labels: labels}
	if err := n.check("VJP", dst, true, bt, "v"); err != nil {
		return err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.each(ctx, len(x), modeVJP, func(gr *graph, lo int) error {
		n.fill(gr, bt, lo, 0)
		if err := gr.run(); err != nil {
			return err
		}
		return readRows(dst[lo:lo+gr.batch], gr.out)
	})
}

// Loss returns the weighted denoising loss
//
//	L = (1/N) Σᵢ wᵢ ‖D(x[i]; σᵢ, cond[i], labels[i]) − target[i]‖² / (C·H·W)
//
// and adds ∂L/∂θ into the Grad slice of every parameter; callers zero them
// between steps.
func (n *Net) Loss(ctx context.Context, x, cond, target [][]float64, sigma, weight []float64, labels []int) (float64, error) {
	bt := batch{x: x, cond: cond, aux: target, sigma: sigma, wt: weight, labels: labels}
	if weight == nil {
		return 0, errors.New("unet: Loss: weight is nil")
	}
	if err := n.check("Loss", nil, false, bt, "target"); err != nil {
		return 0, err
	}
	if len(x) == 0 {
		return 0, errors.New("unet: Loss: empty batch")
	}
	c, h, w, _ := n.Shape()
	scale := 1 / float64(len(x)*c*h*w)
	n.mu.Lock()
	defer n.mu.Unlock()
	var loss float64
	err := n.each(ctx, len(x), modeLoss, func(gr *graph, lo int) error {
		n.fill(gr, bt, lo, scale)
		if err := gr.run(); err != nil {
			return err
		}
		l, ok := gr.out.Value().Data().(float32)
		if !ok {
			return fmt.Errorf("unet: Loss: the loss is a %T, not a float32", gr.out.Value().Data())
		}
		loss += float64(l)
		for i, g := range gr.grads {
			d, ok := g.Value().Data().([]float32)
			dst := n.params[i].Grad
			if !ok || len(d) != len(dst) {
				return fmt.Errorf("unet: Loss: gradient of %s has the wrong shape", n.params[i].Name)
			}
			for j, v := range d {
				dst[j] += v
			}
		}
		return nil
	})
	return loss, err
}

// readRows copies a (B, …) float32 output into B float64 rows.
func readRows(dst [][]float64, out *G.Node) error {
	d, ok := out.Value().Data().([]float32)
	if !ok || len(dst) == 0 || len(d) != len(dst)*len(dst[0]) {
		return fmt.Errorf("unet: output %v does not fit %d rows", out.Shape(), len(dst))
	}
	size := len(dst[0])
	for i, r := range dst {
		for j := range r {
			r[j] = float64(d[i*size+j])
		}
	}
	return nil
}
