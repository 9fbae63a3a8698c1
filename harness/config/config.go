// Package config reads the benchmark configuration of `ipbench run`: a YAML
// file naming the solvers (with NFE grids, parameters and checksum pins),
// the tasks, the datasets, the model, the samples per image, the run seed and
// the output folder. Every default is filled in and every value checked
// before any work starts; the effective configuration, with its defaults, is
// what the record stores and hashes.
package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/internal/filehash"
)

// Config is a benchmark run.
type Config struct {
	Output     string    `yaml:"output"`     // results folder
	Seed       uint64    `yaml:"seed"`       // run seed
	Resolution int       `yaml:"resolution"` // image side in pixels (64 by default)
	Samples    int       `yaml:"samples"`    // samples per image (1 by default)
	SigmaY     float64   `yaml:"sigma_y"`    // measurement noise in [-1, 1] units (0.05)
	Timeout    string    `yaml:"timeout"`    // longest a plugin may take for one batch ("0": no limit)
	Metrics    []string  `yaml:"metrics"`    // metrics (psnr); see Metric
	Features   Features  `yaml:"features,omitempty"`
	Solvers    []Solver  `yaml:"solvers"`
	Tasks      []Task    `yaml:"tasks"`
	Datasets   []Dataset `yaml:"datasets"`
	Model      Model     `yaml:"model"`
}

// Solver is one solver plugin and the NFE values to run it at.
type Solver struct {
	Name   string             `yaml:"name"`
	NFE    []int              `yaml:"nfe"`
	Params map[string]float64 `yaml:"params,omitempty"`
	SHA256 string             `yaml:"sha256,omitempty"` // pin: refuse another binary
	// Tasks, if given, limits the solver to these of the run's tasks (DDRM
	// needs an SVD, which motion blur has not, say).
	Tasks []string `yaml:"tasks,omitempty"`
}

// RunsOn reports whether the solver runs on task.
func (s Solver) RunsOn(task string) bool { return len(s.Tasks) == 0 || slices.Contains(s.Tasks, task) }

// Task is one inverse problem; Params override its defaults at 256 px.
type Task struct {
	Name   string             `yaml:"name"`
	Params map[string]float64 `yaml:"params,omitempty"`
}

// Dataset is where the ground-truth images come from.
//
//   - kind "gmm": an image-shaped Gaussian mixture Σₖ (1/K) N(mₖ, cI) whose
//     means are the images of Means (a folder) or, when Means is empty,
//     synthetic smooth images; the ground truths are Images draws from it,
//     and the exact posterior is known.
//   - kind "folder": the images of a folder (PNG/JPEG, sorted by name,
//     Offset and Limit applied).
type Dataset struct {
	Name       string  `yaml:"name"`
	Kind       string  `yaml:"kind"`
	Path       string  `yaml:"path,omitempty"`       // folder
	Offset     int     `yaml:"offset,omitempty"`     // folder
	Limit      int     `yaml:"limit,omitempty"`      // folder, or gmm means
	Means      string  `yaml:"means,omitempty"`      // gmm: folder of mean images ("" = synthetic)
	Components int     `yaml:"components,omitempty"` // gmm, synthetic means
	Variance   float64 `yaml:"variance,omitempty"`   // gmm
	Images     int     `yaml:"images,omitempty"`     // gmm: ground truths drawn
}

// Model is the denoiser every solver calls.
//
//   - kind "gmm-exact": the exact denoisers of each gmm dataset (no files).
//   - kind "network": networks trained with ipbench train (.ipbw files).
//   - kind "onnx": EDM-style networks exported to ONNX (.onnx files; see
//     harness/onnxmodel for the inputs they must take).
//   - kind "plugin": a model plugin process (plugins/modelhost), e.g. a
//     Python process holding a PyTorch network (plugins/python): Plugin is
//     its executable, started with Args and then, for each of Files, the
//     flag --ROLE and the file's absolute path.
//
// Denoiser is required for network and onnx; EPS and Restorer are
// optional, and the solvers that need them are refused at planning time
// without them. A VJP comes from the network's own autodiff (network), from
// DenoiserVJP, an exported VJP graph (onnx), or from the plugin (which says
// in its Info what it gives).
type Model struct {
	Kind        string `yaml:"kind"`
	Denoiser    string `yaml:"denoiser,omitempty"`
	DenoiserVJP string `yaml:"denoiser_vjp,omitempty"` // onnx only
	EPS         string `yaml:"eps,omitempty"`
	Restorer    string `yaml:"restorer,omitempty"`
	// EPSTask and RestorerTask name the task of a single-task ONNX network
	// (a .ipbw file says it itself).
	EPSTask      string `yaml:"eps_task,omitempty"`
	RestorerTask string `yaml:"restorer_task,omitempty"`
	Provider     string `yaml:"provider,omitempty"` // onnx: auto (CUDA when present), cpu or cuda
	// Plugin, Args and Files are for kind plugin: the executable, its
	// arguments, and the files it reads by role (weights, the Python file
	// that defines the network, a mixture), checksummed like the files of a
	// network.
	Plugin string            `yaml:"plugin,omitempty"`
	Args   []string          `yaml:"args,omitempty"`
	Files  map[string]string `yaml:"files,omitempty"`
	// SHA256 holds each file's checksum by role (denoiser, denoiser_vjp,
	// eps, restorer; for kind plugin, plugin and the roles of Files),
	// filled in when the configuration is read, so that another network is
	// another benchmark; given, it pins the files.
	SHA256 map[string]string `yaml:"sha256,omitempty"`
}

// AllFiles returns the model's files by role, leaving out roles not given:
// the networks, or a model plugin's executable (role plugin) and Files.
func (m *Model) AllFiles() map[string]string {
	f := map[string]string{}
	for role, path := range map[string]string{"denoiser": m.Denoiser, "denoiser_vjp": m.DenoiserVJP, "eps": m.EPS, "restorer": m.Restorer, "plugin": m.Plugin} {
		if path != "" {
			f[role] = path
		}
	}
	for role, path := range m.Files {
		if _, ok := f[role]; !ok {
			f[role] = path
		}
	}
	return f
}

// PluginArgs returns the arguments a model plugin is started with: Args,
// then --ROLE PATH for each of Files, in the order of the roles' names,
// with absolute paths (the plugin may change its directory).
func (m *Model) PluginArgs() []string {
	args := slices.Clone(m.Args)
	roles := make([]string, 0, len(m.Files))
	for r := range m.Files {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	for _, r := range roles {
		p := m.Files[r]
		if abs, err := filepath.Abs(p); err == nil {
			p = abs
		}
		args = append(args, "--"+r, p)
	}
	return args
}

// fill checks the model's fields against its kind and fills in the
// files' checksums.
func (m *Model) fill() error {
	if m.Kind == "" {
		m.Kind = "gmm-exact"
	}
	files := m.AllFiles()
	switch m.Kind {
	case "gmm-exact":
		if len(files) > 0 || m.Provider != "" || m.EPSTask != "" || m.RestorerTask != "" || len(m.SHA256) > 0 || len(m.Args) > 0 {
			return errors.New("model: kind gmm-exact takes no files (its denoisers are the exact ones of each gmm dataset)")
		}
		return nil
	case "network", "onnx", "plugin":
	default:
		return fmt.Errorf("model: unknown kind %q (gmm-exact, network, onnx or plugin)", m.Kind)
	}
	if m.Kind == "plugin" {
		if err := m.checkPlugin(); err != nil {
			return err
		}
	} else if m.Plugin != "" || len(m.Args) > 0 || len(m.Files) > 0 {
		return fmt.Errorf("model: plugin, args and files are for kind plugin, not %s", m.Kind)
	} else if m.Denoiser == "" {
		return fmt.Errorf("model: kind %s needs denoiser: the file of the unconditional denoiser", m.Kind)
	}
	ext := map[string]string{"network": ".ipbw", "onnx": ".onnx"}[m.Kind]
	for role, path := range files {
		if ext != "" && !strings.EqualFold(filepath.Ext(path), ext) {
			return fmt.Errorf("model: %s: %s is not a %s file, which kind %s takes", role, path, ext, m.Kind)
		}
	}
	// (What a plugin gives comes from its Info, its device from its
	// arguments.)
	switch m.Kind {
	case "network":
		if m.DenoiserVJP != "" || m.Provider != "" || m.EPSTask != "" || m.RestorerTask != "" {
			return errors.New("model: denoiser_vjp, provider, eps_task and restorer_task are for kind onnx (a network's VJP is its own autodiff, and its file names its task)")
		}
	case "onnx":
		switch m.Provider {
		case "":
			m.Provider = "auto"
		case "auto", "cpu", "cuda":
		default:
			return fmt.Errorf("model: provider %q (auto, cpu or cuda)", m.Provider)
		}
		if m.EPSTask != "" && m.EPS == "" || m.RestorerTask != "" && m.Restorer == "" {
			return errors.New("model: eps_task or restorer_task without its network")
		}
	}
	for role := range m.SHA256 {
		if _, ok := files[role]; !ok {
			return fmt.Errorf("model: sha256 for %s, which the model does not name", role)
		}
	}
	if m.SHA256 == nil {
		m.SHA256 = map[string]string{}
	}
	for role, path := range files {
		got, err := pinnedSHA256("model: "+role, path, m.SHA256[role])
		if err != nil {
			return err
		}
		m.SHA256[role] = got
	}
	return nil
}

// checkPlugin checks the fields of kind plugin.
func (m *Model) checkPlugin() error {
	if m.Plugin == "" {
		return errors.New("model: kind plugin needs plugin: the model plugin's executable")
	}
	if m.Denoiser != "" || m.DenoiserVJP != "" || m.EPS != "" || m.Restorer != "" || m.EPSTask != "" || m.RestorerTask != "" || m.Provider != "" {
		return errors.New("model: kind plugin takes plugin, args and files; denoiser, denoiser_vjp, eps, restorer, eps_task, restorer_task and provider are for kinds network and onnx (a plugin says in its Info what it gives; pass it a device in args)")
	}
	for role, path := range m.Files {
		if role == "plugin" || role == "" || strings.Trim(role, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" || strings.HasPrefix(role, "-") {
			return fmt.Errorf("model: files: role %q: want a name of lower-case letters, digits, - and _ (passed to the plugin as --ROLE), other than plugin", role)
		}
		if path == "" {
			return fmt.Errorf("model: files: %s: no path", role)
		}
	}
	return nil
}

// pinnedSHA256 returns the SHA-256 of the file at path, refusing it when
// pin is given and differs; what names the file in the errors.
func pinnedSHA256(what, path, pin string) (string, error) {
	got, err := filehash.SHA256(path)
	if err != nil {
		return "", fmt.Errorf("%s: %s is not a readable file", what, path)
	}
	if pin != "" && !strings.EqualFold(pin, got) {
		return "", fmt.Errorf("%s: %s has SHA-256 %s, not the pinned %s", what, path, got, pin)
	}
	return got, nil
}

// Features names the ONNX exports of the feature networks (see
// metrics/features). A metric that needs a network the configuration does
// not name is reported as "n/a (no model)": no other network stands in.
type Features struct {
	LPIPS     string `yaml:"lpips,omitempty"`     // lpips.LPIPS(net="vgg") export
	Inception string `yaml:"inception,omitempty"` // pytorch-fid Inception pool3 export
	// The files' SHA-256, filled in when the configuration is read (and
	// so part of its hash: another export is another benchmark); given in
	// the configuration, they pin the files.
	LPIPSSHA256     string `yaml:"lpips_sha256,omitempty"`
	InceptionSHA256 string `yaml:"inception_sha256,omitempty"`
}

// Metric says how a metric is computed.
type Metric struct {
	// PerSample metrics are recorded with each sample during the run;
	// the others are scores of a set (a solver's samples of one task and
	// NFE against the ground truths), computed by ipbench report.
	PerSample bool
	Needs     string // the feature network it needs: "lpips", "inception" or ""
	GMMOnly   bool   // needs the exact posterior of a gmm dataset
	Doc       string
}

// Metrics are the metrics a configuration may name.
var Metrics = map[string]Metric{
	"psnr":          {PerSample: true, Doc: "PSNR in dB on [0, 1] after clamping"},
	"ssim":          {PerSample: true, Doc: "SSIM (Wang et al. 2004; scikit-image's Gaussian-window settings)"},
	"crps":          {PerSample: true, Doc: "CRPS per pixel of an image's samples"},
	"lpips":         {PerSample: true, Needs: "lpips", Doc: "LPIPS (VGG) between each sample and its truth"},
	"exact":         {PerSample: true, GMMOnly: true, Doc: "against the exact posterior of each image: sliced Wasserstein over its two-exact-set floor (sw_ratio), error of the sample mean (mean_error) and of the mode weights (weight_tv), with floors"},
	"mmd":           {Doc: "MMD² (Gaussian kernel, median bandwidth) in pixel space between samples and truths"},
	"sw":            {Doc: "sliced Wasserstein distance in pixel space between samples and truths"},
	"fid":           {Needs: "inception", Doc: "FID on Inception pool3 features"},
	"kid":           {Needs: "inception", Doc: "KID on Inception pool3 features"},
	"mmd_inception": {Needs: "inception", Doc: "MMD² (Gaussian kernel, median bandwidth) on Inception pool3 features"},
}

// metricNames lists Metrics' names, sorted.
func metricNames() string {
	var n []string
	for k := range Metrics {
		n = append(n, k)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

// Read reads, defaults and checks the configuration at path.
func Read(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Parse decodes (unknown fields are errors), defaults and checks a
// configuration.
func Parse(data []byte) (*Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty configuration")
		}
		return nil, err
	}
	if err := c.fill(); err != nil {
		return nil, err
	}
	return &c, nil
}

// fill puts in every default and checks every value.
func (c *Config) fill() error {
	if c.Output == "" {
		return errors.New("output: missing (the results folder)")
	}
	if c.Resolution == 0 {
		c.Resolution = 64
	}
	if c.Resolution < 4 || c.Resolution > 1024 {
		return fmt.Errorf("resolution: %d is outside [4, 1024]", c.Resolution)
	}
	if c.Samples == 0 {
		c.Samples = 1
	}
	if c.Samples < 1 {
		return fmt.Errorf("samples: %d must be at least 1", c.Samples)
	}
	if c.SigmaY == 0 {
		c.SigmaY = 0.05
	}
	if !(c.SigmaY > 0) || math.IsInf(c.SigmaY, 0) {
		return fmt.Errorf("sigma_y: %v must be positive", c.SigmaY)
	}
	if c.Timeout == "" {
		c.Timeout = "0"
	}
	if _, err := c.PluginTimeout(); err != nil {
		return err
	}
	if len(c.Metrics) == 0 {
		c.Metrics = []string{"psnr"}
	}
	for i, m := range c.Metrics {
		mt, ok := Metrics[m]
		if !ok {
			return fmt.Errorf("metrics[%d]: unknown metric %q (available: %s)", i, m, metricNames())
		}
		if slices.Contains(c.Metrics[:i], m) {
			return fmt.Errorf("metrics[%d]: %s listed twice", i, m)
		}
		if m == "exact" && c.Samples < 2 {
			return fmt.Errorf("metrics[%d]: exact compares each image's samples with the exact posterior and needs samples ≥ 2, not %d", i, c.Samples)
		}
		if mt.GMMOnly {
			for _, d := range c.Datasets {
				if d.Kind != "gmm" && d.Kind != "" {
					return fmt.Errorf("metrics[%d]: %s needs the exact posterior of a gmm dataset; dataset %s is of kind %s", i, m, d.Name, d.Kind)
				}
			}
		}
		if m == "ssim" && c.Resolution < 11 {
			return fmt.Errorf("metrics[%d]: ssim needs images of at least 11×11 (its Gaussian window), not %d×%d", i, c.Resolution, c.Resolution)
		}
	}
	for _, f := range []struct {
		name string
		path string
		sum  *string
	}{{"lpips", c.Features.LPIPS, &c.Features.LPIPSSHA256}, {"inception", c.Features.Inception, &c.Features.InceptionSHA256}} {
		if f.path == "" {
			if *f.sum != "" {
				return fmt.Errorf("features: %s_sha256 without a %s file", f.name, f.name)
			}
			continue
		}
		got, err := pinnedSHA256("features: "+f.name, f.path, *f.sum)
		if err != nil {
			return err
		}
		*f.sum = got
	}
	if len(c.Solvers) == 0 {
		return errors.New("solvers: none given")
	}
	seen := map[string]bool{}
	for i := range c.Solvers {
		s := &c.Solvers[i]
		if s.Name == "" {
			return fmt.Errorf("solvers[%d]: name missing", i)
		}
		if seen["solver "+s.Name] {
			return fmt.Errorf("solvers[%d]: %s listed twice", i, s.Name)
		}
		seen["solver "+s.Name] = true
		if len(s.NFE) == 0 {
			return fmt.Errorf("solvers[%d] (%s): nfe: no values", i, s.Name)
		}
		for _, n := range s.NFE {
			if n < 1 {
				return fmt.Errorf("solvers[%d] (%s): nfe %d must be at least 1", i, s.Name, n)
			}
		}
		sort.Ints(s.NFE)
		if s.SHA256 != "" && len(s.SHA256) != 64 {
			return fmt.Errorf("solvers[%d] (%s): sha256 %q is not 64 hex digits", i, s.Name, s.SHA256)
		}
	}
	if len(c.Tasks) == 0 {
		return errors.New("tasks: none given")
	}
	for i := range c.Tasks {
		t := &c.Tasks[i]
		if seen["task "+t.Name] {
			return fmt.Errorf("tasks[%d]: %s listed twice", i, t.Name)
		}
		seen["task "+t.Name] = true
		// Resolving at the run's resolution checks the name, the parameters
		// and that the task can use the resolution (sr4 needs a multiple of 4).
		if _, err := task.Resolve(task.Spec{Name: t.Name, Params: t.Params}, c.Shape()); err != nil {
			return fmt.Errorf("tasks[%d]: %w", i, err)
		}
	}
	for i, s := range c.Solvers {
		for _, t := range s.Tasks {
			if !seen["task "+t] {
				return fmt.Errorf("solvers[%d] (%s): tasks: %q is not one of the run's tasks", i, s.Name, t)
			}
		}
	}
	if len(c.Datasets) == 0 {
		return errors.New("datasets: none given")
	}
	for i := range c.Datasets {
		d := &c.Datasets[i]
		if d.Name == "" {
			return fmt.Errorf("datasets[%d]: name missing", i)
		}
		if seen["dataset "+d.Name] {
			return fmt.Errorf("datasets[%d]: %s listed twice", i, d.Name)
		}
		seen["dataset "+d.Name] = true
		if d.Offset < 0 || d.Limit < 0 {
			return fmt.Errorf("datasets[%d] (%s): offset and limit must not be negative", i, d.Name)
		}
		switch d.Kind {
		case "gmm":
			if d.Variance == 0 {
				d.Variance = 0.01
			}
			if !(d.Variance > 0) {
				return fmt.Errorf("datasets[%d] (%s): variance %v must be positive", i, d.Name, d.Variance)
			}
			if d.Images == 0 {
				d.Images = 4
			}
			if d.Images < 1 {
				return fmt.Errorf("datasets[%d] (%s): images %d must be at least 1", i, d.Name, d.Images)
			}
			if d.Means == "" && d.Components == 0 {
				d.Components = 8
			}
			if d.Means == "" && d.Components < 1 {
				return fmt.Errorf("datasets[%d] (%s): components %d must be at least 1", i, d.Name, d.Components)
			}
			if d.Path != "" {
				return fmt.Errorf("datasets[%d] (%s): path is for kind folder; a gmm dataset takes its mean images from means", i, d.Name)
			}
		case "folder":
			if d.Path == "" {
				return fmt.Errorf("datasets[%d] (%s): path missing", i, d.Name)
			}
		case "":
			return fmt.Errorf("datasets[%d] (%s): kind missing (gmm or folder)", i, d.Name)
		default:
			return fmt.Errorf("datasets[%d] (%s): unknown kind %q (gmm or folder)", i, d.Name, d.Kind)
		}
	}
	if err := c.Model.fill(); err != nil {
		return err
	}
	for _, d := range c.Datasets {
		if d.Kind == "folder" && c.Model.Kind == "gmm-exact" {
			return fmt.Errorf("dataset %s (folder): the gmm-exact model needs a gmm dataset; a folder of real images needs a trained model (model: kind network, onnx or plugin), or use kind gmm with means: %s to take the folder's images as mixture means", d.Name, d.Path)
		}
		if d.Kind == "gmm" && c.Model.Kind != "gmm-exact" {
			return fmt.Errorf("dataset %s (gmm): a mixture's ground truths need no network; with model kind %s give real images (kind folder)", d.Name, c.Model.Kind)
		}
	}
	return nil
}

// SolverRunsOn reports whether the solver of that name runs on task (true
// for a name the configuration does not list: checks stay on).
func (c *Config) SolverRunsOn(solver, task string) bool {
	for _, s := range c.Solvers {
		if s.Name == solver {
			return s.RunsOn(task)
		}
	}
	return true
}

// PluginTimeout is Timeout as a duration: the longest a plugin may take
// for one batch, 0 for no limit.
func (c *Config) PluginTimeout() (time.Duration, error) {
	if c.Timeout == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(c.Timeout)
	if err != nil {
		return 0, fmt.Errorf("timeout %q: %v", c.Timeout, err)
	}
	return d, nil
}

// Shape is the image shape of the run: 3×R×R.
func (c *Config) Shape() operator.Shape {
	return operator.Shape{C: 3, H: c.Resolution, W: c.Resolution}
}

// SetSolverSHA256 records the checksum of solver name's plugin binary
// (the pin, where the configuration gives one, has been checked already).
func (c *Config) SetSolverSHA256(name, sum string) {
	for i := range c.Solvers {
		if c.Solvers[i].Name == name {
			c.Solvers[i].SHA256 = sum
		}
	}
}

// SetSolverDefaults fills the parameters of solver name that the
// configuration leaves unset with the defaults its plugin declares, so that
// the effective configuration (and its hash) says every value used.
func (c *Config) SetSolverDefaults(name string, params map[string]float64) {
	for i := range c.Solvers {
		if c.Solvers[i].Name != name {
			continue
		}
		if c.Solvers[i].Params == nil {
			c.Solvers[i].Params = map[string]float64{}
		}
		for k, v := range params {
			if _, ok := c.Solvers[i].Params[k]; !ok {
				c.Solvers[i].Params[k] = v
			}
		}
	}
}

// YAML returns the effective configuration, every default filled in.
func (c *Config) YAML() string {
	out, err := yaml.Marshal(c)
	if err != nil {
		panic(err) // a Config always marshals
	}
	return string(out)
}

// Hash is the hex SHA-256 of the effective configuration, without the
// output folder and the timeout (they do not change what is computed).
func (c *Config) Hash() string {
	cc := *c
	cc.Output, cc.Timeout = "", ""
	sum := sha256.Sum256([]byte(cc.YAML()))
	return hex.EncodeToString(sum[:])
}
