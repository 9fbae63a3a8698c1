package gmm

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ipbench/ipbench/harness/operator"
)

// testMixture returns a K-component mixture in ℝᵈ, isotropic (with two
// distinct variances) or with random full covariances.
func testMixture(t *testing.T, rng *rand.Rand, k, d int, full bool) *Mixture {
	t.Helper()
	w := make([]float64, k)
	means := make([][]float64, k)
	for i := range w {
		w[i] = 0.2 + rng.Float64()
		means[i] = randVec(rng, d, 2)
	}
	floats.Scale(1/floats.Sum(w), w)
	if !full {
		vars := make([]float64, k)
		for i := range vars {
			vars[i] = 0.3 + 0.4*float64(i%2)
		}
		m, err := NewIsotropic(w, means, vars)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	covs := make([][][]float64, k)
	for i := range covs {
		g := mat.NewDense(d, d, randVec(rng, d*d, 1))
		var c mat.Dense
		c.Mul(g, g.T())
		covs[i] = make([][]float64, d)
		for r := range covs[i] {
			covs[i][r] = make([]float64, d)
			for s := range covs[i][r] {
				covs[i][r][s] = c.At(r, s) / float64(d)
				if r == s {
					covs[i][r][s] += 0.1
				}
			}
		}
	}
	m, err := NewFull(w, means, covs)
	if err != nil {
		t.Fatal(err)
	}
	if m.full == nil {
		t.Fatal("random covariances taken for isotropic")
	}
	return m
}

func randVec(rng *rand.Rand, n int, scale float64) []float64 {
	v := make([]float64, n)
	for i := range v {
		v[i] = scale * rng.NormFloat64()
	}
	return v
}

func randDense(t *testing.T, rng *rand.Rand, m, d int) *operator.Dense {
	t.Helper()
	op, err := operator.NewDense(m, d, randVec(rng, m*d, 1))
	if err != nil {
		t.Fatal(err)
	}
	return op
}

// cov returns Cₖ as a dense matrix.
func (m *Mixture) cov(k int) *mat.SymDense {
	if m.full != nil {
		return m.full[k].cov
	}
	c := mat.NewSymDense(m.d, nil)
	for i := 0; i < m.d; i++ {
		c.SetSym(i, i, m.vars[k])
	}
	return c
}

// logGauss returns log N(x; μ, S) by Cholesky, independently of the package.
func logGauss(t *testing.T, x, mu []float64, s *mat.SymDense) float64 {
	var ch mat.Cholesky
	if !ch.Factorize(s) {
		t.Fatal("covariance not positive definite")
	}
	diff := make([]float64, len(x))
	floats.SubTo(diff, x, mu)
	z := mat.NewVecDense(len(x), nil)
	if err := ch.SolveVecTo(z, mat.NewVecDense(len(x), diff)); err != nil {
		t.Fatal(err)
	}
	return -0.5*floats.Dot(diff, z.RawVector().Data) - 0.5*ch.LogDet() - 0.5*float64(len(x))*math.Log(2*math.Pi)
}

// logDensity returns log p_σ(x) of the mixture noised to σ.
func logDensity(t *testing.T, m *Mixture, x []float64, sigma float64) float64 {
	l := make([]float64, m.Len())
	for k := range l {
		var s mat.SymDense
		s.AddSym(m.cov(k), scaledIdentity(m.d, sigma*sigma))
		l[k] = math.Log(m.w[k]) + logGauss(t, x, m.means[k], &s)
	}
	return softmax(l)
}

func scaledIdentity(d int, v float64) *mat.SymDense {
	s := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		s.SetSym(i, i, v)
	}
	return s
}

// Tweedie: D(x; σ) = x + σ² ∇ log p_σ(x); the gradient by central
// differences of the log-density, computed without the package's code.
func TestDenoiserTweedie(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct {
		name    string
		full    bool
		k, d    int
		sigma   float64
		spreadX float64
	}{
		{"isotropic small σ", false, 4, 5, 0.3, 2},
		{"isotropic large σ", false, 4, 5, 10, 10},
		{"full small σ", true, 3, 4, 0.5, 2},
		{"full large σ", true, 3, 4, 8, 8},
	} {
		m := testMixture(t, rng, tc.k, tc.d, tc.full)
		dn := m.NewDenoiser()
		for trial := 0; trial < 5; trial++ {
			x := randVec(rng, tc.d, tc.spreadX)
			got := make([]float64, tc.d)
			dn.Denoise(got, x, tc.sigma)
			h := 1e-5 * math.Max(1, tc.sigma)
			for i := 0; i < tc.d; i++ {
				xp, xm := append([]float64(nil), x...), append([]float64(nil), x...)
				xp[i] += h
				xm[i] -= h
				grad := (logDensity(t, m, xp, tc.sigma) - logDensity(t, m, xm, tc.sigma)) / (2 * h)
				want := x[i] + tc.sigma*tc.sigma*grad
				if math.Abs(got[i]-want) > 1e-5*(1+math.Abs(want)) {
					t.Errorf("%s: D(x)[%d] = %v, Tweedie %v", tc.name, i, got[i], want)
				}
			}
		}
	}
}

// The VJP against central differences of D: (Jᵀv)ᵢ = Σⱼ vⱼ ∂Dⱼ/∂xᵢ.
func TestDenoiserVJP(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	for _, full := range []bool{false, true} {
		for _, sigma := range []float64{0.2, 1, 20} {
			m := testMixture(t, rng, 4, 5, full)
			dn := m.NewDenoiser()
			x, v := randVec(rng, 5, 2+sigma/2), randVec(rng, 5, 1)
			got := make([]float64, 5)
			dn.VJP(got, x, sigma, v)
			dp, dm := make([]float64, 5), make([]float64, 5)
			h := 1e-6 * math.Max(1, sigma)
			for i := 0; i < 5; i++ {
				xp, xm := append([]float64(nil), x...), append([]float64(nil), x...)
				xp[i] += h
				xm[i] -= h
				dn.Denoise(dp, xp, sigma)
				dn.Denoise(dm, xm, sigma)
				want := 0.0
				for j := range v {
					want += v[j] * (dp[j] - dm[j]) / (2 * h)
				}
				if math.Abs(got[i]-want) > 1e-6*(1+math.Abs(want)) {
					t.Errorf("full=%v σ=%v: (Jᵀv)[%d] = %v, differences give %v", full, sigma, i, got[i], want)
				}
			}
		}
	}
}

// stacked returns the operator [A/σ_y; I/σ] and the measurement
// [y/σ_y; x/σ], whose exact posterior (unit noise) is p(x₀ | x_σ = x, y).
func stacked(t *testing.T, a *operator.Dense, y, x []float64, sigmaY, sigma float64) (*operator.Dense, []float64) {
	m, d := a.Dims()
	rows := a.Matrix()
	out := make([]float64, 0, (m+d)*d)
	for _, v := range rows {
		out = append(out, v/sigmaY)
	}
	for i := 0; i < d; i++ {
		row := make([]float64, d)
		row[i] = 1 / sigma
		out = append(out, row...)
	}
	op, err := operator.NewDense(m+d, d, out)
	if err != nil {
		t.Fatal(err)
	}
	obs := make([]float64, 0, m+d)
	for _, v := range y {
		obs = append(obs, v/sigmaY)
	}
	for _, v := range x {
		obs = append(obs, v/sigma)
	}
	return op, obs
}

// E[x₀ | μ*(x_σ, y)] must equal E[x₀ | x_σ, y], the posterior mean of the
// problem that observes both y (noise σ_y) and x_σ (noise σ) — a different
// computation (Woodbury on the stacked operator) of the same quantity.
func TestEPSDenoiserIsPosteriorMean(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	for _, tc := range []struct {
		name  string
		full  bool
		m, d  int
		sigma float64
	}{
		{"isotropic m<d", false, 2, 6, 0.5},
		{"isotropic m<d large σ", false, 2, 6, 30},
		{"isotropic m>d", false, 7, 4, 1},
		{"full", true, 3, 5, 0.7},
		{"full large σ", true, 3, 5, 40},
	} {
		mix := testMixture(t, rng, 4, tc.d, tc.full)
		a := randDense(t, rng, tc.m, tc.d)
		sigmaY := 0.3
		y := randVec(rng, tc.m, 2)
		e, err := mix.NewEPS(a, sigmaY)
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.At(tc.sigma)
		if err != nil {
			t.Fatal(err)
		}
		s := e.NewScratch()
		aty := make([]float64, tc.d)
		a.Adjoint(aty, y)
		for trial := 0; trial < 3; trial++ {
			x := randVec(rng, tc.d, 2+tc.sigma)
			// μ* = (I/σ² + bAᵀA)⁻¹(x/σ² + bAᵀy)
			pivot := make([]float64, tc.d)
			b := 1 / (sigmaY * sigmaY)
			for i := range pivot {
				pivot[i] = x[i]/(tc.sigma*tc.sigma) + b*aty[i]
			}
			a.SolveShifted(pivot, 1/(tc.sigma*tc.sigma), b, pivot)
			got := make([]float64, tc.d)
			l.Denoise(got, pivot, s)

			sop, sy := stacked(t, a, y, x, sigmaY, tc.sigma)
			post, err := mix.Posterior(sop, sy, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float64, tc.d)
			post.Mean(want)
			for i := range got {
				if math.Abs(got[i]-want[i]) > 1e-7*(1+math.Abs(want[i])) {
					t.Errorf("%s: E[x₀|μ*][%d] = %v, E[x₀|x_σ,y] = %v", tc.name, i, got[i], want[i])
				}
			}
		}
	}
}

// The exact posterior against Bayes' rule written out densely in the test.
func TestPosteriorClosedForm(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	for _, full := range []bool{false, true} {
		const k, m, d = 3, 2, 4
		mix := testMixture(t, rng, k, d, full)
		a := randDense(t, rng, m, d)
		am := mat.NewDense(m, d, a.Matrix())
		sigmaY := 0.4
		y := randVec(rng, m, 2)
		post, err := mix.Posterior(a, y, sigmaY)
		if err != nil {
			t.Fatal(err)
		}
		logw := make([]float64, k)
		for c := 0; c < k; c++ {
			// ŵ ∝ w N(y; A m, A C Aᵀ + σ²I)
			var s mat.Dense
			s.Product(am, mix.cov(c), am.T())
			ys := mat.NewSymDense(m, nil)
			for i := 0; i < m; i++ {
				for j := i; j < m; j++ {
					ys.SetSym(i, j, s.At(i, j))
				}
				ys.SetSym(i, i, ys.At(i, i)+sigmaY*sigmaY)
			}
			amk := mat.NewVecDense(m, nil)
			amk.MulVec(am, mat.NewVecDense(d, mix.means[c]))
			logw[c] = math.Log(mix.w[c]) + logGauss(t, y, amk.RawVector().Data, ys)
			// m̂ = m + C Aᵀ (A C Aᵀ + σ²I)⁻¹ (y − A m)
			var ch mat.Cholesky
			ch.Factorize(ys)
			r := make([]float64, m)
			floats.SubTo(r, y, amk.RawVector().Data)
			z := mat.NewVecDense(m, nil)
			_ = ch.SolveVecTo(z, mat.NewVecDense(m, r))
			atz := mat.NewVecDense(d, nil)
			atz.MulVec(am.T(), z)
			mean := mat.NewVecDense(d, nil)
			mean.MulVec(mix.cov(c), atz)
			mean.AddVec(mean, mat.NewVecDense(d, mix.means[c]))
			for i := 0; i < d; i++ {
				if got, want := post.ComponentMean(c)[i], mean.AtVec(i); math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
					t.Errorf("full=%v: m̂_%d[%d] = %v, want %v", full, c, i, got, want)
				}
			}
		}
		softmax(logw)
		for c := range logw {
			if got := post.Weights()[c]; math.Abs(got-logw[c]) > 1e-9 {
				t.Errorf("full=%v: ŵ_%d = %v, want %v", full, c, got, logw[c])
			}
		}
	}
}

// Exact samples have the posterior's mean and covariance (law of total
// covariance over components), within Monte Carlo error.
func TestPosteriorSampleMoments(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for _, full := range []bool{false, true} {
		const d, n = 3, 200000
		mix := testMixture(t, rng, 2, d, full)
		a := randDense(t, rng, 2, d)
		post, err := mix.Posterior(a, randVec(rng, 2, 1), 0.5)
		if err != nil {
			t.Fatal(err)
		}
		mean := make([]float64, d)
		post.Mean(mean)
		sum := make([]float64, d)
		x := make([]float64, d)
		for i := 0; i < n; i++ {
			post.Sample(x, rng)
			floats.Add(sum, x)
		}
		floats.Scale(1/float64(n), sum)
		for i := range mean {
			if math.Abs(sum[i]-mean[i]) > 0.03 {
				t.Errorf("full=%v: sample mean[%d] = %v, posterior mean %v", full, i, sum[i], mean[i])
			}
		}
	}
}

// One component, isotropic: everything is a Gaussian in closed form.
func TestSingleGaussianDenoiser(t *testing.T) {
	m, err := NewIsotropic([]float64{1}, [][]float64{{1, -2}}, []float64{0.5})
	if err != nil {
		t.Fatal(err)
	}
	dn := m.NewDenoiser()
	x := []float64{3, 3}
	got := make([]float64, 2)
	dn.Denoise(got, x, 2)
	// m + c/(c+σ²)(x − m) = (1,−2) + 0.5/4.5·(2, 5)
	want := []float64{1 + 2.0/9, -2 + 5.0/9}
	if !floats.EqualApprox(got, want, 1e-14) {
		t.Errorf("D = %v, want %v", got, want)
	}
}

func TestModelBatch(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	mix := testMixture(t, rng, 3, 4, false)
	a := randDense(t, rng, 2, 4)
	md, err := mix.Model(a, 0.5)
	if err != nil {
		t.Fatal(err)
	}
	x := [][]float64{randVec(rng, 4, 1), randVec(rng, 4, 1), randVec(rng, 4, 1)}
	dst := [][]float64{make([]float64, 4), make([]float64, 4), make([]float64, 4)}
	if err := md.Denoise(context.Background(), dst, x, 0.7); err != nil {
		t.Fatal(err)
	}
	one := make([]float64, 4)
	mix.NewDenoiser().Denoise(one, x[2], 0.7)
	if !floats.Equal(one, dst[2]) {
		t.Errorf("batched row %v differs from single %v", dst[2], one)
	}
}

func TestMixtureErrors(t *testing.T) {
	id := [][]float64{{1, 0}, {0, 1}}
	for _, tc := range []struct {
		name string
		err  func() error
		want string
	}{
		{"negative weight", func() error {
			_, err := NewIsotropic([]float64{-0.5, 1.5}, [][]float64{{0, 0}, {1, 1}}, []float64{1, 1})
			return err
		}, "weights[0]"},
		{"weights sum", func() error {
			_, err := NewIsotropic([]float64{0.5, 0.6}, [][]float64{{0, 0}, {1, 1}}, []float64{1, 1})
			return err
		}, "sum to"},
		{"mean length", func() error {
			_, err := NewIsotropic([]float64{0.5, 0.5}, [][]float64{{0, 0}, {1}}, []float64{1, 1})
			return err
		}, "means[1]"},
		{"NaN mean", func() error {
			_, err := NewIsotropic([]float64{1}, [][]float64{{math.NaN(), 0}}, []float64{1})
			return err
		}, "means[0][0]"},
		{"zero variance", func() error {
			_, err := NewIsotropic([]float64{1}, [][]float64{{0, 0}}, []float64{0})
			return err
		}, "variances[0]"},
		{"asymmetric", func() error {
			_, err := NewFull([]float64{0.5, 0.5}, [][]float64{{0, 0}, {1, 1}}, [][][]float64{id, {{1, 0.5}, {0.4, 1}}})
			return err
		}, "covariances[1] is not symmetric"},
		{"indefinite", func() error {
			_, err := NewFull([]float64{1}, [][]float64{{0, 0}}, [][][]float64{{{1, 2}, {2, 1}}})
			return err
		}, "covariances[0] is not positive definite"},
		{"Inf covariance", func() error {
			_, err := NewFull([]float64{1}, [][]float64{{0, 0}}, [][][]float64{{{math.Inf(1), 0}, {0, 1}}})
			return err
		}, "covariances[0][0][0]"},
	} {
		err := tc.err()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one naming %q", tc.name, err, tc.want)
		}
	}
}

// Restore is E[x₀ | x_σ, y]: the posterior mean given the stacked
// observations (x_σ = x₀ + σε, y = A x₀ + σ_y n), computed by the dense
// posterior of the test; it refuses to run without the measurement.
func TestModelRestore(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 1))
	ctx := context.Background()
	for _, tc := range []struct {
		name  string
		full  bool
		m, d  int
		sigma float64
	}{
		{"isotropic", false, 2, 6, 0.8},
		{"isotropic large σ", false, 3, 5, 50},
		{"full", true, 3, 5, 0.6},
	} {
		mix := testMixture(t, rng, 3, tc.d, tc.full)
		a := randDense(t, rng, tc.m, tc.d)
		const sigmaY = 0.4
		y := randVec(rng, tc.m, 2)
		md, err := mix.Model(a, sigmaY)
		if err != nil {
			t.Fatal(err)
		}
		x := [][]float64{randVec(rng, tc.d, 2+tc.sigma), randVec(rng, tc.d, 2+tc.sigma)}
		dst := [][]float64{make([]float64, tc.d), make([]float64, tc.d)}
		if err := md.Restore(ctx, dst, x, tc.sigma); err == nil || !strings.Contains(err.Error(), "SetMeasurement") {
			t.Errorf("%s: Restore without a measurement: error %v", tc.name, err)
		}
		if err := md.SetMeasurement(y[:1]); err == nil || !strings.Contains(err.Error(), "length 1") {
			t.Errorf("%s: short measurement: error %v", tc.name, err)
		}
		if err := md.SetMeasurement(y); err != nil {
			t.Fatal(err)
		}
		if err := md.Restore(ctx, dst, x, tc.sigma); err != nil {
			t.Fatal(err)
		}
		for r := range x {
			sop, sy := stacked(t, a, y, x[r], sigmaY, tc.sigma)
			post, err := mix.Posterior(sop, sy, 1)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float64, tc.d)
			post.Mean(want)
			for i := range want {
				if math.Abs(dst[r][i]-want[i]) > 1e-7*(1+math.Abs(want[i])) {
					t.Errorf("%s: row %d: Restore[%d] = %v, E[x₀|x_σ,y] = %v", tc.name, r, i, dst[r][i], want[i])
				}
			}
		}
	}
}
