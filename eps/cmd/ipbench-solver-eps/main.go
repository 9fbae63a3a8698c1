// Command ipbench-solver-eps serves the EPS solver as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/eps"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(eps.Solver{}) }
