package sdk

import (
	"runtime"
	"testing"
)

func TestParallelChunksPanic(t *testing.T) {
	// Several workers, so the panic happens off the caller's goroutine.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(4))
	type boom struct{ i int }
	defer func() {
		r := recover()
		if b, ok := r.(boom); !ok || b.i != 7 {
			t.Fatalf("recovered %#v, want boom{7}", r)
		}
	}()
	ParallelRows(16, func(i int) {
		if i == 7 {
			panic(boom{7})
		}
	})
	t.Fatal("ParallelRows returned normally")
}
