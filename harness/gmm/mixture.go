// Package gmm holds Gaussian-mixture priors
//
//	p(x₀) = Σₖ wₖ N(mₖ, Cₖ)
//
// for which everything ipbench needs is exact: the EDM denoiser D(x; σ) and
// its vector–Jacobian product, the EPS posterior denoiser E[x₀ | μ*], and the
// posterior p(x₀ | y) itself (a mixture again) with exact sampling. They are
// ipbench's ground truth: every solver is first judged against them.
//
// Two kinds of mixture are supported. Isotropic ones (Cₖ = cₖ I) work with
// any operator.Operator through its shifted solves, so image-shaped problems
// never form a dense matrix. Mixtures with full covariances are for small
// vector problems (d up to a few thousand) and use dense linear algebra.
package gmm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Mixture is a Gaussian mixture Σₖ wₖ N(mₖ, Cₖ) in ℝᵈ.
type Mixture struct {
	d     int
	w     []float64
	logw  []float64
	means [][]float64
	norm2 []float64 // ‖mₖ‖²

	// basis holds an orthonormal basis B (r×d, row-major) of span{mₖ} and
	// coords the coordinates βₖ (K×r) with mₖ = Bᵀβₖ: dot products with all
	// means then cost r·d instead of K·d (r = 2 for the MCGdiff family).
	basis  [][]float64
	coords [][]float64

	vars []float64   // cₖ, when every Cₖ = cₖ I
	full []component // otherwise
}

// component is Cₖ = Qₖ diag(λₖ) Qₖᵀ.
type component struct {
	cov *mat.SymDense
	q   *mat.Dense
	lam []float64
}

// NewIsotropic returns the mixture Σₖ wₖ N(mₖ, cₖ I).
func NewIsotropic(weights []float64, means [][]float64, variances []float64) (*Mixture, error) {
	m, err := newMixture(weights, means)
	if err != nil {
		return nil, err
	}
	if len(variances) != len(weights) {
		return nil, fmt.Errorf("variances: %d values for %d components", len(variances), len(weights))
	}
	for k, c := range variances {
		if !(c > 0) || math.IsInf(c, 0) {
			return nil, fmt.Errorf("variances[%d] = %v: must be positive and finite", k, c)
		}
	}
	m.vars = append([]float64(nil), variances...)
	return m, nil
}

// NewFull returns the mixture Σₖ wₖ N(mₖ, Cₖ) with full covariances, each
// given as d rows of d values. Covariances that are all multiples of I are
// recognised, and the mixture then works as an isotropic one.
func NewFull(weights []float64, means [][]float64, covariances [][][]float64) (*Mixture, error) {
	m, err := newMixture(weights, means)
	if err != nil {
		return nil, err
	}
	if len(covariances) != len(weights) {
		return nil, fmt.Errorf("covariances: %d matrices for %d components", len(covariances), len(weights))
	}
	d := m.d
	iso := make([]float64, len(weights))
	allIso := true
	syms := make([]*mat.SymDense, len(weights))
	for k, c := range covariances {
		if len(c) != d {
			return nil, fmt.Errorf("covariances[%d]: %d rows, want %d", k, len(c), d)
		}
		scale := 0.0
		for i, row := range c {
			if len(row) != d {
				return nil, fmt.Errorf("covariances[%d][%d]: %d values, want %d", k, i, len(row), d)
			}
			for j, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return nil, fmt.Errorf("covariances[%d][%d][%d] = %v: not finite", k, i, j, v)
				}
				scale = math.Max(scale, math.Abs(v))
			}
		}
		sym := mat.NewSymDense(d, nil)
		for i := 0; i < d; i++ {
			for j := i; j < d; j++ {
				if math.Abs(c[i][j]-c[j][i]) > 1e-9*scale {
					return nil, fmt.Errorf("covariances[%d] is not symmetric: [%d][%d] = %v but [%d][%d] = %v", k, i, j, c[i][j], j, i, c[j][i])
				}
				sym.SetSym(i, j, c[i][j])
				if i != j && c[i][j] != 0 {
					allIso = false
				}
			}
			if c[i][i] != c[0][0] {
				allIso = false
			}
		}
		syms[k] = sym
		iso[k] = c[0][0]
	}
	if allIso {
		// cₖ I: positive definite exactly when cₖ > 0; no eigensolver needed.
		for k, c := range iso {
			if !(c > 0) {
				return nil, fmt.Errorf("covariances[%d] is not positive definite (it is %v·I)", k, c)
			}
		}
		m.vars = iso
		return m, nil
	}
	m.full = make([]component, len(weights))
	for k, sym := range syms {
		var eig mat.EigenSym
		if !eig.Factorize(sym, true) {
			return nil, fmt.Errorf("covariances[%d]: eigendecomposition failed", k)
		}
		lam := eig.Values(nil)
		if floats.Min(lam) <= 1e-12*math.Max(floats.Max(lam), 1e-300) {
			return nil, fmt.Errorf("covariances[%d] is not positive definite (smallest eigenvalue %.3g)", k, floats.Min(lam))
		}
		q := mat.NewDense(d, d, nil)
		eig.VectorsTo(q)
		m.full[k] = component{cov: sym, q: q, lam: lam}
	}
	return m, nil
}

func newMixture(weights []float64, means [][]float64) (*Mixture, error) {
	if len(weights) == 0 {
		return nil, fmt.Errorf("weights: no components")
	}
	if len(means) != len(weights) {
		return nil, fmt.Errorf("means: %d vectors for %d weights", len(means), len(weights))
	}
	sum := 0.0
	for k, w := range weights {
		if math.IsNaN(w) || math.IsInf(w, 0) || w < 0 {
			return nil, fmt.Errorf("weights[%d] = %v: must be finite and non-negative", k, w)
		}
		sum += w
	}
	if math.Abs(sum-1) > 1e-6 {
		return nil, fmt.Errorf("weights sum to %v, not 1", sum)
	}
	d := len(means[0])
	if d == 0 {
		return nil, fmt.Errorf("means[0] is empty")
	}
	m := &Mixture{d: d, w: make([]float64, len(weights)), logw: make([]float64, len(weights))}
	for k, w := range weights {
		m.w[k] = w / sum
		m.logw[k] = math.Log(w / sum)
	}
	for k, mu := range means {
		if len(mu) != d {
			return nil, fmt.Errorf("means[%d]: %d values, want %d", k, len(mu), d)
		}
		for i, v := range mu {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, fmt.Errorf("means[%d][%d] = %v: not finite", k, i, v)
			}
		}
		m.means = append(m.means, append([]float64(nil), mu...))
		m.norm2 = append(m.norm2, floats.Dot(mu, mu))
	}
	var err error
	if m.basis, m.coords, err = meanBasis(m.means); err != nil {
		return nil, err
	}
	return m, nil
}

// meanBasis returns an orthonormal basis of span{mₖ} and the coordinates of
// each mean in it, from the thin SVD of the K×d matrix of means.
func meanBasis(means [][]float64) (basis, coords [][]float64, err error) {
	k, d := len(means), len(means[0])
	mm := mat.NewDense(k, d, nil)
	for i, mu := range means {
		mm.SetRow(i, mu)
	}
	var svd mat.SVD
	if !svd.Factorize(mm, mat.SVDThin) {
		return nil, nil, fmt.Errorf("means: SVD of the %d×%d matrix of means did not converge", k, d)
	}
	s := svd.Values(nil)
	r := 0
	for _, v := range s {
		if v > 1e-12*s[0] {
			r++
		}
	}
	var u, vt mat.Dense
	svd.UTo(&u)
	svd.VTo(&vt) // d×min(k,d)
	basis = make([][]float64, r)
	for j := 0; j < r; j++ {
		basis[j] = make([]float64, d)
		mat.Col(basis[j], j, &vt)
	}
	coords = make([][]float64, k)
	for i := range coords {
		coords[i] = make([]float64, r)
		for j := 0; j < r; j++ {
			coords[i][j] = u.At(i, j) * s[j]
		}
	}
	return basis, coords, nil
}

// Dim returns d.
func (m *Mixture) Dim() int { return m.d }

// Len returns the number of components K.
func (m *Mixture) Len() int { return len(m.w) }

// Weights returns w₁…w_K. The slice must not be modified.
func (m *Mixture) Weights() []float64 { return m.w }

// Mean returns mₖ. The slice must not be modified.
func (m *Mixture) Mean(k int) []float64 { return m.means[k] }

// Isotropic reports whether every Cₖ = cₖ I, and returns the cₖ.
func (m *Mixture) Isotropic() ([]float64, bool) { return m.vars, m.vars != nil }

// Trace returns tr Cₖ.
func (m *Mixture) Trace(k int) float64 {
	if m.vars != nil {
		return m.vars[k] * float64(m.d)
	}
	return floats.Sum(m.full[k].lam)
}

// Radius returns R = maxₖ (‖mₖ − m̄‖ + √tr Cₖ), m̄ = Σₖ wₖ mₖ the prior mean:
// how far the prior reaches from its mean.
func (m *Mixture) Radius() float64 {
	mean := make([]float64, m.d)
	for k, mu := range m.means {
		floats.AddScaled(mean, m.w[k], mu)
	}
	r := 0.0
	for k, mu := range m.means {
		r = math.Max(r, floats.Distance(mu, mean, 2)+math.Sqrt(m.Trace(k)))
	}
	return r
}

// SigmaMaxRadii is the k of DESIGN.md's rule σ_max = max(80, kR).
const SigmaMaxRadii = 5

// SigmaMax returns σ_max = max(80, 5R): meant to be large enough that
// N(0, σ_max² I) is close to the prior noised to σ_max, whatever the scale of
// the data. (The starting distribution is off by a shift of order R, so the
// error it leaves shrinks only like R/σ_max: see SigmaMaxK.)
func (m *Mixture) SigmaMax() float64 { return m.SigmaMaxK(SigmaMaxRadii) }

// SigmaMaxK returns max(80, kR).
func (m *Mixture) SigmaMaxK(k float64) float64 { return math.Max(80, k*m.Radius()) }

// dotMeans sets dst[k] = mₖ · v for every k using the mean basis; proj is
// scratch of length r.
func (m *Mixture) dotMeans(dst, proj, v []float64) {
	for j, b := range m.basis {
		proj[j] = floats.Dot(b, v)
	}
	for k, c := range m.coords {
		dst[k] = floats.Dot(c, proj)
	}
}

// addMeans adds Σₖ γₖ mₖ to dst; coef is scratch of length r.
func (m *Mixture) addMeans(dst, coef, gamma []float64) {
	for j := range coef {
		coef[j] = 0
	}
	for k, c := range m.coords {
		if gamma[k] != 0 {
			floats.AddScaled(coef, gamma[k], c)
		}
	}
	for j, b := range m.basis {
		floats.AddScaled(dst, coef[j], b)
	}
}

// softmax turns logits into probabilities in place and returns log Σ exp.
func softmax(p []float64) float64 {
	mx := floats.Max(p)
	s := 0.0
	for i, v := range p {
		p[i] = math.Exp(v - mx)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return mx + math.Log(s)
}

// Sample draws dst from the prior with randomness from rng only.
func (m *Mixture) Sample(dst []float64, rng *rand.Rand) {
	k := pick(m.w, rng.Float64())
	mu := m.means[k]
	if m.vars != nil {
		sd := math.Sqrt(m.vars[k])
		for i := range dst {
			dst[i] = mu[i] + sd*rng.NormFloat64()
		}
		return
	}
	// x = m + Q diag(√λ) z
	c := m.full[k]
	z := make([]float64, m.d)
	for i, l := range c.lam {
		z[i] = math.Sqrt(l) * rng.NormFloat64()
	}
	out := mat.NewVecDense(m.d, dst)
	out.MulVec(c.q, mat.NewVecDense(m.d, z))
	floats.Add(dst, mu)
}
