// Package cli is ipbench's command line.
//
// Exit status: 0 on success, 2 for a usage error or bad input (a flag, a
// problem file, a samples file), 1 when the work itself failed.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
)

// Version is ipbench's version.
const Version = "0.1.0"

// inputError marks an error caused by what the user gave: exit status 2.
type inputError struct{ err error }

func (e inputError) Error() string { return e.err.Error() }
func (e inputError) Unwrap() error { return e.err }

func badInput(format string, a ...any) error { return inputError{fmt.Errorf(format, a...)} }

func asInput(err error) error {
	if err == nil {
		return nil
	}
	return inputError{err}
}

type command struct {
	name, usage string
	run         func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run a benchmark configuration (YAML) into its record, resuming what is missing", runRun},
		{"plan", "print what a configuration would run and how much is done", runPlan},
		{"merge", "join shard records: ipbench merge OUT IN...", runMerge},
		{"report", "print the results tables of a record: ipbench report RESULTS", runReport},
		{"sample", "draw posterior samples of a Gaussian-mixture problem file with one solver", runSample},
		{"gmm export", "write a built-in image-shaped task as a problem file (A as a dense matrix)", runExport},
		{"gmm family", "write a problem of the MCGdiff Gaussian-mixture family", runFamily},
		{"gmm score", "score samples against the exact posterior of a problem file", runScore},
		{"gmm referee", "score solvers on fresh MCGdiff-family problems and print a table", runReferee},
		{"gmm images", "score solvers on image-shaped mixtures for every task, with structured operators", runImages},
		{"train denoiser", "train a denoiser network (EDM loss) on folders of images, resuming from its checkpoint", runTrain("denoiser")},
		{"train eps", "train an EPS posterior denoiser D(μ*, y, σ), from scratch or from a denoiser (--init)", runTrain("eps")},
		{"train restorer", "train a conditional restorer (Palette-like) D(x, y, σ)", runTrain("restorer")},
		{"train card", "write a training folder's model card (card.md) again from its train.json", runTrainCard},
		{"solvers", "list the solvers", runSolvers},
		{"version", "print the version", func(context.Context, []string, io.Writer, io.Writer) error { return nil }},
	}
}

// Main runs the command line args and returns the exit status.
func Main(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	if args[0] == "version" {
		fmt.Fprintln(stdout, "ipbench", Version)
		return 0
	}
	for _, c := range commands() {
		words := strings.Fields(c.name)
		if len(args) >= len(words) && strings.Join(args[:len(words)], " ") == c.name {
			err := c.run(ctx, args[len(words):], stdout, stderr)
			if err == nil {
				return 0
			}
			if errors.Is(err, flag.ErrHelp) {
				return 0
			}
			fmt.Fprintf(stderr, "ipbench %s: %v\n", c.name, err)
			var ie inputError
			if errors.As(err, &ie) {
				return 2
			}
			return 1
		}
	}
	fmt.Fprintf(stderr, "ipbench: unknown command %q\n", strings.Join(args, " "))
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: ipbench COMMAND [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-15s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "\nRun `ipbench COMMAND -h` for a command's flags.")
}

// newFlags returns a flag set whose errors are input errors.
func newFlags(name string, stdout io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("ipbench "+name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return inputError{err}
	}
	if fs.NArg() > 0 {
		return badInput("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// paramFlag collects repeated --param name=value flags.
type paramFlag map[string]float64

func (p paramFlag) String() string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var s []string
	for _, k := range keys {
		s = append(s, fmt.Sprintf("%s=%v", k, p[k]))
	}
	return strings.Join(s, ",")
}

func (p paramFlag) Set(v string) error {
	k, val, ok := strings.Cut(v, "=")
	if !ok || k == "" {
		return fmt.Errorf("want name=value, got %q", v)
	}
	f, err := strconv.ParseFloat(val, 64)
	if err != nil {
		return fmt.Errorf("parameter %s: %q is not a number", k, val)
	}
	p[k] = f
	return nil
}

// intList parses "20,50,100".
func intList(flagName, s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil {
			return nil, badInput("--%s: %q is not an integer", flagName, f)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, badInput("--%s: empty list", flagName)
	}
	return out, nil
}

func required(fs *flag.FlagSet, names ...string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	for _, n := range names {
		if !set[n] {
			return badInput("missing --%s", n)
		}
	}
	return nil
}
