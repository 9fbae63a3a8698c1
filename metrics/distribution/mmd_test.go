package distribution

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestMMD2Hand checks the unbiased estimator on tiny 1-D sets worked by
// hand from
//
//	MMD²ᵤ = Σ_{i≠j} k(aᵢ,aⱼ)/(m(m−1)) + Σ_{i≠j} k(bᵢ,bⱼ)/(n(n−1)) − 2 Σᵢⱼ k(aᵢ,bⱼ)/(mn).
func TestMMD2Hand(t *testing.T) {
	e := math.Exp
	for _, tc := range []struct {
		name string
		a, b [][]float64
		k    Kernel
		want float64
	}{
		// Linear k(x, y) = xy, a = {0, 1}, b = {2, 3}:
		// 2·0/2 + 2·6/2 − 2·(0 + 0 + 2 + 3)/4 = 0 + 6 − 2.5.
		{"linear", [][]float64{{0}, {1}}, [][]float64{{2}, {3}}, Polynomial{Degree: 1, Scale: 1}, 3.5},
		// Cubic k(x, y) = (xy + 1)³ (KID's kernel, d = 1), a = {0, 1}, b = {1, 2}:
		// k(0,1) = 1, k(1,2) = 27, cross 1 + 1 + 8 + 27 = 37: 1 + 27 − 2·37/4.
		{"cubic", [][]float64{{0}, {1}}, [][]float64{{1}, {2}}, Polynomial{Degree: 3, Scale: 1, Offset: 1}, 9.5},
		// Gaussian h = 1, a = {0, 1}, b = {0, 2}: e^{−1/2} + e^{−2}
		// − (2/4)(1 + e^{−2} + e^{−1/2} + e^{−1/2}) = e^{−2}/2 − 1/2 (negative: unbiased).
		{"gaussian", [][]float64{{0}, {1}}, [][]float64{{0}, {2}}, Gaussian{Bandwidth: 1}, e(-2)/2 - 0.5},
		// Gaussian h = 2 in 2-D, a = {(0,0), (1,1)}, b = {(0,0), (0,0), (2,0)}:
		// within a: e^{−2/8}; within b: (1 + e^{−4/8} + e^{−4/8})·2/6;
		// cross: (2 + e^{−4/8} + 2e^{−2/8} + e^{−2/8})·2/6.
		{"gaussian 2-D", [][]float64{{0, 0}, {1, 1}}, [][]float64{{0, 0}, {0, 0}, {2, 0}}, Gaussian{Bandwidth: 2},
			e(-0.25) + (1+2*e(-0.5))/3 - (2+e(-0.5)+3*e(-0.25))/3},
	} {
		got, err := MMD2(tc.a, tc.b, tc.k)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: MMD2 = %.15g, want %.15g", tc.name, got, tc.want)
		}
	}
}

// TestKIDHand: with one subset holding every point the subset is the whole
// set whatever rng draws, so KID is the cubic-kernel MMD2 worked by hand in
// TestMMD2Hand, with standard deviation zero.
func TestKIDHand(t *testing.T) {
	mean, std, err := KID([][]float64{{0}, {1}}, [][]float64{{1}, {2}}, 1, 2, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(mean-9.5) > 1e-12 || std != 0 {
		t.Errorf("KID = %v ± %v, want 9.5 ± 0", mean, std)
	}
}

func gaussianCloud(rng *rand.Rand, n, d int, shift float64) [][]float64 {
	x := make([][]float64, n)
	for i := range x {
		x[i] = make([]float64, d)
		for j := range x[i] {
			x[i][j] = shift + rng.NormFloat64()
		}
	}
	return x
}

// TestKIDMatchesMMD2: KID on full-size subsets equals MMD2 with
// Polynomial{3, 1/d, 1}, whatever order the subset is drawn in.
func TestKIDMatchesMMD2(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const d = 7
	a, b := gaussianCloud(rng, 30, d, 0), gaussianCloud(rng, 30, d, 0.3)
	want, err := MMD2(a, b, Polynomial{Degree: 3, Scale: 1.0 / d, Offset: 1})
	if err != nil {
		t.Fatal(err)
	}
	mean, std, err := KID(a, b, 3, 30, rng)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(mean-want) > 1e-9*math.Abs(want) || std > 1e-9*math.Abs(want) {
		t.Errorf("KID = %v ± %v, want MMD2 = %v ± 0", mean, std, want)
	}
}

// TestSameAndShifted: for two sets from one distribution the estimators
// are near zero relative to their spread; after a shift of the mean they
// are clearly positive.
func TestSameAndShifted(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const d, n = 8, 400
	a := gaussianCloud(rng, n, d, 0)
	same := gaussianCloud(rng, n, d, 0)
	shifted := gaussianCloud(rng, n, d, 0.5)

	m0, s0, err := KID(a, same, 50, 200, rng)
	if err != nil {
		t.Fatal(err)
	}
	m1, s1, err := KID(a, shifted, 50, 200, rng)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("KID same %v ± %v, shifted %v ± %v", m0, s0, m1, s1)
	// Subsets overlap, so the mean over them varies less than one subset's
	// value (std) but is not averaged down by √subsets.
	if math.Abs(m0) > s0 {
		t.Errorf("KID of one distribution = %v ± %v: not near zero", m0, s0)
	}
	if m1 < 5*s1 {
		t.Errorf("KID of shifted sets = %v ± %v: not clearly positive", m1, s1)
	}

	h, err := MedianBandwidth(a, same)
	if err != nil {
		t.Fatal(err)
	}
	k := Gaussian{Bandwidth: h}
	g0, err := MMD2(a, same, k)
	if err != nil {
		t.Fatal(err)
	}
	g1, err := MMD2(a, shifted, k)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Gaussian MMD² (h = %v) same %v, shifted %v", h, g0, g1)
	if math.Abs(g0) > g1/10 || g1 <= 0 {
		t.Errorf("Gaussian MMD²: same %v, shifted %v", g0, g1)
	}
}

func TestMedianBandwidth(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b [][]float64
		want float64
	}{
		// Distances among {0, 1, 3}: 1, 3, 2 → median 2.
		{"odd", [][]float64{{0}, {1}}, [][]float64{{3}}, 2},
		// Distances among {0, 1, 3, 7}: 1, 3, 7, 2, 6, 4 → (3 + 4)/2.
		{"even", [][]float64{{0}, {1}}, [][]float64{{3}, {7}}, 3.5},
		// 3-4-5 triangle in 2-D: 3, 4, 5 → 4.
		{"2-D", [][]float64{{0, 0}, {3, 0}}, [][]float64{{0, 4}}, 4},
	} {
		got, err := MedianBandwidth(tc.a, tc.b)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: MedianBandwidth = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		a, b [][]float64
	}{
		{"one point", [][]float64{{0}}, nil},
		{"coincident", [][]float64{{1}, {1}}, [][]float64{{1}}},
		{"dimension mismatch", [][]float64{{1}, {2}}, [][]float64{{1, 2}}},
	} {
		if _, err := MedianBandwidth(tc.a, tc.b); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func TestMMDErrors(t *testing.T) {
	two := [][]float64{{0}, {1}}
	for _, tc := range []struct {
		name string
		a, b [][]float64
		k    Kernel
	}{
		{"one point", [][]float64{{0}}, two, Gaussian{Bandwidth: 1}},
		{"dimension mismatch", two, [][]float64{{0, 1}, {1, 1}}, Gaussian{Bandwidth: 1}},
		{"zero bandwidth", two, two, Gaussian{}},
		{"NaN bandwidth", two, two, Gaussian{Bandwidth: math.NaN()}},
		{"degree 0", two, two, Polynomial{}},
		{"nil kernel", two, two, nil},
	} {
		if _, err := MMD2(tc.a, tc.b, tc.k); err == nil {
			t.Errorf("MMD2 %s: no error", tc.name)
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	three := [][]float64{{0}, {1}, {2}}
	for _, tc := range []struct {
		name          string
		a, b          [][]float64
		subsets, size int
		rng           *rand.Rand
	}{
		{"subset too large", three, two, 1, 3, rng},
		{"subset too small", three, two, 1, 1, rng},
		{"no subsets", three, two, 0, 2, rng},
		{"nil rng", three, two, 1, 2, nil},
		{"dimension mismatch", three, [][]float64{{0, 1}, {1, 1}}, 1, 2, rng},
		{"one point", [][]float64{{0}}, two, 1, 1, rng},
	} {
		if _, _, err := KID(tc.a, tc.b, tc.subsets, tc.size, tc.rng); err == nil {
			t.Errorf("KID %s: no error", tc.name)
		}
	}
}
