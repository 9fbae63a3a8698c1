package task_test

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/operator/operatortest"
	"github.com/ipbench/ipbench/harness/task"
)

func TestNames(t *testing.T) {
	want := []string{"deblur-gauss", "deblur-motion", "inpaint-box", "inpaint-random", "sr4", "sr4-pool"}
	if got := task.Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func TestResolveScaling(t *testing.T) {
	type P = map[string]float64
	for _, tc := range []struct {
		name string
		over P
		h, w int
		want P
	}{
		{"sr4", nil, 256, 256, P{"factor": 4}},
		{"sr4", nil, 64, 64, P{"factor": 4}},
		{"sr4-pool", nil, 64, 64, P{"factor": 4}},
		{"inpaint-box", nil, 256, 256, P{"box": 128}},
		{"inpaint-box", nil, 64, 64, P{"box": 32}},
		{"inpaint-box", nil, 12, 8, P{"box": 6}},
		{"inpaint-box", P{"box": 1}, 64, 64, P{"box": 1}}, // round(0.25) = 0 → at least 1
		{"inpaint-random", nil, 256, 256, P{"missing": 0.7}},
		{"inpaint-random", nil, 64, 64, P{"missing": 0.7}},
		{"deblur-gauss", nil, 256, 256, P{"size": 61, "sigma": 3}},
		{"deblur-gauss", nil, 64, 64, P{"size": 15, "sigma": 0.75}},                     // 61/4 = 15.25 → 15
		{"deblur-gauss", nil, 128, 128, P{"size": 31, "sigma": 1.5}},                    // 30.5 → 31
		{"deblur-gauss", nil, 16, 16, P{"size": 3, "sigma": 0.1875}},                    // 3.8125 → 3
		{"deblur-gauss", nil, 512, 512, P{"size": 123, "sigma": 6}},                     // 122: tie → 123
		{"deblur-gauss", P{"size": 31, "sigma": 2}, 64, 64, P{"size": 7, "sigma": 0.5}}, // 7.75 → 7
		{"deblur-motion", nil, 256, 256, P{"size": 61, "intensity": 0.5}},
		{"deblur-motion", nil, 64, 64, P{"size": 15, "intensity": 0.5}},
		{"deblur-motion", P{"intensity": 0.9}, 64, 64, P{"size": 15, "intensity": 0.9}},
	} {
		shape := operator.Shape{C: 3, H: tc.h, W: tc.w}
		r, err := task.Resolve(task.Spec{Name: tc.name, Params: tc.over}, shape)
		if err != nil {
			t.Errorf("%s at %dx%d: %v", tc.name, tc.h, tc.w, err)
			continue
		}
		if r.Name != tc.name || !maps.Equal(r.Params, tc.want) {
			t.Errorf("%s %v at %dx%d: got %v, want %v", tc.name, tc.over, tc.h, tc.w, r.Params, tc.want)
		}
	}
}

func TestResolveErrors(t *testing.T) {
	type P = map[string]float64
	s256 := operator.Shape{C: 3, H: 256, W: 256}
	for _, tc := range []struct {
		name  string
		over  P
		shape operator.Shape
		want  string // substrings of the error
	}{
		{"sr8", nil, s256, `unknown task "sr8"`},
		{"sr4", P{"scale": 2}, s256, `unknown parameter "scale"`},
		{"sr4", P{"factor": 2.5}, s256, `"factor"`},
		{"sr4", P{"factor": 0}, s256, `"factor"`},
		{"sr4", nil, operator.Shape{C: 3, H: 250, W: 256}, `"factor" = 4: image size 250×256 is not divisible`},
		{"sr4-pool", P{"factor": 3}, s256, `"factor" = 3: image size`},
		{"inpaint-box", P{"box": -1}, s256, `"box"`},
		{"inpaint-box", P{"box": 300}, s256, `"box" = 300 (scaled): box larger than the 256×256 image`},
		{"inpaint-box", P{"box": 256}, s256, `covers the whole`},
		{"inpaint-box", P{"box": 200}, operator.Shape{C: 1, H: 256, W: 128}, `"box" = 200 (scaled): box larger`},
		{"inpaint-random", P{"missing": 1}, s256, `"missing" = 1: must be in [0, 1)`},
		{"inpaint-random", P{"missing": -0.1}, s256, `"missing"`},
		{"deblur-gauss", P{"size": 60}, s256, `"size" = 60: must be an odd integer`},
		{"deblur-gauss", P{"sigma": 0}, s256, `"sigma" = 0: must be positive`},
		{"deblur-gauss", P{"size": 301}, s256, `"size" = 301 (scaled): kernel larger than the 256×256 image`},
		{"deblur-gauss", nil, operator.Shape{C: 3, H: 256, W: 32}, `kernel larger`},
		{"deblur-motion", P{"intensity": 1.5}, s256, `"intensity" = 1.5: must be in [0, 1]`},
		{"deblur-motion", nil, operator.Shape{C: 3, H: 2, W: 2}, `"size" = 3 (scaled): kernel larger`},
		{"sr4", nil, operator.Shape{C: 0, H: 256, W: 256}, `shape`},
	} {
		_, err := task.Resolve(task.Spec{Name: tc.name, Params: tc.over}, tc.shape)
		if err == nil {
			t.Errorf("%s %v %v: no error", tc.name, tc.over, tc.shape)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %v: error %q does not contain %q", tc.name, tc.over, err, tc.want)
		}
		if tc.name != "sr8" && !strings.Contains(err.Error(), `"`+tc.name+`"`) {
			t.Errorf("%s: error %q does not name the task", tc.name, err)
		}
	}
}

// TestBuild checks the operator of every task at small shapes.
func TestBuild(t *testing.T) {
	for _, shape := range []operator.Shape{{C: 3, H: 16, W: 16}, {C: 2, H: 12, W: 8}} {
		for _, name := range task.Names() {
			r, err := task.Resolve(task.Spec{Name: name}, shape)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			op, err := task.Build(r, shape, rand.New(rand.NewPCG(1, 2)))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			t.Run(name+"/"+shapeName(shape), func(t *testing.T) {
				m, d := op.Dims()
				if d != shape.Len() {
					t.Fatalf("d = %d, want %d", d, shape.Len())
				}
				t.Logf("%v m=%d d=%d", r.Params, m, d)
				operatortest.Check(t, op, rand.New(rand.NewPCG(3, 4)), operatortest.Options{})
			})
		}
	}
}

func shapeName(s operator.Shape) string { return fmt.Sprintf("%dx%dx%d", s.C, s.H, s.W) }

// TestBuildRandomness checks that per-image randomness comes from rng: the
// same seed gives the same operator, different seeds different ones, and
// deterministic tasks ignore rng.
func TestBuildRandomness(t *testing.T) {
	shape := operator.Shape{C: 1, H: 32, W: 32}
	probe := make([]float64, shape.Len())
	for i := range probe {
		probe[i] = float64(i%7) - 3 + float64(i)/100
	}
	apply := func(name string, seed uint64) []float64 {
		r, err := task.Resolve(task.Spec{Name: name}, shape)
		if err != nil {
			t.Fatal(err)
		}
		op, err := task.Build(r, shape, rand.New(rand.NewPCG(seed, 0)))
		if err != nil {
			t.Fatal(err)
		}
		m, _ := op.Dims()
		y := make([]float64, m)
		op.Apply(y, probe)
		return y
	}
	for _, name := range task.Names() {
		a, b, c := apply(name, 1), apply(name, 1), apply(name, 2)
		if !slices.Equal(a, b) {
			t.Errorf("%s: same seed, different operators", name)
		}
		random := name == "inpaint-box" || name == "inpaint-random" || name == "deblur-motion"
		if random == slices.Equal(a, c) {
			t.Errorf("%s: random=%v but seeds 1 and 2 give equal=%v", name, random, slices.Equal(a, c))
		}
	}
}

func TestBuildErrors(t *testing.T) {
	shape := operator.Shape{C: 1, H: 16, W: 16}
	rng := rand.New(rand.NewPCG(1, 1))
	if _, err := task.Build(task.Resolved{Name: "nope"}, shape, rng); err == nil {
		t.Error("unknown task: no error")
	}
	if _, err := task.Build(task.Resolved{Name: "sr4", Params: map[string]float64{}}, shape, rng); err == nil || !strings.Contains(err.Error(), `"factor"`) {
		t.Errorf("missing parameter: %v", err)
	}
	r, _ := task.Resolve(task.Spec{Name: "sr4"}, shape)
	if _, err := task.Build(r, operator.Shape{C: 1, H: 18, W: 16}, rng); err == nil {
		t.Error("shape not divisible: no error")
	}
}

// TestBuildFullSize checks the adjoint and SolveShifted of every task at
// 3×256×256 (no dense comparison at this size).
func TestBuildFullSize(t *testing.T) {
	if testing.Short() {
		t.Skip("full-size operators")
	}
	shape := operator.Shape{C: 3, H: 256, W: 256}
	for _, name := range task.Names() {
		t.Run(name, func(t *testing.T) {
			r, err := task.Resolve(task.Spec{Name: name}, shape)
			if err != nil {
				t.Fatal(err)
			}
			op, err := task.Build(r, shape, rand.New(rand.NewPCG(5, 6)))
			if err != nil {
				t.Fatal(err)
			}
			operatortest.Check(t, op, rand.New(rand.NewPCG(7, 8)), operatortest.Options{})
		})
	}
}
