package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/ipbench/ipbench/harness/referee"
	"github.com/ipbench/ipbench/harness/sample"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/plugins/sdk/edm"
	"github.com/ipbench/ipbench/reports/table"
)

// runImages scores solvers on image-shaped Gaussian mixtures for every task,
// with the structured operators themselves (no dense matrix is formed).
func runImages(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gmm images", stdout)
	taskList := fs.String("tasks", strings.Join(task.Names(), ","), "tasks, comma-separated")
	size := fs.String("size", "3x32x32", "image shape CxHxW")
	k := fs.Int("components", 8, "mixture components (synthetic smooth images as means)")
	c := fs.Float64("variance", 0.01, "shared component variance c")
	sigmaY := fs.Float64("sigma-y", 0.05, "measurement noise σ_y")
	sigmaMax := fs.Float64("sigma-max", edm.SigmaMax, "σ_max (80 for images in [-1, 1])")
	solverList := fs.String("solvers", "eps,dps", "solvers, comma-separated")
	nfeList := fs.String("nfe", "5,20,100", "NFE values, comma-separated")
	n := fs.Int("n", 200, "samples per run")
	seed := fs.Uint64("seed", 1, "seed of priors, operators, measurements and samplers")
	pf := addPluginFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	shape, err := parseShape(*size)
	if err != nil {
		return err
	}
	nfes, err := intList("nfe", *nfeList)
	if err != nil {
		return err
	}
	if *k < 1 || !(*c > 0) || !(*sigmaY > 0) || !(*sigmaMax > 0) || *n < 2 {
		return badInput("--components ≥ 1, --n ≥ 2 and positive --variance, --sigma-y, --sigma-max are needed")
	}
	var specs []task.Resolved
	for _, name := range strings.Split(*taskList, ",") {
		r, err := task.Resolve(task.Spec{Name: strings.TrimSpace(name)}, shape)
		if err != nil {
			return asInput(err)
		}
		specs = append(specs, r)
	}
	list, stop, err := pf.openSolvers(stderr, *solverList)
	if err != nil {
		return err
	}
	defer stop()
	fmt.Fprintf(stdout, "Image-shaped mixtures at %s: %d components N(mₖ, %gI), σ_y = %g, σ_max = %g, %d samples per run.\n\n", *size, *k, *c, *sigmaY, *sigmaMax, *n)
	tb := table.New("task", "solver", "NFE", "counted NFE", "VJP", "SW₂ to exact", "exact floor", "ratio", "mean RMS error (floor)", "s/run")
	for ti, r := range specs {
		p, err := imageProblem(r, shape, *k, *c, *sigmaY, rand.New(rand.NewPCG(*seed, uint64(ti))))
		if err != nil {
			return err
		}
		post, err := p.Prior.Posterior(p.Op, p.Y, p.SigmaY)
		if err != nil {
			return err
		}
		for _, s := range list {
			name := s.Info().Name
			for _, nfe := range nfes {
				res, err := sample.Run(ctx, s, p, sample.Options{NFE: nfe, N: *n, Seed: *seed, SigmaMax: *sigmaMax})
				if err != nil {
					if ctx.Err() != nil {
						return err
					}
					// A solver that refuses an NFE (DAPS below its ODE
					// steps, say) gets a row that says so; the rest go on.
					tb.Append(r.Name, name, fmt.Sprint(nfe), "failed", "", "", "", "", "", "")
					fmt.Fprintf(stderr, "%s %s %d NFE failed: %v\n", r.Name, name, nfe, err)
					continue
				}
				sc, err := referee.Evaluate(post, res.Samples, referee.Options{}, rand.New(rand.NewPCG(*seed, 99)))
				if err != nil {
					return err
				}
				tb.Append(r.Name, name, fmt.Sprint(nfe), fmt.Sprintf("%.0f", res.NFE), fmt.Sprintf("%.0f", res.VJP),
					fmt.Sprintf("%.4f", sc.SW), fmt.Sprintf("%.4f", sc.SWFloor), fmt.Sprintf("%.2f", sc.Ratio),
					fmt.Sprintf("%.4f (%.4f)", sc.MeanError, sc.MeanFloor), fmt.Sprintf("%.2f", res.Seconds))
				fmt.Fprintf(stderr, "%s %s %d NFE: ratio %.2f\n", r.Name, name, nfe, sc.Ratio)
			}
		}
	}
	return tb.Render(stdout, table.Markdown)
}
