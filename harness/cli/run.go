package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/ipbench/ipbench/harness/atomicfile"
	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/models"
	benchrun "github.com/ipbench/ipbench/harness/run"
	"github.com/ipbench/ipbench/harness/solvers"
	"github.com/ipbench/ipbench/harness/store"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// loadRun reads the configuration and loads its plan: every check that can
// fail on the user's input happens here, before any work. closeModel
// releases the model: a model plugin's process, ONNX Runtime sessions.
func loadRun(path string, stderr io.Writer) (c *config.Config, p *benchrun.Plan, closeModel func() error, err error) {
	closeModel = func() error { return nil }
	if c, err = config.Read(path); err != nil {
		return nil, nil, nil, asInput(err)
	}
	if p, err = benchrun.NewPlan(c); err != nil {
		return nil, nil, nil, asInput(err)
	}
	if c.Model.Kind != "gmm-exact" {
		timeout, err := c.PluginTimeout()
		if err != nil {
			return nil, nil, nil, asInput(err)
		}
		if p.Net, closeModel, err = models.OpenWith(c.Model, c.Shape(), models.Options{Timeout: timeout, Log: stderr}); err != nil {
			return nil, nil, nil, asInput(err)
		}
	}
	return c, p, closeModel, nil
}

// setup is what run and plan share: the flags, the configuration and its
// plan, the started plugins (reg), and the effective configuration.
type setup struct {
	path  string
	c     *config.Config
	p     *benchrun.Plan
	reg   *solvers.Registry
	shard benchrun.Shard
	// closeModel releases the model (a model plugin's process).
	closeModel func() error
}

func newSetup(cmd, outputDoc string, args []string, stdout, stderr io.Writer) (*setup, error) {
	fs := newFlags(cmd, stdout)
	shardFlag := fs.String("shard", "", "only shard k/N of the plan")
	output := fs.String("output", "", outputDoc)
	pf := addPluginFlags(fs)
	if len(args) == 0 || args[0] == "" || args[0][0] == '-' {
		return nil, badInput("usage: ipbench %s CONFIG [flags]", cmd)
	}
	s := &setup{path: args[0]}
	if err := parse(fs, args[1:]); err != nil {
		return nil, err
	}
	var err error
	if s.shard, err = benchrun.ParseShard(*shardFlag); err != nil {
		return nil, asInput(err)
	}
	if s.c, s.p, s.closeModel, err = loadRun(s.path, stderr); err != nil {
		return nil, err
	}
	if s.reg, err = effective(s.c, s.p, s.path, pf, stderr); err != nil {
		s.closeModel()
		return nil, err
	}
	if *output != "" {
		s.c.Output = *output
	}
	return s, nil
}

func runRun(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := newSetup("run", "results folder (default: the config's output); shards on several machines each take their own, then `ipbench merge`", args, stdout, stderr)
	if err != nil {
		return err
	}
	defer s.reg.Close()
	defer s.closeModel()
	c, p, reg, shard := s.c, s.p, s.reg, s.shard
	st, err := store.Open(c.Output, c.Hash(), c.YAML())
	if err != nil {
		if errors.Is(err, store.ErrConfigMismatch) {
			return asInput(err)
		}
		return err
	}
	defer st.Close()
	// The effective configuration beside the record, for people (the
	// record holds it too, with its hash).
	if err := atomicfile.Write(filepath.Join(c.Output, "config.yaml"), []byte(c.YAML())); err != nil {
		return err
	}
	checks := map[string]string{}
	for _, d := range p.Datasets {
		checks["dataset "+d.Name] = d.Checksum
	}
	for _, s := range c.Solvers {
		pl, _ := reg.Get(s.Name)
		checks["plugin "+s.Name] = pl.SHA256
	}
	host, _ := os.Hostname()
	runID, err := st.StartRun(store.Provenance{
		IpbenchVersion: Version, Commit: commit(), GoVersion: runtime.Version(), Host: host,
		Shard: shard.String(), Checksums: checks, Started: time.Now(),
	})
	if err != nil {
		return err
	}
	// The first Ctrl-C finishes the batch in flight and stops; a second one
	// abandons it.
	var stop atomic.Bool
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	sig := make(chan os.Signal, 2)
	signal.Notify(sig, os.Interrupt)
	defer signal.Stop(sig)
	go func() {
		if _, ok := <-sig; !ok {
			return
		}
		fmt.Fprintln(stderr, "\ninterrupted: finishing the batch in flight (Ctrl-C again to abandon it)")
		stop.Store(true)
		if _, ok := <-sig; ok {
			cancel()
		}
	}()
	sum, err := benchrun.Execute(ctx, p, st, registry{reg}, runID, benchrun.Options{Shard: shard, Output: c.Output, Stop: &stop, Progress: stderr, Terminal: isTerminal(stderr)})
	if ferr := st.FinishRun(runID); err == nil {
		err = ferr
	}
	fmt.Fprintf(stdout, "shard %s: %d batches planned, %d already done, %d run, %d failed%s\nrecord: %s\n",
		shard, sum.Planned, sum.Skipped, sum.Done, sum.Failed, map[bool]string{true: " (stopped early)", false: ""}[sum.Stopped],
		c.Output+"/record.sqlite")
	if err != nil {
		return err
	}
	if sum.Failed > 0 {
		return fmt.Errorf("%d batches failed (their rows say why; run again to retry them)", sum.Failed)
	}
	return nil
}

// effective starts the configured solvers' plugins and completes the
// configuration with what only they know (parameter defaults, checksums),
// so that its hash says exactly what runs.
func effective(c *config.Config, p *benchrun.Plan, path string, pf *pluginFlags, stderr io.Writer) (*solvers.Registry, error) {
	timeout, err := c.PluginTimeout()
	if err != nil {
		return nil, badInput("config %s: %v", path, err)
	}
	pf.timeout = timeout
	reg, err := pf.registry(stderr)
	if err != nil {
		return nil, err
	}
	for _, s := range c.Solvers {
		if s.SHA256 != "" {
			reg.Pins[s.Name] = s.SHA256
		}
		pl, err := solver(reg, s.Name)
		if err != nil {
			reg.Close()
			return nil, err
		}
		// Unknown parameters and values out of range are the config's fault.
		params, err := sdk.ResolveParams(pl.Info(), s.Params)
		if err != nil {
			reg.Close()
			return nil, badInput("config %s: %v", path, err)
		}
		if err := p.CheckSolver(pl.Info()); err != nil {
			reg.Close()
			return nil, badInput("config %s: %v", path, err)
		}
		c.SetSolverDefaults(s.Name, params)
		// The binary's checksum is part of the effective configuration, so a
		// record is never resumed or merged with another build of a solver.
		c.SetSolverSHA256(s.Name, pl.SHA256)
	}
	return reg, nil
}

// registry adapts solvers.Registry to what the run needs.
type registry struct{ *solvers.Registry }

func (r registry) Get(name string) (benchrun.Solver, error) {
	p, err := r.Registry.Get(name)
	if err != nil {
		return nil, err // not a nil *host.Plugin inside a non-nil interface
	}
	return p, nil
}

func runPlan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	s, err := newSetup("plan", "results folder to compare with (default: the config's output)", args, stdout, stderr)
	if err != nil {
		return err
	}
	s.reg.Close()
	s.closeModel()
	c, p, shard, path := s.c, s.p, s.shard, s.path
	mine := p.Mine(shard)
	done := 0
	if _, err := os.Stat(c.Output + "/record.sqlite"); err == nil {
		st, err := store.Open(c.Output, c.Hash(), c.YAML())
		if err != nil && !errors.Is(err, store.ErrConfigMismatch) {
			return err
		}
		if err == nil {
			defer st.Close()
			keys, err := st.Done()
			if err != nil {
				return err
			}
			for _, b := range mine {
				all := true
				for _, k := range b.Keys(c.Samples) {
					all = all && keys[k]
				}
				if all {
					done++
				}
			}
		} else {
			fmt.Fprintf(stdout, "note: %v\n", err)
		}
	}
	fmt.Fprintf(stdout, "%s: %d datasets, %d tasks, %d solvers, %d samples per image\n", path, len(c.Datasets), len(c.Tasks), len(c.Solvers), c.Samples)
	fmt.Fprintf(stdout, "shard %s: %d batches (%d samples); %d done, %d to run\n", shard, len(mine), len(mine)*c.Samples, done, len(mine)-done)
	return nil
}

func runMerge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		return badInput("usage: ipbench merge OUT IN...")
	}
	if err := store.Merge(args[0], args[1:]...); err != nil {
		if errors.Is(err, store.ErrConfigMismatch) {
			return asInput(err)
		}
		return err
	}
	fmt.Fprintf(stdout, "merged %d records into %s\n", len(args)-1, args[0])
	return nil
}

func commit() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
