package sdk

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ipbench/ipbench/harness/operator"

	pb "github.com/ipbench/ipbench/plugins/proto"
	"github.com/ipbench/ipbench/plugins/wire"
)

// Serve runs s as an ipbench solver plugin process. A plugin's main is
//
//	func main() { sdk.Serve(mysolver.Solver{}) }
//
// The host starts the binary, and s reaches the operator and the model only
// through the host, which counts every model call.
func Serve(s Solver) {
	go exitWithParent()
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{
			wire.ProtocolVersion: {wire.SolverPluginName: &solverPlugin{impl: s}},
		},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, wire.ServerOptions()...)...)
		},
	})
}

// exitWithParent ends the plugin when the host is gone (killed with
// SIGKILL, say: it cannot stop its plugins then), so that no orphan
// keeps running: the process is then re-parented, and its parent pid
// changes.
func exitWithParent() {
	parent := os.Getppid()
	for range time.Tick(500 * time.Millisecond) {
		if os.Getppid() != parent {
			os.Exit(3)
		}
	}
}

// solverPlugin is the plugin side of go-plugin's GRPCPlugin.
type solverPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Solver
}

func (p *solverPlugin) GRPCServer(b *plugin.GRPCBroker, s *grpc.Server) error {
	pb.RegisterSolverServer(s, &solverServer{impl: p.impl, broker: b})
	return nil
}

func (p *solverPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("sdk: the solver plugin has no client side in a plugin process")
}

type solverServer struct {
	pb.UnimplementedSolverServer
	impl   Solver
	broker *plugin.GRPCBroker

	mu      sync.Mutex
	conns   map[uint32]*grpc.ClientConn
	regions map[string]*wire.Region // mapped once, kept while the host keeps them

	replicaKey [sha256.Size]byte // of the description the replica was built from
	replica    operator.Operator
}

// replicaOf returns a local replica of the host's operator built from its
// description, reusing the last one when the description is the same (a
// run hands one operator to many batches). A description that cannot be
// built, or whose dimensions are not (m, d), gives nil and the reason: the
// caller then uses the host's Operator service, which is always right.
func (s *solverServer) replicaOf(spec *pb.OperatorSpec, m, d int) (operator.Operator, error) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(spec)
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replica != nil && key == s.replicaKey {
		return s.replica, nil
	}
	op, err := operator.Build(wire.SpecFrom(spec))
	if err != nil {
		return nil, err
	}
	if om, od := op.Dims(); om != m || od != d {
		return nil, fmt.Errorf("described operator is %d×%d, the problem's is %d×%d", om, od, m, d)
	}
	s.replica, s.replicaKey = op, key
	return op, nil
}

// region maps the host's shared memory region, once per file; a region the
// host replaced is unmapped. Each call starts with the whole region free.
func (s *solverServer) region(path string, size int) (*wire.Region, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.regions[path]; ok && r.Size() == size {
		r.Reset()
		return r, nil
	}
	for p, r := range s.regions {
		r.Close()
		delete(s.regions, p)
	}
	r, err := wire.OpenRegion(path, size)
	if err != nil {
		return nil, err
	}
	if s.regions == nil {
		s.regions = map[string]*wire.Region{}
	}
	s.regions[path] = r
	return r, nil
}

// InfoProto converts an Info to its message.
func InfoProto(info Info) *pb.InfoResponse {
	r := &pb.InfoResponse{Name: info.Name, Version: info.Version}
	for _, c := range info.Capabilities {
		r.Capabilities = append(r.Capabilities, string(c))
	}
	for _, n := range info.NFEGrid {
		r.NfeGrid = append(r.NfeGrid, int64(n))
	}
	for _, p := range info.Params {
		r.Params = append(r.Params, &pb.Param{Name: p.Name, Default: p.Default, Min: p.Min, Max: p.Max, Doc: p.Doc})
	}
	return r
}

// InfoFromProto converts the message back.
func InfoFromProto(r *pb.InfoResponse) Info {
	info := Info{Name: r.Name, Version: r.Version}
	for _, c := range r.Capabilities {
		info.Capabilities = append(info.Capabilities, Capability(c))
	}
	for _, n := range r.NfeGrid {
		info.NFEGrid = append(info.NFEGrid, int(n))
	}
	for _, p := range r.Params {
		info.Params = append(info.Params, Param{Name: p.Name, Default: p.Default, Min: p.Min, Max: p.Max, Doc: p.Doc})
	}
	return info
}

func (s *solverServer) Info(context.Context, *pb.Empty) (*pb.InfoResponse, error) {
	return InfoProto(s.impl.Info()), nil
}

// dial returns the connection to the host's services on a broker stream,
// dialled once per stream.
func (s *solverServer) dial(id uint32) (*grpc.ClientConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conns[id]; ok {
		return c, nil
	}
	c, err := s.broker.DialWithOptions(id, wire.DialOptions()...)
	if err != nil {
		return nil, err
	}
	if s.conns == nil {
		s.conns = map[uint32]*grpc.ClientConn{}
	}
	s.conns[id] = c
	return c, nil
}

func (s *solverServer) Solve(ctx context.Context, req *pb.SolveRequest) (resp *pb.SolveResponse, err error) {
	// A panic in the solver becomes an error of this call, not a dead
	// process: the host records it and goes on.
	defer func() {
		if r := recover(); r != nil {
			err = status.Errorf(codes.Internal, "solver panicked: %v\n%s", r, debug.Stack())
		}
	}()
	conn, err := s.dial(req.BrokerId)
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "dialling the host's services: %v", err)
	}
	m, d := int(req.M), int(req.D)
	y, err := wire.DecodeVector(req.Y, m)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "y: %v", err)
	}
	var region *wire.Region
	if req.ShmPath != "" {
		if region, err = s.region(req.ShmPath, int(req.ShmSize)); err != nil {
			return nil, status.Errorf(codes.Unavailable, "%v", err)
		}
	}
	tr := transport{region: region}
	op := remoteOp{c: pb.NewOperatorClient(conn), session: req.Session, m: m, d: d, tr: tr}
	var sop Operator = op
	if req.HasSvd {
		sop = remoteSVD{op}
	}
	if req.Operator != nil {
		// Operator calls are not counted, so a local replica changes only
		// the speed: it saves a round trip to the host for every product.
		if rep, err := s.replicaOf(req.Operator, m, d); err == nil {
			sop = Local(rep)
		} else {
			fmt.Fprintf(os.Stderr, "ipbench sdk: operator replica (%s): %v; calling the host's Operator service instead\n", req.Operator.Kind, err)
		}
	}
	model := remoteModel{c: pb.NewModelClient(conn), session: req.Session, d: d, tr: tr}
	if region != nil && req.Doorbell {
		// The doorbell block comes first in the region; without it the
		// calls go through the Model service.
		if err := wire.Reserve(region); err == nil {
			model.bell, _ = wire.NewDoorbell(region)
		}
	}
	seeds := make([]Seed, len(req.Seeds))
	for i, sd := range req.Seeds {
		seeds[i] = Seed{Hi: sd.Hi, Lo: sd.Lo}
	}
	params, err := ResolveParams(s.impl.Info(), req.Params)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if region != nil {
		ctx = WithAllocator(ctx, region.NewRows)
	}
	dst := Rows(ctx, len(seeds), d)
	p := Problem{Op: sop, Y: y, SigmaY: req.SigmaY, SigmaMax: req.SigmaMax}
	if err := s.impl.Solve(ctx, dst, p, model, seeds, int(req.Nfe), params); err != nil {
		return nil, status.Error(codes.Unknown, err.Error())
	}
	if region != nil {
		// The host copies the samples out before it removes the region.
		if t, _, ok := region.Put(dst); ok {
			return &pb.SolveResponse{Samples: t}, nil
		}
	}
	return &pb.SolveResponse{Samples: wire.Rows(dst)}, nil
}

// transport moves a call's tensors: through the session's shared memory
// where there is room, inside the messages otherwise.
type transport struct{ region *wire.Region }

// send returns the tensors for inputs (nil rows stay nil), the shared
// memory reference for an output of n rows of length d (nil: in the reply),
// and a function that releases what it reserved.
func (tr transport) send(dst [][]float64, n, d int, inputs ...[][]float64) (tensors []*pb.Tensor, out *pb.ShmRef, release func()) {
	var frees []func()
	release = func() {
		for _, f := range frees {
			f()
		}
	}
	for _, in := range inputs {
		if in == nil {
			tensors = append(tensors, nil)
			continue
		}
		if tr.region != nil {
			if t, free, ok := tr.region.Put(in); ok {
				tensors = append(tensors, t)
				frees = append(frees, free)
				continue
			}
		}
		tensors = append(tensors, wire.Rows(in))
	}
	if tr.region != nil {
		if off, ok := tr.region.Locate(dst); ok {
			out = wire.ShmTensor(off, n, d).Shm // the host writes into dst itself
		} else if off, ok := tr.region.Alloc(8 * n * d); ok {
			out = wire.ShmTensor(off, n, d).Shm
			frees = append(frees, func() { tr.region.Free(off) })
		}
	}
	return tensors, out, release
}

// receive copies a reply tensor into dst.
func (tr transport) receive(dst [][]float64, t *pb.Tensor) error {
	if t != nil && t.Shm != nil {
		if tr.region == nil {
			return fmt.Errorf("shared-memory reply without a region")
		}
		d := 0
		if len(dst) > 0 {
			d = len(dst[0])
		}
		if off, ok := tr.region.Locate(dst); ok && uint64(off) == t.Shm.Offset {
			return nil // written in place
		}
		rows, err := tr.region.Rows(t, d)
		if err != nil {
			return err
		}
		if len(rows) != len(dst) {
			return fmt.Errorf("reply of %d rows for %d", len(rows), len(dst))
		}
		for i := range dst {
			copy(dst[i], rows[i])
		}
		return nil
	}
	return wire.DecodeInto(dst, t)
}

// remoteOp is the plugin side of the host's Operator service.
type remoteOp struct {
	c       pb.OperatorClient
	session uint64
	m, d    int
	tr      transport
}

func (o remoteOp) Dims() (m, d int) { return o.m, o.d }

type opCall func(context.Context, *pb.OpRequest, ...grpc.CallOption) (*pb.OpResponse, error)

func (o remoteOp) call(ctx context.Context, name string, f opCall, dst, x [][]float64, a, b float64) error {
	if len(dst) != len(x) {
		return fmt.Errorf("operator %s: %d output rows for %d input rows", name, len(dst), len(x))
	}
	d := 0
	if len(dst) > 0 {
		d = len(dst[0])
	}
	in, out, release := o.tr.send(dst, len(dst), d, x)
	defer release()
	r, err := f(ctx, &pb.OpRequest{Session: o.session, X: in[0], A: a, B: b, Out: out})
	if err != nil {
		return fmt.Errorf("operator %s: %w", name, err)
	}
	if err := o.tr.receive(dst, r.Y); err != nil {
		return fmt.Errorf("operator %s: %w", name, err)
	}
	return nil
}

func (o remoteOp) Apply(ctx context.Context, dst, x [][]float64) error {
	return o.call(ctx, "Apply", o.c.Apply, dst, x, 0, 0)
}
func (o remoteOp) Adjoint(ctx context.Context, dst, y [][]float64) error {
	return o.call(ctx, "Adjoint", o.c.Adjoint, dst, y, 0, 0)
}
func (o remoteOp) SolveShifted(ctx context.Context, dst [][]float64, a, b float64, v [][]float64) error {
	return o.call(ctx, "SolveShifted", o.c.SolveShifted, dst, v, a, b)
}
func (o remoteOp) Pinv(ctx context.Context, dst, y [][]float64) error {
	return o.call(ctx, "Pinv", o.c.Pinv, dst, y, 0, 0)
}
func (o remoteOp) GramEigenvalues(ctx context.Context) ([]float64, error) {
	r, err := o.c.GramEigenvalues(ctx, &pb.SessionRequest{Session: o.session})
	if err != nil {
		return nil, fmt.Errorf("operator GramEigenvalues: %w", err)
	}
	return r.Values, nil
}

type remoteSVD struct{ remoteOp }

func (o remoteSVD) Singular(ctx context.Context) ([]float64, error) {
	r, err := o.c.Singular(ctx, &pb.SessionRequest{Session: o.session})
	if err != nil {
		return nil, fmt.Errorf("operator Singular: %w", err)
	}
	return r.Values, nil
}
func (o remoteSVD) Vt(ctx context.Context, dst, x [][]float64) error {
	return o.call(ctx, "Vt", o.c.Vt, dst, x, 0, 0)
}
func (o remoteSVD) V(ctx context.Context, dst, c [][]float64) error {
	return o.call(ctx, "V", o.c.V, dst, c, 0, 0)
}
func (o remoteSVD) Ut(ctx context.Context, dst, y [][]float64) error {
	return o.call(ctx, "Ut", o.c.Ut, dst, y, 0, 0)
}
func (o remoteSVD) U(ctx context.Context, dst, c [][]float64) error {
	return o.call(ctx, "U", o.c.U, dst, c, 0, 0)
}

// remoteModel is the plugin side of the host's Model service.
type remoteModel struct {
	c       pb.ModelClient
	session uint64
	d       int
	tr      transport
	bell    *wire.Doorbell // nil: every call through the Model service
}

// bellOps are the model calls the doorbell carries, by name.
var bellOps = map[string]uint32{"Denoise": wire.OpDenoise, "VJP": wire.OpVJP, "DenoiseEPS": wire.OpDenoiseEPS, "Restore": wire.OpRestore}

type modelCall func(context.Context, *pb.ModelRequest, ...grpc.CallOption) (*pb.OpResponse, error)

func (m remoteModel) call(ctx context.Context, name string, f modelCall, dst, x [][]float64, sigma float64, v [][]float64) error {
	in, out, release := m.tr.send(dst, len(dst), m.d, x, v)
	defer release()
	if op, ok := bellOps[name]; ok && m.bell != nil && out != nil && in[0].GetShm() != nil && (v == nil || in[1].GetShm() != nil) {
		c := wire.Call{Op: op, Sigma: sigma, N: len(dst), D: m.d, X: int(in[0].Shm.Offset), V: -1, Out: int(out.Offset)}
		if v != nil {
			c.V = int(in[1].Shm.Offset)
		}
		if err := m.bell.Ring(ctx, c); err != nil {
			return fmt.Errorf("model %s: %w", name, err)
		}
		if err := m.tr.receive(dst, wire.ShmTensor(c.Out, c.N, c.D)); err != nil {
			return fmt.Errorf("model %s: %w", name, err)
		}
		return nil
	}
	r, err := f(ctx, &pb.ModelRequest{Session: m.session, X: in[0], V: in[1], Sigma: sigma, Out: out})
	if err != nil {
		return fmt.Errorf("model %s: %w", name, err)
	}
	if err := m.tr.receive(dst, r.Y); err != nil {
		return fmt.Errorf("model %s: %w", name, err)
	}
	return nil
}

func (m remoteModel) Denoise(ctx context.Context, dst, x [][]float64, sigma float64) error {
	return m.call(ctx, "Denoise", m.c.Denoise, dst, x, sigma, nil)
}
func (m remoteModel) VJP(ctx context.Context, dst, x [][]float64, sigma float64, v [][]float64) error {
	return m.call(ctx, "VJP", m.c.VJP, dst, x, sigma, v)
}
func (m remoteModel) DenoiseEPS(ctx context.Context, dst, pivot [][]float64, sigma float64) error {
	return m.call(ctx, "DenoiseEPS", m.c.DenoiseEPS, dst, pivot, sigma, nil)
}
func (m remoteModel) Restore(ctx context.Context, dst, x [][]float64, sigma float64) error {
	return m.call(ctx, "Restore", m.c.Restore, dst, x, sigma, nil)
}
