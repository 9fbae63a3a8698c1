package sdk

import (
	"fmt"
	"math"
	"sort"
)

// ResolveParams fills in the defaults of info's parameters and checks the
// given values: unknown names, NaN and values outside [Min, Max] are errors
// that name the parameter.
func ResolveParams(info Info, given map[string]float64) (map[string]float64, error) {
	known := make(map[string]Param, len(info.Params))
	out := make(map[string]float64, len(info.Params))
	for _, p := range info.Params {
		known[p.Name] = p
		out[p.Name] = p.Default
	}
	names := make([]string, 0, len(given))
	for k := range given {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		v := given[k]
		p, ok := known[k]
		if !ok {
			return nil, fmt.Errorf("solver %s: unknown parameter %q", info.Name, k)
		}
		if math.IsNaN(v) || v < p.Min || v > p.Max {
			return nil, fmt.Errorf("solver %s: parameter %s = %v is outside [%v, %v]", info.Name, k, v, p.Min, p.Max)
		}
		out[k] = v
	}
	return out, nil
}
