// Command ipbench-solver-ddrm serves the DDRM solver as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/ddrm"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(ddrm.Solver{}) }
