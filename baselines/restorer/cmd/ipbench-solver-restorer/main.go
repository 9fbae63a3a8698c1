// Command ipbench-solver-restorer serves the conditional restorer as an
// ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/restorer"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(restorer.Solver{}) }
