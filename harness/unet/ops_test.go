package unet

import (
	"math"
	"math/rand/v2"
	"testing"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// randTensor returns a float64 tensor of the given shape with N(0, 1) entries.
func randTensor(rng *rand.Rand, shape ...int) *tensor.Dense {
	t := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(shape...))
	for i, d := 0, t.Float64s(); i < len(d); i++ {
		d[i] = rng.NormFloat64()
	}
	return t
}

// opCase builds, in g, an expression of some input nodes.
type opCase struct {
	name   string
	inputs [][]int // shapes of the inputs
	build  func(in G.Nodes) (*G.Node, error)
}

var opCases = []opCase{
	{"conv3x3", [][]int{{2, 3, 5, 6}, {4, 3, 3, 3}, {4}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(convOp{k: 3, stride: 1, pad: 1, bias: true}, in...)
	}},
	{"conv3x3 stride 2 even", [][]int{{2, 3, 6, 8}, {4, 3, 3, 3}, {4}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(convOp{k: 3, stride: 2, pad: 1, bias: true}, in...)
	}},
	{"conv3x3 stride 2 odd", [][]int{{2, 2, 5, 7}, {3, 2, 3, 3}, {3}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(convOp{k: 3, stride: 2, pad: 1, bias: true}, in...)
	}},
	{"conv1x1", [][]int{{2, 5, 4, 3}, {3, 5, 1, 1}, {3}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(convOp{k: 1, stride: 1, pad: 0, bias: true}, in...)
	}},
	{"conv3x3 no bias", [][]int{{3, 2, 4, 4}, {2, 2, 3, 3}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(convOp{k: 3, stride: 1, pad: 1}, in...)
	}},
	{"conv3x3 per-sample bias", [][]int{{3, 2, 4, 5}, {4, 2, 3, 3}, {3, 4}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(convOp{k: 3, stride: 1, pad: 1, bias: true, sampleBias: true}, in...)
	}},
	{"groupnorm", [][]int{{3, 6, 3, 4}, {6}, {6}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(groupNormOp{groups: 2, eps: gnEps}, in...)
	}},
	{"groupnorm one group", [][]int{{2, 3, 2, 2}, {3}, {3}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(groupNormOp{groups: 1, eps: gnEps}, in...)
	}},
	{"silu", [][]int{{2, 3, 4, 4}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(siluOp{}, in...)
	}},
	{"silu 2-D", [][]int{{3, 5}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(siluOp{}, in...)
	}},
	{"upsample", [][]int{{2, 3, 3, 4}}, func(in G.Nodes) (*G.Node, error) {
		return G.ApplyOp(upsampleOp{}, in...)
	}},
	// gorgonia's own operations, as the network uses them.
	{"Concat", [][]int{{2, 3, 4, 4}, {2, 2, 4, 4}}, func(in G.Nodes) (*G.Node, error) {
		return G.Concat(1, in...)
	}},
	{"BroadcastHadamardProd per sample", [][]int{{3, 2, 4, 4}, {3, 1, 1, 1}}, func(in G.Nodes) (*G.Node, error) {
		return G.BroadcastHadamardProd(in[0], in[1], nil, []byte{1, 2, 3})
	}},
	{"Mul and BroadcastAdd (dense)", [][]int{{3, 4}, {4, 5}, {1, 5}}, func(in G.Nodes) (*G.Node, error) {
		y, err := G.Mul(in[0], in[1])
		if err != nil {
			return nil, err
		}
		return G.BroadcastAdd(y, in[2], nil, []byte{0})
	}},
	{"Add and Reshape", [][]int{{2, 6}, {12}}, func(in G.Nodes) (*G.Node, error) {
		r, err := G.Reshape(in[1], tensor.Shape{2, 6})
		if err != nil {
			return nil, err
		}
		return G.Add(in[0], r)
	}},
	{"Square of Sub", [][]int{{2, 3, 2, 2}, {2, 3, 2, 2}}, func(in G.Nodes) (*G.Node, error) {
		d, err := G.Sub(in[0], in[1])
		if err != nil {
			return nil, err
		}
		return G.Square(d)
	}},
}

// TestOpGradients checks, in float64, the gradient of L = Σ r ⊙ f(inputs),
// r fixed and random, with respect to every input entry against central
// differences.
func TestOpGradients(t *testing.T) {
	for _, tc := range opCases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, uint64(len(tc.name))))
			g := G.NewGraph()
			var in G.Nodes
			var vals []*tensor.Dense
			for i, s := range tc.inputs {
				v := randTensor(rng, s...)
				vals = append(vals, v)
				in = append(in, G.NewTensor(g, tensor.Float64, len(s), G.WithShape(s...), G.WithValue(v), G.WithName(string(rune('a'+i)))))
			}
			out, err := tc.build(in)
			if err != nil {
				t.Fatal(err)
			}
			r := randTensor(rng, out.Shape()...)
			rn := G.NewTensor(g, tensor.Float64, out.Dims(), G.WithShape(out.Shape()...), G.WithValue(r), G.WithName("r"))
			cost := G.Must(G.Sum(G.Must(G.HadamardProd(out, rn))))
			grads, err := G.Grad(cost, in...)
			if err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			eval := func() float64 {
				if err := vm.RunAll(); err != nil {
					t.Fatal(err)
				}
				vm.Reset()
				return cost.Value().Data().(float64)
			}
			eval()
			an := make([][]float64, len(in))
			for i, gn := range grads {
				an[i] = append([]float64(nil), gn.Value().Data().([]float64)...)
			}
			const h = 1e-6
			for i, v := range vals {
				d := v.Float64s()
				for j := range d {
					x0 := d[j]
					d[j] = x0 + h
					lp := eval()
					d[j] = x0 - h
					lm := eval()
					d[j] = x0
					fd := (lp - lm) / (2 * h)
					if math.Abs(fd-an[i][j]) > 1e-6*(1+math.Abs(fd)) {
						t.Errorf("input %d [%d]: analytic %.9g, finite difference %.9g", i, j, an[i][j], fd)
					}
				}
			}
		})
	}
}

// TestConvMatchesGorgonia checks convOp against gorgonia's Conv2d plus a
// broadcast bias, forward and backward, in float64.
func TestConvMatchesGorgonia(t *testing.T) {
	for _, tc := range []struct {
		x, w           []int
		stride, pad, k int
	}{
		{[]int{2, 3, 6, 6}, []int{4, 3, 3, 3}, 1, 1, 3},
		{[]int{2, 3, 6, 8}, []int{4, 3, 3, 3}, 2, 1, 3},
		{[]int{3, 4, 5, 5}, []int{2, 4, 1, 1}, 1, 0, 1},
	} {
		rng := rand.New(rand.NewPCG(1, 1))
		xv, wv, bv := randTensor(rng, tc.x...), randTensor(rng, tc.w...), randTensor(rng, tc.w[0])
		run := func(mine bool) (y []float64, dx, dw, db []float64) {
			g := G.NewGraph()
			x := G.NewTensor(g, tensor.Float64, 4, G.WithValue(xv.Clone()), G.WithName("x"))
			w := G.NewTensor(g, tensor.Float64, 4, G.WithValue(wv.Clone()), G.WithName("w"))
			b := G.NewTensor(g, tensor.Float64, 1, G.WithValue(bv.Clone()), G.WithName("b"))
			var out *G.Node
			if mine {
				out = G.Must(G.ApplyOp(convOp{k: tc.k, stride: tc.stride, pad: tc.pad, bias: true}, x, w, b))
			} else {
				c := G.Must(G.Conv2d(x, w, tensor.Shape{tc.k, tc.k}, []int{tc.pad, tc.pad}, []int{tc.stride, tc.stride}, []int{1, 1}))
				out = G.Must(G.BroadcastAdd(c, G.Must(G.Reshape(b, tensor.Shape{1, tc.w[0], 1, 1})), nil, []byte{0, 2, 3}))
			}
			r := randTensor(rand.New(rand.NewPCG(2, 2)), out.Shape()...)
			rn := G.NewTensor(g, tensor.Float64, 4, G.WithValue(r), G.WithName("r"))
			grads, err := G.Grad(G.Must(G.Sum(G.Must(G.HadamardProd(out, rn)))), x, w, b)
			if err != nil {
				t.Fatal(err)
			}
			vm := G.NewTapeMachine(g)
			defer vm.Close()
			if err := vm.RunAll(); err != nil {
				t.Fatal(err)
			}
			f := func(n *G.Node) []float64 { return append([]float64(nil), n.Value().Data().([]float64)...) }
			return f(out), f(grads[0]), f(grads[1]), f(grads[2])
		}
		y1, dx1, dw1, db1 := run(true)
		y2, dx2, dw2, db2 := run(false)
		for _, c := range []struct {
			name string
			a, b []float64
		}{{"y", y1, y2}, {"dx", dx1, dx2}, {"dw", dw1, dw2}, {"db", db1, db2}} {
			if len(c.a) != len(c.b) {
				t.Fatalf("%+v %s: %d values, Conv2d gives %d", tc, c.name, len(c.a), len(c.b))
			}
			for i := range c.a {
				if math.Abs(c.a[i]-c.b[i]) > 1e-12*(1+math.Abs(c.b[i])) {
					t.Errorf("%+v %s[%d] = %v, Conv2d gives %v", tc, c.name, i, c.a[i], c.b[i])
					break
				}
			}
		}
	}
}

// TestGroupNormForward checks the op against the definition.
func TestGroupNormForward(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	b, c, hw, groups := 2, 6, 5, 3
	x, gamma, beta := randTensor(rng, b, c, 1, hw), randTensor(rng, c), randTensor(rng, c)
	y, err := groupNormOp{groups: groups, eps: gnEps}.Do(x, gamma, beta)
	if err != nil {
		t.Fatal(err)
	}
	xs, ys, cg := x.Float64s(), y.Data().([]float64), c/groups
	for i := 0; i < b; i++ {
		for g := 0; g < groups; g++ {
			grp := xs[(i*c+g*cg)*hw : (i*c+(g+1)*cg)*hw]
			var m, v float64
			for _, u := range grp {
				m += u / float64(len(grp))
			}
			for _, u := range grp {
				v += (u - m) * (u - m) / float64(len(grp))
			}
			for j, u := range grp {
				ch := g*cg + j/hw
				want := gamma.Float64s()[ch]*(u-m)/math.Sqrt(v+gnEps) + beta.Float64s()[ch]
				if got := ys[(i*c+g*cg)*hw+j]; math.Abs(got-want) > 1e-12 {
					t.Fatalf("y[%d,%d,%d] = %v, want %v", i, g, j, got, want)
				}
			}
		}
	}
}

// TestUpsampleForward checks the op against the definition.
func TestUpsampleForward(t *testing.T) {
	x := randTensor(rand.New(rand.NewPCG(4, 4)), 2, 3, 3, 5)
	y, err := upsampleOp{}.Do(x)
	if err != nil {
		t.Fatal(err)
	}
	ys := y.Data().([]float64)
	for p := 0; p < 6; p++ {
		for i := 0; i < 6; i++ {
			for j := 0; j < 10; j++ {
				if got, want := ys[(p*6+i)*10+j], x.Float64s()[(p*3+i/2)*5+j/2]; got != want {
					t.Fatalf("y[%d,%d,%d] = %v, want %v", p, i, j, got, want)
				}
			}
		}
	}
}

// TestOpPanicsBecomeErrors checks that a panic inside an op's Do, which
// gorgonia could not recover on its own goroutine, comes back as an error.
func TestOpPanicsBecomeErrors(t *testing.T) {
	x := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(1, 2, 2, 2))
	short := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(1))
	if _, err := (groupNormOp{groups: 1, eps: gnEps}).Do(x, short, short); err == nil {
		t.Error("groupnorm with a too-short scale: no error")
	}
	w := tensor.New(tensor.Of(tensor.Float64), tensor.WithShape(2, 2, 3, 3))
	if _, err := (convOp{k: 3, stride: 1, pad: 1, bias: true, sampleBias: true}).Do(x, w, short); err == nil {
		t.Error("conv with a too-short per-sample bias: no error")
	}
}
