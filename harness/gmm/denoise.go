package gmm

import (
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// Denoiser evaluates the exact EDM denoiser of the mixture and its
// vector–Jacobian product. With x = x₀ + σε, each component is seen as
// N(mₖ, Cₖ + σ²I), Pₖ = (Cₖ + σ²I)⁻¹, sₖ = −Pₖ(x − mₖ) its score and
// πₖ(x) ∝ wₖ N(x; mₖ, Cₖ + σ²I) the responsibilities. Then (Tweedie)
//
//	D(x; σ) = x + σ² s̄,  s̄ = Σₖ πₖ sₖ,
//	J(x; σ) = I − σ² Σₖ πₖ Pₖ + σ² Σₖ πₖ (sₖ − s̄)(sₖ − s̄)ᵀ,
//
// and J is symmetric, so Jᵀv = Jv.
//
// A Denoiser holds scratch for one goroutine: make one per goroutine.
type Denoiser struct {
	m                  *Mixture
	logit, dots, proj  []float64
	coef, gamma, beta  []float64
	diff, z, tmp, sbar []float64
	scores             [][]float64 // full covariances: sₖ
}

// NewDenoiser returns a Denoiser for m.
func (m *Mixture) NewDenoiser() *Denoiser {
	k, r, d := m.Len(), len(m.basis), m.d
	dn := &Denoiser{
		m: m, logit: make([]float64, k), dots: make([]float64, k), proj: make([]float64, r),
		coef: make([]float64, r), gamma: make([]float64, k), beta: make([]float64, k),
		sbar: make([]float64, d),
	}
	if m.full != nil {
		dn.diff, dn.z, dn.tmp = make([]float64, d), make([]float64, d), make([]float64, d)
		dn.scores = make([][]float64, k)
		for i := range dn.scores {
			dn.scores[i] = make([]float64, d)
		}
	}
	return dn
}

// Denoise sets dst = D(x; σ). dst must not alias x.
func (dn *Denoiser) Denoise(dst, x []float64, sigma float64) {
	dn.responsibilities(x, sigma)
	copy(dst, x)
	floats.AddScaled(dst, sigma*sigma, dn.sbar)
}

// VJP sets dst = J(x; σ)ᵀ v. dst must not alias x or v.
func (dn *Denoiser) VJP(dst, x []float64, sigma float64, v []float64) {
	m, s2 := dn.m, sigma*sigma
	dn.responsibilities(x, sigma)
	pi := dn.logit
	if m.vars != nil {
		// sₖ = (mₖ − x)/(cₖ+σ²); with βₖ = (sₖ − s̄)·v,
		// Σₖ πₖ (sₖ − s̄) βₖ = Σₖ πₖβₖ sₖ − s̄ Σₖ πₖβₖ.
		m.dotMeans(dn.dots, dn.proj, v)
		xv, sv := floats.Dot(x, v), floats.Dot(dn.sbar, v)
		pbar, pb, xcoef := 0.0, 0.0, 0.0
		for k, c := range m.vars {
			p := 1 / (c + s2)
			pbar += pi[k] * p
			dn.beta[k] = (dn.dots[k]-xv)*p - sv
			w := pi[k] * dn.beta[k]
			pb += w
			dn.gamma[k] = w * p
			xcoef -= w * p
		}
		for i := range dst {
			dst[i] = (1-s2*pbar)*v[i] + s2*(xcoef*x[i]-pb*dn.sbar[i])
		}
		for k := range dn.gamma {
			dn.gamma[k] *= s2
		}
		m.addMeans(dst, dn.coef, dn.gamma)
		return
	}
	copy(dst, v)
	sv := floats.Dot(dn.sbar, v)
	for k, c := range m.full {
		if pi[k] == 0 {
			continue
		}
		// Pₖ v = Q diag(1/(λ+σ²)) Qᵀ v
		qv := mat.NewVecDense(m.d, dn.z)
		qv.MulVec(c.q.T(), mat.NewVecDense(m.d, v))
		for i, l := range c.lam {
			dn.z[i] /= l + s2
		}
		pv := mat.NewVecDense(m.d, dn.tmp)
		pv.MulVec(c.q, qv)
		floats.AddScaled(dst, -s2*pi[k], dn.tmp)
		beta := floats.Dot(dn.scores[k], v) - sv
		floats.AddScaled(dst, s2*pi[k]*beta, dn.scores[k])
		floats.AddScaled(dst, -s2*pi[k]*beta, dn.sbar)
	}
}

// responsibilities leaves πₖ(x) in dn.logit and s̄ in dn.sbar.
func (dn *Denoiser) responsibilities(x []float64, sigma float64) {
	m, s2, d := dn.m, sigma*sigma, float64(dn.m.d)
	if m.vars != nil {
		m.dotMeans(dn.dots, dn.proj, x)
		xx := floats.Dot(x, x)
		for k, c := range m.vars {
			v := c + s2
			r2 := math.Max(xx-2*dn.dots[k]+m.norm2[k], 0)
			dn.logit[k] = m.logw[k] - 0.5*r2/v - 0.5*d*math.Log(v)
		}
		softmax(dn.logit)
		// s̄ = Σₖ πₖ (mₖ − x)/(cₖ+σ²)
		xcoef := 0.0
		for k, c := range m.vars {
			dn.gamma[k] = dn.logit[k] / (c + s2)
			xcoef -= dn.gamma[k]
		}
		for i := range dn.sbar {
			dn.sbar[i] = xcoef * x[i]
		}
		m.addMeans(dn.sbar, dn.coef, dn.gamma)
		return
	}
	for k, c := range m.full {
		floats.SubTo(dn.diff, x, m.means[k])
		zv := mat.NewVecDense(m.d, dn.z)
		zv.MulVec(c.q.T(), mat.NewVecDense(m.d, dn.diff))
		q, ld := 0.0, 0.0
		for i, l := range c.lam {
			v := l + s2
			q += dn.z[i] * dn.z[i] / v
			ld += math.Log(v)
			dn.z[i] /= -v
		}
		dn.logit[k] = m.logw[k] - 0.5*q - 0.5*ld
		sv := mat.NewVecDense(m.d, dn.scores[k])
		sv.MulVec(c.q, zv)
	}
	softmax(dn.logit)
	for i := range dn.sbar {
		dn.sbar[i] = 0
	}
	for k, p := range dn.logit {
		floats.AddScaled(dn.sbar, p, dn.scores[k])
	}
}
