package fidelity

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fromUnit maps [0, 1] values to the harness's [-1, 1].
func fromUnit(u ...float64) []float64 {
	x := make([]float64, len(u))
	for i, v := range u {
		x[i] = 2*v - 1
	}
	return x
}

// TestCRPSHand checks cases worked by hand, on [0, 1] values, both from the
// energy form and from CRPS = ∫ (F̂(z) − 1{z ≥ y})² dz.
func TestCRPSHand(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples [][]float64
		truth   []float64
		want    float64
	}{
		// One sample: the spread term vanishes, CRPS = MAE.
		// |0.5 − 1| = 0.5, |0.75 − 0| = 0.75 → 0.625.
		{"one sample = MAE", [][]float64{fromUnit(0.5, 0.75)}, fromUnit(1, 0), 0.625},
		// Samples 0.2, 0.6, truth 0.5: (0.3 + 0.1)/2 − 2·0.4/(2·4) = 0.2 − 0.1.
		// Integral: 0.5²·0.3 + 0.5²·0.1 = 0.1.
		{"two samples", [][]float64{fromUnit(0.2), fromUnit(0.6)}, fromUnit(0.5), 0.1},
		// Samples 0.1, 0.2, 0.4, truth 0.9: (0.8 + 0.7 + 0.5)/3 − 2·0.6/(2·9)
		// = 2/3 − 1/15 = 0.6. Integral: (1/3)²·0.1 + (2/3)²·0.2 + 1²·0.5 = 0.6.
		{"three samples", [][]float64{fromUnit(0.4), fromUnit(0.1), fromUnit(0.2)}, fromUnit(0.9), 0.6},
		// Mean over pixels of the last two cases.
		{"two pixels", [][]float64{fromUnit(0.2, 0.4), fromUnit(0.6, 0.1), fromUnit(0.6, 0.2)},
			fromUnit(0.5, 0.9),
			// pixel 1: samples 0.2, 0.6, 0.6, truth 0.5: (0.3+0.1+0.1)/3 − 2·0.8/18 = 1/6 − 4/45.
			((1.0/6 - 4.0/45) + 0.6) / 2},
		// Clamping: samples 3 and −2 become 1 and 0, truth 1.5 becomes 1:
		// (0 + 1)/2 − 2·1/8 = 0.25.
		{"clamped", [][]float64{{3}, {-2}}, []float64{1.5}, 0.25},
		{"exact", [][]float64{{0.3}, {0.3}}, []float64{0.3}, 0},
	} {
		got, err := CRPS(tc.samples, tc.truth)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: CRPS = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestCRPSGaussian compares the CRPS of n samples from N(μ, s²) with the
// closed form for the Gaussian (Gneiting et al. 2005, eq. 5)
//
//	CRPS(N(μ, s²), y) = s [z(2Φ(z) − 1) + 2φ(z) − 1/√π],  z = (y − μ)/s.
//
// Tolerance. The estimator's expectation is the closed form plus
// E|X − X′|/(2n) = s/(n√π), which is added. Its fluctuation is, to leading
// order, the mean of h(Xᵢ) = |Xᵢ − y| − E|Xᵢ − X′| over the n samples, and the
// Gaussian Poincaré inequality gives Var h(X) ≤ s² E[h′(X)²]
// = s² (4/3 − 4Φ(z)(1 − Φ(z))) ≤ (4/3) s². Averaged over P independent
// pixels the standard deviation is at most s √(4/(3nP)); the test allows 5 of
// them. With μ = 0.5, s = 0.1 on [0, 1] the clamping at 0 and 1 is 5s away
// and changes nothing at this tolerance.
func TestCRPSGaussian(t *testing.T) {
	const (
		n  = 100000
		mu = 0.5
		s  = 0.1
	)
	ys := []float64{0.5, 0.55, 0.3, 0.7, 0.65, 0.45, 0.62, 0.38}
	P := len(ys)
	rng := rand.New(rand.NewPCG(1, 2))
	samples := make([][]float64, n)
	for i := range samples {
		u := make([]float64, P)
		for p := range u {
			u[p] = mu + s*rng.NormFloat64()
		}
		samples[i] = fromUnit(u...)
	}
	got, err := CRPS(samples, fromUnit(ys...))
	if err != nil {
		t.Fatal(err)
	}
	want := 0.0
	for _, y := range ys {
		z := (y - mu) / s
		Phi := 0.5 * math.Erfc(-z/math.Sqrt2)
		phi := math.Exp(-z*z/2) / math.Sqrt(2*math.Pi)
		want += s * (z*(2*Phi-1) + 2*phi - 1/math.Sqrt(math.Pi))
	}
	want /= float64(P)
	want += s / (n * math.Sqrt(math.Pi)) // bias of the plug-in estimator
	tol := 5 * s * math.Sqrt(4/(3*float64(n*P)))
	if math.Abs(got-want) > tol {
		t.Errorf("CRPS of %d Gaussian samples = %v, want %v ± %v", n, got, want, tol)
	}
}

func TestCRPSErrors(t *testing.T) {
	for _, tc := range []struct {
		name    string
		samples [][]float64
		truth   []float64
	}{
		{"no samples", nil, []float64{0}},
		{"no pixels", [][]float64{{}}, nil},
		{"length mismatch", [][]float64{{0, 0}, {0}}, []float64{0, 0}},
	} {
		if _, err := CRPS(tc.samples, tc.truth); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
