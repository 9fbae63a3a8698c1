// Package models opens the model a configuration names (model kind
// network: .ipbw weights trained with ipbench train; kind onnx: ONNX
// exports; kind plugin: a model plugin process) as a netmodel.Binder,
// checking at load time that each file is what its role needs: the right
// kind of network, for the run's image shape.
package models

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/ipbench/ipbench/harness/config"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/onnxmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/unet"
	"github.com/ipbench/ipbench/plugins/modelhost"
)

// Options are what Open needs beyond the configuration's model section.
type Options struct {
	// Timeout bounds each call of a model plugin (kind plugin): one that
	// has not answered by then is killed, and started again for the next
	// batch. 0: no bound.
	Timeout time.Duration
	// Log receives a model plugin's log lines and stderr (default
	// os.Stderr).
	Log io.Writer
}

// Open loads the model of c for images of the given shape. The returned
// function releases what the model holds (ONNX Runtime sessions, a model
// plugin's process).
func Open(c config.Model, shape operator.Shape) (netmodel.Binder, func() error, error) {
	return OpenWith(c, shape, Options{})
}

// OpenWith is Open with options.
func OpenWith(c config.Model, shape operator.Shape, o Options) (netmodel.Binder, func() error, error) {
	if c.Kind == "plugin" {
		return openPlugin(c, shape, o)
	}
	m := &netmodel.Model{Name: c.Kind + ":" + filepath.Base(c.Denoiser)}
	var closers []func() error
	closeAll := func() error {
		var errs []error
		for _, f := range closers {
			errs = append(errs, f())
		}
		return errors.Join(errs...)
	}
	// The three roles, with the ONNX role and VJP graph (the denoiser's
	// only) of each; a role whose file the configuration leaves out stays
	// nil.
	roles := []struct {
		name      string
		role      onnxmodel.Role
		path, vjp string
		net       *netmodel.Network
		task      *string
	}{
		{"denoiser", onnxmodel.Denoiser, c.Denoiser, c.DenoiserVJP, &m.Denoiser, nil},
		{"eps", onnxmodel.EPS, c.EPS, "", &m.EPS, &m.EPSTask},
		{"restorer", onnxmodel.Restorer, c.Restorer, "", &m.Restorer, &m.RestorerTask},
	}
	m.EPSTask, m.RestorerTask = c.EPSTask, c.RestorerTask // ONNX files do not name their task
	for _, r := range roles {
		if r.path == "" {
			continue
		}
		var err error
		switch c.Kind {
		case "network":
			var task string
			*r.net, task, err = openNetwork(r.path, r.name, shape)
			if r.task != nil {
				*r.task = task
			}
		case "onnx":
			var n *onnxmodel.Net
			if n, err = openONNX(r.path, r.role, r.vjp, c.Provider, shape); err == nil {
				closers = append(closers, n.Close)
				*r.net = n // without a VJP graph its HasVJP() false tells netmodel so
			}
		default:
			return nil, nil, fmt.Errorf("model: kind %s has no networks to open", c.Kind)
		}
		if err != nil {
			closeAll()
			return nil, nil, err
		}
	}
	if err := m.Check(); err != nil {
		closeAll()
		return nil, nil, err
	}
	return m, closeAll, nil
}

// openPlugin starts a model plugin and checks that it takes the run's
// images.
func openPlugin(c config.Model, shape operator.Shape, o Options) (netmodel.Binder, func() error, error) {
	p, err := modelhost.Open(c.Plugin, modelhost.Config{Args: c.PluginArgs(), Checksum: c.SHA256["plugin"], CallTimeout: o.Timeout, Log: o.Log})
	if err != nil {
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	if err := p.CheckShape(shape); err != nil {
		p.Close()
		return nil, nil, fmt.Errorf("model: %w", err)
	}
	return p, p.Close, nil
}

// openONNX opens an ONNX export for a role, for the run's images.
func openONNX(path string, role onnxmodel.Role, vjp, provider string, shape operator.Shape) (*onnxmodel.Net, error) {
	cc := 0
	if role != onnxmodel.Denoiser {
		cc = netmodel.CondChannels(shape.C)
	}
	n, err := onnxmodel.Open(path, onnxmodel.Options{Role: role, VJPPath: vjp, Provider: provider,
		Channels: shape.C, Height: shape.H, Width: shape.W, CondChannels: cc})
	if err != nil {
		return nil, fmt.Errorf("model: %s: %w", role, err)
	}
	return n, nil
}

// openNetwork loads a .ipbw file for a role and returns it with the task a
// single-task network was trained for.
func openNetwork(path, role string, shape operator.Shape) (*unet.Net, string, error) {
	n, meta, _, err := unet.LoadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("model: %s: %w", role, err)
	}
	if meta.Kind != role {
		return nil, "", fmt.Errorf("model: %s: %s is a %q network (its header says so), not a %s", role, path, meta.Kind, role)
	}
	c, h, w, _ := n.Shape()
	if c != shape.C || h != shape.H || w != shape.W {
		return nil, "", fmt.Errorf("model: %s: %s takes %d×%d×%d images; the run's are %d×%d×%d (another resolution?)", role, path, c, h, w, shape.C, shape.H, shape.W)
	}
	task := meta.Extra["task"]
	if role != "denoiser" && n.Labels() == 0 && task == "" {
		return nil, "", fmt.Errorf("model: %s: %s has no task labels and its header names no task", role, path)
	}
	return n, task, nil
}
