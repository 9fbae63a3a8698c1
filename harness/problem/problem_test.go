package problem

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"testing"

	"gonum.org/v1/gonum/mat"
)

func TestMCGdiffFamily(t *testing.T) {
	const d, m = 10, 3
	f, err := MCGdiff(d, m, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Means) != 25 || len(f.Weights) != 25 || len(f.Variances) != 25 {
		t.Fatalf("%d means, %d weights, %d variances; want 25", len(f.Means), len(f.Weights), len(f.Variances))
	}
	sum := 0.0
	for _, w := range f.Weights {
		sum += w
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Errorf("weights sum to %v", sum)
	}
	// Means (8i, 8j) tiled: component 0 is (−16, −16, …), component 24 (16, 16, …).
	if f.Means[0][0] != -16 || f.Means[0][d-1] != -16 || f.Means[24][3] != 16 || f.Means[7][0] != -8 || f.Means[7][1] != 0 {
		t.Errorf("means not the (8i, 8j) grid: %v … %v", f.Means[0][:2], f.Means[24][:2])
	}
	// A = U diag(s) V: its singular values are the sorted s ∈ (0, 1), and
	// σ_y ≤ max s.
	a := mat.NewDense(m, d, nil)
	for i, row := range f.A {
		a.SetRow(i, row)
	}
	var svd mat.SVD
	if !svd.Factorize(a, mat.SVDNone) {
		t.Fatal("SVD failed")
	}
	s := svd.Values(nil)
	for i, v := range s {
		if v <= 0 || v >= 1 || (i > 0 && v > s[i-1]) {
			t.Errorf("singular values %v not in (0, 1) or not sorted", s)
		}
	}
	if !(f.SigmaY > 0 && f.SigmaY <= s[0]+1e-12) {
		t.Errorf("σ_y = %v, max s = %v", f.SigmaY, s[0])
	}
	g, _ := MCGdiff(d, m, rand.New(rand.NewPCG(1, 2)))
	if !reflect.DeepEqual(f, g) {
		t.Error("the same seed gave a different problem")
	}
	if _, err := MCGdiff(7, 2, rand.New(rand.NewPCG(1, 2))); err == nil {
		t.Error("odd dimension: no error")
	}
}

// A problem written and read back is the same problem.
func TestWriteRead(t *testing.T) {
	f, err := MCGdiff(4, 2, rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "p.json")
	if err := f.Write(path); err != nil {
		t.Fatal(err)
	}
	p, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	q, err := f.Problem()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Y, q.Y) || p.SigmaY != q.SigmaY || !reflect.DeepEqual(p.Prior.Weights(), q.Prior.Weights()) {
		t.Error("read-back problem differs")
	}
}
