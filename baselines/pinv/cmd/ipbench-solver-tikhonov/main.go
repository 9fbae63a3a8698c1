// Command ipbench-solver-tikhonov serves the Tikhonov (ridge) floor
// (AᵀA + λI)⁻¹Aᵀy as an ipbench plugin.
package main

import (
	"github.com/ipbench/ipbench/baselines/pinv"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(pinv.Tikhonov{}) }
