package host

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ipbench/ipbench/plugins/proto"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/wire"
)

// session is what the host serves to one Solve call.
type session struct {
	op     sdk.Operator
	model  sdk.Model
	region *wire.Region // shared memory of the call, or nil
}

// rows returns a request tensor's rows: in place for shared memory.
func (se *session) rows(t *pb.Tensor, d int) ([][]float64, error) {
	if se.region == nil {
		if t != nil && t.Shm != nil {
			return nil, fmt.Errorf("shared-memory tensor, but this session has no region")
		}
		return wire.DecodeRows(t, d)
	}
	return se.region.Rows(t, d)
}

// output returns where a result of n rows of length d goes, and the reply
// tensor that points to it: in the region when the request asks for it.
func (se *session) output(out *pb.ShmRef, n, d int) ([][]float64, func([][]float64) *pb.Tensor, error) {
	if out == nil {
		return sdk.NewRows(n, d), wire.Rows, nil
	}
	if se.region == nil {
		return nil, nil, fmt.Errorf("shared-memory output, but this session has no region")
	}
	if out.Length != uint64(8*n*d) {
		return nil, nil, fmt.Errorf("shared-memory output of %d bytes for a [%d %d] result", out.Length, n, d)
	}
	dst, err := se.region.View(int(out.Offset), n, d)
	if err != nil {
		return nil, nil, err
	}
	return dst, func([][]float64) *pb.Tensor { return wire.ShmTensor(int(out.Offset), n, d) }, nil
}

// sessions maps session ids to their operator and model.
type sessions struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*session

	opCalls    atomic.Int64 // Operator service calls served, for tests
	modelCalls atomic.Int64 // Model service calls served (not the doorbell's)
}

func (s *sessions) add(se *session) uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.next++
	if s.m == nil {
		s.m = map[uint64]*session{}
	}
	s.m[s.next] = se
	return s.next
}

func (s *sessions) remove(id uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, id)
}

func (s *sessions) get(id uint64) (*session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	se, ok := s.m[id]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "no session %d (the Solve call it belonged to is over)", id)
	}
	return se, nil
}

// operatorServer serves a session's operator to the plugin.
type operatorServer struct {
	pb.UnimplementedOperatorServer
	s *sessions
}

// batch reads the request's rows, runs f into rows of length nd and
// returns them, through shared memory where the request uses it.
func (o *operatorServer) batch(req *pb.OpRequest, ns, nd int, f func(dst, x [][]float64) error) (*pb.OpResponse, error) {
	o.s.opCalls.Add(1)
	se, err := o.s.get(req.Session)
	if err != nil {
		return nil, err
	}
	x, err := se.rows(req.X, ns)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "x: %v", err)
	}
	dst, reply, err := se.output(req.Out, len(x), nd)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "out: %v", err)
	}
	if err := f(dst, x); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.OpResponse{Y: reply(dst)}, nil
}

func (o *operatorServer) op(id uint64) (sdk.Operator, int, int, error) {
	o.s.opCalls.Add(1)
	se, err := o.s.get(id)
	if err != nil {
		return nil, 0, 0, err
	}
	m, d := se.op.Dims()
	return se.op, m, d, nil
}

func (o *operatorServer) svd(id uint64) (sdk.SVD, int, int, error) {
	op, m, d, err := o.op(id)
	if err != nil {
		return nil, 0, 0, err
	}
	s, ok := op.(sdk.SVD)
	if !ok {
		return nil, 0, 0, status.Error(codes.Unimplemented, "this operator has no SVD")
	}
	return s, m, d, nil
}

func (o *operatorServer) Apply(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	op, m, d, err := o.op(req.Session)
	if err != nil {
		return nil, err
	}
	return o.batch(req, d, m, func(dst, x [][]float64) error { return op.Apply(ctx, dst, x) })
}

func (o *operatorServer) Adjoint(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	op, m, d, err := o.op(req.Session)
	if err != nil {
		return nil, err
	}
	return o.batch(req, m, d, func(dst, x [][]float64) error { return op.Adjoint(ctx, dst, x) })
}

func (o *operatorServer) SolveShifted(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	op, _, d, err := o.op(req.Session)
	if err != nil {
		return nil, err
	}
	return o.batch(req, d, d, func(dst, x [][]float64) error { return op.SolveShifted(ctx, dst, req.A, req.B, x) })
}

func (o *operatorServer) Pinv(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	op, m, d, err := o.op(req.Session)
	if err != nil {
		return nil, err
	}
	return o.batch(req, m, d, func(dst, x [][]float64) error { return op.Pinv(ctx, dst, x) })
}

func (o *operatorServer) GramEigenvalues(ctx context.Context, req *pb.SessionRequest) (*pb.Values, error) {
	op, _, _, err := o.op(req.Session)
	if err != nil {
		return nil, err
	}
	v, err := op.GramEigenvalues(ctx)
	if err != nil {
		return nil, err
	}
	return &pb.Values{Values: v}, nil
}

func (o *operatorServer) Singular(ctx context.Context, req *pb.SessionRequest) (*pb.Values, error) {
	s, _, _, err := o.svd(req.Session)
	if err != nil {
		return nil, err
	}
	v, err := s.Singular(ctx)
	if err != nil {
		return nil, err
	}
	return &pb.Values{Values: v}, nil
}

func (o *operatorServer) Vt(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	s, _, d, err := o.svd(req.Session)
	if err != nil {
		return nil, err
	}
	return o.batch(req, d, d, func(dst, x [][]float64) error { return s.Vt(ctx, dst, x) })
}

func (o *operatorServer) V(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	s, _, d, err := o.svd(req.Session)
	if err != nil {
		return nil, err
	}
	return o.batch(req, d, d, func(dst, x [][]float64) error { return s.V(ctx, dst, x) })
}

func (o *operatorServer) Ut(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	s, m, _, err := o.svd(req.Session)
	if err != nil {
		return nil, err
	}
	return o.batch(req, m, m, func(dst, x [][]float64) error { return s.Ut(ctx, dst, x) })
}

func (o *operatorServer) U(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	s, m, _, err := o.svd(req.Session)
	if err != nil {
		return nil, err
	}
	return o.batch(req, m, m, func(dst, x [][]float64) error { return s.U(ctx, dst, x) })
}

// modelServer serves a session's model; the model it holds is the host's
// counting wrapper, so every row is counted here, on the host.
type modelServer struct {
	pb.UnimplementedModelServer
	s *sessions
}

func (ms *modelServer) run(req *pb.ModelRequest, f func(m sdk.Model, dst, x, v [][]float64) error) (*pb.OpResponse, error) {
	ms.s.modelCalls.Add(1)
	se, err := ms.s.get(req.Session)
	if err != nil {
		return nil, err
	}
	_, d := se.op.Dims()
	x, err := se.rows(req.X, d)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "x: %v", err)
	}
	var v [][]float64
	if req.V != nil {
		if v, err = se.rows(req.V, d); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "v: %v", err)
		}
	}
	dst, reply, err := se.output(req.Out, len(x), d)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "out: %v", err)
	}
	if err := f(se.model, dst, x, v); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.OpResponse{Y: reply(dst)}, nil
}

func (ms *modelServer) Denoise(ctx context.Context, req *pb.ModelRequest) (*pb.OpResponse, error) {
	return ms.run(req, func(m sdk.Model, dst, x, _ [][]float64) error { return m.Denoise(ctx, dst, x, req.Sigma) })
}

func (ms *modelServer) VJP(ctx context.Context, req *pb.ModelRequest) (*pb.OpResponse, error) {
	return ms.run(req, func(m sdk.Model, dst, x, v [][]float64) error {
		if v == nil {
			return fmt.Errorf("VJP without v")
		}
		return m.VJP(ctx, dst, x, req.Sigma, v)
	})
}

func (ms *modelServer) DenoiseEPS(ctx context.Context, req *pb.ModelRequest) (*pb.OpResponse, error) {
	return ms.run(req, func(m sdk.Model, dst, x, _ [][]float64) error { return m.DenoiseEPS(ctx, dst, x, req.Sigma) })
}

func (ms *modelServer) Restore(ctx context.Context, req *pb.ModelRequest) (*pb.OpResponse, error) {
	return ms.run(req, func(m sdk.Model, dst, x, _ [][]float64) error { return m.Restore(ctx, dst, x, req.Sigma) })
}

// bell answers the model calls rung on the session's doorbell, on the same
// counted model as the Model service.
func (se *session) bell(ctx context.Context, db *wire.Doorbell) func(wire.Call) error {
	return func(c wire.Call) error {
		if _, d := se.op.Dims(); c.D != d {
			return fmt.Errorf("doorbell: rows of length %d, the problem's are %d", c.D, d)
		}
		x, v, out, err := db.Rows(c)
		if err != nil {
			return err
		}
		switch c.Op {
		case wire.OpDenoise:
			return se.model.Denoise(ctx, out, x, c.Sigma)
		case wire.OpVJP:
			if v == nil {
				return fmt.Errorf("VJP without v")
			}
			return se.model.VJP(ctx, out, x, c.Sigma, v)
		case wire.OpDenoiseEPS:
			return se.model.DenoiseEPS(ctx, out, x, c.Sigma)
		case wire.OpRestore:
			return se.model.Restore(ctx, out, x, c.Sigma)
		}
		return fmt.Errorf("doorbell: unknown call %d", c.Op)
	}
}
