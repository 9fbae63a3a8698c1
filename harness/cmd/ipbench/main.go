// Command ipbench is the benchmark harness for diffusion solvers of linear
// inverse problems. Run `ipbench help` for its commands.
package main

import (
	"os"

	"github.com/ipbench/ipbench/harness/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr))
}
