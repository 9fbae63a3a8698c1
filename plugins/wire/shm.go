package wire

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"syscall"
	"unsafe"

	pb "github.com/ipbench/ipbench/plugins/proto"
)

// Region is a file that the host and a plugin both map into memory, so that
// tensors pass between them without going through gRPC (and its TLS): the
// sender writes the numbers into the region and sends only their offset and
// shape. The host creates a region per Solve call, in /dev/shm where there
// is one (RAM), readable by its own user only, and removes it afterwards.
type Region struct {
	path  string
	data  []byte
	owner bool

	mu   sync.Mutex
	used []span // allocated blocks, by offset
}

type span struct{ off, n int }

// CreateRegion creates and maps a region of size bytes.
func CreateRegion(size int) (*Region, error) {
	dir := "/dev/shm"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		dir = os.TempDir()
	}
	f, err := os.CreateTemp(dir, "ipbench-shm-*")
	if err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(int64(size)); err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		os.Remove(f.Name())
		return nil, fmt.Errorf("shared memory: mmap: %w", err)
	}
	return &Region{path: f.Name(), data: data, owner: true}, nil
}

// OpenRegion maps the region another process created.
func OpenRegion(path string, size int) (*Region, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("shared memory: %w", err)
	}
	if st.Size() != int64(size) {
		return nil, fmt.Errorf("shared memory: %s has %d bytes, want %d", path, st.Size(), size)
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("shared memory: mmap: %w", err)
	}
	return &Region{path: path, data: data}, nil
}

// Path returns the region's file name.
func (r *Region) Path() string { return r.path }

// Size returns its size in bytes.
func (r *Region) Size() int { return len(r.data) }

// Close unmaps the region; the creator also removes the file. Views into
// the region must not be used afterwards.
func (r *Region) Close() error {
	err := syscall.Munmap(r.data)
	r.data = nil
	if r.owner {
		os.Remove(r.path)
	}
	return err
}

// Alloc reserves n bytes (rounded up to 8) and returns their offset; ok is
// false when no gap is large enough.
func (r *Region) Alloc(n int) (off int, ok bool) {
	n = (n + 7) &^ 7
	r.mu.Lock()
	defer r.mu.Unlock()
	at := 0
	for i, s := range r.used {
		if s.off-at >= n {
			r.used = append(r.used[:i], append([]span{{at, n}}, r.used[i:]...)...)
			return at, true
		}
		at = s.off + s.n
	}
	if len(r.data)-at >= n {
		r.used = append(r.used, span{at, n})
		return at, true
	}
	return 0, false
}

// Reset frees every block.
func (r *Region) Reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.used = r.used[:0]
}

// Free releases the block at off.
func (r *Region) Free(off int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	i := sort.Search(len(r.used), func(i int) bool { return r.used[i].off >= off })
	if i < len(r.used) && r.used[i].off == off {
		r.used = append(r.used[:i], r.used[i+1:]...)
	}
}

// float64s returns the n float64 at byte offset off, in place.
func (r *Region) float64s(off, n int) ([]float64, error) {
	if off < 0 || n < 0 || off%8 != 0 || off > len(r.data) || n > (len(r.data)-off)/8 {
		return nil, fmt.Errorf("shared memory range [%d, %d) outside the %d-byte region or unaligned", off, off+8*n, len(r.data))
	}
	if n == 0 {
		return nil, nil
	}
	return unsafe.Slice((*float64)(unsafe.Pointer(&r.data[off])), n), nil
}

// View returns n rows of length d at off, in place: the other process sees
// every write.
func (r *Region) View(off, n, d int) ([][]float64, error) {
	// A shape from the other process is checked before n·d is formed: a
	// product that wraps around must not pass for a small one.
	if n < 0 || d < 0 || n > len(r.data) || (d > 0 && n > len(r.data)/8/d) {
		return nil, fmt.Errorf("shared memory view of shape [%d %d] does not fit the %d-byte region", n, d, len(r.data))
	}
	buf, err := r.float64s(off, n*d)
	if err != nil {
		return nil, err
	}
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = buf[i*d : (i+1)*d : (i+1)*d]
	}
	return rows, nil
}

// NewRows allocates n rows of length d in the region, zeroed; nil when it is
// full. They stay until the region is closed.
func (r *Region) NewRows(n, d int) [][]float64 {
	off, ok := r.Alloc(8 * n * d)
	if !ok {
		return nil
	}
	rows, _ := r.View(off, n, d)
	for _, row := range rows {
		clear(row)
	}
	return rows
}

// Locate returns the offset of rows if they lie in the region back to back
// (as NewRows makes them), so that they can be passed without a copy.
func (r *Region) Locate(rows [][]float64) (off int, ok bool) {
	if len(rows) == 0 || len(rows[0]) == 0 || len(r.data) == 0 {
		return 0, false
	}
	base := uintptr(unsafe.Pointer(&r.data[0]))
	start := uintptr(unsafe.Pointer(&rows[0][0]))
	d := uintptr(len(rows[0]))
	if start < base || start+8*d*uintptr(len(rows)) > base+uintptr(len(r.data)) {
		return 0, false
	}
	for i, row := range rows {
		if uintptr(len(row)) != d || uintptr(unsafe.Pointer(&row[0])) != start+8*d*uintptr(i) {
			return 0, false
		}
	}
	return int(start - base), true
}

// Put copies rows into a fresh block and returns the tensor that refers to
// it; release frees the block. ok is false when the region is full.
func (r *Region) Put(rows [][]float64) (t *pb.Tensor, release func(), ok bool) {
	n, d := len(rows), 0
	if n > 0 {
		d = len(rows[0])
	}
	if off, in := r.Locate(rows); in {
		return ShmTensor(off, n, d), func() {}, true // already there
	}
	off, ok := r.Alloc(8 * n * d)
	if !ok {
		return nil, nil, false
	}
	view, _ := r.View(off, n, d)
	for i, row := range rows {
		copy(view[i], row)
	}
	return ShmTensor(off, n, d), func() { r.Free(off) }, true
}

// ShmTensor is the float64 tensor [n, d] at byte offset off of the region.
func ShmTensor(off, n, d int) *pb.Tensor {
	return &pb.Tensor{Shape: []int64{int64(n), int64(d)}, Dtype: pb.DType_FLOAT64,
		Shm: &pb.ShmRef{Offset: uint64(off), Length: uint64(8 * n * d)}}
}

// Rows returns the rows of t, [n, d]: a view into r for a shared-memory
// tensor (no copy), decoded rows otherwise.
func (r *Region) Rows(t *pb.Tensor, d int) ([][]float64, error) {
	if t == nil || t.Shm == nil {
		return DecodeRows(t, d)
	}
	if t.Dtype != pb.DType_FLOAT64 || len(t.Shape) != 2 || t.Shape[1] != int64(d) || t.Shape[0] < 0 {
		return nil, fmt.Errorf("shared-memory tensor of shape %v and dtype %v, want [n %d] FLOAT64", t.Shape, t.Dtype, d)
	}
	n := int(t.Shape[0])
	if t.Shm.Length != uint64(8*n*d) {
		return nil, fmt.Errorf("shared-memory tensor of shape %v has %d bytes", t.Shape, t.Shm.Length)
	}
	return r.View(int(t.Shm.Offset), n, d)
}
