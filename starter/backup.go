package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func newBackupCmd(g *globals) *cobra.Command {
	var in protocol.BackupInput
	var typ string
	var noCompression, wait bool
	cmd := &cobra.Command{
		Use:   "backup --instance NAME --database DB [--type full|differential|log|copy-only-full] [--wait]",
		Short: "Start an on-demand backup (the sqlvault.Backup workflow)",
		Example: `  sqlvault backup --instance SQLVM1 --database SalesDB --type full --wait
  sqlvault backup --instance 'SQLVM1\INST2' --database 'Ops]Log' --type log`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in.Type = protocol.BackupType(typ)
			if noCompression {
				off := false
				in.Compression = &off
			}
			if in.Reason == "" {
				in.Reason = "on-demand"
			}
			if cmd.Flags().Changed("stripes") && in.Stripes == 0 {
				return fmt.Errorf("--stripes must be between 1 and 64; leave it out to choose the count from the database size")
			}
			if err := errors.Join(in.Validate(), in.ValidateNames()); err != nil {
				return err
			}
			return startAndWatch(cmd, g, wait,
				func(ctx context.Context, tc client.Client, queue string) (client.WorkflowRun, error) {
					return StartBackup(ctx, tc, queue, in, cmd.ErrOrStderr(), wait)
				}, WaitBackup, func(w io.Writer, r *protocol.BackupResult) { printPoint(w, r.RecoveryPoint) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Instance, "instance", "", `SQL Server instance as @@SERVERNAME shows it ("VM" or "VM\INSTANCE")`)
	f.StringVar(&in.Database, "database", "", "database name")
	f.StringVar(&typ, "type", "full", "full, differential, log or copy-only-full")
	f.StringVar(&in.VM, "agent-vm", "", "VM whose agent runs it (default: the instance's machine name)")
	f.IntVar(&in.Stripes, "stripes", 0, "stripes (1-64; default from the database size)")
	f.BoolVar(&noCompression, "no-compression", false, "turn the agent's zstd compression off")
	f.StringVar(&in.Reason, "reason", "", "recorded on the recovery point (default on-demand)")
	f.BoolVar(&wait, "wait", false, "wait for the recovery point, with a progress bar")
	f.IntVar(&in.RetainDays, "retain-days", 0, "keep this on-demand backup this many days, whatever the policy (0: the policy decides)")
	return cmd
}

// StartBackup starts sqlvault.Backup with the workflow ID that keeps one data and one log
// backup per database, and the search attributes the UI filters by. When a backup of the
// same lane (data, or log) of the database is already running, it starts none and returns
// that one, saying so on notify: the backup asked for is already being taken, or the running
// one must end before another of its lane can start anyway.
func StartBackup(ctx context.Context, tc client.Client, queue string, in protocol.BackupInput, notify io.Writer, waiting bool) (client.WorkflowRun, error) {
	itemID := vault.ItemID(in.Instance, in.Database)
	id := protocol.BackupWorkflowID(itemID, in.Type)
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                       id,
		TaskQueue:                queue,
		WorkflowExecutionTimeout: 48 * time.Hour,
		// Without it, a start with the ID of a running workflow silently returns that one.
		WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			protocol.SAInstance.ValueSet(in.Instance), protocol.SADatabase.ValueSet(in.Database),
			protocol.SABackupType.ValueSet(string(in.Type)), protocol.SAVM.ValueSet(in.AgentVM())),
	}, protocol.WorkflowBackup, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if !errors.As(err, &started) {
		return run, err
	}
	what := fmt.Sprintf("a %s backup", in.Type.Lane())
	if typ := runningBackupType(ctx, tc, id, started.RunId); typ != "" {
		what = "a " + typ + " backup"
	}
	then := "not starting another; it ends before another " + in.Type.Lane() + " backup of the database can start"
	if waiting {
		then = "waiting for it instead of starting another"
	}
	fmt.Fprintf(notify, "%s of %s on %s is already running (workflow ID %s, run %s); %s\n",
		what, in.Database, in.Instance, id, started.RunId, then)
	return tc.GetWorkflow(ctx, id, started.RunId), nil
}

// runningBackupType is the type of the running backup (its search attribute), or "" when
// it cannot be told.
func runningBackupType(ctx context.Context, tc client.Client, id, runID string) string {
	d, err := tc.DescribeWorkflowExecution(ctx, id, runID)
	if err != nil {
		return ""
	}
	p := d.GetWorkflowExecutionInfo().GetSearchAttributes().GetIndexedFields()[protocol.SABackupType.GetName()]
	var typ string
	if p == nil || searchAttributeDecode(p, &typ) != nil {
		return ""
	}
	return typ
}

// WaitBackup waits for the workflow's result, drawing a progress bar from the progress
// query and the stream activity's heartbeats (one line per change when w is not a terminal).
func WaitBackup(ctx context.Context, tc client.Client, run client.WorkflowRun, w io.Writer, bar bool) (*protocol.BackupResult, error) {
	var res protocol.BackupResult
	if err := waitWithProgress(ctx, run, &res, w, bar, func() progress {
		octx, cancel := context.WithTimeout(ctx, observeTimeout)
		defer cancel()
		return backupProgress(octx, tc, run)
	}); err != nil {
		return nil, err
	}
	return &res, nil
}

// observeTimeout bounds one progress observation, so a server that stops answering does
// not freeze the wait loop (the wait itself is the SDK's to give up on).
const observeTimeout = 5 * time.Second

// waitWithProgress waits for a workflow's result into out, observing it twice a second
// while it runs and showing the observation on w (when show is set; see progressPrinter).
func waitWithProgress(ctx context.Context, run client.WorkflowRun, out any, w io.Writer, show bool, observe func() progress) error {
	done := make(chan error, 1)
	go func() { done <- run.Get(ctx, out) }()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	bar := newProgressPrinter(w)
	for {
		select {
		case err := <-done:
			if show {
				bar.done()
			}
			return explainIf(err)
		case <-tick.C:
			if show {
				bar.show(observe())
			}
		}
	}
}

func explainIf(err error) error {
	if err == nil {
		return nil
	}
	return explain(err)
}

func backupProgress(ctx context.Context, tc client.Client, run client.WorkflowRun) progress {
	var p protocol.BackupProgress
	if v, err := tc.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), protocol.QueryProgress); err == nil {
		_ = v.Get(&p)
	}
	var stream *workflowpb.PendingActivityInfo
	if d, err := tc.DescribeWorkflowExecution(ctx, run.GetID(), run.GetRunID()); err == nil {
		for _, pa := range d.PendingActivities {
			if pa.GetActivityType().GetName() == protocol.ActivityStreamBackup {
				stream = pa
			}
		}
	}
	return backupLine(p, stream)
}

// backupLine is the progress line of a backup in phase p whose stream activity is stream
// (nil when none is pending). The heartbeat details Temporal shows are the last ones
// recorded, by whichever attempt recorded them: after a failed attempt, until the next
// attempt's first heartbeat, they are the failed attempt's numbers, and are labelled so.
func backupLine(p protocol.BackupProgress, stream *workflowpb.PendingActivityInfo) progress {
	if p.Phase == "" {
		return progress{}
	}
	var sp protocol.StreamProgress
	attempt := int32(0)
	hasBeat, current := false, false
	if stream != nil {
		attempt = stream.GetAttempt()
		if hd := stream.GetHeartbeatDetails(); hd != nil && len(hd.Payloads) > 0 && temporalDecode(hd.Payloads[0], &sp) == nil {
			hasBeat = true
		}
		// Recorded since this attempt started: this attempt's own numbers.
		current = stream.GetState() == enumspb.PENDING_ACTIVITY_STATE_STARTED && stream.GetLastHeartbeatTime() != nil &&
			!stream.GetLastHeartbeatTime().AsTime().Before(stream.GetLastStartedTime().AsTime())
	}
	numbers := func() string {
		return fmt.Sprintf("%s read, %s stored", human(sp.Bytes), human(sp.Stored))
	}
	const width = 30
	bar := func(pct int) string {
		filled := pct * width / 100
		return strings.Repeat("#", filled) + strings.Repeat(".", width-filled)
	}
	if attempt > 1 && !current {
		// The next attempt has not reported yet: its bar starts empty, and what the failed
		// one reached is said as the previous attempt's.
		s := fmt.Sprintf("%-10s [%s] %3d%%  attempt %d starting", p.Phase, bar(0), 0, attempt)
		if hasBeat {
			s += fmt.Sprintf(" (attempt %d reached %d%%, %s)", attempt-1, sp.Percent, numbers())
		}
		return progress{State: fmt.Sprintf("%s/%d", p.Phase, attempt), Percent: 0, Line: s}
	}
	s := fmt.Sprintf("%-10s [%s] %3d%%  %s", p.Phase, bar(sp.Percent), sp.Percent, numbers())
	if attempt > 1 {
		s += fmt.Sprintf("  (attempt %d)", attempt)
	}
	return progress{State: fmt.Sprintf("%s/%d", p.Phase, attempt), Percent: sp.Percent, Line: s}
}

// explain turns a workflow failure into the named error's own message.
func explain(err error) error {
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return fmt.Errorf("%s: %s", ae.Type(), ae.Message())
	}
	return err
}

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
