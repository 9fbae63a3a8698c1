package edm

import (
	"context"
	"math"
	"strings"
	"testing"
)

func TestSigmas(t *testing.T) {
	s := Sigmas(5, SigmaMin, SigmaMax, Rho)
	if len(s) != 6 || s[0] != SigmaMax || math.Abs(s[4]-SigmaMin) > 1e-15 || s[5] != 0 {
		t.Fatalf("Sigmas = %v", s)
	}
	for i := 1; i < len(s); i++ {
		if s[i] >= s[i-1] {
			t.Errorf("not decreasing at %d: %v", i, s)
		}
	}
	// ρ-th roots are evenly spaced.
	r := func(i int) float64 { return math.Pow(s[i], 1/Rho) }
	if math.Abs((r(1)-r(0))-(r(4)-r(3))) > 1e-12 {
		t.Errorf("ρ-th roots not evenly spaced")
	}
	if s := Sigmas(1, SigmaMin, SigmaMax, Rho); len(s) != 2 || s[0] != SigmaMax || s[1] != 0 {
		t.Errorf("one step: %v", s)
	}
}

func TestHeunScheduleNFE(t *testing.T) {
	for nfe := 1; nfe <= 40; nfe++ {
		s, err := HeunSchedule(nfe, SigmaMin, SigmaMax, Rho)
		if err != nil {
			t.Fatal(err)
		}
		if s.NFE() != nfe {
			t.Errorf("HeunSchedule(%d) costs %d NFE", nfe, s.NFE())
		}
		if s.Heun[len(s.Heun)-1] {
			t.Errorf("HeunSchedule(%d): last step is corrected", nfe)
		}
	}
	if _, err := HeunSchedule(0, SigmaMin, SigmaMax, Rho); err == nil {
		t.Error("NFE 0: no error")
	}
	if _, err := HeunSchedule(5, 1, 0.5, Rho); err == nil {
		t.Error("σ_min > σ_max: no error")
	}
}

// For x₀ ~ N(0, c) the denoiser is D(x; σ) = c x/(c + σ²) and the ODE has
// the solution x(σ) = x(σ₀) √((c + σ²)/(c + σ₀²)). Heun is second order:
// doubling the steps cuts the error about fourfold.
func TestHeunGaussianClosedForm(t *testing.T) {
	const c = 0.5
	den := func(_ context.Context, dst, x [][]float64, sigma float64) error {
		for i := range x {
			for j := range x[i] {
				dst[i][j] = c * x[i][j] / (c + sigma*sigma)
			}
		}
		return nil
	}
	errAt := func(nfe int) float64 {
		s, _ := HeunSchedule(nfe, SigmaMin, 10, Rho)
		x := [][]float64{{10}}
		if err := Heun(context.Background(), x, s, den); err != nil {
			t.Fatal(err)
		}
		want := 10 * math.Sqrt(c/(c+100))
		return math.Abs(x[0][0] - want)
	}
	// Measured: 0.0108, 0.0026, 0.00064 at 41, 81, 161 NFE.
	e1, e2, e3 := errAt(41), errAt(81), errAt(161)
	if e3 > 1e-3 {
		t.Errorf("161 NFE: error %.3g", e3)
	}
	if e1/e2 < 3.5 || e2/e3 < 3.5 {
		t.Errorf("errors %.3g, %.3g, %.3g for doubled steps: not second order", e1, e2, e3)
	}
	// One NFE is D(x; σ_max).
	s, _ := HeunSchedule(1, SigmaMin, 10, Rho)
	x := [][]float64{{10}}
	_ = Heun(context.Background(), x, s, den)
	if want := c * 10 / (c + 100); math.Abs(x[0][0]-want) > 1e-15 {
		t.Errorf("1 NFE gives %v, want D(x; σ_max) = %v", x[0][0], want)
	}
}

// Grid checks what a solver's schedule needs and names the bad value.
func TestGrid(t *testing.T) {
	p := map[string]float64{"sigma_min": SigmaMin, "rho": Rho}
	s, err := Grid(5, 80, p)
	if err != nil || len(s) != 6 || s[0] != 80 || s[5] != 0 {
		t.Errorf("Grid(5, 80) = %v, %v", s, err)
	}
	for _, tc := range []struct {
		nfe  int
		max  float64
		p    map[string]float64
		want string
	}{
		{0, 80, p, "NFE must be at least 1, got 0"},
		{5, 0.001, p, "σ_max=0.001"},
		{5, 80, map[string]float64{"sigma_min": 0.002, "rho": 0}, "ρ=0"},
		{5, 80, map[string]float64{"rho": 7}, "σ_min=0"},
	} {
		if _, err := Grid(tc.nfe, tc.max, tc.p); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Grid(%d, %v, %v): error %v, want one containing %q", tc.nfe, tc.max, tc.p, err, tc.want)
		}
	}
}

// DDIM's coefficients: η = 0 keeps all of next as ε̂ (the ODE's Euler
// step), η = 1 is DDPM's ancestral step, c = next²/σ; in every case the
// noise left has standard deviation next, c² + s² = next².
func TestDDIM(t *testing.T) {
	for _, tc := range []struct{ eta, sigma, next, c, s float64 }{
		{0, 2, 1, 1, 0},
		{1, 2, 1, 0.5, math.Sqrt(0.75)},
		{1, 3, 0, 0, 0},
	} {
		c, s := DDIM(tc.eta, tc.sigma, tc.next)
		if math.Abs(c-tc.c) > 1e-15 || math.Abs(s-tc.s) > 1e-15 {
			t.Errorf("DDIM(%v, %v, %v) = %v, %v; want %v, %v", tc.eta, tc.sigma, tc.next, c, s, tc.c, tc.s)
		}
	}
	c, s := DDIM(0.4, 5, 2)
	if math.Abs(c*c+s*s-4) > 1e-12 {
		t.Errorf("c² + s² = %v, want 4", c*c+s*s)
	}
}
