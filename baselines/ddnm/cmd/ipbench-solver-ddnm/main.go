// Command ipbench-solver-ddnm serves the DDNM solver as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/ddnm"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(ddnm.Solver{}) }
