package operator

import (
	"fmt"
	"math"
	"math/cmplx"
	"math/rand/v2"
)

// GaussianKernel1D returns the length-k sampled Gaussian
//
//	g[u] = exp(−(u − c)²/(2σ²)) / Σ_u exp(−(u − c)²/(2σ²)),  c = (k−1)/2.
//
// It panics unless k ≥ 1 and σ > 0.
func GaussianKernel1D(k int, sigma float64) []float64 {
	if k < 1 || !(sigma > 0) || math.IsInf(sigma, 0) {
		panic(fmt.Sprintf("operator: GaussianKernel1D(%d, %v): need k ≥ 1 and σ > 0", k, sigma))
	}
	g := make([]float64, k)
	c := float64(k-1) / 2
	sum := 0.0
	for u := range g {
		x := float64(u) - c
		g[u] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += g[u]
	}
	for u := range g {
		g[u] /= sum
	}
	return g
}

// GaussianKernel returns the k×k row-major sampled Gaussian
//
//	K[u, v] = exp(−((u − c)² + (v − c)²)/(2σ²)) / Z,  c = (k−1)/2,
//
// normalised to sum 1. It is the outer product g gᵀ of GaussianKernel1D(k, σ).
// It panics unless k ≥ 1 and σ > 0.
func GaussianKernel(k int, sigma float64) []float64 {
	g := GaussianKernel1D(k, sigma)
	K := make([]float64, k*k)
	for u, gu := range g {
		for v, gv := range g {
			K[u*k+v] = gu * gv
		}
	}
	return K
}

// motionEps is the small constant ε = 0.1 of the motionblur generator.
const motionEps = 0.1

// MotionKernel returns a k×k random-trajectory motion-blur kernel drawn
// from rng, nonnegative and summing to 1. It follows the generator of
// github.com/LeviBorodenko/motionblur (Kernel(size, intensity)), which DPS
// and DiffPIR use, with intensity I ∈ [0, 1]:
//
//  1. On a 2k×2k canvas with diagonal D = 2√2·k, draw the path length
//     L = 0.75·D·(U(0,1) + U(0, I²)) and steps ℓᵢ = Beta(1,30)·(1 − I + ε)·D,
//     keeping those shorter than L, until Σℓᵢ ≥ L (ε = 0.1).
//  2. Draw θ_max ~ U(0, I·π) and the jitter probability p ~ Beta(2, 20).
//     The first angle is U(−θ_max, θ_max); each next one has magnitude
//     Triangular(0, I·θ_max, θ_max + ε) and the previous angle's sign,
//     flipped with probability p.
//  3. The path is the cumulative sum of ℓᵢ·e^{iθᵢ}; it is centred on the
//     mean of its vertices, rotated by U(0, π) and moved to the canvas centre.
//  4. The polyline is drawn with value 1 and width max(1, ⌊D/150⌋) pixels,
//     blurred by a Gaussian of σ = ⌊0.01·D⌋ pixels (none if 0), resized to
//     k×k with an antialiased Lanczos-3 filter (as PIL's Image.resize with
//     LANCZOS), clipped at 0 and normalised to sum 1.
//
// Differences from the Python package (which draws with PIL): the line is
// rasterised by this code (a 1-pixel DDA line, or a distance test for wider
// lines), the Gaussian blur is an exact truncated Gaussian (±3σ) rather
// than PIL's box approximation, there is no 8-bit quantisation, and the
// canvas centre is placed so that the vertex mean maps exactly onto the
// kernel's centre pixel. Random variates come from rng, so a kernel is
// reproducible from the rng's seed but not equal to a NumPy draw.
//
// It panics unless k ≥ 1 and 0 ≤ I ≤ 1.
func MotionKernel(k int, intensity float64, rng *rand.Rand) []float64 {
	if k < 1 || !(intensity >= 0 && intensity <= 1) {
		panic(fmt.Sprintf("operator: MotionKernel(%d, %v): need k ≥ 1 and intensity in [0, 1]", k, intensity))
	}
	n := 2 * k
	diag := math.Hypot(float64(n), float64(n))
	path := motionPath(diag, intensity, rng)
	// Pixel centres at integer coordinates 0, …, n−1; output pixel q
	// covers canvas pixels 2q and 2q+1, centred at 2q + 0.5, so the kernel
	// centre c = (k−1)/2 is at canvas coordinate k − 0.5.
	centre := complex(float64(k)-0.5, float64(k)-0.5)
	for i := range path {
		path[i] += centre
	}

	canvas := make([]float64, n*n)
	width := max(1, int(diag/150))
	for i := 1; i < len(path); i++ {
		drawSegment(canvas, n, path[i-1], path[i], width)
	}
	if len(path) == 1 {
		drawSegment(canvas, n, path[0], path[0], width)
	}
	if s := int(0.01 * diag); s > 0 {
		g := GaussianKernel1D(2*3*s+1, float64(s))
		canvas = convolveSeparableZero(canvas, n, n, g)
	}
	rs := lanczosMatrix(n, k)
	K := make([]float64, k*k)
	tmp := make([]float64, k*n) // rows resized: k×n
	for p := range k {
		for x := range n {
			s := 0.0
			for _, t := range rs[p] {
				s += t.w * canvas[t.i*n+x]
			}
			tmp[p*n+x] = s
		}
	}
	sum := 0.0
	for p := range k {
		for q := range k {
			s := 0.0
			for _, t := range rs[q] {
				s += t.w * tmp[p*n+t.i]
			}
			s = max(s, 0)
			K[p*k+q] = s
			sum += s
		}
	}
	if !(sum > 0) {
		clear(K)
		K[(k*k-1)/2] = 1
		return K
	}
	for i := range K {
		K[i] /= sum
	}
	return K
}

// motionPath returns the vertices of a random motion path, centred on their
// mean (step 1–3 of MotionKernel except the final translation).
func motionPath(diag, intensity float64, rng *rand.Rand) []complex128 {
	maxLen := 0.75 * diag * (rng.Float64() + intensity*intensity*rng.Float64())
	var steps []float64
	total := 0.0
	for tries := 0; total < maxLen && tries < 100000; tries++ {
		step := beta1(30, rng) * (1 - intensity + motionEps) * diag
		if step < maxLen {
			steps = append(steps, step)
			total += step
		}
	}
	if len(steps) == 0 {
		steps = append(steps, maxLen)
	}

	maxAngle := intensity * math.Pi * rng.Float64()
	jitter := betaInt(2, 20, rng)
	angles := make([]float64, len(steps))
	angles[0] = maxAngle * (2*rng.Float64() - 1)
	for i := 1; i < len(angles); i++ {
		a := triangular(0, intensity*maxAngle, maxAngle+motionEps, rng)
		if rng.Float64() < jitter {
			a *= -sign(angles[i-1])
		} else {
			a *= sign(angles[i-1])
		}
		angles[i] = a
	}

	path := make([]complex128, len(steps))
	var z, mean complex128
	for i, s := range steps {
		z += cmplx.Rect(s, angles[i])
		path[i] = z
		mean += z
	}
	mean /= complex(float64(len(path)), 0)
	rot := cmplx.Rect(1, math.Pi*rng.Float64())
	for i := range path {
		path[i] = (path[i] - mean) * rot
	}
	return path
}

// beta1 draws Beta(1, b): 1 − (1 − U)^{1/b}.
func beta1(b float64, rng *rand.Rand) float64 {
	return 1 - math.Pow(1-rng.Float64(), 1/b)
}

// betaInt draws Beta(a, b) for integer a, b as Γ_a/(Γ_a + Γ_b), each Gamma a
// sum of unit exponentials.
func betaInt(a, b int, rng *rand.Rand) float64 {
	ga, gb := 0.0, 0.0
	for range a {
		ga += rng.ExpFloat64()
	}
	for range b {
		gb += rng.ExpFloat64()
	}
	return ga / (ga + gb)
}

// triangular draws from the triangular distribution on [lo, hi] with mode
// mode by inversion.
func triangular(lo, mode, hi float64, rng *rand.Rand) float64 {
	u := rng.Float64()
	if f := (mode - lo) / (hi - lo); u < f {
		return lo + math.Sqrt(u*(hi-lo)*(mode-lo))
	}
	return hi - math.Sqrt((1-u)*(hi-lo)*(hi-mode))
}

// sign is NumPy's sign: −1, 0 or 1.
func sign(x float64) float64 {
	switch {
	case x > 0:
		return 1
	case x < 0:
		return -1
	}
	return 0
}

// drawSegment sets to 1 the pixels of the n×n canvas (x = column, y = row,
// pixel centres at integers) covered by the segment from p to q: a DDA line
// for width 1, otherwise the pixels within width/2 of the segment.
func drawSegment(canvas []float64, n int, p, q complex128, width int) {
	set := func(x, y int) {
		if x >= 0 && x < n && y >= 0 && y < n {
			canvas[y*n+x] = 1
		}
	}
	if width <= 1 {
		d := q - p
		steps := int(math.Ceil(math.Max(math.Abs(real(d)), math.Abs(imag(d)))))
		for s := 0; s <= steps; s++ {
			t := 0.0
			if steps > 0 {
				t = float64(s) / float64(steps)
			}
			z := p + d*complex(t, 0)
			set(int(math.Round(real(z))), int(math.Round(imag(z))))
		}
		return
	}
	r := float64(width) / 2
	x0 := int(math.Floor(math.Min(real(p), real(q)) - r))
	x1 := int(math.Ceil(math.Max(real(p), real(q)) + r))
	y0 := int(math.Floor(math.Min(imag(p), imag(q)) - r))
	y1 := int(math.Ceil(math.Max(imag(p), imag(q)) + r))
	d := q - p
	dd := real(d)*real(d) + imag(d)*imag(d)
	for y := max(y0, 0); y <= min(y1, n-1); y++ {
		for x := max(x0, 0); x <= min(x1, n-1); x++ {
			z := complex(float64(x), float64(y))
			t := 0.0
			if dd > 0 {
				w := (z - p) * cmplx.Conj(d)
				t = math.Min(1, math.Max(0, real(w)/dd))
			}
			if cmplx.Abs(z-(p+d*complex(t, 0))) <= r {
				set(x, y)
			}
		}
	}
}

// convolveSeparableZero returns the h×w image x convolved with the
// symmetric odd-length kernel g along both axes, zero outside the image.
func convolveSeparableZero(x []float64, h, w int, g []float64) []float64 {
	c := len(g) / 2
	tmp := make([]float64, h*w)
	for i := range h {
		for j := range w {
			s := 0.0
			for u, gu := range g {
				if jj := j + u - c; jj >= 0 && jj < w {
					s += gu * x[i*w+jj]
				}
			}
			tmp[i*w+j] = s
		}
	}
	out := make([]float64, h*w)
	for i := range h {
		for j := range w {
			s := 0.0
			for u, gu := range g {
				if ii := i + u - c; ii >= 0 && ii < h {
					s += gu * tmp[ii*w+j]
				}
			}
			out[i*w+j] = s
		}
	}
	return out
}

// tap is one weight of a resampling filter.
type tap struct {
	i int
	w float64
}

// lanczosMatrix returns, for each of the out output samples, the taps of an
// antialiased Lanczos-3 resampling of in samples, as PIL computes them:
// output q is centred at input coordinate (q + ½)·s, s = in/out, the kernel
// is stretched by max(s, 1), taps outside the input are dropped and the
// weights are normalised to sum 1.
func lanczosMatrix(in, out int) [][]tap {
	scale := float64(in) / float64(out)
	fs := math.Max(scale, 1)
	support := 3 * fs
	taps := make([][]tap, out)
	for q := range out {
		centre := (float64(q) + 0.5) * scale
		lo := max(int(centre-support+0.5), 0)
		hi := min(int(centre+support+0.5), in)
		sum := 0.0
		for i := lo; i < hi; i++ {
			w := lanczos3((float64(i) - centre + 0.5) / fs)
			taps[q] = append(taps[q], tap{i, w})
			sum += w
		}
		for j := range taps[q] {
			taps[q][j].w /= sum
		}
	}
	return taps
}

// lanczos3 is sinc(x)·sinc(x/3) on |x| < 3.
func lanczos3(x float64) float64 {
	if x == 0 {
		return 1
	}
	if math.Abs(x) >= 3 {
		return 0
	}
	px := math.Pi * x
	return 3 * math.Sin(px) * math.Sin(px/3) / (px * px)
}
