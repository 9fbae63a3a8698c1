// Package task builds the measurement operators of ipbench's standard
// inverse problems from a task name and its parameters.
//
// The parameters are defined at the reference resolution of 256 px and
// scaled with the image height H (s = H/256) when a task is resolved for an
// image shape; Resolve returns the values as used, for the record:
//
//	sr4             factor = 4                 ×factor MATLAB bicubic downsampling (not scaled)
//	sr4-pool        factor = 4                 factor×factor average pooling (not scaled)
//	inpaint-box     box = 128                  box×box hole, uniform random position per image;
//	                                           box → max(1, round(box·s))
//	inpaint-random  missing = 0.7              fraction of pixels missing in all channels,
//	                                           random per image (not scaled)
//	deblur-gauss    size = 61, sigma = 3       circular Gaussian blur; size → nearest odd
//	                                           integer ≥ 3 to size·s, sigma → sigma·s
//	deblur-motion   size = 61, intensity = 0.5 circular random-trajectory motion blur, kernel
//	                                           random per image; size scaled as above
//
// Overrides in a Spec are given at the reference resolution too and are
// scaled the same way.
package task

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"

	"github.com/ipbench/ipbench/harness/operator"
)

// RefSize is the image height at which task parameters are defined.
const RefSize = 256

// Spec names a task and overrides some of its parameters (at RefSize).
type Spec struct {
	Name   string
	Params map[string]float64
}

// Resolved is a task with every parameter as used for one image shape:
// defaults filled in and scaled to the shape. It goes into the record.
type Resolved struct {
	Name   string
	Params map[string]float64
}

// scaling says how a parameter follows the resolution.
type scaling int

const (
	fixed   scaling = iota // not scaled
	linear                 // v·s
	rounded                // max(1, round(v·s))
	oddSize                // nearest odd integer ≥ 3 to v·s
)

type param struct {
	name  string
	def   float64
	scale scaling
	// check validates the value at the reference resolution.
	check func(v float64) error
}

var tasks = map[string][]param{
	"sr4":            {{"factor", 4, fixed, positiveInt}},
	"sr4-pool":       {{"factor", 4, fixed, positiveInt}},
	"inpaint-box":    {{"box", 128, rounded, positive}},
	"inpaint-random": {{"missing", 0.7, fixed, fraction}},
	"deblur-gauss":   {{"size", 61, oddSize, oddInt}, {"sigma", 3, linear, positive}},
	"deblur-motion":  {{"size", 61, oddSize, oddInt}, {"intensity", 0.5, fixed, unit}},
}

// Names returns the task names in sorted order.
func Names() []string {
	names := make([]string, 0, len(tasks))
	for n := range tasks {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Resolve fills in the defaults of spec, scales the parameters to shape and
// validates them.
func Resolve(spec Spec, shape operator.Shape) (Resolved, error) {
	params, ok := tasks[spec.Name]
	if !ok {
		return Resolved{}, fmt.Errorf("task: unknown task %q (known: %v)", spec.Name, Names())
	}
	if shape.C < 1 || shape.H < 1 || shape.W < 1 {
		return Resolved{}, fmt.Errorf("task %q: image shape %d×%d×%d must be positive", spec.Name, shape.C, shape.H, shape.W)
	}
	for name := range spec.Params {
		if !slices.ContainsFunc(params, func(p param) bool { return p.name == name }) {
			return Resolved{}, fmt.Errorf("task %q: unknown parameter %q", spec.Name, name)
		}
	}
	s := float64(shape.H) / RefSize
	r := Resolved{Name: spec.Name, Params: make(map[string]float64, len(params))}
	for _, p := range params {
		v, ok := spec.Params[p.name]
		if !ok {
			v = p.def
		}
		if err := p.check(v); err != nil {
			return Resolved{}, fmt.Errorf("task %q: parameter %q = %v: %v", spec.Name, p.name, v, err)
		}
		switch p.scale {
		case linear:
			v *= s
		case rounded:
			v = math.Max(1, math.Round(v*s))
		case oddSize:
			v = math.Max(3, 2*math.Round((v*s-1)/2)+1)
		}
		r.Params[p.name] = v
	}
	if err := r.fits(shape); err != nil {
		return Resolved{}, err
	}
	return r, nil
}

// fits checks the scaled parameters against the image size.
func (r Resolved) fits(shape operator.Shape) error {
	switch r.Name {
	case "sr4", "sr4-pool":
		f := int(r.Params["factor"])
		if shape.H%f != 0 || shape.W%f != 0 {
			return fmt.Errorf("task %q: parameter \"factor\" = %d: image size %d×%d is not divisible by it", r.Name, f, shape.H, shape.W)
		}
	case "inpaint-box":
		b := int(r.Params["box"])
		if b > shape.H || b > shape.W {
			return fmt.Errorf("task %q: parameter \"box\" = %d (scaled): box larger than the %d×%d image", r.Name, b, shape.H, shape.W)
		}
		if b == shape.H && b == shape.W {
			return fmt.Errorf("task %q: parameter \"box\" = %d (scaled): box covers the whole %d×%d image", r.Name, b, shape.H, shape.W)
		}
	case "deblur-gauss", "deblur-motion":
		k := int(r.Params["size"])
		if k > shape.H || k > shape.W {
			return fmt.Errorf("task %q: parameter \"size\" = %d (scaled): kernel larger than the %d×%d image", r.Name, k, shape.H, shape.W)
		}
	}
	return nil
}

// Build returns the operator of the resolved task r for one image of the
// given shape (the shape r was resolved for). The per-image randomness —
// the box position, the random mask, the motion kernel — is drawn from rng.
func Build(r Resolved, shape operator.Shape, rng *rand.Rand) (operator.Operator, error) {
	params, ok := tasks[r.Name]
	if !ok {
		return nil, fmt.Errorf("task: unknown task %q (known: %v)", r.Name, Names())
	}
	for _, p := range params {
		if _, ok := r.Params[p.name]; !ok {
			return nil, fmt.Errorf("task %q: parameter %q missing: resolve the task first", r.Name, p.name)
		}
	}
	if err := r.fits(shape); err != nil {
		return nil, err
	}
	op, err := build(r, shape, rng)
	if err != nil {
		return nil, fmt.Errorf("task %q: %w", r.Name, err)
	}
	return op, nil
}

func build(r Resolved, shape operator.Shape, rng *rand.Rand) (operator.Operator, error) {
	p := r.Params
	switch r.Name {
	case "sr4":
		return operator.NewBicubicDown(shape, int(p["factor"]))
	case "sr4-pool":
		return operator.NewPool(shape, int(p["factor"]))
	case "inpaint-box":
		b := int(p["box"])
		top := rng.IntN(shape.H - b + 1)
		left := rng.IntN(shape.W - b + 1)
		return operator.BoxMask(shape, b, b, top, left)
	case "inpaint-random":
		return operator.RandomMask(shape, p["missing"], rng)
	case "deblur-gauss":
		return operator.NewGaussianBlur(shape, int(p["size"]), p["sigma"])
	case "deblur-motion":
		k := int(p["size"])
		return operator.NewConv(shape, operator.MotionKernel(k, p["intensity"], rng), k)
	}
	panic("task: unreachable")
}

func positive(v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("must be positive and finite")
	}
	return nil
}

func positiveInt(v float64) error {
	if !(v >= 1) || v != math.Trunc(v) || v > 1<<20 {
		return fmt.Errorf("must be a positive integer")
	}
	return nil
}

func oddInt(v float64) error {
	if err := positiveInt(v); err != nil {
		return err
	}
	if int(v)%2 == 0 {
		return fmt.Errorf("must be an odd integer")
	}
	return nil
}

func fraction(v float64) error {
	if !(v >= 0 && v < 1) {
		return fmt.Errorf("must be in [0, 1)")
	}
	return nil
}

func unit(v float64) error {
	if !(v >= 0 && v <= 1) {
		return fmt.Errorf("must be in [0, 1]")
	}
	return nil
}
