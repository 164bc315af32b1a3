package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func init() {
	addCommand(func() *cobra.Command {
		return &cobra.Command{
			Use:    "test-fail",
			Hidden: true,
			Args:   cobra.NoArgs,
			RunE: func(*cobra.Command, []string) error {
				return errors.Join(errors.New("first problem"), errors.New("second problem"))
			},
		}
	})
}

func TestExitCodes(t *testing.T) {
	cases := []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"--version"}, exitOK, ""},
		{[]string{"no-such-command"}, exitUsage, "unknown command"},
		{[]string{"--no-such-flag"}, exitUsage, "unknown flag"},
		{[]string{"test-fail", "extra"}, exitUsage, "unknown command"},
		{[]string{"test-fail"}, exitProblem, "universe-operator: first problem\nuniverse-operator: second problem\n"},
	}
	for _, c := range cases {
		var out, errOut bytes.Buffer
		if got := run(c.args, &out, &errOut); got != c.code {
			t.Errorf("%v: exit %d, want %d (stderr %q)", c.args, got, c.code, errOut.String())
		}
		if !strings.Contains(errOut.String(), c.err) {
			t.Errorf("%v: stderr %q lacks %q", c.args, errOut.String(), c.err)
		}
	}
}
