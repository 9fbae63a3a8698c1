package wire

import (
	"encoding/binary"
	"math"
	"testing"

	pb "github.com/ipbench/ipbench/plugins/proto"
)

func TestRoundTrip(t *testing.T) {
	rows := [][]float64{{1, -2.5, math.Pi}, {0, math.SmallestNonzeroFloat64, -math.MaxFloat64}}
	got, err := DecodeRows(Rows(rows), 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := range rows {
		for j := range rows[i] {
			if got[i][j] != rows[i][j] {
				t.Errorf("[%d][%d] = %v, want %v (bit-exact)", i, j, got[i][j], rows[i][j])
			}
		}
	}
	dst := [][]float64{make([]float64, 3), make([]float64, 3)}
	if err := DecodeInto(dst, Rows(rows)); err != nil || dst[1][2] != rows[1][2] {
		t.Errorf("DecodeInto: %v, %v", err, dst)
	}
	v, err := DecodeVector(Vector([]float64{7, 8}), 2)
	if err != nil || v[0] != 7 || v[1] != 8 {
		t.Errorf("vector: %v, %v", v, err)
	}
}

func TestFloat32(t *testing.T) {
	data := make([]byte, 8)
	binary.LittleEndian.PutUint32(data, math.Float32bits(1.5))
	binary.LittleEndian.PutUint32(data[4:], math.Float32bits(-0.25))
	got, err := DecodeRows(&pb.Tensor{Shape: []int64{1, 2}, Dtype: pb.DType_FLOAT32, Data: data}, 2)
	if err != nil || got[0][0] != 1.5 || got[0][1] != -0.25 {
		t.Errorf("float32: %v, %v", got, err)
	}
}

func TestBadTensors(t *testing.T) {
	good := Rows([][]float64{{1, 2}})
	for _, tc := range []struct {
		name string
		t    *pb.Tensor
	}{
		{"nil", nil},
		{"wrong d", Rows([][]float64{{1, 2, 3}})},
		{"short data", &pb.Tensor{Shape: good.Shape, Dtype: good.Dtype, Data: good.Data[:15]}},
		{"no dtype", &pb.Tensor{Shape: good.Shape, Data: good.Data}},
		{"rank 1", Vector([]float64{1, 2})},
		{"negative", &pb.Tensor{Shape: []int64{-1, 2}, Dtype: pb.DType_FLOAT64}},
	} {
		if _, err := DecodeRows(tc.t, 2); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	if err := DecodeInto([][]float64{make([]float64, 2), make([]float64, 2)}, good); err == nil {
		t.Error("DecodeInto with the wrong row count: no error")
	}
}

func TestRegion(t *testing.T) {
	r, err := CreateRegion(1 << 12)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	q, err := OpenRegion(r.Path(), 1<<12)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	rows := [][]float64{{1, 2, 3}, {4, 5, math.Inf(-1)}}
	tn, release, ok := r.Put(rows)
	if !ok {
		t.Fatal("no room")
	}
	got, err := q.Rows(tn, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got[1][2] != math.Inf(-1) || got[0][1] != 2 {
		t.Errorf("other mapping sees %v", got)
	}
	got[0][0] = 9 // written through one mapping, read through the other
	if v, _ := r.Rows(tn, 3); v[0][0] != 9 {
		t.Error("writes are not shared")
	}
	// Allocation: fill, free, reuse.
	a, _ := r.Alloc(1000)
	if _, ok := r.Alloc(1 << 12); ok {
		t.Error("over-allocation succeeded")
	}
	release()
	r.Free(a)
	if off, ok := r.Alloc(4000); !ok || off != 0 {
		t.Errorf("after freeing, Alloc(4000) = %d, %v", off, ok)
	}
	if _, err := q.Rows(ShmTensor(4096, 1, 3), 3); err == nil {
		t.Error("out-of-range view: no error")
	}
	if _, err := OpenRegion(r.Path(), 100); err == nil {
		t.Error("wrong size: no error")
	}
	// Shapes and offsets from a misbehaving process: errors, never a panic
	// or a huge allocation (n·d that wraps around, an offset near the top
	// of the integers, a huge n of empty rows).
	for _, tc := range []struct{ off, n, d int }{
		{0, 1 << 62, 4}, {0, math.MaxInt / 3, 3}, {math.MaxInt - 7, 1, 1}, {0, math.MaxInt, 0}, {-8, 1, 1}, {8, -1, 2},
	} {
		if _, err := q.View(tc.off, tc.n, tc.d); err == nil {
			t.Errorf("View(%d, %d, %d): no error", tc.off, tc.n, tc.d)
		}
	}
}
