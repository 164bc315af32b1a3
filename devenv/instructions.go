package devenv

import (
	"fmt"
	"strings"
)

// Step is one thing to try, with a command to copy and paste into a POSIX
// shell (git and curl on PATH).
type Step struct {
	// Title says what the step does.
	Title string
	// Command is the shell command.
	Command string
	// Note says what to expect.
	Note string
}

// Steps returns the things to try against this environment. Every command
// works as printed: tests run them.
func (e *Env) Steps() []Step {
	cd := "cd " + shellQuote(e.Repo.Dir) + " && "
	health := e.SimulatorURL + "/simulator/v1/marathon/apps/hello-web/health"
	notice := "within 10 s (the app's health-check interval)"
	if e.fast {
		notice = "within milliseconds (--fast)"
	}
	return []Step{
		{
			Title:   "Publish hello-web 1.1.0 (a branch waiting to be merged, like a pull request)",
			Command: cd + "git merge --no-edit " + PublishBranch,
			Note:    "the hello-web release follows \"latest\": it rolls out 1.1.0, one instance at a time",
		},
		{
			Title: "Upgrade the pinned greeter release from 1.0.0 to 1.1.0",
			Command: cd + `sed -i.bak 's/version: "1.0.0"/version: "1.1.0"/' releases/greeter.yaml && rm releases/greeter.yaml.bak && ` +
				`git commit -qam "greeter: 1.1.0"`,
			Note: "then 1.1.0 -> 2.0.0 the same way; the package's upgrade paths are 1.0.0 <-> 1.1.0 -> 2.0.0",
		},
		{
			Title:   "Make hello-web unhealthy (send {\"healthy\":true} to heal it)",
			Command: `curl -fsS -X POST -H 'Content-Type: application/json' -d '{"healthy":false}' ` + health,
			Note:    "Marathon notices at its next health check, " + notice + ", and kills a task after 3 failed checks",
		},
		{
			Title:   "Delete the pingpong release",
			Command: cd + `git rm -q releases/pingpong.yaml && git commit -qm "remove pingpong"`,
			Note:    "an SDK uninstall: the scheduler runs its uninstall plan, then the app is deleted and the janitor steps run",
		},
	}
}

// Instructions is the text `dev` prints once it serves: what to open and
// what to try.
func (e *Env) Instructions() string {
	var b strings.Builder
	rule := strings.Repeat("=", 78)
	fmt.Fprintln(&b, rule)
	fmt.Fprintln(&b, "  universe-operator dev is running. Ctrl-C stops it.")
	fmt.Fprintln(&b, rule)
	row := func(k, v string) { fmt.Fprintf(&b, "  %-11s %s\n", k, v) }
	row("UI", e.UIURL)
	row("", e.PrefixURL+"  (the path Admin Router serves it at)")
	row("API", e.UIURL+"api/v1/releases")
	row("Marathon", e.SimulatorURL+"/service/marathon/v2/apps  (simulated)")
	row("Cluster", e.SimulatorURL+"/simulator/v1/state  (simulated Mesos, SDK schedulers, ZooKeeper)")
	row("Git repo", e.Repo.Dir+"  (branch "+Branch+")")
	row("Config", e.ConfigFile)
	fmt.Fprintln(&b)
	fmt.Fprintln(&b, "  Try it. Every change is a Git commit (`git log` shows them, `git revert` undoes")
	fmt.Fprintln(&b, "  them); the controller fetches right after each commit.")
	for i, s := range e.Steps() {
		fmt.Fprintf(&b, "\n  %d. %s:\n", i+1, s.Title)
		fmt.Fprintf(&b, "       %s\n", s.Command)
		fmt.Fprintf(&b, "     (%s)\n", s.Note)
	}
	fmt.Fprintln(&b)
	state := "The workspace is kept when dev stops"
	if e.Created {
		state += "; resume it with --dir " + shellQuote(e.Dir)
	}
	fmt.Fprintf(&b, "  %s.\n", state)
	fmt.Fprintln(&b, rule)
	return b.String()
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./:=@+,%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
