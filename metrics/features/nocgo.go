//go:build !cgo

package features

// Without cgo there is no ONNX Runtime: the package still builds, and every
// Open fails with errNoCgo.

type session struct{}

func readInfo(string) (ins, outs []tensorInfo, err error) { return nil, nil, errNoCgo }

func newSession(string, []string, string, int) (*session, error) { return nil, errNoCgo }

func (*session) run([]int64, [][]float32) ([]float32, []int64, error) { return nil, nil, errNoCgo }

func (*session) close() error { return nil }

// haveCgo says whether this build can load ONNX Runtime.
const haveCgo = false
