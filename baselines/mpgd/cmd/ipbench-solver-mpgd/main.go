// Command ipbench-solver-mpgd serves the MPGD solver as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/mpgd"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(mpgd.Solver{}) }
