// Package modelhost is the harness's side of model plugins: processes that
// hold a diffusion model — a Python process with a PyTorch network on the
// GPU, say (plugins/python) — and serve it with the ModelPlugin service of
// plugins/proto.
//
// The host starts a model plugin as it starts a solver plugin (go-plugin,
// the same magic cookie and protocol version, its own name "model" in the
// plugin set, AutoMTLS, the executable's SHA-256 checked before every start
// and optionally pinned), asks it for its Info (image shape, what it gives,
// the tasks its conditional calls serve), and offers it a shared memory
// region for the tensors. Plugin.Bind then binds it to one problem (task,
// σ_y, y, a description of A and, for conditional networks, the
// conditioning image of netmodel.Condition computed here, so that a
// network plugin needs no operator maths) and returns that problem's
// sdk.Model: the harness wraps it in model.Counted like any other model,
// so the solvers' calls are counted on the host and then forwarded.
//
// Plugin implements netmodel.Binder, the interface the run binds networks
// through: a model plugin is one more kind of trained model beside Go
// networks and ONNX exports, and capabilities at planning time come from
// its Info. Every failure — it does not start, is not a model plugin,
// raises in a call, answers with the wrong shape or dtype, hangs or dies —
// is an error that names it; a process that died or hung is killed and
// started again at the next Bind, that is, for the next batch.
package modelhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/plugins/host"
	pb "github.com/ipbench/ipbench/plugins/proto"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/wire"
)

// What a model plugin may give (ModelInfo.gives).
const (
	GivesDenoise = "denoise"
	GivesVJP     = "vjp"
	GivesEPS     = "eps"
	GivesRestore = "restore"
)

// Config of a model plugin process.
type Config struct {
	// Args are the command-line arguments of the executable.
	Args []string
	// Checksum, if set, pins the executable's SHA-256 (hex): one that does
	// not match is never started.
	Checksum string
	// StartTimeout bounds the start, the handshake and Info (default 120 s:
	// a Python process imports PyTorch and moves its weights to the GPU).
	StartTimeout time.Duration
	// CallTimeout bounds each call (Bind, Denoise, …); a plugin that has
	// not answered by then is taken as hung and killed, to be started again
	// at the next Bind. 0: no bound.
	CallTimeout time.Duration
	// Log receives the plugin's log lines and stderr (default os.Stderr).
	Log io.Writer
	// NoSharedMemory sends every tensor inside the gRPC messages instead of
	// through a shared memory region (for comparison and tests; slower).
	NoSharedMemory bool
}

// Info is what a model plugin says it serves.
type Info struct {
	Name, Version string
	Shape         []int // [C, H, W] or [d]
	Gives         []string
	Tasks         []string // of "eps" and "restore"; empty: every task
	Condition     bool     // Bind carries netmodel.Condition's image
}

// Dim is the length of one signal.
func (i Info) Dim() int {
	d := 1
	for _, s := range i.Shape {
		d *= s
	}
	return d
}

// Has says whether the plugin gives what (GivesVJP, …).
func (i Info) Has(what string) bool { return slices.Contains(i.Gives, what) }

// maxRegion is the largest shared memory region offered (a sparse file in
// RAM: only what is written takes memory).
const maxRegion = 2 << 30

// Plugin is one model plugin executable and, while it runs, its process.
// Bind and the calls of bound models may be used from several goroutines.
type Plugin struct {
	Path   string // absolute path
	SHA256 string // hex SHA-256 of the executable

	cfg  Config
	info Info

	mu     sync.Mutex // guards client, rpc, gen and starts
	client *plugin.Client
	rpc    pb.ModelPluginClient
	gen    uint64 // bumped at each start: a bound model belongs to one process

	// region is the shared memory of the calls, replaced by a larger one
	// when a call does not fit; calls hold regionMu for reading while they
	// use it.
	regionMu  sync.RWMutex
	region    *wire.Region
	regionGen uint64 // the process that mapped it
	noShm     bool   // the plugin could not map a region: messages only

	session atomic.Uint64
	calls   atomic.Int64 // model calls forwarded, for tests
}

// Open checks and starts the model plugin at path and asks it for its Info.
func Open(path string, cfg Config) (*Plugin, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("model plugin %s: %w", path, err)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 120 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	p := &Plugin{Path: abs, cfg: cfg}
	if p.SHA256, err = host.Executable(abs, cfg.Checksum); err != nil {
		return nil, p.errorf("%v", err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.start(); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *Plugin) errorf(format string, a ...any) error {
	name := filepath.Base(p.Path)
	if p.info.Name != "" {
		name = p.info.Name
	}
	return fmt.Errorf("model plugin %s (%s): "+format, append([]any{name, p.Path}, a...)...)
}

// start launches the process and reads its Info; a restarted process must
// say what the first one said. p.mu is held.
func (p *Plugin) start() error {
	client, raw, stderr, err := host.Launch{Path: p.Path, Args: p.cfg.Args, SHA256: p.SHA256, Kind: "model", Name: wire.ModelPluginName,
		Plugin: &clientPlugin{}, StartTimeout: p.cfg.StartTimeout, Log: p.cfg.Log}.Start()
	if err != nil {
		return p.errorf("%v", err)
	}
	rpc := raw.(pb.ModelPluginClient)
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.StartTimeout)
	defer cancel()
	r, err := rpc.Info(ctx, &pb.Empty{})
	if err != nil {
		client.Kill()
		if s, ok := status.FromError(err); ok && s.Code() == codes.Unimplemented {
			return p.errorf("not a model plugin: it does not serve %s (a solver plugin?)", pb.ModelPlugin_ServiceDesc.ServiceName)
		}
		return p.errorf("Info: %v%s", host.Describe(err), stderr.Explain())
	}
	info, err := infoFrom(r)
	if err != nil {
		client.Kill()
		return p.errorf("Info: %v", err)
	}
	if p.gen > 0 && !sameInfo(info, p.info) {
		client.Kill()
		return p.errorf("restarted, it says it is %+v, where it said %+v", info, p.info)
	}
	p.info = info
	p.client, p.rpc = client, rpc
	p.gen++
	return nil
}

// infoFrom checks a plugin's Info.
func infoFrom(r *pb.ModelInfo) (Info, error) {
	i := Info{Name: r.Name, Version: r.Version, Gives: slices.Clone(r.Gives), Tasks: slices.Clone(r.Tasks), Condition: r.Condition}
	if i.Name == "" {
		return i, errors.New("no model name")
	}
	if len(r.Shape) != 1 && len(r.Shape) != 3 {
		return i, fmt.Errorf("shape %v: want [C, H, W] or [d]", r.Shape)
	}
	for _, s := range r.Shape {
		if s < 1 || s > 1<<24 {
			return i, fmt.Errorf("shape %v: every size must be positive", r.Shape)
		}
		i.Shape = append(i.Shape, int(s))
	}
	if i.Dim() > 1<<28 {
		return i, fmt.Errorf("shape %v: too large", r.Shape)
	}
	for _, g := range i.Gives {
		if !slices.Contains([]string{GivesDenoise, GivesVJP, GivesEPS, GivesRestore}, g) {
			return i, fmt.Errorf("gives %q: want denoise, vjp, eps or restore", g)
		}
	}
	if !i.Has(GivesDenoise) {
		return i, fmt.Errorf("gives %v: a model gives at least denoise", i.Gives)
	}
	return i, nil
}

func sameInfo(a, b Info) bool {
	return a.Name == b.Name && a.Version == b.Version && slices.Equal(a.Shape, b.Shape) &&
		slices.Equal(a.Gives, b.Gives) && slices.Equal(a.Tasks, b.Tasks) && a.Condition == b.Condition
}

// clientPlugin is the host side of go-plugin's GRPCPlugin.
type clientPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("modelhost: the model plugin is served by the plugin process")
}

func (clientPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pb.NewModelPluginClient(c), nil
}

// Info returns what the plugin serves, as it said at start.
func (p *Plugin) Info() Info { return p.info }

// Checksum returns the hex SHA-256 of the executable.
func (p *Plugin) Checksum() string { return p.SHA256 }

// String names the model: "plugin:" and its name.
func (p *Plugin) String() string { return "plugin:" + p.info.Name }

// HasVJP says whether the plugin gives vector–Jacobian products.
func (p *Plugin) HasVJP() bool { return p.info.Has(GivesVJP) }

// Serves says whether the role ("eps" or "restorer") serves task.
func (p *Plugin) Serves(role, task string) bool {
	what := GivesEPS
	if role == "restorer" {
		what = GivesRestore
	}
	return p.info.Has(what) && (len(p.info.Tasks) == 0 || slices.Contains(p.info.Tasks, task))
}

// CheckShape says whether the plugin takes images of shape: the same
// [C, H, W], or a plain dimension equal to C·H·W.
func (p *Plugin) CheckShape(shape operator.Shape) error {
	s := p.info.Shape
	if len(s) == 3 && (s[0] != shape.C || s[1] != shape.H || s[2] != shape.W) {
		return p.errorf("takes %d×%d×%d images; the run's are %d×%d×%d (another resolution?)", s[0], s[1], s[2], shape.C, shape.H, shape.W)
	}
	if len(s) == 1 && s[0] != shape.Len() {
		return p.errorf("takes signals of %d values; the run's images have %d×%d×%d = %d", s[0], shape.C, shape.H, shape.W, shape.Len())
	}
	return nil
}

// Close kills the process and removes the shared memory region.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.client != nil {
		p.client.Kill()
		p.client = nil
	}
	p.mu.Unlock()
	p.regionMu.Lock()
	defer p.regionMu.Unlock()
	if p.region != nil {
		p.region.Close()
		p.region = nil
	}
	return nil
}

// live returns the process's client if it is still the one of generation
// gen (0: any, starting one if none runs).
func (p *Plugin) live(gen uint64) (pb.ModelPluginClient, uint64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil || p.client.Exited() {
		if gen != 0 {
			p.client = nil
			return nil, 0, p.errorf("the process is gone (it failed earlier in this batch); restarted for the next batch")
		}
		if err := p.start(); err != nil {
			return nil, 0, err
		}
	}
	if gen != 0 && gen != p.gen {
		return nil, 0, p.errorf("restarted since this problem was bound (it failed earlier in this batch)")
	}
	return p.rpc, p.gen, nil
}

// call runs f with the call timeout, and explains its failure, killing a
// process that died or hung (the next Bind starts another).
func (p *Plugin) call(ctx context.Context, gen uint64, what string, f func(ctx context.Context) error) error {
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	t := host.StartCallTimer(p.cfg.CallTimeout, cancel)
	defer t.Stop()
	err := f(callCtx)
	if err == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Only the process of generation gen is killed or dropped: a newer one
	// was not the one called.
	current := p.client != nil && p.gen == gen
	var client *plugin.Client
	if current {
		client = p.client
	}
	timedOut := t.TimedOut()
	c := host.Call{What: what, Timeout: p.cfg.CallTimeout, Restart: "restarted for the next batch"}
	msg, gone := c.Failed(ctx, client, timedOut, err)
	if gone && current {
		p.client = nil
	}
	switch {
	case timedOut:
		return p.errorf("%s: %s", what, msg)
	case gone:
		return p.errorf("%s", msg)
	}
	if _, ok := status.FromError(err); !ok {
		return p.errorf("%s: %v", what, err) // the host's own check of the answer
	}
	return p.errorf("%s", msg)
}

// Bind binds the plugin to one problem and returns its Model: the calls of
// the solvers go to the plugin, tagged with the problem's session. A
// process that died or hung earlier is started again here. The model is an
// io.Closer: Close makes the plugin forget the problem.
func (p *Plugin) Bind(task string, op operator.Operator, sigmaY float64, y []float64) (sdk.Model, error) {
	rpc, gen, err := p.live(0)
	if err != nil {
		return nil, err
	}
	m, d := op.Dims()
	if d != p.info.Dim() {
		return nil, p.errorf("takes signals of %d values (shape %v), the problem's have %d", p.info.Dim(), p.info.Shape, d)
	}
	if len(y) != m {
		return nil, p.errorf("Bind: measurement of length %d for an operator with m = %d", len(y), m)
	}
	label := int64(-1)
	if l, err := netmodel.TaskLabel(task); err == nil {
		label = int64(l)
	}
	req := &pb.BindRequest{Session: p.session.Add(1), Task: task, Label: label, SigmaY: sigmaY, Y: wire.Vector(y), M: int64(m), D: int64(d)}
	if sp, ok := op.(operator.Specifier); ok {
		req.Operator = wire.Spec(sp.Spec())
	}
	if p.info.Condition {
		cond := make([]float64, 2*d)
		if err := netmodel.Condition(cond, op, y, sigmaY); err != nil {
			return nil, p.errorf("Bind: %v", err)
		}
		req.Condition = wire.Vector(cond)
	}
	err = p.call(context.Background(), gen, "Bind", func(ctx context.Context) error {
		_, err := rpc.Bind(ctx, req)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &bound{p: p, rpc: rpc, gen: gen, session: req.Session, d: d}, nil
}

// bound is the plugin bound to one problem.
type bound struct {
	p       *Plugin
	rpc     pb.ModelPluginClient
	gen     uint64
	session uint64
	d       int
	closed  atomic.Bool
}

// Close makes the plugin forget the problem (a plugin that is gone has
// forgotten it already).
func (b *bound) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	if _, _, err := b.p.live(b.gen); err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.rpc.Release(ctx, &pb.SessionRequest{Session: b.session})
	return nil
}

func (b *bound) Denoise(ctx context.Context, dst, x [][]float64, sigma float64) error {
	return b.forward(ctx, "Denoise", b.rpc.Denoise, dst, x, nil, sigma)
}

func (b *bound) VJP(ctx context.Context, dst, x [][]float64, sigma float64, v [][]float64) error {
	if !b.p.info.Has(GivesVJP) {
		return b.p.errorf("VJP: the plugin gives no vector–Jacobian product (its Info): %w", netmodel.ErrNotServed)
	}
	if v == nil {
		return b.p.errorf("VJP without v")
	}
	return b.forward(ctx, "VJP", b.rpc.VJP, dst, x, v, sigma)
}

func (b *bound) DenoiseEPS(ctx context.Context, dst, pivot [][]float64, sigma float64) error {
	if !b.p.info.Has(GivesEPS) {
		return b.p.errorf("DenoiseEPS: the plugin gives no EPS denoiser (its Info): %w", netmodel.ErrNotServed)
	}
	return b.forward(ctx, "DenoiseEPS", b.rpc.DenoiseEPS, dst, pivot, nil, sigma)
}

func (b *bound) Restore(ctx context.Context, dst, x [][]float64, sigma float64) error {
	if !b.p.info.Has(GivesRestore) {
		return b.p.errorf("Restore: the plugin gives no conditional denoiser (its Info): %w", netmodel.ErrNotServed)
	}
	return b.forward(ctx, "Restore", b.rpc.Restore, dst, x, nil, sigma)
}

type method func(ctx context.Context, in *pb.ModelRequest, opts ...grpc.CallOption) (*pb.OpResponse, error)

// forward sends one call to the plugin: x (and v) into the shared memory
// region with room for the result beside them, or inside the message when
// there is no region; then checks the answer's shape and dtype and copies
// it into dst.
func (b *bound) forward(ctx context.Context, name string, f method, dst, x, v [][]float64, sigma float64) error {
	n, d := len(x), b.d
	if n == 0 {
		return nil
	}
	if _, _, err := b.p.live(b.gen); err != nil {
		return err
	}
	b.p.calls.Add(1)
	req := &pb.ModelRequest{Session: b.session, Sigma: sigma}
	var out [][]float64 // the result's place in the region
	tensors := 2
	if v != nil {
		tensors = 3
	}
	region, release := b.p.alloc(b.gen, tensors*8*n*d)
	if region != nil {
		defer release()
		off := region.off
		req.X = wire.ShmTensor(off, n, d)
		put(region.r, off, x)
		off += 8 * n * d
		if v != nil {
			req.V = wire.ShmTensor(off, n, d)
			put(region.r, off, v)
			off += 8 * n * d
		}
		req.Out = &pb.ShmRef{Offset: uint64(off), Length: uint64(8 * n * d)}
		out, _ = region.r.View(off, n, d)
	} else {
		req.X = wire.Rows(x)
		if v != nil {
			req.V = wire.Rows(v)
		}
	}
	return b.p.call(ctx, b.gen, name, func(ctx context.Context) error {
		resp, err := f(ctx, req)
		if err != nil {
			return err
		}
		return b.result(dst, resp.GetY(), req.Out, out)
	})
}

// result checks the plugin's answer and copies it into dst.
func (b *bound) result(dst [][]float64, t *pb.Tensor, want *pb.ShmRef, out [][]float64) error {
	n, d := len(dst), b.d
	if t == nil {
		return errors.New("returned no tensor")
	}
	if t.Shm != nil {
		if want == nil || t.Shm.Offset != want.Offset || t.Shm.Length != want.Length {
			return fmt.Errorf("returned a shared-memory tensor at [%d, +%d), not where the host asked for it", t.Shm.Offset, t.Shm.Length)
		}
		if t.Dtype != pb.DType_FLOAT64 || !slices.Equal(t.Shape, []int64{int64(n), int64(d)}) {
			return fmt.Errorf("returned a %v tensor of shape %v in shared memory, want FLOAT64 [%d %d]", t.Dtype, t.Shape, n, d)
		}
		for i := range dst {
			copy(dst[i], out[i])
		}
		return nil
	}
	if len(t.Shape) != 2 || t.Shape[0] != int64(n) || t.Shape[1] != int64(d) {
		return fmt.Errorf("returned a tensor of shape %v, want [%d %d]", t.Shape, n, d)
	}
	if err := wire.DecodeInto(dst, t); err != nil {
		return fmt.Errorf("returned a bad tensor: %v", err)
	}
	return nil
}

// put copies rows into the region at off.
func put(r *wire.Region, off int, rows [][]float64) {
	view, _ := r.View(off, len(rows), len(rows[0]))
	for i, row := range rows {
		copy(view[i], row)
	}
}

// block is a part of the region reserved for one call.
type block struct {
	r   *wire.Region
	off int
}

// alloc reserves n bytes of the shared memory region for one call of the
// process of generation gen, offering the plugin a larger region when the
// one it has is too small (for the calls in flight together). The region
// stays locked for reading until release. nil when there is no room (the
// tensors then travel in the messages).
func (p *Plugin) alloc(gen uint64, n int) (*block, func()) {
	if p.cfg.NoSharedMemory || n > maxRegion {
		return nil, nil
	}
	for try := 0; try < 2; try++ {
		p.regionMu.RLock()
		if p.noShm {
			p.regionMu.RUnlock()
			return nil, nil
		}
		if r := p.region; r != nil && p.regionGen == gen {
			if off, ok := r.Alloc(n); ok {
				return &block{r, off}, func() { r.Free(off); p.regionMu.RUnlock() }
			}
		}
		p.regionMu.RUnlock()
		if try == 0 && !p.grow(gen, n) {
			return nil, nil
		}
	}
	return nil, nil
}

// grow offers the process of generation gen a region with room for a call
// of n bytes (twice that, so that two calls fit side by side).
func (p *Plugin) grow(gen uint64, n int) bool {
	p.regionMu.Lock()
	defer p.regionMu.Unlock()
	if p.noShm {
		return false
	}
	if p.region != nil && p.regionGen == gen && p.region.Size() >= 2*n {
		return true // another call grew it meanwhile
	}
	size := 0
	if p.region != nil && p.regionGen == gen {
		size = p.region.Size()
	}
	size = min(max(2*size, 2*n, 1<<20), maxRegion)
	if size < n {
		return false
	}
	r, err := wire.CreateRegion(size)
	if err != nil {
		return false
	}
	rpc, g, err := p.live(gen)
	if err != nil || g != gen {
		r.Close()
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := rpc.MapRegion(ctx, &pb.RegionRequest{Path: r.Path(), Size: uint64(r.Size())}); err != nil {
		r.Close()
		if s, ok := status.FromError(err); ok && s.Code() != codes.Unavailable && s.Code() != codes.Canceled && s.Code() != codes.DeadlineExceeded {
			// It cannot map one (no /dev/shm there, or a plugin without
			// shared memory): every call goes in messages from now on.
			fmt.Fprintf(p.cfg.Log, "model plugin %s: no shared memory (%s); tensors go inside the messages\n", p.info.Name, s.Message())
			p.noShm = true
		}
		return false
	}
	if p.region != nil {
		p.region.Close()
	}
	p.region, p.regionGen = r, gen
	return true
}

// Calls returns the number of model calls forwarded so far.
func (p *Plugin) Calls() int64 { return p.calls.Load() }

var _ netmodel.Binder = (*Plugin)(nil)
