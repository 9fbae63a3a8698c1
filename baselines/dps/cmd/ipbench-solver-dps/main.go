// Command ipbench-solver-dps serves the DPS solver as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/dps"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(dps.Solver{}) }
