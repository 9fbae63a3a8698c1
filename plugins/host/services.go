package host

import (
	"context"
	"fmt"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/ipbench/ipbench/plugins/proto"
	"github.com/ipbench/ipbench/plugins/sdk"
	"github.com/ipbench/ipbench/plugins/wire"
)

// session is what the host serves to one Solve call.
type session struct {
	op    sdk.Operator
	model sdk.Model
}

// sessions maps session ids to their operator and model.
type sessions struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*session
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

// batch decodes the request's rows, runs f into fresh rows of length nd and
// encodes them.
func batch(req *pb.OpRequest, ns, nd int, f func(dst, x [][]float64) error) (*pb.OpResponse, error) {
	x, err := wire.DecodeRows(req.X, ns)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "x: %v", err)
	}
	dst := sdk.NewRows(len(x), nd)
	if err := f(dst, x); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.OpResponse{Y: wire.Rows(dst)}, nil
}

func (o *operatorServer) op(id uint64) (sdk.Operator, int, int, error) {
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
	return batch(req, d, m, func(dst, x [][]float64) error { return op.Apply(ctx, dst, x) })
}

func (o *operatorServer) Adjoint(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	op, m, d, err := o.op(req.Session)
	if err != nil {
		return nil, err
	}
	return batch(req, m, d, func(dst, x [][]float64) error { return op.Adjoint(ctx, dst, x) })
}

func (o *operatorServer) SolveShifted(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	op, _, d, err := o.op(req.Session)
	if err != nil {
		return nil, err
	}
	return batch(req, d, d, func(dst, x [][]float64) error { return op.SolveShifted(ctx, dst, req.A, req.B, x) })
}

func (o *operatorServer) Pinv(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	op, m, d, err := o.op(req.Session)
	if err != nil {
		return nil, err
	}
	return batch(req, m, d, func(dst, x [][]float64) error { return op.Pinv(ctx, dst, x) })
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
	return batch(req, d, d, func(dst, x [][]float64) error { return s.Vt(ctx, dst, x) })
}

func (o *operatorServer) V(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	s, _, d, err := o.svd(req.Session)
	if err != nil {
		return nil, err
	}
	return batch(req, d, d, func(dst, x [][]float64) error { return s.V(ctx, dst, x) })
}

func (o *operatorServer) Ut(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	s, m, _, err := o.svd(req.Session)
	if err != nil {
		return nil, err
	}
	return batch(req, m, m, func(dst, x [][]float64) error { return s.Ut(ctx, dst, x) })
}

func (o *operatorServer) U(ctx context.Context, req *pb.OpRequest) (*pb.OpResponse, error) {
	s, m, _, err := o.svd(req.Session)
	if err != nil {
		return nil, err
	}
	return batch(req, m, m, func(dst, x [][]float64) error { return s.U(ctx, dst, x) })
}

// modelServer serves a session's model; the model it holds is the host's
// counting wrapper, so every row is counted here, on the host.
type modelServer struct {
	pb.UnimplementedModelServer
	s *sessions
}

func (ms *modelServer) run(req *pb.ModelRequest, f func(m sdk.Model, dst, x, v [][]float64) error) (*pb.OpResponse, error) {
	se, err := ms.s.get(req.Session)
	if err != nil {
		return nil, err
	}
	_, d := se.op.Dims()
	x, err := wire.DecodeRows(req.X, d)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "x: %v", err)
	}
	var v [][]float64
	if req.V != nil {
		if v, err = wire.DecodeRows(req.V, d); err != nil {
			return nil, status.Errorf(codes.InvalidArgument, "v: %v", err)
		}
	}
	dst := sdk.NewRows(len(x), d)
	if err := f(se.model, dst, x, v); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	return &pb.OpResponse{Y: wire.Rows(dst)}, nil
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
