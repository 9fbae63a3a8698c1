package wire

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// A call rung on the doorbell reaches the server with its operands, the
// server's writes are seen by the caller, an error comes back with its
// message, a cancelled caller stops waiting, and the server ends with its
// context. Both ends share one mapping here; across processes the futex
// words are the same physical memory.
func TestDoorbell(t *testing.T) {
	r, err := CreateRegion(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := Reserve(r); err != nil {
		t.Fatal(err)
	}
	if err := Reserve(r); err == nil {
		t.Error("a second doorbell block: no error")
	}
	host, err := NewDoorbell(r)
	if err != nil {
		t.Skip(err)
	}
	host.Clear()
	plugin, _ := NewDoorbell(r)
	x, out := r.NewRows(3, 4), r.NewRows(3, 4)
	for i := range x {
		for j := range x[i] {
			x[i][j] = float64(10*i + j)
		}
	}
	xo, _ := r.Locate(x)
	oo, _ := r.Locate(out)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	calls := 0
	go func() {
		defer wg.Done()
		host.Serve(ctx, func(c Call) error {
			calls++
			if c.Op == OpVJP {
				return errors.New("model m: VJP: no VJP here")
			}
			xs, v, o, err := host.Rows(c)
			if err != nil || v != nil {
				return errors.New("bad operands")
			}
			for i := range xs {
				for j := range xs[i] {
					o[i][j] = c.Sigma * xs[i][j]
				}
			}
			return nil
		})
	}()
	for k := range 50 {
		if err := plugin.Ring(context.Background(), Call{Op: OpDenoise, Sigma: float64(k), N: 3, D: 4, X: xo, V: -1, Out: oo}); err != nil {
			t.Fatal(err)
		}
		if out[2][3] != float64(k)*23 {
			t.Fatalf("call %d: out %v", k, out)
		}
	}
	err = plugin.Ring(context.Background(), Call{Op: OpVJP, Sigma: 1, N: 3, D: 4, X: xo, V: xo, Out: oo})
	if err == nil || !strings.Contains(err.Error(), "no VJP here") {
		t.Errorf("error through the doorbell: %v", err)
	}
	if err := plugin.Ring(context.Background(), Call{Op: OpDenoise, Sigma: 2, N: 3, D: 4, X: xo, V: -1, Out: oo}); err != nil {
		t.Errorf("a call after an error: %v", err)
	}
	stop()
	wg.Wait()
	if calls != 52 {
		t.Errorf("server answered %d calls, want 52", calls)
	}
	// Nobody serves now: a caller whose context ends stops waiting.
	cctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
	defer cancel()
	if err := plugin.Ring(cctx, Call{Op: OpDenoise, Sigma: 1, N: 3, D: 4, X: xo, V: -1, Out: oo}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ring with nobody serving: %v", err)
	}
}
