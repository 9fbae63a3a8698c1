// Command ipbench-solver-pinv serves the pseudoinverse floor A⁺y as an
// ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/pinv"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(pinv.Solver{}) }
