package gmm

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/ipbench/ipbench/harness/operator"
)

// EPS is the exact EPS posterior denoiser of a mixture for one problem
// y = A x₀ + σ_y n. With a = α²/σ² (α = 1 in EDM) and b = 1/σ_y², the pivot
// μ* = Σ*(α x/σ² + Aᵀy/σ_y²) is x₀ + N(0, Σ*), Σ* = (aI + bAᵀA)⁻¹, so
//
//	E[x₀ | μ*] = Σₖ πₖ (mₖ + Cₖ (Cₖ + Σ*)⁻¹ (μ* − mₖ)),
//	πₖ ∝ wₖ N(μ*; mₖ, Cₖ + Σ*).
//
// For Cₖ = cₖ I every inverse is a shifted solve with A:
//
//	(cI + Σ*)⁻¹ = (aI + bAᵀA)((1 + ca) I + cb AᵀA)⁻¹.
type EPS struct {
	m      *Mixture
	op     operator.Operator
	b      float64
	groups []group
	gram   []float64     // eigenvalues of AᵀA, when several cₖ differ
	ata    *mat.SymDense // AᵀA, for full covariances
}

// group is the set of components sharing one variance c.
type group struct {
	c       float64
	members []int
}

// NewEPS returns the EPS denoiser of m for the operator op and noise σ_y.
func (m *Mixture) NewEPS(op operator.Operator, sigmaY float64) (*EPS, error) {
	if _, d := op.Dims(); d != m.d {
		return nil, fmt.Errorf("gmm: operator acts on dimension %d, the prior on %d", d, m.d)
	}
	if !(sigmaY > 0) || math.IsInf(sigmaY, 0) {
		return nil, fmt.Errorf("gmm: sigma_y = %v must be positive and finite", sigmaY)
	}
	e := &EPS{m: m, op: op, b: 1 / (sigmaY * sigmaY)}
	if m.vars != nil {
		idx := map[float64]int{}
		for k, c := range m.vars {
			g, ok := idx[c]
			if !ok {
				g = len(e.groups)
				idx[c] = g
				e.groups = append(e.groups, group{c: c})
			}
			e.groups[g].members = append(e.groups[g].members, k)
		}
		if len(e.groups) > 1 {
			e.gram = op.GramEigenvalues()
		}
		return e, nil
	}
	e.ata = gramMatrix(op)
	return e, nil
}

// gramMatrix forms AᵀA densely, column by column.
func gramMatrix(op operator.Operator) *mat.SymDense {
	mm, d := op.Dims()
	g := mat.NewSymDense(d, nil)
	e, ax, col := make([]float64, d), make([]float64, mm), make([]float64, d)
	for j := 0; j < d; j++ {
		e[j] = 1
		op.Apply(ax, e)
		op.Adjoint(col, ax)
		e[j] = 0
		for i := 0; i <= j; i++ {
			g.SetSym(i, j, col[i])
		}
	}
	return g
}

// Level holds what EPS shares between all pivots at one noise level σ.
// It is read-only once made, so goroutines share it; each goroutine makes
// its own Scratch.
type Level struct {
	e    *EPS
	a    float64
	iso  []isoLevel
	full []fullLevel
}

type isoLevel struct {
	group
	mb     [][]float64 // M bⱼ for each basis row bⱼ, M = (cI + Σ*)⁻¹
	e      []float64   // βₖᵀ (B M Bᵀ) βₖ = mₖᵀ M mₖ per member
	logdet float64     // log det(cI + Σ*), up to a constant shared by all groups
}

type fullLevel struct {
	chol mat.Cholesky // of Cₖ + Σ*
}

// At prepares level σ: r shifted solves per distinct variance (r = the rank
// of the means), or K Cholesky factorisations for full covariances.
func (e *EPS) At(sigma float64) (*Level, error) {
	if !(sigma > 0) {
		return nil, fmt.Errorf("gmm: EPS needs σ > 0, got %v", sigma)
	}
	a := 1 / (sigma * sigma)
	l := &Level{e: e, a: a}
	m := e.m
	if m.vars != nil {
		mm, _ := e.op.Dims()
		w, ax := make([]float64, m.d), make([]float64, mm)
		for _, g := range e.groups {
			il := isoLevel{group: g, mb: make([][]float64, len(m.basis))}
			for j, bj := range m.basis {
				il.mb[j] = make([]float64, m.d)
				e.applyM(il.mb[j], bj, g.c, a, w, ax)
			}
			r := len(m.basis)
			bmb := make([]float64, r*r)
			for i := 0; i < r; i++ {
				for j := 0; j < r; j++ {
					bmb[i*r+j] = floats.Dot(m.basis[i], il.mb[j])
				}
			}
			for _, k := range g.members {
				beta := m.coords[k]
				s := 0.0
				for i := 0; i < r; i++ {
					s += beta[i] * floats.Dot(bmb[i*r:(i+1)*r], beta)
				}
				il.e = append(il.e, s)
			}
			for _, lam := range e.gram {
				il.logdet += math.Log(g.c + 1/(a+e.b*lam))
			}
			l.iso = append(l.iso, il)
		}
		return l, nil
	}
	// Σ* = (aI + bAᵀA)⁻¹
	prec := mat.NewSymDense(m.d, nil)
	prec.ScaleSym(e.b, e.ata)
	for i := 0; i < m.d; i++ {
		prec.SetSym(i, i, prec.At(i, i)+a)
	}
	var pc mat.Cholesky
	if !pc.Factorize(prec) {
		return nil, fmt.Errorf("gmm: aI + bAᵀA is not positive definite at σ = %v", sigma)
	}
	var sigStar mat.SymDense
	if err := pc.InverseTo(&sigStar); err != nil {
		return nil, fmt.Errorf("gmm: Σ* at σ = %v: %w", sigma, err)
	}
	for k, c := range m.full {
		var s mat.SymDense
		s.AddSym(c.cov, &sigStar)
		var fl fullLevel
		if !fl.chol.Factorize(&s) {
			return nil, fmt.Errorf("gmm: C_%d + Σ* is not positive definite at σ = %v", k, sigma)
		}
		l.full = append(l.full, fl)
	}
	return l, nil
}

// applyM sets dst = (cI + Σ*)⁻¹ v = (aI + bAᵀA) w with
// w = ((1 + ca) I + cb AᵀA)⁻¹ v. w (length d) and ax (length m) are scratch.
func (e *EPS) applyM(dst, v []float64, c, a float64, w, ax []float64) {
	e.op.SolveShifted(w, 1+c*a, c*e.b, v)
	e.op.Apply(ax, w)
	e.op.Adjoint(dst, ax)
	for i := range dst {
		dst[i] = a*w[i] + e.b*dst[i]
	}
}

// Scratch is the per-goroutine workspace of Level.Denoise.
type Scratch struct {
	u, w, diff, z []float64
	ax            []float64
	logit, dots   []float64
	proj, coef    []float64
	gamma         []float64
	zs            [][]float64 // full covariances: (Cₖ + Σ*)⁻¹(μ* − mₖ)
}

// NewScratch returns workspace for one goroutine.
func (e *EPS) NewScratch() *Scratch {
	mm, d := e.op.Dims()
	k, r := e.m.Len(), len(e.m.basis)
	s := &Scratch{
		u: make([]float64, d), w: make([]float64, d), diff: make([]float64, d), z: make([]float64, d),
		ax: make([]float64, mm), logit: make([]float64, k), dots: make([]float64, k),
		proj: make([]float64, r), coef: make([]float64, r), gamma: make([]float64, k),
	}
	if e.m.full != nil {
		s.zs = make([][]float64, k)
		for i := range s.zs {
			s.zs[i] = make([]float64, d)
		}
	}
	return s
}

// Denoise sets dst = E[x₀ | μ*] at this level. dst must not alias pivot.
func (l *Level) Denoise(dst, pivot []float64, s *Scratch) {
	if l.full != nil {
		l.denoiseFull(dst, pivot, s)
		return
	}
	m := l.e.m
	for i := range dst {
		dst[i] = 0
	}
	// logits first: they need uᶜ = M_c μ* for every group; with one group
	// (the usual case) it is kept in s.u for the mean.
	for gi := range l.iso {
		il := &l.iso[gi]
		u := s.u
		l.groupU(u, pivot, il, s)
		uu := floats.Dot(pivot, u)
		m.dotMeans(s.dots, s.proj, u)
		for j, k := range il.members {
			q := uu - 2*s.dots[k] + il.e[j]
			s.logit[k] = m.logw[k] - 0.5*q - 0.5*il.logdet
		}
	}
	softmax(s.logit)
	pi := s.logit
	// mean = Bᵀ(Σₖ πₖ βₖ) + Σ_c c [(Σ_{k∈c} πₖ) u_c − M_c Bᵀ(Σ_{k∈c} πₖ βₖ)]
	m.addMeans(dst, s.coef, pi)
	for gi := range l.iso {
		il := &l.iso[gi]
		if len(l.iso) > 1 {
			l.groupU(s.u, pivot, il, s)
		}
		ptot := 0.0
		for i := range s.coef {
			s.coef[i] = 0
		}
		for _, k := range il.members {
			ptot += pi[k]
			floats.AddScaled(s.coef, pi[k], m.coords[k])
		}
		floats.AddScaled(dst, il.c*ptot, s.u)
		for j, mb := range il.mb {
			floats.AddScaled(dst, -il.c*s.coef[j], mb)
		}
	}
}

// groupU sets u = (cI + Σ*)⁻¹ μ* for the group's c.
func (l *Level) groupU(u, pivot []float64, il *isoLevel, s *Scratch) {
	l.e.applyM(u, pivot, il.c, l.a, s.w, s.ax)
}

func (l *Level) denoiseFull(dst, pivot []float64, s *Scratch) {
	m := l.e.m
	d := m.d
	for k := range l.full {
		floats.SubTo(s.diff, pivot, m.means[k])
		zv := mat.NewVecDense(d, s.zs[k])
		// The factorisation succeeded in At, so the solve cannot fail.
		_ = l.full[k].chol.SolveVecTo(zv, mat.NewVecDense(d, s.diff))
		s.logit[k] = m.logw[k] - 0.5*floats.Dot(s.diff, s.zs[k]) - 0.5*l.full[k].chol.LogDet()
	}
	softmax(s.logit)
	for i := range dst {
		dst[i] = 0
	}
	for k, c := range m.full {
		if s.logit[k] == 0 {
			continue
		}
		// mₖ + Cₖ zₖ
		cz := mat.NewVecDense(d, s.z)
		cz.MulVec(c.cov, mat.NewVecDense(d, s.zs[k]))
		floats.AddScaled(dst, s.logit[k], m.means[k])
		floats.AddScaled(dst, s.logit[k], s.z)
	}
}
