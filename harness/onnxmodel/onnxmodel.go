package onnxmodel

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/ipbench/ipbench/internal/filehash"
	"github.com/ipbench/ipbench/internal/onnxrt"
)

// Tensor names of the convention in the package comment.
const (
	NameX           = "x"
	NameSigma       = "sigma"
	NameCond        = "cond"
	NameClassLabels = "class_labels"
	NameTask        = "task"
	NameV           = "v"
	NameDenoised    = "denoised"
	NameVJP         = "vjp"
)

// Role says what a model computes and so which inputs it must have.
type Role int

const (
	// Denoiser is an unconditional or class-conditional denoiser D(x; σ):
	// inputs x, sigma and optionally class_labels.
	Denoiser Role = iota
	// EPS is a trained EPS model D_θ(μ*, y, t): x is the pivot μ*, cond
	// the measurement in image space; optionally class_labels or task.
	EPS
	// Restorer is a conditional restorer (Palette-like): the same inputs as
	// EPS.
	Restorer
)

func (r Role) String() string {
	switch r {
	case Denoiser:
		return "denoiser"
	case EPS:
		return "EPS"
	case Restorer:
		return "restorer"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// conditional says whether the role takes cond (and may take task).
func (r Role) conditional() bool { return r == EPS || r == Restorer }

// ErrNoVJP is wrapped by VJP's error when the model was opened without a VJP
// graph.
var ErrNoVJP = errors.New("no VJP graph")

// Options says how to open a model and what the caller expects of it.
type Options struct {
	// Role is the kind of model; it fixes the required inputs.
	Role Role
	// VJPPath names the optional VJP graph ("": none).
	VJPPath string
	// Provider is "auto" (also ""): CUDA when ONNX Runtime can use it, else
	// the CPU; "cpu"; or "cuda", an error when CUDA cannot be used.
	Provider string
	// Threads is ONNX Runtime's intra-op thread count; 0 leaves its default.
	Threads int
	// Channels, Height, Width and CondChannels are the image shape the
	// caller expects (0: take it from the file). A file that fixes one must
	// agree; one the file leaves free must be given.
	Channels, Height, Width, CondChannels int
	// Batch is the most rows per ONNX Runtime call for a model with a
	// dynamic batch dimension (0: all rows of a call at once). A model with
	// a fixed batch N always gets chunks of N.
	Batch int
}

// Net is an ONNX denoiser (and optionally its VJP graph) ready to run. Its
// methods may be called from several goroutines at once; Close waits for
// the calls in progress.
type Net struct {
	path     string
	vjpPath  string
	role     Role
	shape    dims
	label    string // NameClassLabels, NameTask or ""
	den, vjp *graph

	mu     sync.RWMutex
	closed bool
}

// dims is an image shape; cc is 0 for a model without cond, k 0 for one
// without labels.
type dims struct{ c, h, w, cc, k int }

// Open loads the model at path (and the VJP graph at o.VJPPath, if any) and
// checks both against the convention in the package comment and against o.
// Every error names the file and what is wrong with it. It needs ONNX
// Runtime (see internal/onnxrt) and cgo.
func Open(path string, o Options) (*Net, error) {
	if err := checkOptions(o); err != nil {
		return nil, fmt.Errorf("onnxmodel: model %s: %w", path, err)
	}
	if err := checkFile(path); err != nil {
		return nil, fmt.Errorf("onnxmodel: model %s: %w", path, err)
	}
	ins, outs, err := onnxrt.ReadInfo(path)
	if err != nil {
		return nil, fmt.Errorf("onnxmodel: model %s: %w", path, err)
	}
	want := dims{c: o.Channels, h: o.Height, w: o.Width, cc: o.CondChannels}
	sp, err := check(o.Role, ins, outs, want, false)
	if err != nil {
		return nil, fmt.Errorf("onnxmodel: model %s (%s): %w", path, o.Role, err)
	}
	n := &Net{path: path, role: o.Role, shape: sp.dims, label: sp.label}
	provider := o.Provider
	if provider == "" {
		provider = onnxrt.Auto
	}
	n.den, err = openGraph(path, NameDenoised, sp, o, provider)
	if err != nil {
		return nil, fmt.Errorf("onnxmodel: model %s: %w", path, err)
	}
	if o.VJPPath == "" {
		return n, nil
	}
	if err := n.openVJP(o); err != nil {
		n.den.sess.Close()
		return nil, err
	}
	return n, nil
}

// openVJP loads and checks the VJP graph against the opened denoiser, on the
// provider the denoiser got.
func (n *Net) openVJP(o Options) error {
	p := o.VJPPath
	wrap := func(err error) error {
		return fmt.Errorf("onnxmodel: VJP model %s (for %s): %w", p, n.path, err)
	}
	if err := checkFile(p); err != nil {
		return wrap(err)
	}
	ins, outs, err := onnxrt.ReadInfo(p)
	if err != nil {
		return wrap(err)
	}
	sp, err := check(n.role, ins, outs, n.shape, true)
	if err != nil {
		return wrap(err)
	}
	if sp.label != n.label || sp.k != n.shape.k {
		return wrap(fmt.Errorf("label input %s, but the model has %s", labelString(sp.label, sp.k), labelString(n.label, n.shape.k)))
	}
	n.vjp, err = openGraph(p, NameVJP, sp, o, n.den.sess.Provider())
	if err != nil {
		return wrap(err)
	}
	n.vjpPath = p
	return nil
}

func labelString(name string, k int) string {
	if name == "" {
		return "none"
	}
	return fmt.Sprintf("%q with %d classes", name, k)
}

func checkOptions(o Options) error {
	if o.Role < Denoiser || o.Role > Restorer {
		return fmt.Errorf("unknown role %v", o.Role)
	}
	if err := onnxrt.CheckProvider(o.Provider); err != nil {
		return err
	}
	if o.Threads < 0 || o.Batch < 0 || o.Channels < 0 || o.Height < 0 || o.Width < 0 || o.CondChannels < 0 {
		return fmt.Errorf("negative option (Threads %d, Batch %d, Channels %d, Height %d, Width %d, CondChannels %d)",
			o.Threads, o.Batch, o.Channels, o.Height, o.Width, o.CondChannels)
	}
	if o.CondChannels > 0 && !o.Role.conditional() {
		return fmt.Errorf("CondChannels %d for a %s, which takes no cond", o.CondChannels, o.Role)
	}
	return nil
}

// checkFile says what is wrong with path as a model file (missing,
// unreadable, a directory) without reading it, with a plainer error than
// ONNX Runtime's.
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.IsDir() {
		return errors.New("is a directory, not an .onnx file")
	}
	return nil
}

// spec is what check learnt from a file's declarations.
type spec struct {
	dims
	label  string   // the label input's name, or ""
	inputs []string // the inputs, in the file's order
	batch  int      // the fixed batch, or 0 when dynamic
}

// check compares a file's declared inputs and outputs with the convention
// for role (plus v and the output vjp for a VJP graph) and resolves the
// image shape against want (0: free).
func check(role Role, ins, outs []onnxrt.Info, want dims, vjp bool) (spec, error) {
	var sp spec
	required := []string{NameX, NameSigma}
	if role.conditional() {
		required = append(required, NameCond)
	}
	if vjp {
		required = append(required, NameV)
	}
	for _, name := range required {
		if _, ok := onnxrt.Find(ins, name); !ok {
			return sp, fmt.Errorf("no input %q (its inputs: %s); %s", name, onnxrt.List(ins), inputsNeeded(role, vjp))
		}
	}
	allowed := append(slices.Clone(required), NameClassLabels)
	if role.conditional() {
		allowed = append(allowed, NameTask)
	}
	for _, in := range ins {
		if slices.Contains(allowed, in.Name) {
			sp.inputs = append(sp.inputs, in.Name)
			continue
		}
		if in.Name == NameCond || in.Name == NameTask {
			return sp, fmt.Errorf("input %q, which a %s does not take: open it with Role EPS or Restorer", in.Name, role)
		}
		return sp, fmt.Errorf("unexpected input %q (its inputs: %s); %s", in.Name, onnxrt.List(ins), inputsNeeded(role, vjp))
	}

	byName := func(name string) onnxrt.Info { t, _ := onnxrt.Find(ins, name); return t }
	// Types and ranks first, so that shape errors below can index freely.
	for _, name := range sp.inputs {
		t := byName(name)
		rank := 4
		switch name {
		case NameSigma:
			rank = 1
		case NameClassLabels, NameTask:
			rank = 2
			if sp.label != "" {
				return sp, fmt.Errorf("inputs %q and %q: a model takes at most one label input", sp.label, name)
			}
			sp.label = name
		}
		if !t.Tensor || t.DType != "float32" {
			if name == NameTask {
				return sp, fmt.Errorf("input %q is %s; ipbench takes the task as a one-hot float32 tensor [N,K], like EDM's class_labels", name, t.Describe())
			}
			return sp, fmt.Errorf("input %q is %s; expected a float32 tensor (convert it in the export)", name, t.Describe())
		}
		if len(t.Shape) != rank {
			return sp, fmt.Errorf("input %q has shape %s (rank %d); expected rank %d: %s", name, onnxrt.ShapeString(t.Shape), len(t.Shape), rank, inputsNeeded(role, vjp))
		}
	}

	var err error
	x := byName(NameX).Shape
	if sp.c, err = resolve(NameX, "channel count", x[1], want.c, "Channels", vjp); err != nil {
		return sp, err
	}
	if sp.h, err = resolve(NameX, "height", x[2], want.h, "Height", vjp); err != nil {
		return sp, err
	}
	if sp.w, err = resolve(NameX, "width", x[3], want.w, "Width", vjp); err != nil {
		return sp, err
	}
	if role.conditional() {
		cond := byName(NameCond).Shape
		if sp.cc, err = resolve(NameCond, "channel count", cond[1], want.cc, "CondChannels", vjp); err != nil {
			return sp, err
		}
		if cond[2] > 0 && int(cond[2]) != sp.h || cond[3] > 0 && int(cond[3]) != sp.w {
			return sp, fmt.Errorf("input %q has shape %s; its height and width must be x's, %d×%d", NameCond, onnxrt.ShapeString(cond), sp.h, sp.w)
		}
	}
	if vjp {
		if v := byName(NameV).Shape; !admits(v, sp.dims) {
			return sp, fmt.Errorf("input %q has shape %s; expected x's shape [N,%d,%d,%d]", NameV, onnxrt.ShapeString(v), sp.c, sp.h, sp.w)
		}
	}
	if sp.label != "" {
		k := byName(sp.label).Shape[1]
		if k <= 0 {
			return sp, fmt.Errorf("input %q has shape %s: the number of classes K must be fixed", sp.label, onnxrt.ShapeString(byName(sp.label).Shape))
		}
		if vjp && want.k > 0 && int(k) != want.k {
			return sp, fmt.Errorf("input %q has %d classes, but the model has %d", sp.label, k, want.k)
		}
		sp.k = int(k)
	}

	outName := NameDenoised
	if vjp {
		outName = NameVJP
	}
	out, ok := onnxrt.Find(outs, outName)
	if !ok {
		return sp, fmt.Errorf("no output %q (its outputs: %s)", outName, onnxrt.List(outs))
	}
	if !out.Tensor || out.DType != "float32" {
		return sp, fmt.Errorf("output %q is %s; expected a float32 tensor", outName, out.Describe())
	}
	if len(out.Shape) != 4 || !admits(out.Shape, sp.dims) {
		return sp, fmt.Errorf("output %q has shape %s; expected x's shape [N,%d,%d,%d]", outName, onnxrt.ShapeString(out.Shape), sp.c, sp.h, sp.w)
	}

	// The batch: free everywhere, or one fixed N wherever it is fixed.
	batches := []int64{out.Shape[0]}
	for _, name := range sp.inputs {
		batches = append(batches, byName(name).Shape[0])
	}
	for _, b := range batches {
		if b <= 0 {
			continue
		}
		if sp.batch != 0 && int(b) != sp.batch {
			return sp, fmt.Errorf("inputs and output fix different batch sizes (%d and %d)", sp.batch, b)
		}
		sp.batch = int(b)
	}
	return sp, nil
}

// admits says whether a declared [N,C,H,W] shape admits the image shape d.
func admits(s []int64, d dims) bool {
	if len(s) != 4 {
		return false
	}
	for i, v := range []int{d.c, d.h, d.w} {
		if s[i+1] > 0 && int(s[i+1]) != v {
			return false
		}
	}
	return true
}

// resolve settles one image dimension from the file's declaration and the
// wanted value (0: none).
func resolve(input, what string, declared int64, want int, option string, vjp bool) (int, error) {
	from := "Options." + option + " is"
	if vjp {
		from = "the model has"
	}
	switch {
	case declared > 0 && want > 0 && int(declared) != want:
		return 0, fmt.Errorf("input %q has %s %d, but %s %d", input, what, declared, from, want)
	case declared > 0:
		return int(declared), nil
	case want > 0:
		return want, nil
	}
	return 0, fmt.Errorf("input %q has a free %s; give it in Options.%s", input, what, option)
}

func inputsNeeded(role Role, vjp bool) string {
	article := "a "
	if role == EPS {
		article = "an "
	}
	s := article + role.String() + " model takes x float32 [N,C,H,W], sigma float32 [N]"
	if role.conditional() {
		s += ", cond float32 [N,Cc,H,W], and optionally class_labels or task float32 [N,K] (one-hot)"
	} else {
		s += " and optionally class_labels float32 [N,K] (one-hot)"
	}
	if vjp {
		s += "; its VJP graph the same and v float32 [N,C,H,W]"
	}
	return s
}

// Shape returns the image shape C×H×W of x and denoised, and the channels
// of cond (0 for a model without cond).
func (n *Net) Shape() (channels, height, width, condChannels int) {
	return n.shape.c, n.shape.h, n.shape.w, n.shape.cc
}

// Labels returns K, the number of classes (or tasks) of the model's
// class_labels or task input, or 0 when it has none.
func (n *Net) Labels() int { return n.shape.k }

// HasVJP says whether a VJP graph was opened with the model.
func (n *Net) HasVJP() bool { return n.vjp != nil }

// Provider returns the execution provider the model runs on: "cpu" or
// "cuda".
func (n *Net) Provider() string { return n.den.sess.Provider() }

// SHA256 returns the hex SHA-256 of the model file, or "MODEL+VJP" (the two
// digests joined by a plus sign) when a VJP graph was opened too. It reads
// the files at the call (Open does not hash them), so it digests them as
// they are on disk then.
func (n *Net) SHA256() (string, error) {
	sum, err := filehash.SHA256(n.path)
	if err != nil {
		return "", fmt.Errorf("onnxmodel: model %s: %w", n.path, err)
	}
	if n.vjpPath == "" {
		return sum, nil
	}
	v, err := filehash.SHA256(n.vjpPath)
	if err != nil {
		return "", fmt.Errorf("onnxmodel: VJP model %s (for %s): %w", n.vjpPath, n.path, err)
	}
	return sum + "+" + v, nil
}

// Close releases the ONNX Runtime sessions, after the calls in progress. It
// is safe to call more than once.
func (n *Net) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return nil
	}
	n.closed = true
	var errs []error
	for _, g := range []*graph{n.den, n.vjp} {
		if g != nil {
			if err := g.sess.Close(); err != nil {
				errs = append(errs, fmt.Errorf("onnxmodel: closing %s: %w", g.path, err))
			}
		}
	}
	return errors.Join(errs...)
}

// name is how errors refer to the model.
func (n *Net) name() string {
	if n.vjpPath == "" {
		return n.path
	}
	return n.path + " (VJP " + n.vjpPath + ")"
}
