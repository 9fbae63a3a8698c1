package wire

import (
	"github.com/ipbench/ipbench/harness/operator"
	pb "github.com/ipbench/ipbench/plugins/proto"
)

// Spec returns the message of an operator description.
func Spec(s operator.Spec) *pb.OperatorSpec {
	return &pb.OperatorSpec{
		Kind: s.Kind, C: int64(s.Shape.C), H: int64(s.Shape.H), W: int64(s.Shape.W),
		M: int64(s.M), D: int64(s.D), Data: s.Data,
		RowsH: int64(s.RowsH), RowsW: int64(s.RowsW), K: int64(s.K), Sigma: s.Sigma,
	}
}

// SpecFrom returns the operator description of a message.
func SpecFrom(p *pb.OperatorSpec) operator.Spec {
	return operator.Spec{
		Kind: p.Kind, Shape: operator.Shape{C: int(p.C), H: int(p.H), W: int(p.W)},
		M: int(p.M), D: int(p.D), Data: p.Data,
		RowsH: int(p.RowsH), RowsW: int(p.RowsW), K: int(p.K), Sigma: p.Sigma,
	}
}
