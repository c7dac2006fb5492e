package starter

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// drillLine is one item's last restore drill, as `drills` and `status` show it.
type drillLine struct {
	Instance string `json:"instance"`
	Database string `json:"database"`
	// Last is the newest drill (nil: never drilled); LastPassed the newest that passed.
	Last       *protocol.DrillRecord `json:"last,omitempty"`
	LastPassed *time.Time            `json:"lastPassed,omitempty"`
}

func newDrillsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "drills",
		Short: "Each item's last restore drill: when, outcome, the point it proved, restore time (measured RTO), DBCC CHECKDB's verdict",
		Long: `drills reads each item's drill records from the vault (they are stored beside its recovery
points, so they survive the loss of the control plane). "drills run" drills one database now;
"drills planner" starts by hand the planner that runs the drills policies ask for (control
workers start it themselves unless drillPlanner.off is set).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			repo, _, err := g.vault(ctx)
			if err != nil {
				return err
			}
			lines, err := drillLines(ctx, repo)
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), lines)
			}
			return printDrills(cmd.OutOrStdout(), lines)
		},
	}
	cmd.AddCommand(newDrillRunCmd(g), newDrillPlannerCmd(g))
	return cmd
}

// drillLines is every item's last drill: one listing per item, at most two reads.
func drillLines(ctx context.Context, repo *vault.Repository) ([]drillLine, error) {
	items, err := repo.Items(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]drillLine, 0, len(items))
	for _, it := range items {
		l := drillLine{Instance: it.Instance, Database: it.Database}
		last, passed, err := repo.LastDrills(ctx, it.ItemID)
		if err != nil {
			return nil, fmt.Errorf("drills of %s on %s: %w", it.Database, it.Instance, err)
		}
		l.Last = last
		if passed != nil {
			t := passed.FinishedAt
			l.LastPassed = &t
		}
		out = append(out, l)
	}
	return out, nil
}

func printDrills(w io.Writer, lines []drillLine) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INSTANCE\tDATABASE\tLAST DRILL\tOUTCOME\tON\tPOINT\tRESTORE (RTO)\tLAST PASSED\tCHECKDB / ERROR")
	for _, l := range lines {
		d := l.Last
		if d == nil {
			fmt.Fprintf(tw, "%s\t%s\tnever\t-\t-\t-\t-\t-\t-\n", l.Instance, l.Database)
			continue
		}
		passed := "-"
		if l.LastPassed != nil {
			passed = l.LastPassed.UTC().Format("2006-01-02 15:04")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.Instance, l.Database, d.StartedAt.UTC().Format("2006-01-02 15:04"),
			d.Outcome, d.TargetInstance, orDash(drillPoint(d)), drillRTO(d), passed, orDash(drillVerdict(d)))
	}
	return tw.Flush()
}

// drillPoint is what the drill restored: its point, and the instant for a random-instant drill.
func drillPoint(d *protocol.DrillRecord) string {
	if d.At != nil && d.PointID != "" {
		return d.PointID + " @ " + d.At.UTC().Format(time.RFC3339)
	}
	return d.PointID
}

func drillRTO(d *protocol.DrillRecord) string {
	if d.RestoreSeconds <= 0 {
		return "-"
	}
	return (time.Duration(d.RestoreSeconds * float64(time.Second))).Round(time.Second).String()
}

// drillVerdict is CHECKDB's verdict, or why the drill failed before it ran.
func drillVerdict(d *protocol.DrillRecord) string {
	if d.CheckDB != "" {
		return d.CheckDB
	}
	return d.Error
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func newDrillRunCmd(g *globals) *cobra.Command {
	var in protocol.RestoreDrillInput
	var wait bool
	cmd := &cobra.Command{
		Use:   "run --instance NAME --database DB [--pick newest|randomInstant --days N] [--to-instance NAME --to-vm VM] [--wait]",
		Short: "Drill one database now: restore it as a scratch database, run DBCC CHECKDB, record, drop (sqlvault.RestoreDrill)",
		Example: `  sqlvault drills run --instance SQLVM1 --database SalesDB --wait
  sqlvault drills run --instance SQLVM1 --database SalesDB --pick randomInstant --days 7 --to-instance 'DRILLVM\SCRATCH' --to-vm DRILLVM --wait`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(in.Validate(), in.ValidateNames()); err != nil {
				return err
			}
			return startAndWatch(cmd, g, wait,
				func(ctx context.Context, tc client.Client, queue string) (client.WorkflowRun, error) {
					return StartRestoreDrill(ctx, tc, queue, in)
				}, waitDrill, printDrillRecord)
		},
	}
	f := cmd.Flags()
	f.StringVar(&in.Instance, "instance", "", "instance of the protected database")
	f.StringVar(&in.Database, "database", "", "the protected database")
	f.StringVar(&in.Pick, "pick", protocol.DrillPickNewest, "what to restore: newest (the newest recovery point) or randomInstant (an instant of the last --days days)")
	f.IntVar(&in.RandomInstantDays, "days", 0, "with --pick randomInstant: how many days back the instant may lie")
	f.StringVar(&in.TargetInstance, "to-instance", "", "restore the scratch database on this registered instance (default: the database's own)")
	f.StringVar(&in.TargetVM, "to-vm", "", "VM of the target instance's agent (default: its machine name)")
	f.BoolVar(&wait, "wait", false, "wait for the drill and show its record")
	return cmd
}

// StartRestoreDrill starts sqlvault.RestoreDrill under the item's drill workflow ID (one
// drill per item at a time, whoever starts it: a person or the planner).
func StartRestoreDrill(ctx context.Context, tc client.Client, queue string, in protocol.RestoreDrillInput) (client.WorkflowRun, error) {
	id := protocol.DrillWorkflowID(vault.ItemID(in.Instance, in.Database))
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: id, TaskQueue: queue, WorkflowExecutionTimeout: 72 * time.Hour, WorkflowExecutionErrorWhenAlreadyStarted: true,
		TypedSearchAttributes: temporal.NewSearchAttributes(protocol.SAInstance.ValueSet(in.Instance), protocol.SADatabase.ValueSet(in.Database)),
	}, protocol.WorkflowRestoreDrill, in)
	var started *serviceerror.WorkflowExecutionAlreadyStarted
	if errors.As(err, &started) {
		return nil, fmt.Errorf("a drill of %s is already running (workflow %s): wait for it, or cancel it with `temporal workflow cancel --workflow-id %s` (its scratch database is dropped)", in.Database, id, id)
	}
	return run, err
}

// waitDrill waits for a drill. A failed drill is still a result to show: its record comes
// in the error's details, and the command fails after printing it.
func waitDrill(ctx context.Context, _ client.Client, run client.WorkflowRun, w io.Writer, _ bool) (*protocol.DrillRecord, error) {
	var rec protocol.DrillRecord
	err := run.Get(ctx, &rec)
	if err == nil {
		return &rec, nil
	}
	var appErr *temporal.ApplicationError
	if errors.As(err, &appErr) && appErr.Type() == protocol.ErrDrillFailed && appErr.HasDetails() && appErr.Details(&rec) == nil {
		printDrillRecord(w, &rec)
		return nil, fmt.Errorf("restore drill of %s FAILED: %s", rec.Database, drillVerdict(&rec))
	}
	return nil, err
}

func printDrillRecord(w io.Writer, d *protocol.DrillRecord) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "drill\t%s of %s on %s\n", d.Outcome, d.Database, d.Instance)
	fmt.Fprintf(tw, "restored\t%s as %s on %s\n", orDash(drillPoint(d)), orDash(d.ScratchDatabase), d.TargetInstance)
	fmt.Fprintf(tw, "restore time (RTO)\t%s\n", drillRTO(d))
	if d.CheckDB != "" {
		fmt.Fprintf(tw, "DBCC CHECKDB\t%s\n", d.CheckDB)
	}
	if d.Error != "" {
		fmt.Fprintf(tw, "error\t%s\n", d.Error)
	}
	_ = tw.Flush()
}

func newDrillPlannerCmd(g *globals) *cobra.Command {
	var every time.Duration
	cmd := &cobra.Command{
		Use:   "planner [--every 5m]",
		Short: "Start the drill planner (sqlvault.DrillPlanner, one per namespace; control workers start it too) that runs the drills policies ask for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			tc, cfg, err := g.temporal(ctx)
			if err != nil {
				return err
			}
			defer tc.Close()
			run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID: protocol.DrillPlannerWorkflowID, TaskQueue: cfg.Temporal.ControlTaskQueue,
			}, protocol.WorkflowDrillPlanner, protocol.DrillPlannerInput{Every: every})
			if err != nil {
				return err
			}
			// Starting it again returns the running planner: one per namespace.
			fmt.Fprintf(cmd.OutOrStdout(), "drill planner %s running (run %s)\n", run.GetID(), run.GetRunID())
			return nil
		},
	}
	cmd.Flags().DurationVar(&every, "every", 0, "how often the planner looks for due drills (default 5m)")
	return cmd
}
