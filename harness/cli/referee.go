package cli

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"

	"github.com/ipbench/ipbench/harness/gmm"
	"github.com/ipbench/ipbench/harness/problem"
	"github.com/ipbench/ipbench/harness/referee"
	"github.com/ipbench/ipbench/harness/sample"
	"github.com/ipbench/ipbench/reports/table"
)

// runReferee draws fresh problems of the MCGdiff family, runs each solver at
// each NFE and prints one Markdown row per (d, m, solver, NFE), averaged over
// the problems.
func runReferee(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("gmm referee", stdout)
	solverList := fs.String("solvers", "eps,dps", "solvers, comma-separated")
	nfeList := fs.String("nfe", "20,50,100", "NFE values, comma-separated")
	dimList := fs.String("dims", "8,80,800", "dimensions d, comma-separated")
	obsList := fs.String("obs", "1,2,4", "observation counts m, comma-separated")
	problems := fs.Int("problems", 3, "fresh problems per (d, m)")
	n := fs.Int("n", 2000, "samples per run")
	seed := fs.Uint64("seed", 1, "seed of problems, samplers and references")
	radii := fs.Float64("radii", 5, "k of the σ_max rule max(80, kR)")
	pf := addPluginFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	nfes, err := intList("nfe", *nfeList)
	if err != nil {
		return err
	}
	dims, err := intList("dims", *dimList)
	if err != nil {
		return err
	}
	obs, err := intList("obs", *obsList)
	if err != nil {
		return err
	}
	if *problems < 1 || *n < 2 {
		return badInput("--problems must be ≥ 1 and --n ≥ 2")
	}
	list, stop, err := pf.openSolvers(stderr, *solverList)
	if err != nil {
		return err
	}
	defer stop()
	tb := table.New("d", "m", "solver", "NFE", "VJP", "SW₂ to exact", "exact floor", "ratio", "weight TV (floor)", "s/run")
	for _, d := range dims {
		for _, m := range obs {
			probs := make([]*problem.Problem, *problems)
			posts := make([]*gmm.Posterior, *problems)
			for i := range probs {
				f, err := problem.MCGdiff(d, m, rand.New(rand.NewPCG(*seed, uint64(d*1000+m*10+i))))
				if err != nil {
					return asInput(err)
				}
				if probs[i], err = f.Problem(); err != nil {
					return err
				}
				// One exact posterior per problem, for every solver and NFE.
				if posts[i], err = probs[i].Prior.Posterior(probs[i].Op, probs[i].Y, probs[i].SigmaY); err != nil {
					return err
				}
			}
			for _, s := range list {
				name := s.Info().Name
				for _, nfe := range nfes {
					var sw, floor, ratio, tv, tvf, secs, vjp float64
					var failed error
					for i, p := range probs {
						res, err := sample.Run(ctx, s, p, sample.Options{NFE: nfe, N: *n, Seed: *seed + uint64(i), Radii: *radii})
						if err != nil {
							if ctx.Err() != nil {
								return err
							}
							failed = err
							break
						}
						if res.NFE != float64(nfe) && name == "eps" {
							return fmt.Errorf("eps: counted %v NFE per sample for %d requested", res.NFE, nfe)
						}
						sc, err := referee.Evaluate(posts[i], res.Samples, referee.Options{}, rand.New(rand.NewPCG(*seed, uint64(i))))
						if err != nil {
							return err
						}
						k := float64(len(probs))
						sw += sc.SW / k
						floor += sc.SWFloor / k
						ratio += sc.Ratio / k
						tv += sc.WeightError / k
						tvf += sc.WeightFloor / k
						secs += res.Seconds / k
						vjp = res.VJP
					}
					if failed != nil {
						// A solver that refuses an NFE gets a row that says
						// so; the rest go on.
						tb.Append(fmt.Sprint(d), fmt.Sprint(m), name, fmt.Sprint(nfe), "", "failed", "", "", "", "")
						fmt.Fprintf(stderr, "d=%d m=%d %s %d NFE failed: %v\n", d, m, name, nfe, failed)
						continue
					}
					tb.Append(fmt.Sprint(d), fmt.Sprint(m), name, fmt.Sprint(nfe), fmt.Sprintf("%.0f", vjp),
						fmt.Sprintf("%.3f", sw), fmt.Sprintf("%.3f", floor), fmt.Sprintf("%.2f", ratio),
						fmt.Sprintf("%.3f (%.3f)", tv, tvf), fmt.Sprintf("%.2f", secs))
					fmt.Fprintf(stderr, "d=%d m=%d %s %d NFE: ratio %.2f\n", d, m, name, nfe, ratio)
				}
			}
		}
	}
	return tb.Render(stdout, table.Markdown)
}
