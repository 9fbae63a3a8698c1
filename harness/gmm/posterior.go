package gmm

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ipbench/ipbench/harness/operator"
)

// Posterior is the exact posterior p(x₀ | y) ∝ p(x₀) N(y; A x₀, σ_y² I) of a
// mixture prior: again a mixture Σₖ ŵₖ N(m̂ₖ, Ĉₖ) with
//
//	Ĉₖ = (Cₖ⁻¹ + AᵀA/σ_y²)⁻¹,
//	m̂ₖ = Ĉₖ (Cₖ⁻¹ mₖ + Aᵀy/σ_y²),
//	ŵₖ ∝ wₖ N(y; A mₖ, A Cₖ Aᵀ + σ_y² I).
type Posterior struct {
	m     *Mixture
	op    operator.Operator
	b     float64
	w     []float64
	means [][]float64
	chol  []mat.Cholesky // full covariances: Ĉₖ = L Lᵀ

	logdet []float64 // Cₖ = cₖ I: log det Ĉₖ = −Σᵢ log(1/cₖ + bλᵢ)
}

// Posterior returns the exact posterior of m given y = A x₀ + σ_y n.
func (m *Mixture) Posterior(op operator.Operator, y []float64, sigmaY float64) (*Posterior, error) {
	mm, d := op.Dims()
	if d != m.d {
		return nil, fmt.Errorf("gmm: operator acts on dimension %d, the prior on %d", d, m.d)
	}
	if len(y) != mm {
		return nil, fmt.Errorf("gmm: y has %d values, the operator gives %d", len(y), mm)
	}
	if !(sigmaY > 0) || math.IsInf(sigmaY, 0) {
		return nil, fmt.Errorf("gmm: sigma_y = %v must be positive and finite", sigmaY)
	}
	b := 1 / (sigmaY * sigmaY)
	p := &Posterior{m: m, op: op, b: b, w: make([]float64, m.Len()), means: make([][]float64, m.Len())}
	aty := make([]float64, d)
	op.Adjoint(aty, y)
	r, atr, tmp := make([]float64, mm), make([]float64, d), make([]float64, d)
	if m.vars != nil {
		gram := op.GramEigenvalues()
		for k, c := range m.vars {
			// m̂ₖ = (I/c + bAᵀA)⁻¹ (mₖ/c + bAᵀy)
			for i := range tmp {
				tmp[i] = m.means[k][i]/c + b*aty[i]
			}
			p.means[k] = make([]float64, d)
			op.SolveShifted(p.means[k], 1/c, b, tmp)
			// (σ²I + cAAᵀ)⁻¹ = b (I − b A Ĉ Aᵀ)  (Woodbury), r = y − A mₖ
			op.Apply(r, m.means[k])
			floats.SubTo(r, y, r)
			op.Adjoint(atr, r)
			op.SolveShifted(tmp, 1/c, b, atr)
			quad := b * (floats.Dot(r, r) - b*floats.Dot(atr, tmp))
			// log det(σ²I + cAAᵀ) = m log σ² + Σᵢ log(1 + c b λᵢ)
			ld := 0.0
			for _, l := range gram {
				ld += math.Log1p(c * b * l)
			}
			p.w[k] = m.logw[k] - 0.5*quad - 0.5*ld
		}
		softmax(p.w)
		// log det Ĉₖ, once here rather than on every Responsibilities call.
		p.logdet = make([]float64, m.Len())
		for k, c := range m.vars {
			for _, l := range gram {
				p.logdet[k] -= math.Log(1/c + b*l)
			}
		}
		return p, nil
	}
	// Full covariances: dense algebra with A formed row by row (Aᵀeᵢ).
	a := mat.NewDense(mm, d, nil)
	e := make([]float64, mm)
	row := make([]float64, d)
	for i := 0; i < mm; i++ {
		e[i] = 1
		op.Adjoint(row, e)
		e[i] = 0
		a.SetRow(i, row)
	}
	ata := gramMatrix(op)
	p.chol = make([]mat.Cholesky, m.Len())
	for k, c := range m.full {
		// Cₖ⁻¹ = Q diag(1/λ) Qᵀ
		inv := mat.NewSymDense(d, nil)
		for i := 0; i < d; i++ {
			for j := i; j < d; j++ {
				s := 0.0
				for l, lam := range c.lam {
					s += c.q.At(i, l) * c.q.At(j, l) / lam
				}
				inv.SetSym(i, j, s)
			}
		}
		var prec mat.SymDense
		prec.AddSym(inv, scaledSym(ata, b))
		var pc mat.Cholesky
		if !pc.Factorize(&prec) {
			return nil, fmt.Errorf("gmm: posterior precision of component %d is not positive definite", k)
		}
		var cov mat.SymDense
		if err := pc.InverseTo(&cov); err != nil {
			return nil, fmt.Errorf("gmm: posterior covariance of component %d: %w", k, err)
		}
		if !p.chol[k].Factorize(&cov) {
			return nil, fmt.Errorf("gmm: posterior covariance of component %d is not positive definite", k)
		}
		rhs := mat.NewVecDense(d, nil)
		rhs.MulVec(inv, mat.NewVecDense(d, m.means[k]))
		rhs.AddScaledVec(rhs, b, mat.NewVecDense(d, aty))
		mean := mat.NewVecDense(d, nil)
		if err := pc.SolveVecTo(mean, rhs); err != nil {
			return nil, fmt.Errorf("gmm: posterior mean of component %d: %w", k, err)
		}
		p.means[k] = mean.RawVector().Data
		// N(y; A mₖ, A Cₖ Aᵀ + σ_y² I)
		var s mat.Dense
		s.Product(a, c.cov, a.T())
		ys := mat.NewSymDense(mm, nil)
		for i := 0; i < mm; i++ {
			for j := i; j < mm; j++ {
				ys.SetSym(i, j, 0.5*(s.At(i, j)+s.At(j, i)))
			}
			ys.SetSym(i, i, ys.At(i, i)+1/b)
		}
		var yc mat.Cholesky
		if !yc.Factorize(ys) {
			return nil, fmt.Errorf("gmm: marginal covariance of y under component %d is not positive definite", k)
		}
		op.Apply(r, m.means[k])
		floats.SubTo(r, y, r)
		z := mat.NewVecDense(mm, nil)
		if err := yc.SolveVecTo(z, mat.NewVecDense(mm, r)); err != nil {
			return nil, fmt.Errorf("gmm: marginal likelihood of component %d: %w", k, err)
		}
		p.w[k] = m.logw[k] - 0.5*floats.Dot(r, z.RawVector().Data) - 0.5*yc.LogDet()
	}
	softmax(p.w)
	return p, nil
}

func scaledSym(s *mat.SymDense, f float64) *mat.SymDense {
	var out mat.SymDense
	out.ScaleSym(f, s)
	return &out
}

// Weights returns ŵ₁…ŵ_K. The slice must not be modified.
func (p *Posterior) Weights() []float64 { return p.w }

// ComponentMean returns m̂ₖ. The slice must not be modified.
func (p *Posterior) ComponentMean(k int) []float64 { return p.means[k] }

// Mean sets dst = E[x₀ | y] = Σₖ ŵₖ m̂ₖ.
func (p *Posterior) Mean(dst []float64) {
	for i := range dst {
		dst[i] = 0
	}
	for k, w := range p.w {
		floats.AddScaled(dst, w, p.means[k])
	}
}

// Sample draws dst ~ p(x₀ | y) with randomness from rng only. For Cₖ = cₖ I
// it draws without a square root of Ĉₖ ("perturb, then solve"):
//
//	x = m̂ₖ + Ĉₖ (z₁/√cₖ + √b Aᵀ z₂),  z₁ ~ N(0, I_d), z₂ ~ N(0, I_m),
//
// whose covariance is Ĉₖ (I/cₖ + bAᵀA) Ĉₖ = Ĉₖ.
func (p *Posterior) Sample(dst []float64, rng *rand.Rand) {
	k := pick(p.w, rng.Float64())
	d := p.m.d
	if p.m.vars != nil {
		mm, _ := p.op.Dims()
		z2, atz := make([]float64, mm), make([]float64, d)
		for i := range z2 {
			z2[i] = rng.NormFloat64()
		}
		p.op.Adjoint(atz, z2)
		c := p.m.vars[k]
		sb, sc := math.Sqrt(p.b), 1/math.Sqrt(c)
		for i := range atz {
			atz[i] = rng.NormFloat64()*sc + sb*atz[i]
		}
		p.op.SolveShifted(dst, 1/c, p.b, atz)
		floats.Add(dst, p.means[k])
		return
	}
	z := mat.NewVecDense(d, nil)
	for i := 0; i < d; i++ {
		z.SetVec(i, rng.NormFloat64())
	}
	var l mat.TriDense
	p.chol[k].LTo(&l)
	out := mat.NewVecDense(d, dst)
	out.MulVec(&l, z)
	floats.Add(dst, p.means[k])
}

// pick returns the index k with Σ_{j<k} wⱼ ≤ u < Σ_{j≤k} wⱼ.
func pick(w []float64, u float64) int {
	for k, v := range w {
		if u < v {
			return k
		}
		u -= v
	}
	return len(w) - 1
}

// Responsibilities sets dst[k] = p(k | x), the posterior probability that x
// was drawn from component k of the posterior mixture.
func (p *Posterior) Responsibilities(dst, x []float64) {
	d := p.m.d
	diff := make([]float64, d)
	if p.m.vars != nil {
		mm, _ := p.op.Dims()
		ax := make([]float64, mm)
		for k, c := range p.m.vars {
			// Ĉₖ⁻¹ = I/c + bAᵀA
			floats.SubTo(diff, x, p.means[k])
			p.op.Apply(ax, diff)
			q := floats.Dot(diff, diff)/c + p.b*floats.Dot(ax, ax)
			dst[k] = math.Log(p.w[k]) - 0.5*q - 0.5*p.logdet[k]
		}
		softmax(dst)
		return
	}
	for k := range p.chol {
		floats.SubTo(diff, x, p.means[k])
		z := mat.NewVecDense(d, nil)
		_ = p.chol[k].SolveVecTo(z, mat.NewVecDense(d, diff))
		dst[k] = math.Log(p.w[k]) - 0.5*floats.Dot(diff, z.RawVector().Data) - 0.5*p.chol[k].LogDet()
	}
	softmax(dst)
}
