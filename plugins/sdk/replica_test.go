package sdk

import (
	"strings"
	"testing"

	"github.com/ipbench/ipbench/harness/operator"
	pb "github.com/ipbench/ipbench/plugins/proto"
	"github.com/ipbench/ipbench/plugins/wire"
)

// The plugin builds the described operator once and reuses it while the
// description stays the same; a description that cannot be built or does
// not fit the problem is refused with the reason, and the caller falls back
// to the host's service.
func TestReplicaOf(t *testing.T) {
	shape := operator.Shape{C: 1, H: 8, W: 8}
	pool, err := operator.NewPool(shape, 2)
	if err != nil {
		t.Fatal(err)
	}
	spec := wire.Spec(pool.Spec())
	var s solverServer
	a, err := s.replicaOf(spec, 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.replicaOf(wire.Spec(pool.Spec()), 16, 64)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("the same description built a second replica")
	}
	blur, err := operator.NewGaussianBlur(shape, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.replicaOf(wire.Spec(blur.Spec()), 64, 64)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*operator.GaussianBlur); !ok {
		t.Errorf("a new description gave a %T", c)
	}
	for _, tc := range []struct {
		spec *pb.OperatorSpec
		m, d int
		want string
	}{
		{spec, 16, 63, "the problem's is 16×63"},
		{&pb.OperatorSpec{Kind: "wavelet"}, 1, 1, "unknown kind"},
		{&pb.OperatorSpec{Kind: "mask", C: 1, H: 2, W: 2, Data: []float64{1, 0, 2, 1}}, 3, 4, "want 0 or 1"},
	} {
		if _, err := s.replicaOf(tc.spec, tc.m, tc.d); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.spec.Kind, err, tc.want)
		}
	}
}
