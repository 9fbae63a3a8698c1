// Package solvers is the table of the solvers built into the ipbench binary.
package solvers

import (
	"fmt"
	"sort"
	"strings"

	"github.com/ipbench/ipbench/baselines/dps"
	"github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/plugins/sdk"
)

var builtin = map[string]sdk.Solver{
	"eps": eps.Solver{},
	"dps": dps.Solver{},
}

// Names returns the names of the built-in solvers, sorted.
func Names() []string {
	n := make([]string, 0, len(builtin))
	for k := range builtin {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Get returns the solver called name.
func Get(name string) (sdk.Solver, error) {
	s, ok := builtin[name]
	if !ok {
		return nil, fmt.Errorf("unknown solver %q (known: %s)", name, strings.Join(Names(), ", "))
	}
	return s, nil
}
