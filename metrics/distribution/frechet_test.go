package distribution

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func sym(n int, v ...float64) *mat.SymDense { return mat.NewSymDense(n, v) }

// rotate returns R diag(l) Rᵀ for the rotation R by θ in the (0, 1) plane of ℝ³.
func rotate(theta float64, l [3]float64) *mat.SymDense {
	c, s := math.Cos(theta), math.Sin(theta)
	r := mat.NewDense(3, 3, []float64{c, -s, 0, s, c, 0, 0, 0, 1})
	var m mat.Dense
	m.Mul(r, mat.NewDiagDense(3, l[:]))
	m.Mul(&m, r.T())
	out := mat.NewSymDense(3, nil)
	for i := 0; i < 3; i++ {
		for j := i; j < 3; j++ {
			out.SetSym(i, j, (m.At(i, j)+m.At(j, i))/2)
		}
	}
	return out
}

func TestFrechetGaussian(t *testing.T) {
	for _, tc := range []struct {
		name      string
		mu1       []float64
		cov1      *mat.SymDense
		mu2       []float64
		cov2      *mat.SymDense
		want, tol float64
	}{
		// 1-D: (μ₁ − μ₂)² + (σ₁ − σ₂)² = (1 − 3)² + (2 − 3)² = 5.
		{"1-D", []float64{1}, sym(1, 4), []float64{3}, sym(1, 9), 5, 1e-12},
		// Diagonal: ‖Δμ‖² + Σᵢ (√aᵢ − √bᵢ)² = 1 + 1 + (1 − 2)² + (3 − 1)² + (0.5 − 0.5)² = 7.
		{"diagonal", []float64{0, 1, 2}, sym(3, 1, 0, 0, 0, 9, 0, 0, 0, 0.25),
			[]float64{1, 1, 1}, sym(3, 4, 0, 0, 0, 1, 0, 0, 0, 0.25), 7, 1e-12},
		// Commuting (common eigenvectors): as diagonal with the eigenvalues,
		// Σ (√aᵢ − √bᵢ)² = (1 − 2)² + (3 − 1)² + (2 − 0.5)² = 7.25.
		{"commuting", []float64{0, 0, 0}, rotate(0.7, [3]float64{1, 9, 4}),
			[]float64{0, 0, 0}, rotate(0.7, [3]float64{4, 1, 0.25}), 7.25, 1e-12},
		// Singular, not commuting: Σ₁ = diag(1, 0), Σ₂ = [[4, 1], [1, 3]].
		// Σ₁^{1/2} Σ₂ Σ₁^{1/2} = diag(4, 0), so d² = 1 + 7 − 2·2 = 4.
		{"singular", []float64{0, 0}, sym(2, 1, 0, 0, 0), []float64{0, 0}, sym(2, 4, 1, 1, 3), 4, 1e-12},
		// Identical Gaussians.
		{"equal", []float64{1, 2}, sym(2, 2, 0.5, 0.5, 1), []float64{1, 2}, sym(2, 2, 0.5, 0.5, 1), 0, 1e-12},
		// General 3×3 reference from pytorch-fid's formula with scipy 1.10.1
		// (numpy 1.24.2, Debian bookworm):
		//   /usr/bin/python3 metrics/distribution/testdata/frechet_ref.py
		// computes d@d + tr(A) + tr(B) − 2 tr(sqrtm(A @ B)).real.
		{"scipy sqrtm", []float64{0, 1, 2}, sym(3, 2, 0.5, 0.1, 0.5, 1.5, 0.3, 0.1, 0.3, 1),
			[]float64{0.5, 0.5, 0.5}, sym(3, 1, -0.4, 0.2, -0.4, 2, 0.5, 0.2, 0.5, 0.8),
			3.2968977816251606, 1e-10},
	} {
		for _, swap := range []bool{false, true} {
			mu1, cov1, mu2, cov2 := tc.mu1, tc.cov1, tc.mu2, tc.cov2
			if swap { // the distance is symmetric
				mu1, cov1, mu2, cov2 = mu2, cov2, mu1, cov1
			}
			got, err := FrechetGaussian(mu1, cov1, mu2, cov2)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			if math.Abs(got-tc.want) > tc.tol {
				t.Errorf("%s (swapped %v): FrechetGaussian = %.15g, want %.15g", tc.name, swap, got, tc.want)
			}
		}
	}
}

func TestFrechetGaussianErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		mu1  []float64
		cov1 *mat.SymDense
		mu2  []float64
		cov2 *mat.SymDense
	}{
		{"mean length", []float64{0}, sym(2, 1, 0, 0, 1), []float64{0, 0}, sym(2, 1, 0, 0, 1)},
		{"covariance size", []float64{0, 0}, sym(1, 1), []float64{0, 0}, sym(2, 1, 0, 0, 1)},
		{"empty", nil, sym(1, 1), nil, sym(1, 1)},
		{"not PSD", []float64{0, 0}, sym(2, 1, 0, 0, -1), []float64{0, 0}, sym(2, 1, 0, 0, 1)},
	} {
		if _, err := FrechetGaussian(tc.mu1, tc.cov1, tc.mu2, tc.cov2); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// TestFrechetSmall checks the sample moments on sets worked by hand:
// a = {0, 2}: mean 1, unbiased variance 2; b = {1, 1, 4}: mean 2, variance
// (1 + 1 + 4)/2 = 3; d² = (1 − 2)² + (√2 − √3)².
func TestFrechetSmall(t *testing.T) {
	got, err := Frechet([][]float64{{0}, {2}}, [][]float64{{1}, {1}, {4}})
	if err != nil {
		t.Fatal(err)
	}
	want := 1 + math.Pow(math.Sqrt2-math.Sqrt(3), 2)
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("Frechet = %v, want %v", got, want)
	}
}

// TestFrechetSamples draws n points from each of two Gaussians in ℝ³ and
// compares Frechet with the exact FrechetGaussian. The sample mean errs by
// about √(tr Σ/n) ≈ 0.013 per set and the covariance entries by about
// ‖Σ‖ √(2/n) ≈ 0.04, so d² ≈ 3.3 is known to a few hundredths; the test
// allows 0.15.
func TestFrechetSamples(t *testing.T) {
	const n = 20000
	mu1, mu2 := []float64{0, 1, 2}, []float64{0.5, 0.5, 0.5}
	cov1 := sym(3, 2, 0.5, 0.1, 0.5, 1.5, 0.3, 0.1, 0.3, 1)
	cov2 := rotate(0.4, [3]float64{4, 1, 0.25})
	rng := rand.New(rand.NewPCG(3, 4))
	draw := func(mu []float64, cov *mat.SymDense) [][]float64 {
		var ch mat.Cholesky
		if !ch.Factorize(cov) {
			t.Fatal("covariance not positive definite")
		}
		var l mat.TriDense
		ch.LTo(&l)
		x := make([][]float64, n)
		z := mat.NewVecDense(3, nil)
		var v mat.VecDense
		for i := range x {
			for j := 0; j < 3; j++ {
				z.SetVec(j, rng.NormFloat64())
			}
			v.MulVec(&l, z)
			x[i] = []float64{mu[0] + v.AtVec(0), mu[1] + v.AtVec(1), mu[2] + v.AtVec(2)}
		}
		return x
	}
	want, err := FrechetGaussian(mu1, cov1, mu2, cov2)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Frechet(draw(mu1, cov1), draw(mu2, cov2))
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 0.15 {
		t.Errorf("Frechet of %d samples = %v, want %v ± 0.15", n, got, want)
	}
	t.Logf("Frechet of samples %v, exact %v", got, want)
}

func TestFrechetErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		a, b [][]float64
	}{
		{"one point", [][]float64{{0}}, [][]float64{{0}, {1}}},
		{"dimension mismatch", [][]float64{{0}, {1}}, [][]float64{{0, 1}, {1, 1}}},
		{"ragged", [][]float64{{0, 1}, {1}}, [][]float64{{0, 1}, {1, 1}}},
		{"zero dimension", [][]float64{{}, {}}, [][]float64{{}, {}}},
	} {
		if _, err := Frechet(tc.a, tc.b); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// With fewer points than dimensions Frechet takes the nuclear-norm path.
// The references are the same distances computed from these very sets by
// mpmath at 40 digits (eigendecompositions of the covariances, as in
// FrechetGaussian's formula): the nuclear-norm path meets them to 1e-15;
// the eigendecomposition path in float64 to 2e-8 where a covariance is
// rank-deficient (the square roots of its round-off eigenvalues), which is
// why Frechet avoids it there. Sets smaller and larger than d (the latter
// by calling the path directly).
func TestFrechetFewPoints(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	set := func(n, d int, shift float64) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = make([]float64, d)
			for j := range x[i] {
				x[i][j] = rng.NormFloat64()*(1+float64(j%3)) + shift
			}
		}
		return x
	}
	for _, tc := range []struct {
		n1, n2, d int
		mp        float64
	}{{5, 7, 12, 73.50735098463812}, {2, 2, 3, 7.781583403032688}, {30, 40, 12, 12.089769692386382}, {9, 3, 40, 359.0798578772575}} {
		a, b := set(tc.n1, tc.d, 0), set(tc.n2, tc.d, 0.3)
		got, err := frechetFew(a, b, tc.d)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-tc.mp) > 1e-13*tc.mp {
			t.Errorf("%+v: nuclear-norm path %v", tc, got)
		}
		mu1, cov1 := moments(a, tc.d)
		mu2, cov2 := moments(b, tc.d)
		eig, err := FrechetGaussian(mu1, cov1, mu2, cov2)
		if err != nil || math.Abs(eig-tc.mp) > 5e-8*tc.mp {
			t.Errorf("%+v: eigendecomposition path %v (%v)", tc, eig, err)
		}
		via, err := Frechet(a, b)
		if err != nil || math.Abs(via-tc.mp) > 5e-8*tc.mp {
			t.Errorf("%+v: Frechet %v (%v)", tc, via, err)
		}
	}
}
