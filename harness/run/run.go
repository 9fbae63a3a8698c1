package run

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/harness/dataset"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
)

// Solver is a solver as the run needs it: a plugin (host.Plugin), or an
// in-process solver in tests and benchmarks.
type Solver interface {
	sdk.Solver
	Checksum() string // hex SHA-256 of the binary
}

// Solvers gives the solver of a name (harness/solvers.Registry).
type Solvers interface {
	Get(name string) (Solver, error)
}

// Options of an execution.
type Options struct {
	Shard Shard
	// Output is the results folder (the config's output unless overridden:
	// shards on several machines each write their own, then merge).
	Output string
	// Stop, once set (the first Ctrl-C), lets the batch in flight finish and
	// starts no other.
	Stop *atomic.Bool
	// Progress receives the progress display; nil: none.
	Progress io.Writer
	Terminal bool // draw a bar on one line instead of periodic lines
}

// Summary counts what an execution did.
type Summary struct {
	Planned, Skipped, Done, Failed int // batches of this shard
	Stopped                        bool
	Metrics                        time.Duration // spent on per-sample metrics
}

// Execute runs the batches of opts.Shard that st does not hold yet.
func Execute(ctx context.Context, p *Plan, st *store.Store, solvers Solvers, run int64, opts Options) (sum Summary, err error) {
	c := p.Config
	done, err := doneWithImages(st, opts.Output)
	if err != nil {
		return Summary{}, err
	}
	mine := p.Mine(opts.Shard)
	var todo []Batch
	for _, b := range mine {
		complete := true
		for _, k := range b.Keys(c.Samples) {
			if !done[k] {
				complete = false
				break
			}
		}
		if !complete {
			todo = append(todo, b)
		}
	}
	sum = Summary{Planned: len(mine), Skipped: len(mine) - len(todo)}
	prog := newProgress(opts.Progress, opts.Terminal, len(todo))
	defer prog.finish()
	sc, err := newScorer(c)
	if err != nil {
		return sum, err
	}
	defer sc.close()
	defer func() { sum.Metrics = sc.elapsed }()
	datasets := map[string]*Dataset{}
	for _, d := range p.Datasets {
		datasets[d.Name] = d
	}
	// Consecutive batches share the measurement of an (image, task).
	var lastKey string
	var op operator.Operator
	var y []float64
	for _, b := range todo {
		if opts.Stop != nil && opts.Stop.Load() {
			sum.Stopped = true
			break
		}
		d := datasets[b.Dataset]
		if key := b.Dataset + "\x00" + b.Image + "\x00" + b.Task; key != lastKey {
			if op, y, err = p.Measurement(d, b.Image, b.Task); err != nil {
				return sum, err
			}
			lastKey = key
		}
		rows, err := p.batch(ctx, opts.Output, b, d, op, y, solvers, sc, run)
		if err != nil {
			return sum, err // the record is left as it was before this batch
		}
		if err := st.Put(rows); err != nil {
			return sum, err
		}
		if rows[0].Status == "ok" {
			sum.Done++
		} else {
			sum.Failed++
		}
		prog.step(b, rows[0].Status)
	}
	return sum, nil
}

// doneWithImages returns the keys the record holds as done whose sample
// image is on disk too (images are not synced one by one: after a power cut
// a recorded sample may lack its image, and is then done again).
func doneWithImages(st *store.Store, dir string) (map[store.Key]bool, error) {
	rows, err := st.Rows()
	if err != nil {
		return nil, err
	}
	done := map[store.Key]bool{}
	for _, r := range rows {
		if r.Status != store.StatusOK {
			continue
		}
		if r.Output != "" {
			if _, err := os.Stat(filepath.Join(dir, r.Output)); err != nil {
				continue
			}
		}
		done[r.Key] = true
	}
	return done, nil
}

// batch runs one batch and returns its rows. A solver failure is a failed
// batch (rows with the error), not an error; an error is returned only when
// the harness itself cannot go on (a sample image it cannot write).
func (p *Plan) batch(ctx context.Context, dir string, b Batch, d *Dataset, op operator.Operator, y []float64, solvers Solvers, sc *scorer, run int64) ([]store.Row, error) {
	c := p.Config
	keys := b.Keys(c.Samples)
	seeds := seed.Seeds(c.Seed, b.Dataset, b.Image, 0, c.Samples)
	rows := make([]store.Row, len(keys))
	for i, k := range keys {
		rows[i] = store.Row{Key: k, Seed: fmt.Sprintf("%016x%016x", seeds[i].Hi, seeds[i].Lo), Run: run}
	}
	fail := func(err error) []store.Row {
		for i := range rows {
			rows[i].Status, rows[i].Error = "failed", err.Error()
		}
		return rows
	}
	pl, err := solvers.Get(b.Solver)
	if err != nil {
		return fail(err), nil
	}
	info := pl.Info()
	for i := range rows {
		rows[i].SolverVersion, rows[i].PluginSHA256 = info.Version, pl.Checksum()
	}
	params, err := sdk.ResolveParams(info, p.solverParams(b.Solver))
	if err != nil {
		return fail(err), nil
	}
	mdl, err := p.model(d, b.Task, op, y)
	if err != nil {
		// A model that cannot be bound (a model plugin that died and does
		// not start again, say) fails the batch; the run goes on.
		return fail(err), nil
	}
	if cl, ok := mdl.(io.Closer); ok {
		defer cl.Close() // a model plugin forgets the problem
	}
	_, dim := op.Dims()
	counted := &model.Counted{Name: c.Model.Kind, Model: mdl, Dim: dim}
	dst := sdk.NewRows(c.Samples, dim)
	prob := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: c.SigmaY, SigmaMax: edm.SigmaMax}
	start := time.Now()
	if err := pl.Solve(ctx, dst, prob, counted, seeds, b.NFE, params); err != nil {
		return fail(err), nil
	}
	secs := time.Since(start).Seconds() / float64(c.Samples)
	truth := d.Truth[b.Image]
	rel := func(i int) string {
		return filepath.Join("samples", b.Dataset, b.Task, b.Solver, fmt.Sprintf("nfe%04d", b.NFE), fmt.Sprintf("%s_s%03d.png", b.Image, i))
	}
	if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, rel(0))), 0o755); err != nil {
		return nil, err
	}
	// Encoding and writing the images is the harness's largest cost per
	// sample: spread it over the cores, and leave flushing to the system
	// (a sync per file would double the harness's time). The files are
	// renamed into place whole; the record is synced, and a resumed run
	// redoes any sample whose image is missing.
	errs := make([]error, len(rows))
	sdk.ParallelRows(len(rows), func(i int) {
		data, err := dataset.EncodePNG(c.Shape(), dst[i])
		if err == nil {
			err = atomicfile.WriteUnsynced(filepath.Join(dir, rel(i)), data)
		}
		errs[i] = err
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("writing sample %v: %w", rows[i].Key, err)
		}
	}
	metrics, err := sc.score(b, d, op, y, dst, truth)
	if err != nil {
		return nil, err
	}
	for i := range rows {
		rows[i].Status, rows[i].Output, rows[i].Seconds, rows[i].Metrics = "ok", rel(i), secs, metrics[i]
		rows[i].NFECounted = float64(counted.NFE()) / float64(c.Samples)
		rows[i].VJPCounted = float64(counted.VJPs()) / float64(c.Samples)
	}
	return rows, nil
}

// model returns the model of one problem: the exact denoisers of a
// mixture, or the configured networks bound to the problem.
func (p *Plan) model(d *Dataset, task string, op operator.Operator, y []float64) (sdk.Model, error) {
	if d.Prior != nil {
		exact, err := d.Prior.Model(op, p.Config.SigmaY)
		if err != nil {
			return nil, err
		}
		return exact, exact.SetMeasurement(y)
	}
	if p.Net == nil {
		return nil, fmt.Errorf("dataset %s: no model loaded for model kind %s", d.Name, p.Config.Model.Kind)
	}
	return p.Net.Bind(task, op, p.Config.SigmaY, y)
}

func (p *Plan) solverParams(name string) map[string]float64 {
	for _, s := range p.Config.Solvers {
		if s.Name == name {
			return s.Params
		}
	}
	return nil
}
