package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/problem"
	"github.com/ipbench/ipbench/harness/referee"
	"github.com/ipbench/ipbench/harness/sample"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func runSample(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("sample", stdout)
	path := fs.String("problem-file", "", "problem file (JSON)")
	name := fs.String("solver", "eps", "solver (a plugin ipbench-solver-NAME)")
	nfe := fs.Int("nfe", 100, "denoiser evaluations per sample")
	n := fs.Int("n", 1000, "number of samples")
	seed := fs.Uint64("seed", 0, "run seed")
	out := fs.String("out", "", "output file (JSON)")
	sigmaMax := fs.Float64("sigma-max", 0, "σ_max of the diffusion (0: max(80, 5R) from the prior)")
	batch := fs.Int("batch", 0, "samples per plugin call (0: all in one)")
	params := paramFlag{}
	fs.Var(params, "param", "solver parameter name=value (repeatable)")
	pf := addPluginFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "problem-file", "out"); err != nil {
		return err
	}
	if *nfe < 1 {
		return badInput("--nfe = %d: must be at least 1", *nfe)
	}
	if *n < 1 {
		return badInput("--n = %d: must be at least 1", *n)
	}
	if *sigmaMax < 0 {
		return badInput("--sigma-max = %v: must be positive", *sigmaMax)
	}
	if *batch < 0 {
		return badInput("--batch = %d: must not be negative", *batch)
	}
	p, err := problem.Read(*path)
	if err != nil {
		return asInput(err)
	}
	reg, err := pf.registry(stderr)
	if err != nil {
		return err
	}
	defer reg.Close()
	s, err := solver(reg, *name)
	if err != nil {
		return err
	}
	if _, err := sdk.ResolveParams(s.Info(), params); err != nil {
		return asInput(err)
	}
	// A problem file's operator is a dense matrix (it has an SVD), and its
	// model the exact mixture, bound to the file's measurement: a VJP, the
	// EPS denoiser and the conditional denoiser, whatever a solver needs.
	res, err := sample.Run(ctx, s, p, sample.Options{NFE: *nfe, N: *n, Seed: *seed, SigmaMax: *sigmaMax, Params: params, Batch: *batch})
	if err != nil {
		return err
	}
	res.PluginPath, res.PluginSHA256 = s.Path, s.SHA256
	if err := problem.WriteJSON(*out, res); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d samples, %.0f NFE and %.0f VJP per sample (counted by the host), σ_max %.4g, %.2f s → %s\n",
		describePlugin(s), *n, res.NFE, res.VJP, res.SigmaMax, res.Seconds, *out)
	if len(res.Failed) > 0 {
		bad := 0
		for _, f := range res.Failed {
			bad += f.To - f.From
		}
		return fmt.Errorf("%d of %d samples failed (listed under \"failed\" in %s); first: %s", bad, *n, *out, res.Failed[0].Error)
	}
	return nil
}

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gmm export", stdout)
	taskName := fs.String("task", "", "task: "+strings.Join(task.Names(), ", "))
	size := fs.String("size", "3x16x16", "image shape CxHxW")
	seed := fs.Uint64("seed", 0, "seed of the prior, the operator and the measurement")
	out := fs.String("out", "", "output problem file (JSON)")
	k := fs.Int("components", 8, "mixture components (synthetic smooth images as means)")
	c := fs.Float64("variance", 0.01, "shared component variance c")
	sigmaY := fs.Float64("sigma-y", 0.05, "measurement noise σ_y")
	params := paramFlag{}
	fs.Var(params, "param", "task parameter name=value (repeatable)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "task", "out"); err != nil {
		return err
	}
	shape, err := parseShape(*size)
	if err != nil {
		return err
	}
	if *k < 1 || !(*c > 0) || !(*sigmaY > 0) {
		return badInput("--components must be ≥ 1, --variance and --sigma-y positive")
	}
	if d := shape.Len(); d > 4096 {
		return badInput("--size %s: %d pixels make a dense A too large for a problem file (at most 4096)", *size, d)
	}
	r, err := task.Resolve(task.Spec{Name: *taskName, Params: params}, shape)
	if err != nil {
		return asInput(err)
	}
	p, err := imageProblem(r, shape, *k, *c, *sigmaY, rand.New(rand.NewPCG(*seed, 0x1be7c4)))
	if err != nil {
		return err
	}
	m, d := p.Op.Dims()
	f, err := problem.FromOperator(p.Prior, p.Op, p.Y, p.SigmaY)
	if err != nil {
		return err
	}
	if err := f.Write(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s at %s: d = %d, m = %d, %d components, σ_y = %v, parameters %v → %s\n", r.Name, *size, d, m, *k, *sigmaY, r.Params, *out)
	return nil
}

// imageProblem draws an image-shaped problem of task r: the operator (with
// its per-image randomness), a prior of k synthetic smooth images with shared
// variance c, x₀ from the prior and y = A x₀ + σ_y n, all from rng.
func imageProblem(r task.Resolved, shape operator.Shape, k int, c, sigmaY float64, rng *rand.Rand) (*problem.Problem, error) {
	op, err := task.Build(r, shape, rng)
	if err != nil {
		return nil, asInput(err)
	}
	prior, err := gmm.NewImagePrior(shape, gmm.SyntheticImages(shape, k, rng), c)
	if err != nil {
		return nil, err
	}
	m, d := op.Dims()
	x0, y := make([]float64, d), make([]float64, m)
	prior.Sample(x0, rng)
	op.Apply(y, x0)
	for i := range y {
		y[i] += sigmaY * rng.NormFloat64()
	}
	return &problem.Problem{Prior: prior, Op: op, Y: y, SigmaY: sigmaY}, nil
}

func parseShape(s string) (operator.Shape, error) {
	var sh operator.Shape
	if _, err := fmt.Sscanf(s, "%dx%dx%d", &sh.C, &sh.H, &sh.W); err != nil || sh.C < 1 || sh.H < 1 || sh.W < 1 {
		return sh, badInput("--size %q: want CxHxW with positive integers, e.g. 3x16x16", s)
	}
	return sh, nil
}

func runFamily(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gmm family", stdout)
	d := fs.Int("dim", 80, "dimension d (even)")
	m := fs.Int("obs", 2, "observations m")
	seed := fs.Uint64("seed", 0, "seed")
	out := fs.String("out", "", "output problem file (JSON)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "out"); err != nil {
		return err
	}
	f, err := problem.MCGdiff(*d, *m, rand.New(rand.NewPCG(*seed, 0x3c6d1f)))
	if err != nil {
		return asInput(err)
	}
	if err := f.Write(*out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "MCGdiff family: d = %d, m = %d, σ_y = %.4g → %s\n", *d, *m, f.SigmaY, *out)
	return nil
}

func runScore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gmm score", stdout)
	path := fs.String("problem-file", "", "problem file (JSON)")
	samplesPath := fs.String("samples", "", "samples file (JSON, as `ipbench sample` writes it)")
	seed := fs.Uint64("seed", 0, "seed of the exact reference samples")
	out := fs.String("out", "", "optional score file (JSON)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := required(fs, "problem-file", "samples"); err != nil {
		return err
	}
	p, err := problem.Read(*path)
	if err != nil {
		return asInput(err)
	}
	data, err := os.ReadFile(*samplesPath)
	if err != nil {
		return asInput(err)
	}
	var res struct {
		Samples [][]float64 `json:"samples"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return badInput("samples file %s: %v", *samplesPath, err)
	}
	post, err := p.Prior.Posterior(p.Op, p.Y, p.SigmaY)
	if err != nil {
		return err
	}
	sc, err := referee.Evaluate(post, res.Samples, referee.Options{}, rand.New(rand.NewPCG(*seed, 0x5c0e)))
	if err != nil {
		return asInput(err)
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "samples\t%d\n", sc.N)
	fmt.Fprintf(tw, "sliced W2 to exact\t%.4g\t(floor %.4g, ratio %.2f)\n", sc.SW, sc.SWFloor, sc.Ratio)
	fmt.Fprintf(tw, "mean error (RMS)\t%.4g\t(floor %.4g)\n", sc.MeanError, sc.MeanFloor)
	fmt.Fprintf(tw, "weight error (TV)\t%.4g\t(floor %.4g)\n", sc.WeightError, sc.WeightFloor)
	tw.Flush()
	if *out != "" {
		return problem.WriteJSON(*out, sc)
	}
	return nil
}

func runSolvers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("solvers", stdout)
	pf := addPluginFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	reg, err := pf.registry(stderr)
	if err != nil {
		return err
	}
	defer reg.Close()
	plugins, errs := reg.All()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tCAPABILITIES\tNFE GRID\tPARAMETERS\tSHA-256\tPATH")
	for _, p := range plugins {
		info := p.Info()
		var caps, ps []string
		for _, c := range info.Capabilities {
			caps = append(caps, string(c))
		}
		for _, p := range info.Params {
			ps = append(ps, fmt.Sprintf("%s=%v", p.Name, p.Default))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\t%s\t%s\t%s\n", info.Name, info.Version, strings.Join(caps, ","), info.NFEGrid, strings.Join(ps, " "), p.SHA256[:16], p.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, e := range errs {
		fmt.Fprintln(stderr, "not a usable plugin:", e)
	}
	if len(plugins) == 0 {
		return fmt.Errorf("no solver plugins found in %s (run `make build`)", strings.Join(reg.Dirs, ", "))
	}
	return nil
}
