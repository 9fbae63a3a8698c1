// Package summary aggregates a record's rows into the numbers of a results
// table: per (dataset, task, solver, NFE), each metric's mean with a 95%
// confidence half-width, seconds per sample, and the counted NFE and VJP.
package summary

import (
	"math"
	"sort"

	"github.com/ipbench/ipbench/harness/store"
)

// Stat is a mean with its 95% confidence half-width (1.96·s/√n; 0 for n < 2)
// over n values.
type Stat struct {
	Mean, Half float64
	N          int
}

// Of returns the Stat of xs.
func Of(xs []float64) Stat {
	n := len(xs)
	if n == 0 {
		return Stat{Mean: math.NaN(), Half: math.NaN()}
	}
	m := 0.0
	for _, x := range xs {
		m += x
	}
	m /= float64(n)
	if n < 2 {
		return Stat{Mean: m, N: n}
	}
	v := 0.0
	for _, x := range xs {
		v += (x - m) * (x - m)
	}
	sd := math.Sqrt(v / float64(n-1))
	return Stat{Mean: m, Half: 1.96 * sd / math.Sqrt(float64(n)), N: n}
}

// Group is one row of a results table.
type Group struct {
	Dataset, Task, Solver string
	NFE                   int
	Metrics               map[string]Stat
	Seconds, NFECounted   Stat
	VJPCounted            Stat
	OK, Failed            int
}

// Groups aggregates rows, sorted by dataset, task, solver and NFE. Failed
// rows count in Failed only.
func Groups(rows []store.Row) []Group {
	type key struct {
		d, t, s string
		n       int
	}
	vals := map[key]map[string][]float64{}
	groups := map[key]*Group{}
	for _, r := range rows {
		k := key{r.Dataset, r.Task, r.Solver, r.NFE}
		g, ok := groups[k]
		if !ok {
			g = &Group{Dataset: r.Dataset, Task: r.Task, Solver: r.Solver, NFE: r.NFE, Metrics: map[string]Stat{}}
			groups[k] = g
			vals[k] = map[string][]float64{}
		}
		if r.Status != store.StatusOK {
			g.Failed++
			continue
		}
		g.OK++
		for name, v := range r.Metrics {
			if !math.IsInf(v, 0) && !math.IsNaN(v) {
				vals[k]["metric "+name] = append(vals[k]["metric "+name], v)
			}
		}
		vals[k]["seconds"] = append(vals[k]["seconds"], r.Seconds)
		vals[k]["nfe"] = append(vals[k]["nfe"], r.NFECounted)
		vals[k]["vjp"] = append(vals[k]["vjp"], r.VJPCounted)
	}
	var out []Group
	for k, g := range groups {
		for name, xs := range vals[k] {
			switch name {
			case "seconds":
				g.Seconds = Of(xs)
			case "nfe":
				g.NFECounted = Of(xs)
			case "vjp":
				g.VJPCounted = Of(xs)
			default:
				g.Metrics[name[len("metric "):]] = Of(xs)
			}
		}
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Dataset != b.Dataset {
			return a.Dataset < b.Dataset
		}
		if a.Task != b.Task {
			return a.Task < b.Task
		}
		if a.Solver != b.Solver {
			return a.Solver < b.Solver
		}
		return a.NFE < b.NFE
	})
	return out
}
