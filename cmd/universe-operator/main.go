// Command universe-operator is the GitOps controller for DC/OS Universe
// packages. This package is wiring only: each subcommand lives in its own file
// and registers itself with addCommand; the work is done by the library
// packages of the module.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// Exit codes of the binary, as the product contract defines them.
const (
	exitOK      = 0
	exitProblem = 1 // a problem in the user's input or the cluster's answer
	exitUsage   = 2 // a usage error: bad flags, unknown command, missing argument
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commands holds the constructors registered by the files of this package.
var commands []func() *cobra.Command

// addCommand registers a subcommand constructor; call it from an init func.
func addCommand(f func() *cobra.Command) { commands = append(commands, f) }

// usageError marks an error as a usage error (exit code 2).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

// usagef returns a usage error with a formatted message.
func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// newRoot builds the command tree.
func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "universe-operator",
		Short:         "GitOps for DC/OS Universe packages on Marathon",
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	for _, f := range commands {
		c := f()
		wrapArgs(c)
		root.AddCommand(c)
	}
	return root
}

// wrapArgs makes positional-argument validation failures usage errors.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// run executes the command line and returns the process exit code. Errors are
// printed to stderr one problem per line, without stack traces.
func run(args []string, stdout, stderr io.Writer) int {
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	for _, line := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(stderr, "universe-operator: %s\n", line)
	}
	var u usageError
	if errors.As(err, &u) || isCobraUsage(err) {
		return exitUsage
	}
	return exitProblem
}

// isCobraUsage recognises the usage errors cobra returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	return strings.HasPrefix(msg, "unknown command") ||
		strings.HasPrefix(msg, "unknown flag") ||
		strings.HasPrefix(msg, "required flag")
}
