package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ipbench/ipbench/harness/solvers"
	"github.com/ipbench/ipbench/plugins/host"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// defaultPluginDirs are searched before any --plugin-dir; the tests point
// it at the plugins they build.
var defaultPluginDirs = func() []string { return []string{solvers.DefaultDir()} }

// strings collects a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

type pluginFlags struct {
	dirs, paths, pins stringList
	timeout           time.Duration
}

func addPluginFlags(fs *flag.FlagSet) *pluginFlags {
	pf := &pluginFlags{}
	fs.Var(&pf.dirs, "plugin-dir", "another directory of ipbench-solver-* plugins (repeatable; bin/plugins beside ipbench is always searched)")
	fs.Var(&pf.paths, "plugin", "path of a solver plugin to allow (repeatable)")
	fs.Var(&pf.pins, "pin", "NAME=SHA256: refuse solver NAME unless its binary has this SHA-256 (repeatable)")
	fs.DurationVar(&pf.timeout, "timeout", 0, "longest a plugin may take for one batch before it counts as hung (0: no limit)")
	return pf
}

func (pf *pluginFlags) registry(stderr io.Writer) (*solvers.Registry, error) {
	pins := map[string]string{}
	for _, p := range pf.pins {
		name, sum, ok := strings.Cut(p, "=")
		if !ok || name == "" || len(sum) != 64 {
			return nil, badInput("--pin %q: want NAME=SHA256 (64 hex digits)", p)
		}
		pins[name] = sum
	}
	if pf.timeout < 0 {
		return nil, badInput("--timeout %v: must not be negative", pf.timeout)
	}
	return &solvers.Registry{
		Dirs:     append(defaultPluginDirs(), pf.dirs...),
		Explicit: pf.paths,
		Pins:     pins,
		Config:   host.Config{Timeout: pf.timeout, Log: stderr},
	}, nil
}

// solver returns the plugin of the named solver; an unknown name is the
// user's error, a plugin that fails to start is not.
func solver(reg *solvers.Registry, name string) (*host.Plugin, error) {
	p, err := reg.Get(name)
	if errors.Is(err, solvers.ErrUnknown) {
		return nil, asInput(err)
	}
	return p, err
}

// openSolvers starts the plugins of a comma-separated list of solver names;
// stop kills them.
func (pf *pluginFlags) openSolvers(stderr io.Writer, list string) (out []sdk.Solver, stop func(), err error) {
	reg, err := pf.registry(stderr)
	if err != nil {
		return nil, nil, err
	}
	for _, n := range strings.Split(list, ",") {
		p, err := solver(reg, strings.TrimSpace(n))
		if err != nil {
			reg.Close()
			return nil, nil, err
		}
		out = append(out, p)
	}
	return out, reg.Close, nil
}

func describePlugin(p *host.Plugin) string {
	return fmt.Sprintf("%s %s (%s, sha256 %s)", p.Info().Name, p.Info().Version, p.Path, p.SHA256[:12])
}
