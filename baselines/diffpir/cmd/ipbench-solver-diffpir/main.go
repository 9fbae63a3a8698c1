// Command ipbench-solver-diffpir serves the DiffPIR solver as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/diffpir"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(diffpir.Solver{}) }
