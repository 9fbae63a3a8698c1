package operator_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ipbench/ipbench/harness/operator"
)

// The 1-D weights of MATLAB's imresize(·, 1/f, 'bicubic') (antialiased cubic
// with a = −0.5, stretched by f) for an interior output pixel, from the
// first input pixel that gets a nonzero weight to the last. They are
// h(t) = k(t/f)/f at the distances t = ±1/2, ±3/2, …, worked out by hand
// from Keys' cubic (all are dyadic rationals, exact in float64); e.g. for
// f = 4, h(1/2) = k(1/8)/4 = (1.5/512 − 2.5/64 + 1)/4 = 987/4096. The ×2 and
// ×4 values also appear (rounded) in third-party MATLAB emulations, e.g.
// pysegtools' imresize_fast (J. Bush, NCMIR/UCSD, 2015) for ×2.
var bicubicInterior = map[int][]float64{
	2: {-0.01171875, -0.03515625, 0.11328125, 0.43359375, 0.43359375, 0.11328125, -0.03515625, -0.01171875},
	4: {
		-0.001708984375, -0.010986328125, -0.018310546875, -0.011962890625,
		0.022705078125, 0.097412109375, 0.181884765625, 0.240966796875,
		0.240966796875, 0.181884765625, 0.097412109375, 0.022705078125,
		-0.011962890625, -0.018310546875, -0.010986328125, -0.001708984375,
	},
}

// bicubicRef holds whole axis matrices produced by a direct NumPy
// transcription of MATLAB's imresize.m contributions() (u = x/s + (1 − 1/s)/2,
// left = ⌊u − 2/s⌋, P = ⌈4/s⌉ + 2, normalised weights, indices mirrored
// through aux = [1:n, n:−1:1]):
//
//	/usr/bin/python3 testdata/imresize_ref.py 12 4   # and: 10 2
//
// (NumPy 1.24.2, Debian python3-numpy). The first row for n = 12, f = 4
// is also worked out by hand in the comment of TestBicubicBoundary.
var bicubicRef = []struct {
	n, f int
	m    [][]float64
}{
	{12, 4, [][]float64{
		{0.279296875, 0.263671875, 0.22900390625, 0.16357421875, 0.08642578125, 0.02099609375, -0.011962890625, -0.018310546875, -0.010986328125, -0.001708984375, 0.0, 0.0},
		{-0.029296875, -0.013671875, 0.022705078125, 0.097412109375, 0.181884765625, 0.240966796875, 0.240966796875, 0.181884765625, 0.097412109375, 0.022705078125, -0.013671875, -0.029296875},
		{0.0, 0.0, -0.001708984375, -0.010986328125, -0.018310546875, -0.011962890625, 0.02099609375, 0.08642578125, 0.16357421875, 0.22900390625, 0.263671875, 0.279296875},
	}},
	{10, 2, [][]float64{
		{0.546875, 0.3984375, 0.1015625, -0.03515625, -0.01171875, 0.0, 0.0, 0.0, 0.0, 0.0},
		{-0.046875, 0.11328125, 0.43359375, 0.43359375, 0.11328125, -0.03515625, -0.01171875, 0.0, 0.0, 0.0},
		{0.0, -0.01171875, -0.03515625, 0.11328125, 0.43359375, 0.43359375, 0.11328125, -0.03515625, -0.01171875, 0.0},
		{0.0, 0.0, 0.0, -0.01171875, -0.03515625, 0.11328125, 0.43359375, 0.43359375, 0.11328125, -0.046875},
		{0.0, 0.0, 0.0, 0.0, 0.0, -0.01171875, -0.03515625, 0.1015625, 0.3984375, 0.546875},
	}},
}

func TestBicubicInterior(t *testing.T) {
	for f, w := range bicubicInterior {
		n := 64
		b := operator.BicubicMatrix(n, f)
		// Output pixel i (0-based) sits at input coordinate f·i + (f−1)/2
		// (0-based), so its 4f weights start at input f·i + f/2 − 2f.
		i := 5
		start := f*i + f/2 - 2*f
		for j := range n {
			want := 0.0
			if k := j - start; k >= 0 && k < len(w) {
				want = w[k]
			}
			if got := b.At(i, j); got != want {
				t.Errorf("f=%d: weight (%d, %d) = %v, want %v", f, i, j, got, want)
			}
		}
		if s := floats.Sum(w); s != 1 {
			t.Errorf("f=%d: interior weights sum to %v", f, s)
		}
	}
}

// TestBicubicBoundary checks whole axis matrices, boundary rows included.
// By hand for the first output pixel of ×4 (1-based x = 1): u = 2.5, the
// indices −6 … 11 carry h(2.5 − i), and MATLAB's mirror maps index i ≤ 0 to
// 1 − i, so input 1 gets h(1.5) + h(2.5) = 0.181884765625 + 0.097412109375
// = 0.279296875, input 2 gets h(0.5) + h(3.5) = 0.240966796875 +
// 0.022705078125 = 0.263671875, input 3 gets h(0.5) + h(4.5) =
// 0.240966796875 − 0.011962890625 = 0.22900390625, and so on.
func TestBicubicBoundary(t *testing.T) {
	for _, ref := range bicubicRef {
		b := operator.BicubicMatrix(ref.n, ref.f)
		want := mat.NewDense(len(ref.m), ref.n, slices.Concat(ref.m...))
		if !mat.EqualApprox(b, want, 1e-15) {
			t.Errorf("n=%d f=%d:\ngot  %v\nwant %v", ref.n, ref.f, mat.Formatted(b), mat.Formatted(want))
		}
	}
}

// A ramp is mapped to its values at the output pixel centres: the cubic
// kernel reproduces linear functions, so away from the boundary
// imresize(ramp, 1/f) = f·i + (f−1)/2.
func TestBicubicRamp(t *testing.T) {
	shape := operator.Shape{C: 1, H: 32, W: 32}
	op, err := operator.NewBicubicDown(shape, 4)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, 32*32)
	for i := range 32 {
		for j := range 32 {
			x[i*32+j] = float64(i) + 10*float64(j)
		}
	}
	y := make([]float64, 8*8)
	op.Apply(y, x)
	for i := 2; i < 6; i++ {
		for j := 2; j < 6; j++ {
			want := (4*float64(i) + 1.5) + 10*(4*float64(j)+1.5)
			if got := y[i*8+j]; math.Abs(got-want) > 1e-12 {
				t.Errorf("y[%d,%d] = %v, want %v", i, j, got, want)
			}
		}
	}
	if got := op.OutShape(); got != (operator.Shape{C: 1, H: 8, W: 8}) {
		t.Errorf("OutShape = %v", got)
	}
}

func TestPool(t *testing.T) {
	op, err := operator.NewPool(operator.Shape{C: 1, H: 4, W: 6}, 2)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, 24)
	for i := range x {
		x[i] = float64(i)
	}
	y := make([]float64, 6)
	op.Apply(y, x)
	// Block (0,0) = {0, 1, 6, 7} → 3.5; each block right adds 2, down 12.
	want := []float64{3.5, 5.5, 7.5, 15.5, 17.5, 19.5}
	if !floats.EqualApprox(y, want, 1e-14) {
		t.Errorf("pool = %v, want %v", y, want)
	}
}

func TestGaussianKernel(t *testing.T) {
	for _, tc := range []struct {
		k     int
		sigma float64
	}{{1, 1}, {3, 0.5}, {5, 1}, {61, 3}, {15, 0.75}} {
		K := operator.GaussianKernel(tc.k, tc.sigma)
		if s := floats.Sum(K); math.Abs(s-1) > 1e-14 {
			t.Errorf("k=%d σ=%v: sum %v", tc.k, tc.sigma, s)
		}
		c := float64(tc.k-1) / 2
		z := 0.0
		for u := range tc.k {
			for v := range tc.k {
				du, dv := float64(u)-c, float64(v)-c
				z += math.Exp(-(du*du + dv*dv) / (2 * tc.sigma * tc.sigma))
			}
		}
		for u := range tc.k {
			for v := range tc.k {
				du, dv := float64(u)-c, float64(v)-c
				want := math.Exp(-(du*du+dv*dv)/(2*tc.sigma*tc.sigma)) / z
				if got := K[u*tc.k+v]; math.Abs(got-want) > 1e-15 {
					t.Fatalf("k=%d σ=%v: K[%d,%d] = %v, want %v", tc.k, tc.sigma, u, v, got, want)
				}
			}
		}
	}
	// Closed form at one point: k = 3, σ = 1: K[0,0] = e⁻¹/(1 + 2e^{−1/2})².
	K := operator.GaussianKernel(3, 1)
	if want := math.Exp(-1) / math.Pow(1+2*math.Exp(-0.5), 2); math.Abs(K[0]-want) > 1e-16 {
		t.Errorf("K[0,0] = %v, want %v", K[0], want)
	}
}

func TestMotionKernel(t *testing.T) {
	for _, k := range []int{5, 15, 61} {
		K := operator.MotionKernel(k, 0.5, rand.New(rand.NewPCG(7, uint64(k))))
		if len(K) != k*k {
			t.Fatalf("k=%d: %d entries", k, len(K))
		}
		if s := floats.Sum(K); math.Abs(s-1) > 1e-12 {
			t.Errorf("k=%d: sum %v", k, s)
		}
		if m := floats.Min(K); m < 0 {
			t.Errorf("k=%d: negative entry %v", k, m)
		}
		again := operator.MotionKernel(k, 0.5, rand.New(rand.NewPCG(7, uint64(k))))
		if !slices.Equal(K, again) {
			t.Errorf("k=%d: not reproducible for a seed", k)
		}
		other := operator.MotionKernel(k, 0.5, rand.New(rand.NewPCG(8, uint64(k))))
		if slices.Equal(K, other) {
			t.Errorf("k=%d: same kernel for different seeds", k)
		}
	}
	// A motion kernel is spread out: at 61 px its largest entry is small.
	K := operator.MotionKernel(61, 0.5, rand.New(rand.NewPCG(1, 1)))
	if m := floats.Max(K); m > 0.2 {
		t.Errorf("max entry %v: kernel is not spread", m)
	}
	// Intensity 0 and 1 work.
	for _, in := range []float64{0, 1} {
		K := operator.MotionKernel(31, in, rand.New(rand.NewPCG(2, 2)))
		if s := floats.Sum(K); math.Abs(s-1) > 1e-12 {
			t.Errorf("intensity %v: sum %v", in, s)
		}
	}
}

// TestConvIsCircularConvolution compares Apply with the defining sum
// (A x)[p, q] = Σ K[u, v] x[(p − u + c) mod H, (q − v + c) mod W].
func TestConvIsCircularConvolution(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	shape := operator.Shape{C: 2, H: 9, W: 12}
	k := 5
	K := randn(k*k, rng)
	op, err := operator.NewConv(shape, K, k)
	if err != nil {
		t.Fatal(err)
	}
	x := randn(shape.Len(), rng)
	got := make([]float64, shape.Len())
	op.Apply(got, x)
	c := (k - 1) / 2
	H, W := shape.H, shape.W
	for ch := range shape.C {
		for p := range H {
			for q := range W {
				want := 0.0
				for u := range k {
					for v := range k {
						want += K[u*k+v] * x[ch*H*W+((p-u+c+H)%H)*W+(q-v+c+W)%W]
					}
				}
				if g := got[ch*H*W+p*W+q]; math.Abs(g-want) > 1e-13 {
					t.Fatalf("(%d,%d,%d): got %v, want %v", ch, p, q, g, want)
				}
			}
		}
	}
	// A point source is spread into K.
	x = make([]float64, shape.Len())
	x[4*W+6] = 1
	op.Apply(got, x)
	for u := range k {
		for v := range k {
			if g := got[(4+u-c)*W+6+v-c]; math.Abs(g-K[u*k+v]) > 1e-14 {
				t.Errorf("PSF (%d,%d): %v, want %v", u, v, g, K[u*k+v])
			}
		}
	}
}

// The Gaussian blur's SVD methods come from a Separable operator; its Apply
// from the FFT. Both must be the same matrix.
func TestGaussianBlurSeparable(t *testing.T) {
	shape := operator.Shape{C: 2, H: 10, W: 14}
	op, err := operator.NewGaussianBlur(shape, 7, 1.3)
	if err != nil {
		t.Fatal(err)
	}
	g := operator.GaussianKernel1D(7, 1.3)
	sep, err := operator.NewSeparable(shape, operator.CirculantMatrix(10, g), operator.CirculantMatrix(14, g))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(9, 9))
	x := randn(shape.Len(), rng)
	a, b := make([]float64, shape.Len()), make([]float64, shape.Len())
	op.Apply(a, x)
	sep.Apply(b, x)
	if !floats.EqualApprox(a, b, 1e-14) {
		t.Error("FFT and separable Gaussian blur differ")
	}
}

func TestMask(t *testing.T) {
	shape := operator.Shape{C: 2, H: 4, W: 5}
	op, err := operator.BoxMask(shape, 2, 3, 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	m, d := op.Dims()
	if d != 40 || m != 40-2*6 {
		t.Fatalf("Dims = %d, %d", m, d)
	}
	x := make([]float64, d)
	for i := range x {
		x[i] = float64(i)
	}
	y := make([]float64, m)
	op.Apply(y, x)
	var want []float64
	for c := range 2 {
		for i := range 4 {
			for j := range 5 {
				if !(i >= 1 && i < 3 && j >= 2 && j < 5) {
					want = append(want, float64((c*4+i)*5+j))
				}
			}
		}
	}
	if !slices.Equal(y, want) {
		t.Errorf("Apply = %v, want %v", y, want)
	}

	big := operator.Shape{C: 3, H: 20, W: 10}
	rm, err := operator.RandomMask(big, 0.7, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	keep := rm.Keep()
	missing := 0
	for p := range 200 {
		if !keep[p] {
			missing++
		}
		for c := 1; c < 3; c++ {
			if keep[c*200+p] != keep[p] {
				t.Fatalf("pixel %d differs across channels", p)
			}
		}
	}
	if missing != 140 {
		t.Errorf("%d pixels missing, want 140", missing)
	}
}

func TestConstructorErrors(t *testing.T) {
	s := operator.Shape{C: 1, H: 8, W: 6}
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"dense-len", second(operator.NewDense(2, 3, make([]float64, 5)))},
		{"dense-nan", second(operator.NewDense(1, 1, []float64{math.NaN()}))},
		{"mask-len", second(operator.NewMask(s, make([]bool, 3)))},
		{"mask-empty", second(operator.NewMask(s, make([]bool, 48)))},
		{"box-outside", second(operator.BoxMask(s, 4, 4, 5, 0))},
		{"box-all", second(operator.BoxMask(s, 8, 6, 0, 0))},
		{"random-1", second(operator.RandomMask(s, 1, rng))},
		{"random-neg", second(operator.RandomMask(s, -0.1, rng))},
		{"bicubic-div", second(operator.NewBicubicDown(s, 4))},
		{"pool-zero", second(operator.NewPool(s, 0))},
		{"conv-even", second(operator.NewConv(s, make([]float64, 4), 2))},
		{"conv-large", second(operator.NewConv(s, make([]float64, 49), 7))},
		{"conv-inf", second(operator.NewConv(s, []float64{math.Inf(1), 0, 0, 0, 0, 0, 0, 0, 0}, 3))},
		{"conv-zero", second(operator.NewConv(s, make([]float64, 9), 3))},
		{"gauss-sigma", second(operator.NewGaussianBlur(s, 3, 0))},
		{"shape", second(operator.NewPool(operator.Shape{C: 0, H: 4, W: 4}, 2))},
	} {
		if tc.err == nil {
			t.Errorf("%s: no error", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, tc.err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// Operators are used by many goroutines at once; results must not depend
// on it. Run with -race.
func TestConcurrentUse(t *testing.T) {
	s := operator.Shape{C: 3, H: 16, W: 16}
	bic, _ := operator.NewBicubicDown(s, 4)
	gb, _ := operator.NewGaussianBlur(s, 5, 1)
	dn, _ := operator.NewDense(4, 40, randn(160, rand.New(rand.NewPCG(1, 1))))
	for _, op := range []operator.Operator{bic, gb, dn} {
		_, d := op.Dims()
		v := randn(d, rand.New(rand.NewPCG(2, 2)))
		want := make([]float64, d)
		op.SolveShifted(want, 0.5, 3, v)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got := make([]float64, d)
				for range 20 {
					op.SolveShifted(got, 0.5, 3, v)
					if !slices.Equal(got, want) {
						t.Error("concurrent SolveShifted differs")
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

// The Dense SolveShifted is on the hot path of the GMM benchmarks.
func TestDenseSolveShiftedNoAlloc(t *testing.T) {
	op, err := operator.NewDense(4, 800, randn(3200, rand.New(rand.NewPCG(1, 1))))
	if err != nil {
		t.Fatal(err)
	}
	v, x := randn(800, rand.New(rand.NewPCG(2, 2))), make([]float64, 800)
	if n := testing.AllocsPerRun(100, func() { op.SolveShifted(x, 0.1, 400, v) }); n != 0 {
		t.Errorf("%v allocations per SolveShifted", n)
	}
}
