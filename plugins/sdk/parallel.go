package sdk

import (
	"context"
	"runtime"
	"sync"
)

// ParallelChunks splits [0, n) into at most GOMAXPROCS contiguous chunks and
// calls f(lo, hi) for each on its own goroutine, so that f can allocate its
// scratch once per chunk. Rows are independent, so the result does not depend
// on the split. A panic in f is re-raised on the caller's goroutine once all
// chunks are done (the first one, if several panic), so that the caller's
// recover sees it rather than the process dying.
func ParallelChunks(n int, f func(lo, hi int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		if n > 0 {
			f(0, n)
		}
		return
	}
	var (
		wg       sync.WaitGroup
		once     sync.Once
		panicked any
	)
	chunk := (n + workers - 1) / workers
	for lo := 0; lo < n; lo += chunk {
		wg.Add(1)
		go func(lo, hi int) {
			defer wg.Done()
			defer func() {
				if r := recover(); r != nil {
					once.Do(func() { panicked = r })
				}
			}()
			f(lo, hi)
		}(lo, min(lo+chunk, n))
	}
	wg.Wait()
	if panicked != nil {
		panic(panicked)
	}
}

// ParallelRows calls f(i) for every i in [0, n), spread like ParallelChunks.
func ParallelRows(n int, f func(i int)) {
	ParallelChunks(n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			f(i)
		}
	})
}

type allocKey struct{}

// WithAllocator returns a context whose Rows come from alloc: the SDK uses
// it to put a solver's working buffers in memory the host can read in place.
func WithAllocator(ctx context.Context, alloc func(n, d int) [][]float64) context.Context {
	return context.WithValue(ctx, allocKey{}, alloc)
}

// Rows returns n rows of length d for a solver's working buffers. In a
// plugin they live in the memory shared with the host, so that passing them
// to the model or the operator copies nothing; elsewhere it is NewRows.
func Rows(ctx context.Context, n, d int) [][]float64 {
	if alloc, ok := ctx.Value(allocKey{}).(func(n, d int) [][]float64); ok {
		if r := alloc(n, d); r != nil {
			return r
		}
	}
	return NewRows(n, d)
}

// NewRows returns n rows of length d backed by one allocation.
func NewRows(n, d int) [][]float64 {
	buf := make([]float64, n*d)
	rows := make([][]float64, n)
	for i := range rows {
		rows[i] = buf[i*d : (i+1)*d : (i+1)*d]
	}
	return rows
}
