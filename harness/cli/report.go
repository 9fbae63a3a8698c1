package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/reports/summary"
	"github.com/ipbench/ipbench/reports/table"
)

// runReport prints, per dataset and task, a table with a row per solver and
// NFE: each metric's mean ± 95% interval (the best mean in bold), seconds per
// sample, and the NFE and VJP counted by the host.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stdout)
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return badInput("usage: ipbench report RESULTS")
	}
	dir := args[0]
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	st, err := store.OpenExisting(dir)
	if err != nil {
		return asInput(err)
	}
	defer st.Close()
	rows, err := st.Rows()
	if err != nil {
		return err
	}
	groups := summary.Groups(rows)
	if len(groups) == 0 {
		return fmt.Errorf("%s: the record holds no samples yet", dir)
	}
	for lo := 0; lo < len(groups); {
		hi := lo
		for hi < len(groups) && groups[hi].Dataset == groups[lo].Dataset && groups[hi].Task == groups[lo].Task {
			hi++
		}
		part := groups[lo:hi]
		var names []string
		for _, g := range part {
			for n := range g.Metrics {
				if !contains(names, n) {
					names = append(names, n)
				}
			}
		}
		sort.Strings(names)
		header := []string{"solver", "NFE"}
		for _, n := range names {
			dir := "↑"
			if lowerIsBetter[n] {
				dir = "↓"
			}
			header = append(header, n+" "+dir+" (mean ± 95%)")
		}
		header = append(header, "s/sample", "counted NFE", "counted VJP", "samples (failed)")
		tb := table.New(header...)
		best := map[string]float64{}
		for _, n := range names {
			sign := 1.0 // higher is better (psnr, ssim)
			if lowerIsBetter[n] {
				sign = -1
			}
			best[n] = math.Inf(-1)
			for _, g := range part {
				if s, ok := g.Metrics[n]; ok && sign*s.Mean > best[n] {
					best[n] = sign * s.Mean
				}
			}
			best[n] *= sign
		}
		for _, g := range part {
			cells := []string{g.Solver, fmt.Sprint(g.NFE)}
			for _, n := range names {
				s, ok := g.Metrics[n]
				switch {
				case !ok:
					cells = append(cells, "n/a")
				case s.Mean == best[n]:
					cells = append(cells, "**"+num(s.Mean)+"** ± "+num(s.Half))
				default:
					cells = append(cells, num(s.Mean)+" ± "+num(s.Half))
				}
			}
			cells = append(cells, fmt.Sprintf("%.4f", g.Seconds.Mean), fmt.Sprintf("%.0f", g.NFECounted.Mean), fmt.Sprintf("%.0f", g.VJPCounted.Mean), fmt.Sprintf("%d (%d)", g.OK, g.Failed))
			tb.Append(cells...)
		}
		fmt.Fprintf(stdout, "\n### %s, %s\n\n", part[0].Dataset, part[0].Task)
		if err := tb.Render(stdout, table.Markdown); err != nil {
			return err
		}
		lo = hi
	}
	return nil
}

// num prints a metric with 4 significant digits (PSNR 26.23, SSIM 0.8127,
// CRPS 0.01234).
func num(v float64) string { return fmt.Sprintf("%.4g", v) }

// lowerIsBetter names the metrics whose best value is the smallest.
var lowerIsBetter = map[string]bool{"crps": true}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
