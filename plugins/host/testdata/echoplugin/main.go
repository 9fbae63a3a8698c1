// Command echoplugin serves the echo solver (plugins/host/internal/echo)
// for the transport benchmark.
package main

import (
	"github.com/ipbench/ipbench/plugins/host/internal/echo"
	"github.com/ipbench/ipbench/plugins/sdk"
)

func main() { sdk.Serve(echo.Solver{}) }
