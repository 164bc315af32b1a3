package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/universe-operator/universe-operator/api"
)

func init() { addCommand(newStatusCommand) }

func newStatusCommand() *cobra.Command {
	var server string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "status [--server URL]",
		Short: "Print the status table of a running controller",
		Long: `Read api/v1/releases from a running controller and print one line per release:
NAME PACKAGE VERSION SYNC HEALTH TASKS STATUS AGE/REASON. VERSION is the
deployed version (the resolved one, in parentheses, while it differs); TASKS
is running/instances with the healthy count; the last column is the time
since the last change for a release in sync, otherwise the reason.
Behind Admin Router use --server https://<dcos>/service/universe-operator.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if ctx == nil {
				ctx = context.Background()
			}
			ctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			return runStatus(ctx, cmd.OutOrStdout(), server, time.Now())
		},
	}
	cmd.Flags().StringVar(&server, "server", "http://127.0.0.1:8080", "base URL of the controller")
	cmd.Flags().DurationVar(&timeout, "timeout", 30*time.Second, "time limit for the request")
	return cmd
}

func runStatus(ctx context.Context, out io.Writer, server string, now time.Time) error {
	u := strings.TrimRight(server, "/") + "/api/v1/releases"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usagef("status: --server %q: %v", server, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("status: cannot reach the controller at %s: %w", server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("status: reading %s: %w", u, err)
	}
	if resp.StatusCode != http.StatusOK {
		var e api.ErrorResponse
		_ = json.Unmarshal(body, &e)
		if e.Message == "" {
			e.Message = strings.TrimSpace(string(body))
		}
		return fmt.Errorf("status: %s answered %d: %s", u, resp.StatusCode, e.Message)
	}
	var list api.ReleaseList
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("status: %s did not answer a release list: %w", u, err)
	}
	printStatus(out, &list, now)
	return nil
}

// printStatus writes the status table.
func printStatus(out io.Writer, list *api.ReleaseList, now time.Time) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPACKAGE\tVERSION\tSYNC\tHEALTH\tTASKS\tSTATUS\tAGE/REASON")
	for _, r := range list.Releases {
		ver := r.DeployedVersion
		if ver == "" {
			ver = r.ResolvedVersion
		} else if r.ResolvedVersion != "" && r.ResolvedVersion != ver {
			ver += " (" + r.ResolvedVersion + ")"
		}
		if ver == "" {
			ver = "-"
		}
		tasks := fmt.Sprintf("%d/%d", r.Tasks.Running, r.Tasks.Instances)
		if r.Tasks.Healthy > 0 || r.Tasks.Unhealthy > 0 {
			tasks += fmt.Sprintf(" (%d healthy)", r.Tasks.Healthy)
		}
		status := r.Status
		if status == "" {
			status = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Name, orDash(r.Package), ver, orDash(r.Sync),
			orDash(r.Health), tasks, status, ageOrReason(r, now))
	}
	tw.Flush()
	if c := list.Controller; c != nil {
		if c.PruneRefused != "" {
			fmt.Fprintf(out, "prune refused: %s\n", c.PruneRefused)
		}
		if c.MarathonError != "" {
			fmt.Fprintf(out, "marathon: %s\n", c.MarathonError)
		}
		for _, s := range c.Sources {
			if !s.Healthy {
				fmt.Fprintf(out, "source %s (%s) failing: %s\n", s.Name, s.Role, s.Error)
			}
		}
		if !c.Leader && c.LeaderID != "" {
			fmt.Fprintf(out, "this replica is a follower; the leader is %s\n", c.LeaderID)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ageOrReason: the age of the last change for a release in sync, else why.
func ageOrReason(r api.Release, now time.Time) string {
	if r.Sync == api.SyncSynced {
		if r.LastChange.IsZero() {
			return "-"
		}
		return age(now.Sub(r.LastChange))
	}
	reason := r.SyncReason
	if r.LastError != nil {
		reason = r.LastError.Reason + ": " + r.LastError.Message
	}
	reason = strings.Join(strings.Fields(reason), " ")
	if len(reason) > 100 {
		reason = reason[:99] + "…"
	}
	return orDash(reason)
}

// age prints a duration the way kubectl does: 45s, 90m, 7h, 5d.
func age(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < 2*time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < 3*time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	default:
		return fmt.Sprintf("%dd", int(d.Hours()/24))
	}
}
