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
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/reports/html"
	"github.com/ipbench/ipbench/reports/plot"
	"github.com/ipbench/ipbench/reports/summary"
	"github.com/ipbench/ipbench/reports/table"
)

// column is one metric column of a results table.
type column struct {
	name    string // key in the group's metrics or set scores
	label   string // metric name as the header shows it
	lower   bool   // lower is better
	set     bool   // a score of a whole set: one number, no interval
	floor   string // key of a floor shown beside the value ("" none)
	missing string // why the column has no number ("n/a (no model)"), or ""
}

// noModel is the cell of a metric whose network the configuration does not
// name: no other network's number is ever printed in its place.
const noModel = "n/a (no model)"

// columns returns the metric columns of a table: those the configuration
// asks for, in its order, or, when the recorded configuration cannot be
// read, every per-sample metric the groups hold.
func columns(cfg *config.Config, groups []summary.Group) []column {
	if cfg == nil {
		var names []string
		for _, g := range groups {
			for n := range g.Metrics {
				if !slices.Contains(names, n) && !isFloor(n) {
					names = append(names, n)
				}
			}
		}
		sort.Strings(names)
		var cols []column
		for _, n := range names {
			cols = append(cols, column{name: n, label: n, lower: lowerIsBetter[n], floor: floorOf(n, groups)})
		}
		return cols
	}
	var cols []column
	for _, m := range cfg.Metrics {
		switch m {
		case "exact":
			cols = append(cols,
				column{name: "sw_ratio", label: "SW/floor", lower: true},
				column{name: "mean_error", label: "mean error", lower: true, floor: "mean_error_floor"},
				column{name: "weight_tv", label: "weight TV", lower: true, floor: "weight_tv_floor"})
		default:
			c := column{name: m, label: m, lower: lowerIsBetter[m], set: !config.Metrics[m].PerSample}
			switch config.Metrics[m].Needs {
			case "lpips":
				if cfg.Features.LPIPS == "" {
					c.missing = noModel
				}
			case "inception":
				if cfg.Features.Inception == "" {
					c.missing = noModel
				}
			}
			cols = append(cols, c)
		}
	}
	return cols
}

func isFloor(name string) bool { return strings.HasSuffix(name, "_floor") }

func floorOf(name string, groups []summary.Group) string {
	for _, g := range groups {
		if _, ok := g.Metrics[name+"_floor"]; ok {
			return name + "_floor"
		}
	}
	return ""
}

// lowerIsBetter names the metrics whose best value is the smallest.
var lowerIsBetter = map[string]bool{
	"crps": true, "lpips": true, "sw_ratio": true, "mean_error": true, "weight_tv": true,
	"mmd": true, "sw": true, "fid": true, "kid": true, "mmd_inception": true,
}

// section is the table of one dataset and task.
type section struct {
	dataset, task string
	groups        []summary.Group
	cols          []column
	header        []string
	rows          [][]html.Cell
}

// value returns a group's number for a column and whether it has one.
func value(c column, g summary.Group, sets setScores) (float64, bool) {
	if c.missing != "" {
		return 0, false
	}
	if c.set {
		v, ok := sets[groupKey(g)][c.name]
		return v, ok && !math.IsNaN(v)
	}
	s, ok := g.Metrics[c.name]
	return s.Mean, ok && !math.IsNaN(s.Mean)
}

// sections builds the tables: a row per solver and NFE, a column per
// metric (mean ± 95% interval; set scores alone; the best value in each
// column marked), seconds per sample, and the NFE and VJP counted by the
// host.
func sections(cfg *config.Config, groups []summary.Group, sets setScores) []section {
	var out []section
	for lo := 0; lo < len(groups); {
		hi := lo
		for hi < len(groups) && groups[hi].Dataset == groups[lo].Dataset && groups[hi].Task == groups[lo].Task {
			hi++
		}
		part := groups[lo:hi]
		lo = hi
		cols := columns(cfg, part)
		s := section{dataset: part[0].Dataset, task: part[0].Task, groups: part, cols: cols, header: []string{"solver", "NFE"}}
		best := make([]float64, len(cols))
		for i, c := range cols {
			dir, how := "↑", "mean ± 95%"
			if c.lower {
				dir = "↓"
			}
			switch {
			case c.name == "kid":
				how = "mean ± subset sd"
			case c.set:
				how = "of the set"
			}
			s.header = append(s.header, fmt.Sprintf("%s %s (%s)", c.label, dir, how))
			sign := 1.0
			if c.lower {
				sign = -1
			}
			best[i] = math.Inf(-1)
			for _, g := range part {
				if v, ok := value(c, g, sets); ok && sign*v > best[i] {
					best[i] = sign * v
				}
			}
			best[i] *= sign
		}
		s.header = append(s.header, "s/sample", "counted NFE", "counted VJP", "samples (failed)")
		for _, g := range part {
			cells := []html.Cell{{Text: g.Solver}, {Text: strconv.Itoa(g.NFE)}}
			for i, c := range cols {
				v, ok := value(c, g, sets)
				text := "n/a"
				switch {
				case c.missing != "":
					text = c.missing
				case !ok:
				case c.name == "kid":
					text = num(v) + " ± " + num(sets[groupKey(g)]["kid_sd"])
				case c.set:
					text = num(v)
				default:
					text = num(v)
					if h := g.Metrics[c.name].Half; h > 0 {
						text += " ± " + num(h)
					}
				}
				if f, okf := g.Metrics[c.floor]; ok && okf {
					text += " (floor " + num(f.Mean) + ")"
				}
				cells = append(cells, html.Cell{Text: text, Best: ok && v == best[i]})
			}
			cells = append(cells, html.Cell{Text: fmt.Sprintf("%.4f", g.Seconds.Mean)}, html.Cell{Text: fmt.Sprintf("%.0f", g.NFECounted.Mean)},
				html.Cell{Text: fmt.Sprintf("%.0f", g.VJPCounted.Mean)}, html.Cell{Text: fmt.Sprintf("%d (%d)", g.OK, g.Failed)})
			s.rows = append(s.rows, cells)
		}
		out = append(out, s)
	}
	return out
}

// runReport prints, per dataset and task, the results table and writes
// report.md, report.html, results.csv, results.json and the plots.
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stdout)
	out := fs.String("out", "", "folder for report.md, report.html, results.csv, results.json and the plots (default: RESULTS/report)")
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
	runs, err := st.Runs()
	if err != nil {
		return err
	}
	// The recorded configuration says which metrics were asked for, which
	// networks were named, and how to rebuild the truths and measurements
	// for the set scores and the image grids.
	var notes []string
	cfg, err := config.Parse([]byte(st.ConfigText()))
	if err != nil {
		cfg = nil
		notes = append(notes, fmt.Sprintf("the recorded configuration does not load here (%v): set scores and image grids are left out", err))
	}
	var rb *rebuilt
	sets := setScores{}
	if cfg != nil {
		if rb, err = rebuild(cfg); err != nil {
			notes = append(notes, fmt.Sprintf("the truths cannot be rebuilt here (%v): set scores and image grids are left out", err))
		} else if sets, err = computeSets(ctx, cfg, rb, dir, rows); err != nil {
			return err
		}
	}
	secs := sections(cfg, groups, sets)
	var md bytes.Buffer
	w := io.MultiWriter(stdout, &md)
	for _, n := range notes {
		fmt.Fprintf(w, "\nNote: %s.\n", n)
	}
	for _, s := range secs {
		tb := table.New(s.header...)
		for _, r := range s.rows {
			cells := make([]string, len(r))
			for i, c := range r {
				cells[i] = c.Text
				if c.Best {
					cells[i] = "**" + c.Text + "**"
				}
			}
			tb.Append(cells...)
		}
		fmt.Fprintf(w, "\n### %s, %s\n\n", s.dataset, s.task)
		if err := tb.Render(w, table.Markdown); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(filepath.Join(*out, "plots"), 0o755); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(*out, "report.md"), md.Bytes()); err != nil {
		return err
	}
	if err := writeData(*out, groups, sets); err != nil {
		return err
	}
	plots, err := writePlots(*out, secs)
	if err != nil {
		return err
	}
	page := html.Page{Title: "ipbench report", Notes: provenance(st.ConfigHash(), runs, notes)}
	for _, s := range secs {
		hs := html.Section{Heading: s.dataset + ", " + s.task, Table: html.Table{Header: s.header, Rows: s.rows,
			Caption: "mean ± 95% interval over the samples (set scores: one number for the whole set); best value of each column in bold"}}
		for _, p := range plots[s.dataset+"/"+s.task] {
			hs.Plots = append(hs.Plots, p)
		}
		if rb != nil {
			g, err := imageGrid(rb, dir, rows, s)
			if err != nil {
				return err
			}
			hs.Grid = g
		}
		page.Sections = append(page.Sections, hs)
	}
	var buf bytes.Buffer
	if err := html.Write(&buf, page); err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(*out, "report.html"), buf.Bytes()); err != nil {
		return err
	}
	nplots := 0
	for _, p := range plots {
		nplots += len(p)
	}
	fmt.Fprintf(stdout, "\nreport: %s (report.md, report.html, results.csv, results.json, %d plots in plots/ as PNG and SVG)\n", *out, nplots)
	return nil
}

// provenance returns the lines under the page title: what made the record.
func provenance(hash string, runs []store.RunInfo, notes []string) []string {
	lines := []string{"config sha256 " + hash, "report made " + time.Now().UTC().Format("2006-01-02 15:04 UTC")}
	for _, r := range runs {
		fin := "unfinished"
		if !r.Finished.IsZero() {
			fin = "finished " + r.Finished.UTC().Format("2006-01-02 15:04 UTC")
		}
		shard := ""
		if r.Shard != "" {
			shard = ", shard " + r.Shard
		}
		lines = append(lines, fmt.Sprintf("run %d: ipbench %s (commit %s, %s) on %s%s, started %s, %s",
			r.ID, r.IpbenchVersion, r.Commit, r.GoVersion, r.Host, shard, r.Started.UTC().Format("2006-01-02 15:04 UTC"), fin))
	}
	return append(lines, notes...)
}

// writeData writes results.csv and results.json: every group with each
// per-sample metric's mean and interval and each set score.
func writeData(out string, groups []summary.Group, sets setScores) error {
	var names []string
	for _, g := range groups {
		for n := range g.Metrics {
			if !slices.Contains(names, n) {
				names = append(names, n)
			}
		}
	}
	sort.Strings(names)
	var setNames []string
	for _, s := range sets {
		for n := range s {
			if !slices.Contains(setNames, n) {
				setNames = append(setNames, n)
			}
		}
	}
	sort.Strings(setNames)
	var csvBuf bytes.Buffer
	w := csv.NewWriter(&csvBuf)
	head := []string{"dataset", "task", "solver", "nfe"}
	for _, n := range names {
		head = append(head, n+"_mean", n+"_ci95")
	}
	for _, n := range setNames {
		head = append(head, "set_"+n)
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
		for _, n := range setNames {
			if v, ok := sets[groupKey(g)][n]; ok {
				rec = append(rec, f(v))
			} else {
				rec = append(rec, "")
			}
		}
		rec = append(rec, f(g.Seconds.Mean), f(g.NFECounted.Mean), f(g.VJPCounted.Mean), strconv.Itoa(g.OK), strconv.Itoa(g.Failed))
		w.Write(rec)
	}
	w.Flush()
	if err := atomicfile.Write(filepath.Join(out, "results.csv"), csvBuf.Bytes()); err != nil {
		return err
	}
	js, err := json.MarshalIndent(groupsJSON(groups, sets), "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(out, "results.json"), append(js, '\n'))
}

// writePlots writes a quality-vs-NFE plot per dataset, task and per-sample
// metric, and a time-vs-NFE plot per dataset and task (PNG and SVG), and
// returns the PNGs by "dataset/task" for the page.
func writePlots(out string, secs []section) (map[string][]html.Plot, error) {
	labels := map[string]string{
		"psnr": "PSNR (dB), higher is better", "ssim": "SSIM, higher is better", "crps": "CRPS, lower is better",
		"lpips": "LPIPS, lower is better", "sw_ratio": "SW to the exact posterior / floor, lower is better",
		"mean_error": "error of the sample mean, lower is better", "weight_tv": "mode weight TV, lower is better",
	}
	plots := map[string][]html.Plot{}
	for _, s := range secs {
		key := s.dataset + "/" + s.task
		save := func(f plot.Figure, name, caption string) error {
			base := filepath.Join(out, "plots", s.dataset+"_"+s.task+"_"+name)
			if err := f.Save(base); err != nil {
				return nil // nothing to draw (one NFE per solver, say): no figure
			}
			png, err := os.ReadFile(base + ".png")
			if err != nil {
				return err
			}
			plots[key] = append(plots[key], html.Plot{Caption: caption, PNG: png})
			return nil
		}
		for _, c := range s.cols {
			if c.set || c.missing != "" {
				continue
			}
			label := labels[c.name]
			if label == "" {
				label = c.name
			}
			if err := save(plot.Quality(s.groups, s.dataset, s.task, c.name, label), c.name, label+" against NFE (95% band)"); err != nil {
				return nil, err
			}
		}
		if err := save(plot.Time(s.groups, s.dataset, s.task), "seconds", "seconds per sample against NFE"); err != nil {
			return nil, err
		}
	}
	return plots, nil
}

// groupsJSON gives the groups plain field names, with NaN as null.
func groupsJSON(groups []summary.Group, sets setScores) []map[string]any {
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
		set := map[string]any{}
		for n, v := range sets[groupKey(g)] {
			set[n] = num(v)
		}
		out = append(out, map[string]any{
			"dataset": g.Dataset, "task": g.Task, "solver": g.Solver, "nfe": g.NFE,
			"metrics": m, "set_scores": set, "seconds_per_sample": stat(g.Seconds), "nfe_counted": stat(g.NFECounted),
			"vjp_counted": stat(g.VJPCounted), "samples": g.OK, "failed": g.Failed,
		})
	}
	return out
}

// num prints a metric with 4 significant digits (PSNR 26.23, SSIM 0.8127,
// CRPS 0.01234).
func num(v float64) string { return fmt.Sprintf("%.4g", v) }
