package unet

import (
	"bytes"
	"context"
	"errors"
	"log"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// tinyConfig has every feature on and runs in milliseconds.
func tinyConfig() Config {
	return Config{Resolution: 8, Channels: 3, CondChannels: 2, Labels: 3, Base: 4, Mults: []int{1, 2}, Blocks: 1, Groups: 2, SigmaData: 0.5}
}

// perturbed returns a network of cfg whose every parameter, the zero-started
// ones included, has N(0, s²) noise added, so no gradient is trivially zero.
func perturbed(t testing.TB, cfg Config, seed uint64, s float64) *Net {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	n, err := New(cfg, rng)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range n.Params() {
		for i := range p.Value {
			p.Value[i] += float32(s * rng.NormFloat64())
		}
	}
	return n
}

func randRows(rng *rand.Rand, b, n int, scale float64) [][]float64 {
	r := make([][]float64, b)
	for i := range r {
		r[i] = make([]float64, n)
		for j := range r[i] {
			r[i][j] = scale * rng.NormFloat64()
		}
	}
	return r
}

// problem is one batch of arguments for a network.
type problem struct {
	x, cond, target, v [][]float64
	sigma, weight      []float64
	labels             []int
}

func newProblem(n *Net, rng *rand.Rand, b int) problem {
	c, h, w, cc := n.Shape()
	p := problem{
		x:      randRows(rng, b, c*h*w, 0.7),
		target: randRows(rng, b, c*h*w, 0.5),
		v:      randRows(rng, b, c*h*w, 1),
		sigma:  make([]float64, b),
		weight: make([]float64, b),
	}
	if cc > 0 {
		p.cond = randRows(rng, b, cc*h*w, 0.5)
	}
	sigmas := []float64{0.002, 0.1, 0.5, 2, 80}
	for i := range p.sigma {
		p.sigma[i] = sigmas[i%len(sigmas)]
		p.weight[i] = 0.5 + rng.Float64()
	}
	if n.Labels() > 0 {
		p.labels = make([]int, b)
		for i := range p.labels {
			p.labels[i] = rng.IntN(n.Labels())
		}
	}
	return p
}

func (p problem) denoise(t testing.TB, n *Net) [][]float64 {
	t.Helper()
	dst := make([][]float64, len(p.x))
	for i := range dst {
		dst[i] = make([]float64, len(p.x[i]))
	}
	if err := n.Denoise(context.Background(), dst, p.x, p.cond, p.sigma, p.labels); err != nil {
		t.Fatal(err)
	}
	return dst
}

// loss64 is Loss's objective computed in float64 from Denoise's outputs, so
// finite differences of it are not drowned in float32 summation noise.
func (p problem) loss64(t testing.TB, n *Net) float64 {
	d := p.denoise(t, n)
	var l float64
	for i, r := range d {
		var s float64
		for j, v := range r {
			e := v - p.target[i][j]
			s += e * e
		}
		l += p.weight[i] * s / float64(len(r))
	}
	return l / float64(len(d))
}

func TestPrecondition(t *testing.T) {
	for _, tc := range []struct{ sigma, sd float64 }{{0.5, 0.5}, {0.002, 0.5}, {80, 0.5}, {1, 0.25}, {1e200, 0.5}} {
		cs, co, ci, cn := Precondition(tc.sigma, tc.sd)
		s2, d2 := tc.sigma*tc.sigma, tc.sd*tc.sd
		want := [4]float64{d2 / (s2 + d2), tc.sigma * tc.sd / math.Sqrt(s2+d2), 1 / math.Sqrt(s2+d2), math.Log(tc.sigma) / 4}
		if math.IsInf(s2, 0) { // the closed form overflows; the limits
			want = [4]float64{0, tc.sd, 0, math.Log(tc.sigma) / 4}
		}
		got := [4]float64{cs, co, ci, cn}
		for k := range got {
			if math.Abs(got[k]-want[k]) > 1e-14*(1+math.Abs(want[k])) {
				t.Errorf("σ = %v, σ_d = %v: coefficient %d = %v, want %v", tc.sigma, tc.sd, k, got[k], want[k])
			}
		}
	}
	// At σ = σ_d: c_skip = ½, c_out = σ_d/√2, c_in = 1/(σ_d√2).
	cs, co, ci, _ := Precondition(0.5, 0.5)
	if math.Abs(cs-0.5) > 1e-15 || math.Abs(co-0.5/math.Sqrt2) > 1e-15 || math.Abs(ci-1/(0.5*math.Sqrt2)) > 1e-15 {
		t.Errorf("σ = σ_d: got %v %v %v", cs, co, ci)
	}
}

// TestNewIsSkip checks the EDM preconditioning in closed form: a new network
// has a zero output convolution, so F = 0 and D(x; σ) = c_skip(σ) x exactly
// (in float32: the product of x and c_skip rounded to float32).
func TestNewIsSkip(t *testing.T) {
	for _, zeroOut := range []bool{false, true} {
		var n *Net
		if zeroOut {
			// Every other weight random, the output convolution zeroed.
			n = perturbed(t, tinyConfig(), 5, 0.3)
			for _, p := range n.Params() {
				if p.Name == "out.w" || p.Name == "out.b" {
					clear(p.Value)
				}
			}
		} else {
			var err error
			if n, err = New(tinyConfig(), rand.New(rand.NewPCG(5, 5))); err != nil {
				t.Fatal(err)
			}
		}
		p := newProblem(n, rand.New(rand.NewPCG(6, 6)), 5)
		d := p.denoise(t, n)
		for i, r := range d {
			cs, _, _, _ := Precondition(p.sigma[i], 0.5)
			for j, v := range r {
				if want := float64(float32(cs) * float32(p.x[i][j])); v != want {
					t.Fatalf("zeroed output conv %t: D[%d][%d] = %v, want c_skip x = %v", zeroOut, i, j, v, want)
				}
			}
		}
	}
}

// TestLossGradient checks ∂L/∂θ from Loss against central differences of
// the loss along a random direction in each parameter tensor in turn: every
// layer kind (convolutions, strided and 1×1 ones, GroupNorm scale and shift,
// dense layers, the label embedding) is covered. The differences use the
// float32 perturbations actually applied, and a float64 loss.
func TestLossGradient(t *testing.T) {
	n := perturbed(t, tinyConfig(), 11, 0.2)
	rng := rand.New(rand.NewPCG(12, 12))
	p := newProblem(n, rng, 4)
	if _, err := n.Loss(context.Background(), p.x, p.cond, p.target, p.sigma, p.weight, p.labels); err != nil {
		t.Fatal(err)
	}
	const h = 3e-2
	var worst float64
	for _, q := range n.Params() {
		orig := append([]float32(nil), q.Value...)
		u := make([]float64, len(orig))
		var norm float64
		for j := range u {
			u[j] = rng.NormFloat64()
			norm += u[j] * u[j]
		}
		norm = math.Sqrt(norm)
		// Applied step δ = float32(θ + hu) − θ, with the sign s.
		step := func(s float64) []float64 {
			d := make([]float64, len(orig))
			for j := range orig {
				q.Value[j] = float32(float64(orig[j]) + s*h*u[j]/norm)
				d[j] = float64(q.Value[j]) - float64(orig[j])
			}
			return d
		}
		dp := step(1)
		lp := p.loss64(t, n)
		dm := step(-1)
		lm := p.loss64(t, n)
		copy(q.Value, orig)
		var an float64
		for j, g := range q.Grad {
			an += float64(g) * (dp[j] - dm[j])
		}
		fd := lp - lm
		// Seen: up to 1.2e-3 relative, from float32 rounding in the
		// forward and backward passes and the O(h²) truncation of the
		// difference; the floor is float32 rounding of D as it moves L
		// (about 0.2) by ~1e-6.
		tol := 5e-3*math.Abs(an) + 2e-9
		if e := math.Abs(fd - an); e > tol {
			t.Errorf("%s %v: directional derivative %.6g, finite difference %.6g", q.Name, q.Shape, an, fd)
		} else if an != 0 {
			worst = math.Max(worst, e/math.Abs(an))
		}
		if an == 0 {
			t.Errorf("%s: zero gradient along a random direction", q.Name)
		}
	}
	t.Logf("%d parameter tensors; worst relative error %.2g", len(n.Params()), worst)
}

// TestVJP checks J_xᵀv from VJP against central differences of vᵀD along a
// random direction, row by row, with conditioning and labels on and σ from
// 0.002 to 80.
func TestVJP(t *testing.T) {
	n := perturbed(t, tinyConfig(), 21, 0.2)
	rng := rand.New(rand.NewPCG(22, 22))
	p := newProblem(n, rng, 5)
	vjp := make([][]float64, len(p.x))
	for i := range vjp {
		vjp[i] = make([]float64, len(p.x[i]))
	}
	if err := n.VJP(context.Background(), vjp, p.x, p.cond, p.sigma, p.labels, p.v); err != nil {
		t.Fatal(err)
	}
	x0 := p.x
	u := randRows(rng, len(x0), len(x0[0]), 1)
	// Step 0.003/c_in(σ): F sees the same 0.003 u at every σ.
	shift := func(s float64) [][]float64 {
		x := make([][]float64, len(x0))
		for i := range x {
			_, _, cin, _ := Precondition(p.sigma[i], 0.5)
			x[i] = make([]float64, len(x0[i]))
			for j := range x[i] {
				x[i][j] = float64(float32(x0[i][j] + s*0.003/cin*u[i][j]))
			}
		}
		return x
	}
	xp, xm := shift(1), shift(-1)
	p.x = xp
	dp := p.denoise(t, n)
	p.x = xm
	dm := p.denoise(t, n)
	var worst float64
	for i := range x0 {
		var fd, an float64
		for j := range x0[i] {
			fd += p.v[i][j] * (dp[i][j] - dm[i][j])
			an += vjp[i][j] * (xp[i][j] - xm[i][j])
		}
		// Seen: up to 6e-4 relative, mostly O(h²) truncation, and about
		// 2e-6 absolute, float32 rounding inside D moving vᵀD.
		e := math.Abs(fd - an)
		if e > 2e-3*math.Abs(an)+5e-6 {
			t.Errorf("row %d (σ = %v): uᵀJᵀv = %.6g, finite difference %.6g", i, p.sigma[i], an, fd)
		}
		worst = math.Max(worst, e/math.Abs(an))
	}
	t.Logf("worst relative error %.2g", worst)
}

// TestBatchIndependence checks that a row's output does not depend on the
// rest of its batch, nor on the batch being split into chunks.
func TestBatchIndependence(t *testing.T) {
	n := perturbed(t, tinyConfig(), 31, 0.2)
	p := newProblem(n, rand.New(rand.NewPCG(32, 32)), maxChunk+7)
	all := p.denoise(t, n)
	for _, i := range []int{0, 3, maxChunk - 1, maxChunk, maxChunk + 6} {
		one := problem{x: p.x[i : i+1], cond: p.cond[i : i+1], sigma: p.sigma[i : i+1], labels: p.labels[i : i+1]}
		d := one.denoise(t, n)
		for j, v := range d[0] {
			if w := all[i][j]; math.Abs(v-w) > 1e-6*(1+math.Abs(w)) {
				t.Fatalf("row %d [%d]: %v alone, %v in a batch of %d", i, j, v, w, len(p.x))
			}
		}
	}
}

// TestSGDLowersLoss takes plain gradient steps (rate 1) on a fixed tiny
// batch of noisy random images.
func TestSGDLowersLoss(t *testing.T) {
	n, err := New(tinyConfig(), rand.New(rand.NewPCG(41, 41)))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(42, 42))
	p := newProblem(n, rng, 6)
	for i := range p.x { // x = target + σ·noise, the denoising task
		p.sigma[i] = 0.3 + 0.2*float64(i)
		for j := range p.x[i] {
			p.x[i][j] = p.target[i][j] + p.sigma[i]*rng.NormFloat64()
		}
	}
	ctx := context.Background()
	params := n.Params()
	var first, last float64
	var losses []float64
	for step := 0; step < 30; step++ {
		for _, q := range params {
			clear(q.Grad)
		}
		l, err := n.Loss(ctx, p.x, p.cond, p.target, p.sigma, p.weight, p.labels)
		if err != nil {
			t.Fatal(err)
		}
		if step == 0 {
			first = l
		}
		last = l
		losses = append(losses, l)
		for _, q := range params {
			for j, g := range q.Grad {
				q.Value[j] -= 1 * g
			}
		}
	}
	t.Logf("loss %.4g → %.4g in 30 steps", first, last)
	if !(losses[1] < losses[0]) || !(last < 0.92*first) {
		t.Errorf("losses %.4g: SGD did not lower the loss by 8%%", losses)
	}
}

// TestParams checks the parameter list and that Value aliases the network.
func TestParams(t *testing.T) {
	n := perturbed(t, tinyConfig(), 51, 0.2)
	ps := n.Params()
	total, seen := 0, map[string]bool{}
	for _, p := range ps {
		size := 1
		for _, s := range p.Shape {
			size *= s
		}
		if len(p.Value) != size || len(p.Grad) != size {
			t.Errorf("%s: shape %v, %d values, %d grads", p.Name, p.Shape, len(p.Value), len(p.Grad))
		}
		if seen[p.Name] {
			t.Errorf("%s listed twice", p.Name)
		}
		seen[p.Name] = true
		total += size
	}
	if total != n.NumParams() {
		t.Errorf("NumParams = %d, the list holds %d", n.NumParams(), total)
	}
	for _, name := range []string{"label.embed", "emb.dense1.w", "in.w", "enc0.res0.norm1.gamma", "enc0.res0.conv1.w", "enc0.res0.emb.w",
		"enc0.down.w", "enc1.res0.skip.w", "mid.res.conv2.w", "dec1.up.w", "dec0.res0.skip.b", "out.norm.beta", "out.w", "out.b"} {
		if !seen[name] {
			t.Errorf("no parameter %s", name)
		}
	}
	// Same config, same list.
	m, _ := New(tinyConfig(), rand.New(rand.NewPCG(1, 1)))
	for i, p := range m.Params() {
		if p.Name != ps[i].Name {
			t.Fatalf("parameter %d is %s in one network, %s in another of the same config", i, p.Name, ps[i].Name)
		}
	}

	// An in-place update is seen by the next call: out.b shifts D by c_out·Δ.
	p := newProblem(n, rand.New(rand.NewPCG(52, 52)), 2)
	before := p.denoise(t, n)
	for _, q := range ps {
		if q.Name == "out.b" {
			for j := range q.Value {
				q.Value[j] += 0.25
			}
		}
	}
	after := p.denoise(t, n)
	for i := range before {
		_, co, _, _ := Precondition(p.sigma[i], 0.5)
		for j := range before[i] {
			if d := after[i][j] - before[i][j]; math.Abs(d-0.25*co) > 1e-5*(1+math.Abs(after[i][j])) {
				t.Fatalf("row %d [%d]: D moved by %v, want c_out·0.25 = %v", i, j, d, 0.25*co)
			}
		}
	}
}

// TestCallsLeaveParamsAlone guards against gorgonia reusing the memory of a
// parameter (an input of every graph) for an intermediate result.
func TestCallsLeaveParamsAlone(t *testing.T) {
	n := perturbed(t, tinyConfig(), 61, 0.2)
	var snap [][]float32
	for _, p := range n.Params() {
		snap = append(snap, append([]float32(nil), p.Value...))
	}
	p := newProblem(n, rand.New(rand.NewPCG(62, 62)), 3)
	x0 := p.x[0][0]
	ctx := context.Background()
	for k := 0; k < 2; k++ {
		p.denoise(t, n)
		dst := p.denoise(t, n) // reuse for VJP's dst
		if err := n.VJP(ctx, dst, p.x, p.cond, p.sigma, p.labels, p.v); err != nil {
			t.Fatal(err)
		}
		if _, err := n.Loss(ctx, p.x, p.cond, p.target, p.sigma, p.weight, p.labels); err != nil {
			t.Fatal(err)
		}
	}
	for i, p := range n.Params() {
		for j, v := range p.Value {
			if v != snap[i][j] {
				t.Fatalf("%s[%d] changed from %v to %v", p.Name, j, snap[i][j], v)
			}
		}
	}
	if p.x[0][0] != x0 {
		t.Error("x changed")
	}
}

// TestNoLogging checks that a training step writes nothing through the
// standard logger (gorgonia's own GroupNorm would log every gradient).
func TestNoLogging(t *testing.T) {
	var buf bytes.Buffer
	out, flags := log.Writer(), log.Flags()
	log.SetOutput(&buf)
	defer func() { log.SetOutput(out); log.SetFlags(flags) }()
	n := perturbed(t, tinyConfig(), 65, 0.2)
	p := newProblem(n, newRand(66), 2)
	if _, err := n.Loss(context.Background(), p.x, p.cond, p.target, p.sigma, p.weight, p.labels); err != nil {
		t.Fatal(err)
	}
	if buf.Len() > 0 {
		t.Errorf("logged %d bytes: %.200s", buf.Len(), buf.String())
	}
}

// TestConcurrentCalls runs the three kinds of call from several goroutines:
// they are serialised, and each gets the answer it gets alone.
func TestConcurrentCalls(t *testing.T) {
	n := perturbed(t, tinyConfig(), 71, 0.2)
	p := newProblem(n, rand.New(rand.NewPCG(72, 72)), 3)
	want := p.denoise(t, n)
	var wg sync.WaitGroup
	errs := make(chan error, 12)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx := context.Background()
			dst := randRows(rand.New(rand.NewPCG(1, 1)), 3, len(p.x[0]), 0)
			for k := 0; k < 3; k++ {
				if err := n.Denoise(ctx, dst, p.x, p.cond, p.sigma, p.labels); err != nil {
					errs <- err
					return
				}
				for i := range dst {
					for j := range dst[i] {
						if dst[i][j] != want[i][j] {
							errs <- errors.New("concurrent Denoise gave another answer")
							return
						}
					}
				}
				if err := n.VJP(ctx, dst, p.x, p.cond, p.sigma, p.labels, p.v); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestArgumentErrors checks that bad arguments give errors that say what is
// wrong, and never a panic.
func TestArgumentErrors(t *testing.T) {
	n := perturbed(t, tinyConfig(), 81, 0.1)
	plainCfg := tinyConfig()
	plainCfg.CondChannels, plainCfg.Labels = 0, 0
	plain := perturbed(t, plainCfg, 82, 0.1)
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, tc := range []struct {
		name   string
		method string // Denoise, VJP or Loss
		plain  bool   // call the network without conditioning and labels
		edit   func(p *problem, dst *[][]float64)
		want   string
	}{
		{"short row", "Denoise", false, func(p *problem, _ *[][]float64) { p.x[1] = p.x[1][:5] }, "x[1] has 5 values, want 192"},
		{"sigma zero", "Denoise", false, func(p *problem, _ *[][]float64) { p.sigma[0] = 0 }, "sigma[0] = 0 is not positive"},
		{"sigma negative", "Loss", false, func(p *problem, _ *[][]float64) { p.sigma[1] = -1 }, "sigma[1] = -1 is not positive"},
		{"sigma NaN", "VJP", false, func(p *problem, _ *[][]float64) { p.sigma[0] = math.NaN() }, "sigma[0] = NaN"},
		{"sigma Inf", "Denoise", false, func(p *problem, _ *[][]float64) { p.sigma[0] = math.Inf(1) }, "sigma[0] = +Inf"},
		{"x NaN", "Denoise", false, func(p *problem, _ *[][]float64) { p.x[0][7] = math.NaN() }, "x[0][7] = NaN is not finite"},
		{"x beyond float32", "VJP", false, func(p *problem, _ *[][]float64) { p.x[1][0] = 1e39 }, "x[1][0] = 1e+39 is not finite in float32"},
		{"label out of range", "Denoise", false, func(p *problem, _ *[][]float64) { p.labels[1] = 3 }, "labels[1] = 3 is not in [0, 3)"},
		{"label negative", "Loss", false, func(p *problem, _ *[][]float64) { p.labels[0] = -1 }, "labels[0] = -1 is not in [0, 3)"},
		{"labels missing", "Denoise", false, func(p *problem, _ *[][]float64) { p.labels = nil }, "0 labels for 2 rows"},
		{"labels to a net without", "Denoise", true, func(p *problem, _ *[][]float64) { p.cond = nil }, "no label embedding"},
		{"cond missing", "Denoise", false, func(p *problem, _ *[][]float64) { p.cond = nil }, "0 rows of cond for 2 rows"},
		{"cond to a net without", "Denoise", true, func(p *problem, _ *[][]float64) { p.labels = nil }, "takes no conditioning"},
		{"cond short", "VJP", false, func(p *problem, _ *[][]float64) { p.cond[0] = p.cond[0][1:] }, "cond[0] has 127 values, want 128"},
		{"sigma count", "Denoise", false, func(p *problem, _ *[][]float64) { p.sigma = p.sigma[:1] }, "1 sigmas for 2 rows"},
		{"dst count", "Denoise", false, func(_ *problem, d *[][]float64) { *d = (*d)[:1] }, "1 rows of dst for 2 rows"},
		{"dst nil", "VJP", false, func(_ *problem, d *[][]float64) { *d = nil }, "0 rows of dst for 2 rows"},
		{"dst short row", "Denoise", false, func(_ *problem, d *[][]float64) { (*d)[1] = nil }, "dst[1] has 0 values, want 192"},
		{"v count", "VJP", false, func(p *problem, _ *[][]float64) { p.v = p.v[:1] }, "1 rows of v for 2 rows"},
		{"v NaN", "VJP", false, func(p *problem, _ *[][]float64) { p.v[1][2] = math.NaN() }, "v[1][2] = NaN"},
		{"target short", "Loss", false, func(p *problem, _ *[][]float64) { p.target[0] = p.target[0][:3] }, "target[0] has 3 values"},
		{"weight negative", "Loss", false, func(p *problem, _ *[][]float64) { p.weight[1] = -1 }, "weight[1] = -1 is not non-negative"},
		{"weight nil", "Loss", false, func(p *problem, _ *[][]float64) { p.weight = nil }, "weight is nil"},
		{"empty loss", "Loss", false, func(p *problem, _ *[][]float64) { *p = problem{weight: []float64{}, labels: []int{}} }, "empty batch"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			net := n
			if tc.plain {
				net = plain
			}
			p := newProblem(n, rand.New(rand.NewPCG(83, 83)), 2)
			dst := randRows(rand.New(rand.NewPCG(1, 1)), 2, len(p.x[0]), 0)
			tc.edit(&p, &dst)
			ctx := context.Background()
			var err error
			switch tc.method {
			case "Denoise":
				err = net.Denoise(ctx, dst, p.x, p.cond, p.sigma, p.labels)
			case "VJP":
				err = net.VJP(ctx, dst, p.x, p.cond, p.sigma, p.labels, p.v)
			case "Loss":
				_, err = net.Loss(ctx, p.x, p.cond, p.target, p.sigma, p.weight, p.labels)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s: error %v, want one containing %q", tc.method, err, tc.want)
			}
		})
	}
	p := newProblem(n, rand.New(rand.NewPCG(84, 84)), 2)
	dst := randRows(rand.New(rand.NewPCG(1, 1)), 2, len(p.x[0]), 0)
	if err := n.Denoise(canceled, dst, p.x, p.cond, p.sigma, p.labels); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: error %v", err)
	}
	// An empty batch is no work, not an error.
	if err := n.Denoise(context.Background(), nil, nil, nil, nil, nil); err != nil {
		t.Errorf("empty Denoise: %v", err)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, c := range []Config{Config32(), Config64(), tinyConfig()} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
	for _, tc := range []struct {
		edit  func(*Config)
		field string
	}{
		{func(c *Config) { c.Resolution = 30 }, "Resolution"},
		{func(c *Config) { c.Resolution = 0 }, "Resolution"},
		{func(c *Config) { c.Channels = 0 }, "Channels"},
		{func(c *Config) { c.CondChannels = -1 }, "CondChannels"},
		{func(c *Config) { c.Labels = -2 }, "Labels"},
		{func(c *Config) { c.Base = 6 }, "Groups"}, // 8 groups do not divide 6
		{func(c *Config) { c.Base = 7 }, "Base"},
		{func(c *Config) { c.Base = 2 }, "Base"},
		{func(c *Config) { c.Mults = nil }, "Mults"},
		{func(c *Config) { c.Mults = []int{1, 0, 2} }, "Mults"},
		{func(c *Config) { c.Blocks = 0 }, "Blocks"},
		{func(c *Config) { c.Groups = 0 }, "Groups"},
		{func(c *Config) { c.SigmaData = 0 }, "SigmaData"},
		{func(c *Config) { c.SigmaData = math.NaN() }, "SigmaData"},
	} {
		c := Config32()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), "config "+tc.field+":") {
			t.Errorf("%+v: error %v, want one naming %s", c, err, tc.field)
		}
		if _, err := New(c, rand.New(rand.NewPCG(1, 1))); err == nil {
			t.Errorf("New(%+v) built a network", c)
		}
	}
	if _, err := New(tinyConfig(), nil); err == nil {
		t.Error("New with a nil random source: no error")
	}
}

func TestExpect(t *testing.T) {
	if err := Config32().Expect(Config32()); err != nil {
		t.Errorf("Config32 vs itself: %v", err)
	}
	err := Config64().Expect(Config32())
	if err == nil || !strings.Contains(err.Error(), "Resolution is 64, want 32") {
		t.Errorf("Config64 vs Config32: %v", err)
	}
	c := Config32()
	c.Labels = 5
	if err := c.Expect(Config32()); err == nil || !strings.Contains(err.Error(), "Labels is 5, want 0") {
		t.Errorf("labels: %v", err)
	}
}

func TestShape(t *testing.T) {
	n := perturbed(t, tinyConfig(), 1, 0)
	if c, h, w, cc := n.Shape(); c != 3 || h != 8 || w != 8 || cc != 2 {
		t.Errorf("Shape = %d %d %d %d", c, h, w, cc)
	}
	if n.Labels() != 3 {
		t.Errorf("Labels = %d", n.Labels())
	}
	cfg := n.Config()
	cfg.Mults[0] = 9 // a copy
	if n.Config().Mults[0] != 1 {
		t.Error("Config shares Mults with the network")
	}
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }
