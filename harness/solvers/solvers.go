// Package solvers finds the solver plugins the harness may run: binaries
// named ipbench-solver-NAME in the plugin directories (by default the
// plugins folder beside the ipbench binary, bin/plugins after `make build`)
// and the explicit --plugin paths. Nothing outside those is ever started.
package solvers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ipbench/ipbench/plugins/host"
)

// ErrUnknown is the error of a solver name that no plugin carries.
var ErrUnknown = errors.New("unknown solver")

// Prefix starts the file name of every solver plugin.
const Prefix = "ipbench-solver-"

// DefaultDir is the plugins folder beside the running executable.
func DefaultDir() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if r, err := filepath.EvalSymlinks(exe); err == nil {
		exe = r
	}
	return filepath.Join(filepath.Dir(exe), "plugins")
}

// Registry opens plugins on demand and keeps them running until Close.
type Registry struct {
	Dirs     []string // plugin directories
	Explicit []string // explicit plugin paths
	Config   host.Config
	Pins     map[string]string // solver name → pinned SHA-256

	mu   sync.Mutex
	open map[string]*host.Plugin // by path
}

// Candidates returns the plugin paths the registry may start, sorted:
// every Prefix* executable file of the directories, then the explicit paths.
func (r *Registry) Candidates() ([]string, error) {
	var out []string
	for _, dir := range r.Dirs {
		ents, err := os.ReadDir(dir)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("plugin directory %s: %w", dir, err)
		}
		var here []string
		for _, e := range ents {
			if !strings.HasPrefix(e.Name(), Prefix) || e.IsDir() {
				continue
			}
			here = append(here, filepath.Join(dir, e.Name()))
		}
		sort.Strings(here)
		out = append(out, here...)
	}
	for _, p := range r.Explicit {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("--plugin %s: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// Get returns the running plugin of the solver called name. A plugin
// directory entry ipbench-solver-NAME is taken by its file name; explicit
// paths are started and matched by the name their Info gives.
func (r *Registry) Get(name string) (*host.Plugin, error) {
	paths, err := r.Candidates()
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		if filepath.Base(p) == Prefix+name {
			return r.openPath(p, name)
		}
	}
	for _, p := range r.Explicit {
		pl, err := r.openPath(p, "")
		if err != nil {
			return nil, err
		}
		if pl.Info().Name == name {
			return pl, nil
		}
	}
	return nil, fmt.Errorf("%w %q: no %s%s in %s and no --plugin of that name", ErrUnknown, name, Prefix, name, strings.Join(r.Dirs, ", "))
}

func (r *Registry) openPath(path, name string) (*host.Plugin, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if pl, ok := r.open[abs]; ok {
		return pl, nil
	}
	cfg := r.Config
	if pin, ok := r.Pins[name]; ok && name != "" {
		cfg.Checksum = pin
	}
	pl, err := host.Open(abs, cfg)
	if err != nil {
		return nil, err
	}
	if name != "" && pl.Info().Name != name {
		pl.Close()
		return nil, fmt.Errorf("plugin %s calls itself %q, not %q", abs, pl.Info().Name, name)
	}
	if r.open == nil {
		r.open = map[string]*host.Plugin{}
	}
	r.open[abs] = pl
	return pl, nil
}

// All starts every candidate and returns them; a candidate that fails to
// start is reported in errs, not fatal.
func (r *Registry) All() (plugins []*host.Plugin, errs []error) {
	paths, err := r.Candidates()
	if err != nil {
		return nil, []error{err}
	}
	for _, p := range paths {
		pl, err := r.openPath(p, "")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		plugins = append(plugins, pl)
	}
	return plugins, errs
}

// Close kills every plugin the registry started.
func (r *Registry) Close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, pl := range r.open {
		pl.Close()
	}
	r.open = nil
}
