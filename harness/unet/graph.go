package unet

import (
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// mode is what a graph computes.
type mode int

const (
	modeDenoise mode = iota // D(x; σ, c, ℓ)
	modeVJP                 // J_xᵀ v
	modeLoss                // L and ∂L/∂θ
)

func (m mode) String() string { return [...]string{"denoise", "vjp", "loss"}[m] }

// gnEps is the ε of every GroupNorm.
const gnEps = 1e-5

// graph is one compiled expression graph for a batch size and a mode, with
// the backing storage of its input nodes so a call fills them in place.
type graph struct {
	batch int
	mode  mode
	g     *G.ExprGraph
	vm    G.VM

	// Input storage, float32, row-major.
	x, cond          []float32 // (B, C, H, W), (B, Cc, H, W)
	cin, cskip, cout []float32 // (B, 1, 1, 1)
	feat, onehot     []float32 // (B, F), (B, Labels)
	aux              []float32 // VJP: v; Loss: target; (B, C, H, W)
	weight           []float32 // Loss: wᵢ/(N·C·H·W), (B, 1, 1, 1)
	out              *G.Node   // D, J_xᵀ v or L
	grads            []*G.Node // Loss: ∂L/∂θ in parameter order
}

// builder builds the network's expression in one graph. While declaring
// (in New) it creates the parameters; afterwards it finds them in order.
type builder struct {
	net     *Net
	g       *G.ExprGraph
	declare bool
	rng     *rand.Rand
	next    int
	params  G.Nodes
}

// Initialisations of a parameter.
type initKind int

const (
	initHe    initKind = iota // N(0, 2/fan-in)
	initZero                  // 0
	initOne                   // 1
	initUnit                  // N(0, 1)
	initLeCun                 // N(0, 1/fan-in)
)

// param returns the node of the next parameter.
func (b *builder) param(name string, shape []int, init initKind) *G.Node {
	if b.declare {
		size := 1
		for _, s := range shape {
			size *= s
		}
		v := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
		data := v.Float32s()
		fanIn := 1
		if len(shape) > 1 {
			fanIn = size / shape[0]
			if len(shape) == 2 { // dense (In, Out)
				fanIn = shape[0]
			}
		}
		if b.rng != nil {
			switch init {
			case initHe:
				initNormal(data, math.Sqrt(2/float64(fanIn)), b.rng)
			case initLeCun:
				initNormal(data, math.Sqrt(1/float64(fanIn)), b.rng)
			case initUnit:
				initNormal(data, 1, b.rng)
			case initOne:
				for i := range data {
					data[i] = 1
				}
			}
		}
		b.net.params = append(b.net.params, Param{Name: name, Shape: append([]int(nil), shape...), Value: data, Grad: make([]float32, size)})
		b.net.values = append(b.net.values, v)
	}
	i := b.next
	if i >= len(b.net.params) || b.net.params[i].Name != name {
		panic(fmt.Sprintf("unet: internal error: parameter %d of %d is not %q", i, len(b.net.params), name))
	}
	b.next++
	n := G.NewTensor(b.g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(b.net.values[i]))
	b.params = append(b.params, n)
	return n
}

func initNormal(dst []float32, std float64, rng *rand.Rand) {
	for i := range dst {
		dst[i] = float32(std * rng.NormFloat64())
	}
}

// input returns a float32 input node of the given shape and its storage.
func (b *builder) input(name string, shape ...int) (*G.Node, []float32) {
	v := tensor.New(tensor.Of(tensor.Float32), tensor.WithShape(shape...))
	return G.NewTensor(b.g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(v)), v.Float32s()
}

// conv is a k×k convolution with "same" padding, the given stride and a
// per-channel bias. Weights (Cout, Cin, k, k), bias (Cout).
func (b *builder) conv(name string, x *G.Node, cin, cout, k, stride int, init initKind) *G.Node {
	w := b.param(name+".w", []int{cout, cin, k, k}, init)
	bias := b.param(name+".b", []int{cout}, initZero)
	return G.Must(G.ApplyOp(convOp{k: k, stride: stride, pad: k / 2, bias: true}, x, w, bias))
}

// dense is x W + b for x (B, In), W (In, Out), b (Out).
func (b *builder) dense(name string, x *G.Node, in, out int, init initKind) *G.Node {
	w := b.param(name+".w", []int{in, out}, init)
	bias := b.param(name+".b", []int{out}, initZero)
	y := G.Must(G.Mul(x, w))
	return G.Must(G.BroadcastAdd(y, G.Must(G.Reshape(bias, tensor.Shape{1, out})), nil, []byte{0}))
}

// siluNode is x σ(x).
func siluNode(x *G.Node) *G.Node { return G.Must(G.ApplyOp(siluOp{}, x)) }

// normAct is SiLU(GroupNorm(x)) with a learned per-channel scale and shift.
func (b *builder) normAct(name string, x *G.Node, c int) *G.Node {
	gamma := b.param(name+".gamma", []int{c}, initOne)
	beta := b.param(name+".beta", []int{c}, initZero)
	return siluNode(G.Must(G.ApplyOp(groupNormOp{groups: b.net.cfg.Groups, eps: gnEps}, x, gamma, beta)))
}

// res is a residual block from cin to cout channels:
//
//	h = conv₃(SiLU(GN(x))) + Dense(e),  y = skip(x) + conv₃(SiLU(GN(h))),
//
// skip a 1×1 convolution when the widths differ. The last convolution starts
// at zero, so a new block is the identity on its skip path.
func (b *builder) res(name string, x, emb *G.Node, cin, cout int) *G.Node {
	h := b.normAct(name+".norm1", x, cin)
	w := b.param(name+".conv1.w", []int{cout, cin, 3, 3}, initHe)
	shift := b.dense(name+".emb", emb, b.net.cfg.embedDim(), cout, initLeCun)
	h = G.Must(G.ApplyOp(convOp{k: 3, stride: 1, pad: 1, bias: true, sampleBias: true}, h, w, shift))
	h = b.normAct(name+".norm2", h, cout)
	h = b.conv(name+".conv2", h, cout, cout, 3, 1, initZero)
	skip := x
	if cin != cout {
		skip = b.conv(name+".skip", x, cin, cout, 1, 1, initLeCun)
	}
	return G.Must(G.Add(skip, h))
}

// build adds the network for batch size n in mode m to b's graph.
func (b *builder) build(n int, m mode) *graph {
	cfg := b.net.cfg
	r, c := cfg.Resolution, cfg.Channels
	gr := &graph{batch: n, mode: m, g: b.g}

	// Inputs. The preconditioning coefficients and the noise features are
	// functions of σ alone, computed outside the graph.
	x, xs := b.input("x", n, c, r, r)
	gr.x = xs
	cin, cins := b.input("c_in", n, 1, 1, 1)
	cskip, cskips := b.input("c_skip", n, 1, 1, 1)
	cout, couts := b.input("c_out", n, 1, 1, 1)
	feat, feats := b.input("noise_features", n, cfg.Base)
	gr.cin, gr.cskip, gr.cout, gr.feat = cins, cskips, couts, feats

	// Noise (and label) embedding: e = SiLU(Dense(SiLU(Dense(φ(c_noise) + E ℓ)))).
	if cfg.Labels > 0 {
		onehot, ohs := b.input("labels_onehot", n, cfg.Labels)
		gr.onehot = ohs
		table := b.param("label.embed", []int{cfg.Labels, cfg.Base}, initUnit)
		feat = G.Must(G.Add(feat, G.Must(G.Mul(onehot, table))))
	}
	emb := siluNode(b.dense("emb.dense1", feat, cfg.Base, cfg.embedDim(), initHe))
	emb = siluNode(b.dense("emb.dense2", emb, cfg.embedDim(), cfg.embedDim(), initHe))

	// F's input: c_in x, with the conditioning channels appended unscaled.
	h := G.Must(G.BroadcastHadamardProd(x, cin, nil, []byte{1, 2, 3}))
	inCh := c
	if cfg.CondChannels > 0 {
		cond, conds := b.input("cond", n, cfg.CondChannels, r, r)
		gr.cond = conds
		h = G.Must(G.Concat(1, h, cond))
		inCh += cfg.CondChannels
	}

	// Encoder.
	levels := len(cfg.Mults)
	h = b.conv("in", h, inCh, cfg.Base, 3, 1, initHe)
	width := cfg.Base
	skips := make([]*G.Node, levels)
	skipW := make([]int, levels)
	for l := 0; l < levels; l++ {
		for k := 0; k < cfg.Blocks; k++ {
			h = b.res(fmt.Sprintf("enc%d.res%d", l, k), h, emb, width, cfg.width(l))
			width = cfg.width(l)
		}
		skips[l], skipW[l] = h, width
		if l < levels-1 {
			h = b.conv(fmt.Sprintf("enc%d.down", l), h, width, width, 3, 2, initHe)
		}
	}
	h = b.res("mid.res", h, emb, width, width)

	// Decoder.
	for l := levels - 1; l >= 0; l-- {
		h = G.Must(G.Concat(1, h, skips[l]))
		width += skipW[l]
		for k := 0; k < cfg.Blocks; k++ {
			h = b.res(fmt.Sprintf("dec%d.res%d", l, k), h, emb, width, cfg.width(l))
			width = cfg.width(l)
		}
		if l > 0 {
			h = G.Must(G.ApplyOp(upsampleOp{}, h))
			h = b.conv(fmt.Sprintf("dec%d.up", l), h, width, cfg.width(l-1), 3, 1, initHe)
			width = cfg.width(l - 1)
		}
	}
	h = b.normAct("out.norm", h, width)
	f := b.conv("out", h, width, c, 3, 1, initZero)

	// D = c_skip x + c_out F.
	d := G.Must(G.Add(
		G.Must(G.BroadcastHadamardProd(x, cskip, nil, []byte{1, 2, 3})),
		G.Must(G.BroadcastHadamardProd(f, cout, nil, []byte{1, 2, 3}))))

	switch m {
	case modeDenoise:
		gr.out = d
	case modeVJP:
		v, vs := b.input("v", n, c, r, r)
		gr.aux = vs
		grads, err := G.Backpropagate(G.Nodes{d}, G.Nodes{v}, G.Nodes{x})
		if err != nil {
			panic(err)
		}
		gr.out = grads[0]
	case modeLoss:
		target, ts := b.input("target", n, c, r, r)
		w, ws := b.input("weight", n, 1, 1, 1)
		gr.aux, gr.weight = ts, ws
		sq := G.Must(G.Square(G.Must(G.Sub(d, target))))
		gr.out = G.Must(G.Sum(G.Must(G.BroadcastHadamardProd(sq, w, nil, []byte{1, 2, 3}))))
		grads, err := G.Grad(gr.out, b.params...)
		if err != nil {
			panic(err)
		}
		gr.grads = grads
	}
	return gr
}
