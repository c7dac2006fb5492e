package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func newRestoreCmd(g *globals) *cobra.Command {
	var in protocol.RestoreInput
	var at string
	var wait bool
	cmd := &cobra.Command{
		Use:   "restore --instance NAME --database DB (--at TIME | --point ID) [target options] [--wait]",
		Short: "Restore a database to a recovery point or an instant, to the millisecond (the sqlvault.Restore workflow)",
		Example: `  sqlvault restore --instance SQLVM1 --database SalesDB --at 2026-11-26T10:15:30Z --as-name SalesDB_1015 --wait
  sqlvault restore --instance SQLVM1 --database SalesDB --point 20261126T101530Z-full-8c2f0a1b3d --overwrite --wait
  sqlvault restore --instance SQLVM1 --database SalesDB --at 2026-11-26T10:15:30Z --as-files /var/backups/salesdb`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if at != "" {
				t, err := parseInstant(at)
				if err != nil {
					return err
				}
				in.At = &t
			}
			if err := errors.Join(in.Validate(), in.ValidateNames()); err != nil {
				return err
			}
			if in.Overwrite && in.ProtectionTag == "" {
				in.ProtectionTag = g.protectionTag(cmd, in)
			}
			return startAndWatch(cmd, g, wait,
				func(ctx context.Context, tc client.Client, queue string) (client.WorkflowRun, error) {
					return StartRestore(ctx, tc, queue, in)
				}, WaitRestore, printRestore)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Instance, "instance", "", "instance of the protected database")
	f.StringVar(&in.Database, "database", "", "the protected database")
	f.StringVar(&at, "at", "", "restore to this instant: RFC 3339 with Z or a UTC offset, e.g. 2026-11-26T10:15:30Z or 2026-11-26T10:15:30.250Z")
	f.StringVar(&in.PointID, "point", "", "restore to this recovery point")
	f.StringVar(&in.TargetInstance, "to-instance", "", "restore onto another registered instance")
	f.StringVar(&in.TargetVM, "to-vm", "", "VM of the target instance's agent (default: its machine name)")
	f.StringVar(&in.TargetDatabase, "as-name", "", "restore under a new database name")
	f.BoolVar(&in.Overwrite, "overwrite", false, "replace the target database if it exists (a database under active protection: the CLI reads its protection tag from the vault and sends it)")
	f.StringVar(&in.ProtectionTag, "protection-tag", "", "with --overwrite, the target's protection tag as `sqlvault status --json` showed it (default: read from the vault now)")
	f.BoolVar(&in.SkipTailLog, "skip-tail-log", false, "when overwriting the protected database, do not back up the tail of its log first")
	f.BoolVar(&in.NoRecovery, "norecovery", false, "leave the database RESTORING, to apply more logs later")
	f.BoolVar(&in.AllowUnauthenticated, "allow-unauthenticated", false, "also restore from legacy recovery points (written before the vault authenticated its manifests; run `sqlvault vault upgrade` instead where you can); never from points that fail authentication")
	f.StringVar(&in.AsFilesDir, "as-files", "", "write the decrypted backups and a restore script to this folder on the target VM instead (under the agent's agent.restoreRoots)")
	f.BoolVar(&in.Verify, "verify", false, "restore into a scratch database, run DBCC CHECKDB, report and drop it")
	f.StringVar(&in.DataPath, "data-path", "", "folder for the data files (default: the instance's default; else under the agent's agent.restoreRoots)")
	f.StringVar(&in.LogPath, "log-path", "", "folder for the log files (default: the instance's default; else under the agent's agent.restoreRoots)")
	f.BoolVar(&wait, "wait", false, "wait for the restore, with progress")
	return cmd
}

// protectionTag is the protection tag of the restore's target database, read from the vault
// (the sqlvault.Restore workflow refuses to overwrite a database under active protection
// without it), or "" when it has none or the vault cannot be read here: then the workflow
// says what to do if one is needed.
func (g *globals) protectionTag(cmd *cobra.Command, in protocol.RestoreInput) string {
	repo, _, err := g.vault(cmd.Context())
	if err != nil {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: cannot read the vault for the target's protection tag (%v); a database under active protection is then not overwritten\n", err)
		return ""
	}
	inst, db := in.Target()
	it, err := repo.Item(cmd.Context(), vault.ItemID(inst, db))
	if err != nil || it.State != vault.ItemProtected {
		return ""
	}
	return protocol.ProtectionTag(it.ItemID, it.State, it.UpdatedAt)
}

// StartRestore starts sqlvault.Restore with one running restore per target database.
func StartRestore(ctx context.Context, tc client.Client, queue string, in protocol.RestoreInput) (client.WorkflowRun, error) {
	inst, db := in.Target()
	id := "sqlvault-restore-" + vault.ItemID(inst, db)
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: queue, WorkflowExecutionTimeout: 72 * time.Hour,
		// Without it, a start with the ID of a running restore silently returns that one,
		// which may restore another point.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(protocol.SAInstance.ValueSet(in.Instance),
			protocol.SADatabase.ValueSet(in.Database), protocol.SAVM.ValueSet(in.TargetAgentVM())),
	}, protocol.WorkflowRestore, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil, fmt.Errorf("a restore into %s is already running (workflow %s): wait for it, or cancel it with `temporal workflow cancel --workflow-id %s`", db, id, id)
	}
	return run, err
}

// WaitRestore waits for the result, showing step i of n and the step's percent.
func WaitRestore(ctx context.Context, tc client.Client, run client.WorkflowRun, w io.Writer, show bool) (*protocol.RestoreResult, error) {
	var res protocol.RestoreResult
	line := func() progress {
		ctx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		var p protocol.RestoreProgress
		v, err := tc.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), protocol.QueryProgress)
		if err != nil || v.Get(&p) != nil {
			return progress{}
		}
		pct := 0
		if d, err := tc.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID()); err == nil {
			for _, pa := range d.PendingActivities {
				var sp protocol.StreamProgress
				if hd := pa.GetHeartbeatDetails(); hd != nil && len(hd.Payloads) > 0 && temporalDecode(hd.Payloads[0], &sp) == nil {
					pct = sp.Percent
				}
			}
		}
		return progress{State: fmt.Sprintf("%s/%d/%s", p.Phase, p.Step, p.PointID), Percent: pct,
			Line: fmt.Sprintf("%-14s step %d of %d %s %3d%%", p.Phase, p.Step, p.Steps, p.PointID, pct)}
	}
	if err := waitWithProgress(ctx, run, &res, w, show, line); err != nil {
		return nil, err
	}
	return &res, nil
}

func printRestore(w io.Writer, r *protocol.RestoreResult) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "target\t%s on %s\n", r.TargetDatabase, r.TargetInstance)
	if r.TailLog != nil {
		fmt.Fprintf(tw, "tail-log backup\t%s (last LSN %s)\n", r.TailLog.PointID, r.TailLog.LastLSN)
	}
	var stopAt *time.Time
	for i, s := range r.Steps {
		stop := ""
		if s.StopAt != nil {
			stop = " STOPAT " + formatInstant(*s.StopAt)
			stopAt = s.StopAt
		}
		fmt.Fprintf(tw, "step %d\t%s %s%s\n", i+1, s.Type, s.PointID, stop)
	}
	if stopAt != nil {
		if applied := datetimeStep(*stopAt); !applied.Equal(*stopAt) {
			fmt.Fprintf(tw, "note\tSQL Server's STOPAT is a datetime, which counts in steps of 1/300 s: it stopped at the step nearest %s, %s\n",
				formatInstant(*stopAt), applied.UTC().Format(time.RFC3339Nano))
		}
	}
	for _, sk := range r.Skipped {
		fmt.Fprintf(tw, "left out (not authenticated)\t%s\n", sk)
	}
	if r.State != "" {
		fmt.Fprintf(tw, "state\t%s\n", r.State)
	}
	if r.Files != nil {
		fmt.Fprintf(tw, "files\t%d file(s), %s, in the folder of %s\n", len(r.Files.Files), human(r.Files.Bytes), r.Files.Script)
		fmt.Fprintf(tw, "restore by hand\tsqlcmd -i %s\n", r.Files.Script)
	}
	if r.Verify != nil {
		fmt.Fprintf(tw, "check\t%s\n", r.Verify.Message)
	}
	_ = tw.Flush()
}

// formatInstant shows an instant in RFC 3339, to the millisecond when it has a fraction of
// a second (a restore to 10:15:30.250 must not read as one to 10:15:30), and to the
// nanosecond when milliseconds do not hold it.
func formatInstant(t time.Time) string {
	t = t.UTC()
	switch {
	case t.Nanosecond() == 0:
		return t.Format(time.RFC3339)
	case t.Nanosecond()%int(time.Millisecond) == 0:
		return t.Format("2006-01-02T15:04:05.000Z07:00")
	}
	return t.Format(time.RFC3339Nano)
}

// datetimeStep is t as SQL Server's datetime holds it, which STOPAT is: the nearest 1/300 s
// (the rounding go-mssqldb applies when it sends a datetime parameter).
func datetimeStep(t time.Time) time.Time {
	ticks := math.Round(float64(t.Nanosecond()) * 3 / 1e7)
	return t.Truncate(time.Second).Add(time.Duration(math.Round(ticks * 1e7 / 3)))
}

func newRestorableCmd(g *globals) *cobra.Command {
	var f itemFlags
	cmd := &cobra.Command{
		Use:   "restorable --instance NAME --database DB",
		Short: "Show the time ranges a database can be restored to (and its recovery points)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			ms, err := f.summaries(cmd.Context(), g)
			if err != nil {
				return err
			}
			points := make([]planner.Point, len(ms))
			for i, m := range ms {
				points[i] = m.Point()
			}
			ranges := planner.Restorable(points)
			out := cmd.OutOrStdout()
			if g.jsonOut {
				return g.printJSON(out, map[string]any{"ranges": ranges, "points": len(ms)})
			}
			if len(ranges) == 0 {
				fmt.Fprintln(out, "nothing is restorable yet: take a full backup")
				return nil
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "FROM (UTC)\tUNTIL (UTC, exclusive)\tRECOVERY FORK")
			for _, r := range ranges {
				to := r.To.UTC().Format(time.RFC3339)
				if r.From.Equal(r.To) {
					to = "(that instant only)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", r.From.UTC().Format(time.RFC3339), to, forkLabel(r.Fork))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d recovery point(s); any instant in a range, or any recovery point, can be restored\n", len(ms))
			if forks := countForks(ranges); forks > 1 {
				fmt.Fprintf(out, "the database was restored over itself: its history has %d recovery forks, and an instant restores from the fork that was live at it\n", forks)
			}
			return nil
		},
	}
	f.bind(cmd)
	return cmd
}

// forkLabel shortens a recovery fork GUID for the table (the JSON has it whole).
func forkLabel(f string) string {
	switch {
	case f == "":
		return "-"
	case len(f) > 8:
		return f[:8]
	}
	return f
}

func countForks(rs []planner.Range) int {
	seen := map[string]bool{}
	for _, r := range rs {
		seen[r.Fork] = true
	}
	return len(seen)
}
