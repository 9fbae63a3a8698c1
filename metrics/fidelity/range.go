package fidelity

import (
	"fmt"
	"math"
)

// RangeLimit is the largest |value| a pixel in [-1, 1] units may have and
// still be taken as such. Ground truths drawn from an image-shaped mixture
// (mean image plus N(0, c) noise, c = 0.01 by default) step a little beyond
// ±1, and are clamped with everything else; a value beyond ±2 is no such
// excursion but an image in another range ([0, 255], most often), which
// would give a meaningless number after clamping.
const RangeLimit = 2

// CheckRange returns an error naming the first value of x that is not
// finite or lies beyond ±RangeLimit, and what it suggests.
func CheckRange(what string, x []float64) error {
	for i, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s holds %v at %d", what, v, i)
		}
		if math.Abs(v) > RangeLimit {
			hint := ""
			if v > 2 && v <= 255 {
				hint = " (it looks like [0, 255]: divide by 127.5 and subtract 1)"
			}
			return fmt.Errorf("%s has value %v at %d: pixels must be in [-1, 1]%s", what, v, i, hint)
		}
	}
	return nil
}
