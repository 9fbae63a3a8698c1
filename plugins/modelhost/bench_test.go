package modelhost

import (
	"context"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/problem"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// half is D(x) = x/2 in this process: the Go twin of the echo plugins.
type half struct{}

func (half) Denoise(_ context.Context, dst, x [][]float64, _ float64) error {
	for i := range x {
		for j, v := range x[i] {
			dst[i][j] = v / 2
		}
	}
	return nil
}
func (half) VJP(context.Context, [][]float64, [][]float64, float64, [][]float64) error { return nil }
func (half) DenoiseEPS(context.Context, [][]float64, [][]float64, float64) error       { return nil }
func (half) Restore(context.Context, [][]float64, [][]float64, float64) error          { return nil }

// BenchmarkDenoise times one Denoise call on a 16×3×64×64 float64 batch
// through a model plugin (host → Python process, tensors in shared memory
// or inside the messages) beside the same model in this process. half is
// D(x) = x/2, in Go and in the NumPy plugin pyfault (the cost of the
// process boundary alone); shrink is a PyTorch module (torchNet's Shrink,
// float64) through ipbench-model-torch (the boundary plus torch.from_numpy
// and the copy of the result); gmm is the exact denoiser of a 4-component
// image mixture, harness/gmm in Go against ipbench-model-gmm in PyTorch
// (float64). Run it with
//
//	go test -run XXX -bench Denoise -benchtime 20x ./plugins/modelhost/
func BenchmarkDenoise(b *testing.B) {
	needTorch(b)
	const n = 16
	shape := operator.Shape{C: 3, H: 64, W: 64}
	d := shape.Len()
	rng := rand.New(rand.NewPCG(1, 2))
	x := rows(n, d, func(int, int) float64 { return rng.NormFloat64() })
	dst := sdk.NewRows(n, d)
	keep := make([]bool, d)
	for i := range keep {
		keep[i] = i%4 != 0
	}
	op, err := operator.NewMask(shape, keep)
	if err != nil {
		b.Fatal(err)
	}
	m, _ := op.Dims()
	y := make([]float64, m)

	// The mixture: 4 smooth random images, c = 0.01.
	f := &problem.File{Dim: d}
	for k := 0; k < 4; k++ {
		mu := make([]float64, d)
		for i := range mu {
			mu[i] = 0.5 * rng.NormFloat64()
		}
		f.Means = append(f.Means, mu)
		f.Weights = append(f.Weights, 0.25)
		f.Variances = append(f.Variances, 0.01)
	}
	prior, err := gmm.NewIsotropic(f.Weights, f.Means, f.Variances)
	if err != nil {
		b.Fatal(err)
	}
	exact, err := prior.Model(op, 0.05)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	mix := filepath.Join(dir, "mix.json")
	writeFile(b, mix, f)
	netPy := filepath.Join(dir, "net.py")
	if err := os.WriteFile(netPy, []byte(torchNet), 0o644); err != nil {
		b.Fatal(err)
	}
	w, we := filepath.Join(dir, "shrink.pt"), filepath.Join(dir, "cond.pt")
	if out, err := exec.Command(python, netPy, w, we).CombinedOutput(); err != nil {
		b.Fatalf("writing the weights: %v\n%s", err, out)
	}

	run := func(name string, mdl sdk.Model) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(8 * n * d))
			for i := 0; i < b.N; i++ {
				if err := mdl.Denoise(context.Background(), dst, x, 0.5); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	plugin := func(path string, cfg Config) sdk.Model {
		p := open(b, path, cfg)
		mdl, err := p.Bind("inpaint-random", op, 0.05, y)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { mdl.(interface{ Close() error }).Close() })
		return mdl
	}
	fault := testdata("ipbench-model-pyfault")
	faultArgs := []string{"--dim", "12288", "--shape", "3,64,64"}
	run("half/go", half{})
	run("half/python-shm", plugin(fault, Config{Args: faultArgs}))
	run("half/python-messages", plugin(fault, Config{Args: faultArgs, NoSharedMemory: true}))
	run("shrink/torch-shm", plugin(example("ipbench-model-torch"), Config{Args: []string{"--module", netPy, "--class", "Shrink",
		"--weights", w, "--shape", "3,64,64", "--device", "cpu", "--dtype", "float64"}}))
	run("gmm/go", exact)
	run("gmm/torch-shm", plugin(example("ipbench-model-gmm"), Config{Args: []string{"--mixture", mix, "--shape", "3,64,64", "--device", "cpu"}}))
}

func writeFile(b *testing.B, path string, f *problem.File) {
	if err := f.Write(path); err != nil {
		b.Fatal(err)
	}
}
