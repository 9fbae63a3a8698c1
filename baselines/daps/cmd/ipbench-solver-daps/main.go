// Command ipbench-solver-daps serves the DAPS solver as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/daps"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(daps.Solver{}) }
