package distribution

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"
)

// Frechet returns the squared Fréchet (2-Wasserstein) distance between the
// Gaussians fitted to the point sets a and b, the quantity FID reports
// (no square root is taken),
//
//	d² = ‖μa − μb‖² + tr(Σa + Σb − 2 (Σa^{1/2} Σb Σa^{1/2})^{1/2}),
//
// where μ and Σ are the sample mean and the unbiased sample covariance
// (normalised by n − 1, as numpy.cov and pytorch-fid use). See
// FrechetGaussian for how the matrix square roots are computed.
//
// Frechet returns an error if either set has fewer than two points or if
// the points do not all have the same non-zero dimension.
func Frechet(a, b [][]float64) (float64, error) {
	d, err := dims("frechet", a, b, 2)
	if err != nil {
		return 0, err
	}
	if len(a)*len(b) < d*d {
		return frechetFew(a, b, d)
	}
	mu1, cov1 := moments(a, d)
	mu2, cov2 := moments(b, d)
	return FrechetGaussian(mu1, cov1, mu2, cov2)
}

// frechetFew is Frechet for sets with fewer points than dimensions, where
// the d×d covariances are of low rank. With the centred points as rows of
// X₁ (n₁×d) and X₂ (n₂×d), Σᵢ = XᵢᵀXᵢ/(nᵢ − 1), and the non-zero
// eigenvalues of Σ₁Σ₂ are those of (X₂X₁ᵀ)(X₁X₂ᵀ)/((n₁ − 1)(n₂ − 1)), so
//
//	tr (Σ₁Σ₂)^{1/2} = Σⱼ sⱼ(C) / √((n₁ − 1)(n₂ − 1)),  C = X₂X₁ᵀ,
//
// the nuclear norm of C (sⱼ its singular values), from an n₂×n₁ singular
// value problem instead of two d×d eigenvalue problems (for 2048 Inception features and 1000 images, about a second
// instead of a minute). The traces are ‖Xᵢ‖²_F/(nᵢ − 1).
func frechetFew(a, b [][]float64, d int) (float64, error) {
	centre := func(x [][]float64) (*mat.Dense, []float64) {
		m := mat.NewDense(len(x), d, nil)
		mu := make([]float64, d)
		for _, row := range x {
			floats.Add(mu, row)
		}
		floats.Scale(1/float64(len(x)), mu)
		for i, row := range x {
			r := m.RawRowView(i)
			floats.SubTo(r, row, mu)
		}
		return m, mu
	}
	x1, mu1 := centre(a)
	x2, mu2 := centre(b)
	n1, n2 := float64(len(a)-1), float64(len(b)-1)
	dist := floats.Distance(mu1, mu2, 2)
	dist *= dist
	f1, f2 := mat.Norm(x1, 2), mat.Norm(x2, 2) // Frobenius
	dist += f1*f1/n1 + f2*f2/n2
	var c mat.Dense
	c.Mul(x2, x1.T())
	// The singular values of C directly: through the eigenvalues of C Cᵀ
	// the small ones would lose half their digits.
	var svd mat.SVD
	if !svd.Factorize(&c, mat.SVDNone) {
		return 0, fmt.Errorf("frechet: singular values of the %d×%d cross-product failed", len(b), len(a))
	}
	tr := floats.Sum(svd.Values(nil))
	dist -= 2 * tr / math.Sqrt(n1*n2)
	return math.Max(dist, 0), nil
}

// moments returns the column means and the unbiased covariance of the rows.
func moments(x [][]float64, d int) ([]float64, *mat.SymDense) {
	m := mat.NewDense(len(x), d, nil)
	for i, row := range x {
		m.SetRow(i, row)
	}
	mu := make([]float64, d)
	for j := range mu {
		mu[j] = stat.Mean(mat.Col(nil, j, m), nil)
	}
	cov := mat.NewSymDense(d, nil)
	stat.CovarianceMatrix(cov, m, nil)
	return mu, cov
}

// FrechetGaussian returns the squared Fréchet (2-Wasserstein) distance
// between N(μ₁, Σ₁) and N(μ₂, Σ₂),
//
//	d² = ‖μ₁ − μ₂‖² + tr Σ₁ + tr Σ₂ − 2 tr (Σ₁^{1/2} Σ₂ Σ₁^{1/2})^{1/2}.
//
// The square roots are taken through symmetric eigendecompositions
// (mat.EigenSym): Σ₁ = V Λ Vᵀ gives Σ₁^{1/2} = V Λ^{1/2} Vᵀ, and the trace
// of the square root of the symmetric positive semidefinite
// M = Σ₁^{1/2} Σ₂ Σ₁^{1/2} is Σᵢ √λᵢ(M). M is similar to Σ₁Σ₂, so this is
// the tr √(Σ₁Σ₂) of pytorch-fid's formula, but it never needs the square
// root of a non-symmetric matrix (scipy.linalg.sqrtm there can return
// complex parts or fail on singular covariances); every step stays real and
// handles rank-deficient covariances, such as those of fewer points than
// dimensions. Eigenvalues below zero by round-off (at most √ε times the
// largest in magnitude) are taken as zero, and a result below zero by
// round-off is returned as zero.
//
// FrechetGaussian returns an error if the dimensions disagree or if a
// covariance has a clearly negative eigenvalue.
func FrechetGaussian(mu1 []float64, cov1 mat.Symmetric, mu2 []float64, cov2 mat.Symmetric) (float64, error) {
	d := len(mu1)
	if d == 0 || len(mu2) != d || cov1.SymmetricDim() != d || cov2.SymmetricDim() != d {
		return 0, fmt.Errorf("frechet: dimensions %d, %d×%d against %d, %d×%d",
			len(mu1), cov1.SymmetricDim(), cov1.SymmetricDim(), len(mu2), cov2.SymmetricDim(), cov2.SymmetricDim())
	}
	dist := 0.0
	for i := range mu1 {
		dist += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i])
	}
	for i := 0; i < d; i++ {
		dist += cov1.At(i, i) + cov2.At(i, i)
	}

	// Σ₁^{1/2} = V Λ^{1/2} Vᵀ.
	lambda, v, err := eigenPSD(cov1, "first covariance", true)
	if err != nil {
		return 0, err
	}
	// Scale the columns to V Λ^{1/4}, so that (V Λ^{1/4})(V Λ^{1/4})ᵀ = Σ₁^{1/2}.
	for j, l := range lambda {
		q := math.Sqrt(math.Sqrt(l))
		for i := 0; i < d; i++ {
			v.Set(i, j, v.At(i, j)*q)
		}
	}
	var root mat.Dense
	root.Mul(v, v.T())

	// M = Σ₁^{1/2} Σ₂ Σ₁^{1/2}, symmetrised against round-off.
	var tmp, m mat.Dense
	tmp.Mul(&root, cov2)
	m.Mul(&tmp, &root)
	ms := mat.NewSymDense(d, nil)
	for i := 0; i < d; i++ {
		for j := i; j < d; j++ {
			ms.SetSym(i, j, (m.At(i, j)+m.At(j, i))/2)
		}
	}
	mu, _, err := eigenPSD(ms, "Σ₁^{1/2} Σ₂ Σ₁^{1/2} (second covariance)", false)
	if err != nil {
		return 0, err
	}
	tr := 0.0
	for _, l := range mu {
		tr += math.Sqrt(l)
	}
	dist -= 2 * tr
	return math.Max(dist, 0), nil
}

// eigenPSD returns the eigenvalues of the positive semidefinite s, with
// round-off negatives set to zero, and, if vectors is true, its
// eigenvectors as columns.
func eigenPSD(s mat.Symmetric, what string, vectors bool) ([]float64, *mat.Dense, error) {
	var eig mat.EigenSym
	if !eig.Factorize(s, vectors) {
		return nil, nil, fmt.Errorf("frechet: eigendecomposition of the %s failed", what)
	}
	lambda := eig.Values(nil)
	scale := 0.0
	for _, l := range lambda {
		scale = math.Max(scale, math.Abs(l))
	}
	tol := math.Sqrt(2.220446049250313e-16) * scale
	for i, l := range lambda {
		if math.IsNaN(l) {
			return nil, nil, fmt.Errorf("frechet: %s has NaN eigenvalues", what)
		}
		if l < 0 {
			if l < -tol {
				return nil, nil, fmt.Errorf("frechet: %s is not positive semidefinite (eigenvalue %g)", what, l)
			}
			lambda[i] = 0
		}
	}
	if !vectors {
		return lambda, nil, nil
	}
	var v mat.Dense
	eig.VectorsTo(&v)
	return lambda, &v, nil
}

// dims checks that a and b each have at least min points, all of one
// non-zero dimension, and returns it.
func dims(name string, a, b [][]float64, min int) (int, error) {
	if len(a) < min || len(b) < min {
		return 0, fmt.Errorf("%s: need at least %d points per set, got %d and %d", name, min, len(a), len(b))
	}
	d := len(a[0])
	if d == 0 {
		return 0, fmt.Errorf("%s: points of dimension zero", name)
	}
	for s, set := range [][][]float64{a, b} {
		for i, p := range set {
			if len(p) != d {
				return 0, fmt.Errorf("%s: point %d of set %d has dimension %d, want %d", name, i, s+1, len(p), d)
			}
		}
	}
	return d, nil
}
