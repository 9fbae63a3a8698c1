package run

import (
	"fmt"
	"math/rand/v2"

	"github.com/ipbench/ipbench/harness/netmodel"
	"github.com/ipbench/ipbench/harness/operator"
	"github.com/ipbench/ipbench/harness/task"
	"github.com/ipbench/ipbench/plugins/sdk"
)

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
			if c.Model.Kind == "gmm-exact" {
				// The exact mixture model has a VJP, the EPS posterior
				// denoiser and the exact measurement-conditioned denoiser
				// E[x₀ | x_σ, y] that a conditional restorer samples with.
				continue
			}
			if err := p.netGives(info.Name, cp); err != nil {
				return err
			}
		}
	}
	return nil
}

// netGives checks that the configured network model gives cp on every
// task the solver runs on: a VJP (the denoiser's autodiff, or an exported
// VJP graph), an EPS network or a restorer that serves the task.
func (p *Plan) netGives(solver string, cp sdk.Capability) error {
	c := p.Config
	if p.Net == nil {
		return fmt.Errorf("solver %s needs %s: no model of kind %s is loaded", solver, cp, c.Model.Kind)
	}
	if cp == sdk.NeedsVJP {
		if !p.Net.HasVJP() {
			if c.Model.Kind == "plugin" {
				return fmt.Errorf("solver %s needs a VJP, which model %s (kind plugin, %s) does not give: its Info does not list vjp", solver, p.Net, c.Model.Plugin)
			}
			return fmt.Errorf("solver %s needs a VJP, which model %s (kind %s, %s) does not give: it has no exported VJP graph (model: denoiser_vjp)", solver, p.Net, c.Model.Kind, c.Model.Denoiser)
		}
		return nil
	}
	role, file := "eps", c.Model.EPS
	if cp == sdk.Conditional {
		role, file = "restorer", c.Model.Restorer
	}
	for _, t := range c.Tasks {
		if !c.SolverRunsOn(solver, t.Name) || p.Net.Serves(role, t.Name) {
			continue
		}
		if c.Model.Kind == "plugin" {
			if p.Net.Serves(role, "") || anyTask(p.Net, role) {
				return fmt.Errorf("solver %s needs %s on task %s, which model %s (kind plugin, %s) does not serve (its Info lists the tasks it serves); leave one of them out (a solver's tasks: list limits it to some tasks)", solver, cp, t.Name, p.Net, c.Model.Plugin)
			}
			return fmt.Errorf("solver %s needs %s, which model %s (kind plugin, %s) does not give: its Info does not list %s", solver, cp, p.Net, c.Model.Plugin, map[string]string{"eps": "eps", "restorer": "restore"}[role])
		}
		if file == "" {
			return fmt.Errorf("solver %s needs %s, which model %s does not give: the configuration names no %s network (model: %s)", solver, cp, p.Net, role, role)
		}
		return fmt.Errorf("solver %s needs %s on task %s, which the %s network %s was not trained for; leave one of them out (a solver's tasks: list limits it to some tasks)", solver, cp, t.Name, role, file)
	}
	return nil
}

// anyTask says whether the role serves any of the labelled tasks.
func anyTask(b netmodel.Binder, role string) bool {
	for _, t := range netmodel.Tasks {
		if b.Serves(role, t) {
			return true
		}
	}
	return false
}
