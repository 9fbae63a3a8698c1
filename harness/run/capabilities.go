package run

import (
	"fmt"
	"math/rand/v2"

	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/plugins/sdk"
)

// modelGives is what each model kind can serve: the exact mixture model has
// a VJP, the EPS posterior denoiser and the exact measurement-conditioned
// denoiser E[x₀ | x_σ, y] that a conditional restorer samples with.
var modelGives = map[string]map[sdk.Capability]bool{
	"gmm-exact": {sdk.NeedsVJP: true, sdk.NeedsEPSModel: true, sdk.Conditional: true},
}

// CheckSolver refuses, before any work, a solver that needs what the
// configured model or a task's operator cannot give (a VJP, the EPS
// denoiser, a conditional model, an SVD), naming both.
func (p *Plan) CheckSolver(info sdk.Info) error {
	c := p.Config
	for _, cp := range info.Capabilities {
		switch cp {
		case sdk.NeedsSVD:
			for _, t := range c.Tasks {
				if !c.SolverRunsOn(info.Name, t.Name) {
					continue
				}
				r, err := task.Resolve(task.Spec{Name: t.Name, Params: t.Params}, c.Shape())
				if err != nil {
					return err
				}
				// The operator's type does not depend on the per-image
				// randomness, so any stream will do.
				op, err := task.Build(r, c.Shape(), rand.New(rand.NewPCG(1, 2)))
				if err != nil {
					return err
				}
				if _, ok := op.(operator.SVD); !ok {
					return fmt.Errorf("solver %s needs an SVD of the operator, which task %s (%T) does not have; leave one of them out (a solver's tasks: list limits it to some tasks)", info.Name, t.Name, op)
				}
			}
		case sdk.NeedsVJP, sdk.NeedsEPSModel, sdk.Conditional:
			if !modelGives[c.Model.Kind][cp] {
				return fmt.Errorf("solver %s needs %s, which model %s does not give", info.Name, cp, c.Model.Kind)
			}
		}
	}
	return nil
}
