package cli

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/reports/plot"

	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/reports/summary"
	"github.com/ipbench/ipbench/reports/table"
)

// runReport prints, per dataset and task, a table with a row per solver and
// NFE: each metric's mean ± 95% interval (the best mean in bold), seconds per
// sample, and the NFE and VJP counted by the host.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stdout)
	out := fs.String("out", "", "folder for report.md, results.csv, results.json and the plots (default: RESULTS/report)")
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return badInput("usage: ipbench report RESULTS [--out DIR]")
	}
	dir := args[0]
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *out == "" {
		*out = filepath.Join(dir, "report")
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
	var md bytes.Buffer
	stdout = io.MultiWriter(stdout, &md)
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
	return writeReportFiles(*out, groups, md.Bytes(), stdout)
}

// writeReportFiles writes the tables (report.md), the same numbers as CSV
// and JSON, and a quality-vs-NFE plot per dataset, task and metric plus a
// time-vs-NFE plot per dataset and task (PNG and SVG).
func writeReportFiles(out string, groups []summary.Group, md []byte, stdout io.Writer) error {
	if err := os.MkdirAll(filepath.Join(out, "plots"), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, "report.md"), md); err != nil {
		return err
	}
	var names []string
	for _, g := range groups {
		for n := range g.Metrics {
			if !contains(names, n) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	var csvBuf bytes.Buffer
	w := csv.NewWriter(&csvBuf)
	head := []string{"dataset", "task", "solver", "nfe"}
	for _, n := range names {
		head = append(head, n+"_mean", n+"_ci95")
	}
	head = append(head, "seconds_per_sample", "nfe_counted", "vjp_counted", "samples", "failed")
	w.Write(head)
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', 8, 64) }
	for _, g := range groups {
		rec := []string{g.Dataset, g.Task, g.Solver, strconv.Itoa(g.NFE)}
		for _, n := range names {
			if s, ok := g.Metrics[n]; ok {
				rec = append(rec, f(s.Mean), f(s.Half))
			} else {
				rec = append(rec, "", "")
			}
		}
		rec = append(rec, f(g.Seconds.Mean), f(g.NFECounted.Mean), f(g.VJPCounted.Mean), strconv.Itoa(g.OK), strconv.Itoa(g.Failed))
		w.Write(rec)
	}
	w.Flush()
	if err := atomicfile.Write(filepath.Join(out, "results.csv"), csvBuf.Bytes()); err != nil {
		return err
	}
	js, err := json.MarshalIndent(groupsJSON(groups), "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(out, "results.json"), append(js, '\n')); err != nil {
		return err
	}
	labels := map[string]string{"psnr": "PSNR (dB), higher is better", "ssim": "SSIM, higher is better", "crps": "CRPS, lower is better"}
	seen := map[string]bool{}
	nplots := 0
	for _, g := range groups {
		key := g.Dataset + "/" + g.Task
		if seen[key] {
			continue
		}
		seen[key] = true
		for _, n := range names {
			label := labels[n]
			if label == "" {
				label = n
			}
			if err := plot.Quality(groups, g.Dataset, g.Task, n, label).Save(filepath.Join(out, "plots", g.Dataset+"_"+g.Task+"_"+n)); err == nil {
				nplots++
			}
		}
		if err := plot.Time(groups, g.Dataset, g.Task).Save(filepath.Join(out, "plots", g.Dataset+"_"+g.Task+"_seconds")); err == nil {
			nplots++
		}
	}
	fmt.Fprintf(stdout, "\nreport: %s (report.md, results.csv, results.json, %d plots in plots/ as PNG and SVG)\n", out, nplots)
	return nil
}

// groupsJSON gives the groups plain field names, with NaN as null.
func groupsJSON(groups []summary.Group) []map[string]any {
	num := func(v float64) any {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return v
	}
	stat := func(s summary.Stat) map[string]any {
		return map[string]any{"mean": num(s.Mean), "ci95": num(s.Half), "n": s.N}
	}
	var out []map[string]any
	for _, g := range groups {
		m := map[string]any{}
		for n, s := range g.Metrics {
			m[n] = stat(s)
		}
		out = append(out, map[string]any{
			"dataset": g.Dataset, "task": g.Task, "solver": g.Solver, "nfe": g.NFE,
			"metrics": m, "seconds_per_sample": stat(g.Seconds), "nfe_counted": stat(g.NFECounted),
			"vjp_counted": stat(g.VJPCounted), "samples": g.OK, "failed": g.Failed,
		})
	}
	return out
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
