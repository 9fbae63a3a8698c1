// Command ipbench-solver-pigdm serves the ΠGDM solver as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/pigdm"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(pigdm.Solver{}) }
