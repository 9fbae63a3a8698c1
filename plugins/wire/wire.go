// Package wire holds what both sides of the plugin protocol share: the
// go-plugin handshake, the gRPC message limits, and the tensor codec.
//
// Tensors travel as raw little-endian IEEE floats with their shape. Go
// plugins send float64, so a solver gives the same bits in a plugin process
// as in process; float32 is accepted too (a PyTorch model or solver sends
// float32), and widened exactly.
package wire

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	pb "github.com/ipbench/ipbench/plugins/proto"
)

// ProtocolVersion is the version of plugins/proto/ipbench.proto.
const ProtocolVersion = 1

// SolverPluginName is the name of the solver plugin in go-plugin's plugin set.
const SolverPluginName = "solver"

// ModelPluginName is the name of a model plugin (the ModelPlugin service;
// see plugins/modelhost) in go-plugin's plugin set. Model plugins share the
// solvers' handshake and protocol version.
const ModelPluginName = "model"

// Handshake is the fixed magic cookie of ipbench plugins: a binary started
// without it says it is a plugin and exits, and the host refuses a plugin
// of another protocol version.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "IPBENCH_PLUGIN",
	MagicCookieValue: "5f0c2d1e-exact-posterior-score",
}

// MaxMessage is the gRPC message limit on both sides (gRPC's default of
// 4 MiB is less than one 16×3×256×256 float32 batch).
const MaxMessage = 1 << 30

// ServerOptions raise the message limits of a gRPC server.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessage), grpc.MaxSendMsgSize(MaxMessage),
		grpc.InitialWindowSize(1 << 30), grpc.InitialConnWindowSize(1 << 30), grpc.NumStreamWorkers(4)}
}

// DialOptions raise the message limits of a gRPC client.
func DialOptions() []grpc.DialOption {
	return []grpc.DialOption{grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxMessage), grpc.MaxCallSendMsgSize(MaxMessage)),
		grpc.WithInitialWindowSize(1 << 30), grpc.WithInitialConnWindowSize(1 << 30)}
}

// Rows encodes rows of equal length as a float64 tensor [n, d].
func Rows(rows [][]float64) *pb.Tensor {
	d := 0
	if len(rows) > 0 {
		d = len(rows[0])
	}
	data := make([]byte, 8*len(rows)*d)
	o := 0
	for _, r := range rows {
		for _, v := range r {
			binary.LittleEndian.PutUint64(data[o:], math.Float64bits(v))
			o += 8
		}
	}
	return &pb.Tensor{Shape: []int64{int64(len(rows)), int64(d)}, Dtype: pb.DType_FLOAT64, Data: data}
}

// Vector encodes one vector as a float64 tensor [d].
func Vector(v []float64) *pb.Tensor {
	t := Rows([][]float64{v})
	t.Shape = t.Shape[1:]
	return t
}

// DecodeInto decodes t, which must be [len(dst), d] with d = len(dst[i]),
// into dst.
func DecodeInto(dst [][]float64, t *pb.Tensor) error {
	if t == nil {
		return fmt.Errorf("tensor missing")
	}
	d := 0
	if len(dst) > 0 {
		d = len(dst[0])
	}
	if len(t.Shape) != 2 || t.Shape[0] != int64(len(dst)) || t.Shape[1] != int64(d) {
		return fmt.Errorf("tensor of shape %v, want [%d %d]", t.Shape, len(dst), d)
	}
	return decode(t, func(i int, v float64) { dst[i/d][i%d] = v }, len(dst)*d)
}

// DecodeRows decodes a tensor [n, d] into new rows; d must be the given d.
func DecodeRows(t *pb.Tensor, d int) ([][]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor missing")
	}
	if len(t.Shape) != 2 || t.Shape[1] != int64(d) || t.Shape[0] < 0 || t.Shape[0] > MaxMessage/8 {
		return nil, fmt.Errorf("tensor of shape %v, want [n %d]", t.Shape, d)
	}
	n := int(t.Shape[0])
	buf := make([]float64, n*d)
	if err := decode(t, func(i int, v float64) { buf[i] = v }, n*d); err != nil {
		return nil, err
	}
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = buf[i*d : (i+1)*d : (i+1)*d]
	}
	return rows, nil
}

// DecodeVector decodes a tensor [d].
func DecodeVector(t *pb.Tensor, d int) ([]float64, error) {
	if t == nil {
		return nil, fmt.Errorf("tensor missing")
	}
	if len(t.Shape) != 1 || t.Shape[0] != int64(d) {
		return nil, fmt.Errorf("tensor of shape %v, want [%d]", t.Shape, d)
	}
	v := make([]float64, d)
	return v, decode(t, func(i int, x float64) { v[i] = x }, d)
}

func decode(t *pb.Tensor, set func(i int, v float64), n int) error {
	switch t.Dtype {
	case pb.DType_FLOAT64:
		if len(t.Data) != 8*n {
			return fmt.Errorf("float64 tensor of shape %v carries %d bytes, want %d", t.Shape, len(t.Data), 8*n)
		}
		for i := 0; i < n; i++ {
			set(i, math.Float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
	case pb.DType_FLOAT32:
		if len(t.Data) != 4*n {
			return fmt.Errorf("float32 tensor of shape %v carries %d bytes, want %d", t.Shape, len(t.Data), 4*n)
		}
		for i := 0; i < n; i++ {
			set(i, float64(math.Float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))))
		}
	default:
		return fmt.Errorf("tensor dtype %v: want FLOAT32 or FLOAT64", t.Dtype)
	}
	return nil
}
