// Package host is the harness's side of solver plugins: it finds plugin
// binaries, checks and records their SHA-256, starts them with go-plugin
// (fixed magic cookie, protocol version, AutoMTLS, a local Unix socket only),
// serves them the operator and the model of each problem through the
// GRPCBroker, and turns every way a plugin can fail — not a plugin, exits at
// once, junk on stdout, wrong cookie or version, wrong shapes, NaN, a panic,
// a hang — into an error that names the plugin and the cause. A plugin that
// died or hung is killed and started again for the next call.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/internal/filehash"
	pb "github.com/ipbench/ipbench/plugins/proto"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/wire"
)

// Config of a plugin process.
type Config struct {
	// Timeout bounds one Solve call; a plugin that has not answered by then
	// is taken as hung, killed and restarted for the next call. 0: no bound.
	Timeout time.Duration
	// StartTimeout bounds the start and handshake (default 20 s).
	StartTimeout time.Duration
	// Checksum, if set, pins the binary's SHA-256 (hex): a binary that does
	// not match is never started.
	Checksum string
	// Log receives the plugin's log lines and stderr (default os.Stderr).
	Log io.Writer
	// NoSharedMemory sends every tensor inside the gRPC messages instead of
	// through a shared memory region (for comparison; slower).
	NoSharedMemory bool
	// NoDoorbell sends every model call through the gRPC Model service
	// instead of the shared memory doorbell (for comparison; slower).
	NoDoorbell bool
	// RemoteOperator keeps the plugin on the host's Operator service for
	// every product, instead of sending it a description of A from which it
	// may build a local replica (for comparison and tests; slower).
	RemoteOperator bool
}

// regionSize is the shared memory offered to a Solve call: room for twelve
// batches of the largest shape (the solver's working buffers, inputs and
// outputs of calls in flight), at most 2 GiB. It is a sparse file in RAM:
// only what is written takes memory. A tensor that does not fit travels in
// the message instead.
func regionSize(n, m, d int) int {
	return min(12*8*n*max(m, d)+1<<20, 2<<30)
}

// Plugin is one solver plugin binary and, while it runs, its process. It
// implements sdk.Solver, so the harness runs it like an in-process solver.
// Calls are serialised.
type Plugin struct {
	Path   string // absolute path
	SHA256 string // hex SHA-256 of the binary, recorded with every result

	cfg  Config
	info sdk.Info

	mu       sync.Mutex
	region   *wire.Region // shared memory, kept across calls while large enough
	client   *plugin.Client
	rpc      pb.SolverClient
	broker   *plugin.GRPCBroker
	brokerID uint32
	serving  bool
	sessions sessions

	specOp operator.Operator // the operator last described to the plugin
	spec   *pb.OperatorSpec  // and its description
}

// Open checks and starts the plugin at path and asks it for its Info.
func Open(path string, cfg Config) (*Plugin, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", path, err)
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 20 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	p := &Plugin{Path: abs, cfg: cfg}
	if p.SHA256, err = Executable(abs, cfg.Checksum); err != nil {
		return nil, p.errorf("%v", err)
	}
	if err := p.start(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	r, err := p.rpc.Info(ctx, &pb.Empty{})
	if err != nil {
		p.Close()
		return nil, p.errorf("Info: %v", Describe(err))
	}
	p.info = sdk.InfoFromProto(r)
	if p.info.Name == "" {
		p.Close()
		return nil, p.errorf("Info gives no solver name")
	}
	return p, nil
}

func (p *Plugin) errorf(format string, a ...any) error {
	name := filepath.Base(p.Path)
	if p.info.Name != "" {
		name = p.info.Name
	}
	return fmt.Errorf("plugin %s (%s): %s", name, p.Path, fmt.Sprintf(format, a...))
}

// Executable checks that path is an executable file whose SHA-256, which
// it returns, is the pinned one (when pin is not empty).
func Executable(path, pin string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() || st.Mode().Perm()&0o111 == 0 {
		return "", errors.New("not an executable file")
	}
	sum, err := filehash.SHA256(path)
	if err != nil {
		return "", err
	}
	if pin != "" && !strings.EqualFold(pin, sum) {
		return "", fmt.Errorf("SHA-256 %s does not match the pinned %s; not started", sum, pin)
	}
	return sum, nil
}

// start launches the process; p.mu is held or p is not yet shared.
func (p *Plugin) start() error {
	client, raw, _, err := Launch{Path: p.Path, SHA256: p.SHA256, Kind: "plugin", Name: wire.SolverPluginName,
		Plugin: &clientPlugin{}, StartTimeout: p.cfg.StartTimeout, Log: p.cfg.Log}.Start()
	if err != nil {
		return p.errorf("%v", err)
	}
	sc := raw.(*solverConn)
	p.client, p.rpc, p.broker, p.serving = client, sc.rpc, sc.broker, false
	return nil
}

// Launch is how a plugin process of the harness (a solver or a model
// plugin) is started: the go-plugin handshake, AutoMTLS, gRPC only, the
// executable hashed again just before it starts, its log lines and the
// tail of its stderr kept.
type Launch struct {
	Path   string
	Args   []string
	SHA256 string // hex, as Executable gave it
	Kind   string // the log's prefix: "plugin", "model"
	Name   string // the plugin to dispense from its plugin set
	Plugin plugin.Plugin

	StartTimeout time.Duration
	Log          io.Writer
}

// Start starts the process and dispenses the plugin. The stderr tail is
// for later errors of the same process; a start error includes it.
func (l Launch) Start() (*plugin.Client, any, *StderrTail, error) {
	sum, _ := hex.DecodeString(l.SHA256)
	stderr := &StderrTail{}
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			wire.ProtocolVersion: {l.Name: l.Plugin},
		},
		Cmd:              exec.Command(l.Path, l.Args...),
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		// The executable is hashed again just before it starts, so one
		// swapped after Open is refused too.
		SecureConfig:    &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()},
		StartTimeout:    l.StartTimeout,
		GRPCDialOptions: wire.DialOptions(),
		Logger: hclog.New(&hclog.LoggerOptions{
			Name: l.Kind + "." + filepath.Base(l.Path), Output: l.Log, Level: hclog.Warn,
		}),
		Stderr: stderr,
	})
	rpcClient, err := client.Client()
	if err != nil {
		client.Kill() // returns once the process's stderr is read to the end
		return nil, nil, nil, fmt.Errorf("start: %v%s", err, stderr.Explain())
	}
	raw, err := rpcClient.Dispense(l.Name)
	if err != nil {
		client.Kill()
		return nil, nil, nil, fmt.Errorf("start: %v", err)
	}
	return client, raw, stderr, nil
}

// serve starts the host's services on a broker stream, once per process.
// It waits for the first Solve: go-plugin drops the stream's connection info
// if the plugin has not dialled it within 5 s, and the plugin dials when its
// first Solve arrives. p.mu is held.
func (p *Plugin) serve() {
	if p.serving {
		return
	}
	p.serving = true
	p.brokerID = p.broker.NextId()
	go p.broker.AcceptAndServe(p.brokerID, func(opts []grpc.ServerOption) *grpc.Server {
		s := grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		pb.RegisterOperatorServer(s, &operatorServer{s: &p.sessions})
		pb.RegisterModelServer(s, &modelServer{s: &p.sessions})
		return s
	})
}

// clientPlugin is the host side of go-plugin's GRPCPlugin.
type clientPlugin struct {
	plugin.NetRPCUnsupportedPlugin
}

type solverConn struct {
	rpc    pb.SolverClient
	broker *plugin.GRPCBroker
}

func (clientPlugin) GRPCServer(*plugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host: the solver plugin is served by the plugin process")
}

func (clientPlugin) GRPCClient(_ context.Context, b *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return &solverConn{rpc: pb.NewSolverClient(c), broker: b}, nil
}

// regionFor returns the shared memory region for a call of n samples, made
// anew only when the last one is too small: a kept region is already mapped
// and faulted in on both sides. nil when there is none (no /dev/shm, no room,
// or NoSharedMemory): tensors then travel in messages. p.mu is held.
func (p *Plugin) regionFor(n, m, d int) *wire.Region {
	if p.cfg.NoSharedMemory {
		return nil
	}
	size := regionSize(n, m, d)
	if p.region != nil && p.region.Size() >= size {
		return p.region
	}
	if p.region != nil {
		p.region.Close()
		p.region = nil
	}
	r, err := wire.CreateRegion(size)
	if err != nil {
		return nil
	}
	p.region = r
	return r
}

// Checksum returns the hex SHA-256 of the plugin binary.
func (p *Plugin) Checksum() string { return p.SHA256 }

// Info returns the solver's description, as the plugin gave it at start.
func (p *Plugin) Info() sdk.Info { return p.info }

// Close kills the plugin process.
func (p *Plugin) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil {
		p.client.Kill()
		p.client = nil
	}
	if p.region != nil {
		p.region.Close()
		p.region = nil
	}
}

// Solve runs one batch in the plugin; see sdk.Solver. On any failure the
// error names the plugin and the cause, dst is left as it was, and a
// process that died or hung is killed, to be restarted by the next call.
func (p *Plugin) Solve(ctx context.Context, dst [][]float64, prob sdk.Problem, m sdk.Model, seeds []sdk.Seed, nfe int, params map[string]float64) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil || p.client.Exited() {
		if err := p.start(); err != nil {
			return err
		}
	}
	p.serve()
	mm, d := prob.Op.Dims()
	_, hasSVD := prob.Op.(sdk.SVD)
	se := &session{op: prob.Op, model: m, region: p.regionFor(len(dst), mm, d)}
	id := p.sessions.add(se)
	defer p.sessions.remove(id)
	req := &pb.SolveRequest{
		BrokerId: p.brokerID, Session: id, Y: wire.Vector(prob.Y), SigmaY: prob.SigmaY, SigmaMax: prob.SigmaMax,
		M: int64(mm), D: int64(d), Nfe: int64(nfe), Params: params, HasSvd: hasSVD,
	}
	for _, s := range seeds {
		req.Seeds = append(req.Seeds, &pb.Seed{Hi: s.Hi, Lo: s.Lo})
	}
	if !p.cfg.RemoteOperator {
		if u, ok := sdk.Underlying(prob.Op); ok {
			if sp, ok := u.(operator.Specifier); ok {
				// Consecutive batches share an operator (the run goes
				// through an image's solvers and NFE in turn): describe
				// it once, not once per batch.
				// (Operators are pointers; another kind is described
				// afresh, as comparing it could panic.)
				if !reflect.TypeOf(u).Comparable() || u != p.specOp {
					p.specOp, p.spec = u, wire.Spec(sp.Spec())
				}
				req.Operator = p.spec
			}
		}
	}
	if se.region != nil {
		req.ShmPath, req.ShmSize = se.region.Path(), uint64(se.region.Size())
	}
	// The timeout is the host's own timer, not a gRPC deadline: a deadline
	// travels to the plugin, whose server may reset the stream a moment
	// before the host's deadline fires, and the hang would pass for an
	// ordinary error.
	callCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if se.region != nil && !p.cfg.NoDoorbell {
		if db, err := wire.NewDoorbell(se.region); err == nil {
			db.Clear()
			req.Doorbell = true
			serveCtx, stopServe := context.WithCancel(callCtx)
			done := make(chan struct{})
			go func() { defer close(done); db.Serve(serveCtx, se.bell(callCtx, db)) }()
			// Deferred after cancel, so it runs first: the server has
			// answered its last call before the region is reused.
			defer func() { stopServe(); <-done }()
		}
	}
	timer := StartCallTimer(p.cfg.Timeout, cancel)
	defer timer.Stop()
	resp, err := p.rpc.Solve(callCtx, req)
	if err != nil {
		return p.failed(ctx, timer.TimedOut(), err)
	}
	got, err := se.rows(resp.Samples, d)
	if err != nil {
		return p.errorf("returned bad samples: %v", err)
	}
	if len(got) != len(dst) {
		return p.errorf("returned %d samples for %d seeds", len(got), len(dst))
	}
	for i, row := range got {
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return p.errorf("returned %v in sample %d at %d", v, i, j)
			}
		}
	}
	for i := range dst {
		copy(dst[i], got[i])
	}
	return nil
}

// failed explains a failed Solve call, killing the process where it died
// or hung.
func (p *Plugin) failed(ctx context.Context, timedOut bool, err error) error {
	c := Call{What: "Solve", Timeout: p.cfg.Timeout, Restart: "restarted on the next call"}
	msg, gone := c.Failed(ctx, p.client, timedOut, err)
	if gone {
		p.client = nil
	}
	return p.errorf("%s", msg)
}

// CallTimer is the host's own timeout of one call to a plugin process. It
// is a timer of the host, not a gRPC deadline: a deadline travels to the
// plugin, whose server may give up a moment before the host does, and the
// hang would pass for an ordinary error.
type CallTimer struct {
	timer    *time.Timer
	timedOut atomic.Bool
}

// StartCallTimer calls cancel, the cancellation of the call's context, once
// timeout has passed; timeout ≤ 0: never.
func StartCallTimer(timeout time.Duration, cancel context.CancelFunc) *CallTimer {
	t := &CallTimer{}
	if timeout > 0 {
		t.timer = time.AfterFunc(timeout, func() { t.timedOut.Store(true); cancel() })
	}
	return t
}

// Stop stops the timer.
func (t *CallTimer) Stop() {
	if t.timer != nil {
		t.timer.Stop()
	}
}

// TimedOut says whether the timeout passed and cancelled the call.
func (t *CallTimer) TimedOut() bool { return t.timedOut.Load() }

// Call names a call to a plugin process for Failed.
type Call struct {
	What    string        // the call, "Solve"
	Timeout time.Duration // the timeout it ran under
	Restart string        // what becomes of a process killed or dead: "restarted on the next call"
}

// Failed explains err, the failure of the call to the process of client,
// with ctx the caller's context and timedOut from its CallTimer: a hung
// process (timed out) or an abandoned one (ctx cancelled) is killed, a
// process that died or whose connection broke is told apart from one that
// merely answered with an error. gone says that the process was killed or
// has exited: the caller must drop client. client nil: the process called
// is no longer the current one; nothing is killed, and only timeouts and
// cancellations are told apart from ordinary errors. The message does not
// name the plugin.
func (c Call) Failed(ctx context.Context, client *plugin.Client, timedOut bool, err error) (msg string, gone bool) {
	kill := func() {
		if client != nil {
			client.Kill()
		}
	}
	switch {
	case timedOut:
		kill()
		return fmt.Sprintf("no answer within the %v timeout (hung?); killed, %s", c.Timeout, c.Restart), true
	case ctx.Err() != nil:
		// The caller gave up (Ctrl-C, or the solver failed or was stopped):
		// not the plugin's fault, but what it was doing is abandoned with
		// its process.
		kill()
		return fmt.Sprintf("%s cancelled: %v", c.What, ctx.Err()), true
	case client != nil && client.Exited():
		return fmt.Sprintf("the process died during %s (%v); %s", c.What, Describe(err), c.Restart), true
	}
	if s, ok := status.FromError(err); ok && s.Code() == codes.Unavailable && client != nil {
		// The connection broke: usually the process is dying, which
		// go-plugin notices a moment later.
		for deadline := time.Now().Add(2 * time.Second); !client.Exited() && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		exited := client.Exited()
		kill()
		if exited {
			return fmt.Sprintf("the process died during %s (%v); %s", c.What, s.Message(), c.Restart), true
		}
		return fmt.Sprintf("connection lost during %s (%v); killed, %s", c.What, s.Message(), c.Restart), true
	}
	return fmt.Sprintf("%s failed: %v", c.What, Describe(err)), false
}

// Describe is the message of err: a gRPC status's own message, without its
// code, or err's text.
func Describe(err error) string {
	if s, ok := status.FromError(err); ok {
		return s.Message()
	}
	return err.Error()
}
