package host

import (
	"context"
	"io"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/model"
	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/seed"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/harness/unet"
	"github.com/ipbench/ipbench/plugins/host/internal/echo"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// transport is a way a solver reaches the model.
type transport struct {
	name  string
	start func(b *testing.B, path string) (sdk.Solver, func()) // nil: in process
}

// transports are the ways compared side by side.
var transports = []transport{
	{"in-process", nil},
	{"grpc-bytes", func(b *testing.B, path string) (sdk.Solver, func()) {
		return open(b, path, Config{NoSharedMemory: true, RemoteOperator: true, NoDoorbell: true})
	}},
	{"grpc-shm-remote-op", func(b *testing.B, path string) (sdk.Solver, func()) {
		return open(b, path, Config{RemoteOperator: true, NoDoorbell: true})
	}},
	{"grpc-shm-no-doorbell", func(b *testing.B, path string) (sdk.Solver, func()) {
		return open(b, path, Config{NoDoorbell: true})
	}},
	{"grpc-shm", func(b *testing.B, path string) (sdk.Solver, func()) { return open(b, path, Config{}) }},
}

// open starts the plugin at path with cfg (the default, "grpc-shm": shared
// memory, model calls on its doorbell, the operator's replica in the
// plugin).
func open(b *testing.B, path string, cfg Config) (sdk.Solver, func()) {
	cfg.Log = io.Discard
	p, err := Open(path, cfg)
	if err != nil {
		b.Fatal(err)
	}
	return p, p.Close
}

// BenchmarkRoundTrip is the cost of one model call on a 16×3×64×64 batch:
// in process it is one copy; through a plugin it is the gRPC call through
// the broker plus moving the batch both ways. 100 calls per op: ns/op/100
// is the per-call latency (reported as µs/call).
func BenchmarkRoundTrip(b *testing.B) {
	const n, d, calls = 16, 3 * 64 * 64, 100
	prob := sdk.Problem{Op: sdk.Local(mustDense(b, d)), Y: []float64{0}, SigmaY: 1, SigmaMax: 80}
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			var s sdk.Solver = echo.Solver{}
			if tr.start != nil {
				var stop func()
				s, stop = tr.start(b, filepath.Join(bin, "echoplugin"))
				defer stop()
			}
			dst := sdk.NewRows(n, d)
			seeds := seed.Seeds(1, "b", "0", 0, n)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := s.Solve(context.Background(), dst, prob, echo.Copy{}, seeds, calls, nil); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*calls), "µs/call")
		})
	}
}

// mustDense is a 1×d operator, for solvers that never touch it.
func mustDense(b testing.TB, d int) *operator.Dense {
	op, err := operator.NewDense(1, d, make([]float64, d))
	if err != nil {
		b.Fatal(err)
	}
	return op
}

// slow makes every call of a model cost at least dt of CPU time, like a
// small network at 64 px on a CPU.
type slow struct {
	sdk.Model
	dt     time.Duration
	inside *atomic.Int64 // time spent in the model's calls
}

func (s slow) spin(start time.Time) {
	for time.Since(start) < s.dt {
	}
	s.inside.Add(int64(time.Since(start)))
}

func (s slow) DenoiseEPS(ctx context.Context, dst, x [][]float64, sigma float64) error {
	defer s.spin(time.Now())
	return s.Model.DenoiseEPS(ctx, dst, x, sigma)
}

// otherThread serves a model's calls on one OS thread of its own, in
// process: the caller hands each call over and sleeps until it is answered,
// as a solver plugin does with the host, but with no process boundary and
// no transport. It measures what handing a call to another thread costs.
type otherThread struct {
	sdk.Model
	calls chan func()
}

func newOtherThread(m sdk.Model) otherThread {
	o := otherThread{m, make(chan func())}
	go func() {
		runtime.LockOSThread()
		for f := range o.calls {
			f()
		}
	}()
	return o
}

func (o otherThread) DenoiseEPS(ctx context.Context, dst, x [][]float64, sigma float64) error {
	done := make(chan error)
	o.calls <- func() { done <- o.Model.DenoiseEPS(ctx, dst, x, sigma) }
	return <-done
}

// BenchmarkEPSPlugin is a whole EPS run at 20 NFE, 16 samples of an
// image-shaped mixture at 3×64×64 (sr4), in process and through the plugin,
// with the exact model as it is ("exact") and made to cost 20 ms per call
// ("20ms-model"). "20ms-other-thread" is the 20 ms model served in process
// from a thread of its own, the control for the cost of the hand-over
// itself. Compare the ns/op of the transports within a model.
func BenchmarkEPSPlugin(b *testing.B) {
	shape := operator.Shape{C: 3, H: 64, W: 64}
	rng := rand.New(rand.NewPCG(1, 2))
	op := sr4(b, shape, rng)
	prior, err := gmm.NewImagePrior(shape, gmm.SyntheticImages(shape, 8, rng), 0.01)
	if err != nil {
		b.Fatal(err)
	}
	m, d := op.Dims()
	x0, y := make([]float64, d), make([]float64, m)
	prior.Sample(x0, rng)
	op.Apply(y, x0)
	exact, err := prior.Model(op, 0.05)
	if err != nil {
		b.Fatal(err)
	}
	prob := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: 0.05, SigmaMax: 80}
	var inside atomic.Int64
	const n = 16
	seeds := seed.Seeds(1, "b", "0", 0, n)
	twenty := slow{exact, 20 * time.Millisecond, &inside}
	other := newOtherThread(twenty)
	defer close(other.calls)
	for _, mdl := range []struct {
		name      string
		model     sdk.Model
		inProcess bool // through a plugin it is the 20 ms model again
	}{{"exact", exact, false}, {"20ms-model", twenty, false}, {"20ms-other-thread", other, true}} {
		for _, tr := range transports {
			if mdl.inProcess && tr.start != nil {
				continue
			}
			b.Run(mdl.name+"/"+tr.name, func(b *testing.B) {
				inside.Store(0)
				runEPS(b, tr, prob, mdl.model, seeds)
				if in := inside.Load(); in > 0 {
					// What the run spends outside the model's calls: the
					// solver's own work and the transport.
					b.ReportMetric(float64(b.Elapsed().Nanoseconds()-in)/float64(b.N)/1e6, "ms-outside-model/op")
				}
			})
		}
	}
}

// BenchmarkEPSPluginNetwork is the workload of the README's real-image
// table: EPS at 20 NFE with the committed EPS network (models/natural32,
// 32 px), 4 samples a call as configs/real32.yaml draws them, on sr4, in
// process and through the plugin. The network costs about 30 ms a call and
// spreads its work over the cores, as a network on a CPU does.
func BenchmarkEPSPluginNetwork(b *testing.B) {
	shape := operator.Shape{C: 3, H: 32, W: 32}
	rng := rand.New(rand.NewPCG(5, 6))
	op := sr4(b, shape, rng)
	m, d := op.Dims()
	x0, y := make([]float64, d), make([]float64, m)
	for i := range x0 {
		x0[i] = math.Tanh(rng.NormFloat64()) // an image-like vector in [-1, 1]
	}
	op.Apply(y, x0)
	net := &netmodel.Model{Name: "natural32"}
	for _, role := range []struct {
		dst  *netmodel.Network
		path string
	}{{&net.Denoiser, "denoiser/denoiser.ipbw"}, {&net.EPS, "eps/eps.ipbw"}} {
		n, _, _, err := unet.LoadFile(filepath.Join("..", "..", "models", "natural32", role.path))
		if err != nil {
			b.Fatal(err)
		}
		*role.dst = n
	}
	bound, err := net.Bind("sr4", op, 0.05, y)
	if err != nil {
		b.Fatal(err)
	}
	var inside atomic.Int64
	mdl := timed{bound, &inside}
	prob := sdk.Problem{Op: sdk.Local(op), Y: y, SigmaY: 0.05, SigmaMax: 80}
	const n = 4
	seeds := seed.Seeds(1, "b", "0", 0, n)
	for _, tr := range transports {
		if tr.name != "in-process" && tr.name != "grpc-shm" {
			continue
		}
		b.Run(tr.name, func(b *testing.B) {
			inside.Store(0)
			runEPS(b, tr, prob, mdl, seeds)
			b.ReportMetric(float64(inside.Load())/float64(b.N)/1e6, "ms-in-model/op")
		})
	}
}

// timed adds the time spent in a model's EPS calls to inside.
type timed struct {
	sdk.Model
	inside *atomic.Int64
}

func (t timed) DenoiseEPS(ctx context.Context, dst, x [][]float64, sigma float64) error {
	defer func(start time.Time) { t.inside.Add(int64(time.Since(start))) }(time.Now())
	return t.Model.DenoiseEPS(ctx, dst, x, sigma)
}

// sr4 is the sr4 operator at shape.
func sr4(b *testing.B, shape operator.Shape, rng *rand.Rand) operator.Operator {
	r, err := task.Resolve(task.Spec{Name: "sr4"}, shape)
	if err != nil {
		b.Fatal(err)
	}
	op, err := task.Build(r, shape, rng)
	if err != nil {
		b.Fatal(err)
	}
	return op
}

// runEPS times b.N EPS runs at 20 NFE, one sample per seed, through tr,
// and checks the count of each.
func runEPS(b *testing.B, tr transport, prob sdk.Problem, m sdk.Model, seeds []sdk.Seed) {
	var s sdk.Solver = eps.Solver{}
	if tr.start != nil {
		var stop func()
		s, stop = tr.start(b, filepath.Join(bin, "ipbench-solver-eps"))
		defer stop()
	}
	_, d := prob.Op.Dims()
	params, _ := sdk.ResolveParams(eps.Solver{}.Info(), nil)
	dst := sdk.NewRows(len(seeds), d)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		counted := &model.Counted{Name: "m", Model: m, Dim: d}
		if err := s.Solve(context.Background(), dst, prob, counted, seeds, 20, params); err != nil {
			b.Fatal(err)
		}
		if counted.NFE() != int64(20*len(seeds)) {
			b.Fatalf("counted %d NFE", counted.NFE())
		}
	}
}
