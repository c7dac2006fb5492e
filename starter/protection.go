package starter

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// runWorkflow starts a workflow on the control queue and waits for its result.
func (g *globals) runWorkflow(ctx context.Context, id, workflowType string, in any, out any) error {
	tc, cfg, err := g.temporal(ctx)
	if err != nil {
		return err
	}
	defer tc.Close()
	run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: cfg.Temporal.ControlTaskQueue,
		WorkflowExecutionTimeout: 24 * time.Hour}, workflowType, in)
	if err != nil {
		return err
	}
	if err := run.Get(ctx, out); err != nil {
		return explain(err)
	}
	return nil
}

func newProtectCmd(g *globals) *cobra.Command {
	var in protocol.ConfigureProtectionInput
	cmd := &cobra.Command{
		Use:   "protect --vm VM --instance NAME --policy POLICY (DB [DB …] | --auto-protect)",
		Short: "Protect up to 50 databases with a policy, or a whole instance (sqlvault.ConfigureProtection)",
		RunE: func(cmd *cobra.Command, args []string) error {
			in.Databases = args
			if in.VM == "" {
				in.VM, _, _ = strings.Cut(in.Instance, `\`)
			}
			if err := in.ValidateNames(); err != nil {
				return err
			}
			var res protocol.ConfigureProtectionResult
			id := fmt.Sprintf("sqlvault-configure-%s-%d", strings.ToLower(in.VM), time.Now().UnixNano())
			if err := g.runWorkflow(cmd.Context(), id, protocol.WorkflowConfigureProtection, in, &res); err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), res)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "DATABASE\tITEM\tSCHEDULES\tFIRST FULL")
			for _, p := range res.Protected {
				first := p.FirstFullError
				if p.FirstFull != nil {
					first = p.FirstFull.PointID
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Database, p.ItemID, strings.Join(p.Schedules, ","), first)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&in.VM, "vm", "", "the VM whose agent manages the instance (default: its machine name)")
	cmd.Flags().StringVar(&in.Instance, "instance", "", "instance (@@SERVERNAME)")
	cmd.Flags().StringVar(&in.Policy, "policy", "", "policy name")
	cmd.Flags().BoolVar(&in.SkipFirstFull, "skip-first-full", false, "let the schedule take the first full")
	cmd.Flags().BoolVar(&in.AutoProtect, "auto-protect", false, "protect every database of the instance, now and as new ones appear")
	return cmd
}

func newUnprotectCmd(g *globals) *cobra.Command {
	var in protocol.StopProtectionInput
	cmd := &cobra.Command{
		Use:   "unprotect --instance NAME --database DB [--delete-data]",
		Short: "Stop protection: keep the recovery points forever, or delete them (sqlvault.StopProtection)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := in.ValidateNames(); err != nil {
				return err
			}
			id := "sqlvault-stop-" + vault.ItemID(in.Instance, in.Database)
			var res protocol.StopProtectionResult
			if err := g.runWorkflow(cmd.Context(), id, protocol.WorkflowStopProtection, in, &res); err != nil {
				return err
			}
			what := "recovery points kept"
			switch {
			case in.DeleteData && res.DeleteAfter != nil:
				what = fmt.Sprintf("recovery points deleted by the first retention run after %s (soft delete); until then `sqlvault resume --instance %s --database %s` undoes it",
					res.DeleteAfter.UTC().Format(time.RFC3339), in.Instance, in.Database)
			case in.DeleteData:
				what = "recovery points deleted"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "protection of %s stopped; %s\n", in.Database, what)
			return nil
		},
	}
	cmd.Flags().StringVar(&in.Instance, "instance", "", "instance")
	cmd.Flags().StringVar(&in.Database, "database", "", "database")
	cmd.Flags().BoolVar(&in.DeleteData, "delete-data", false, "delete every recovery point of the database, after the control worker's soft-delete period (retention.softDeleteDays, default 14 days)")
	return cmd
}

func newResumeCmd(g *globals) *cobra.Command {
	var in protocol.ResumeProtectionInput
	cmd := &cobra.Command{
		Use:   "resume --instance NAME --database DB",
		Short: "Resume protection stopped with retain, or stopped with delete within its soft-delete period (sqlvault.ResumeProtection)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := in.ValidateNames(); err != nil {
				return err
			}
			id := "sqlvault-resume-" + vault.ItemID(in.Instance, in.Database)
			if err := g.runWorkflow(cmd.Context(), id, protocol.WorkflowResumeProtection, in, nil); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "protection of %s resumed\n", in.Database)
			return nil
		},
	}
	cmd.Flags().StringVar(&in.Instance, "instance", "", "instance")
	cmd.Flags().StringVar(&in.Database, "database", "", "database")
	return cmd
}

func newRetentionCmd(g *globals) *cobra.Command {
	var in protocol.RetentionInput
	cmd := &cobra.Command{
		Use:   "retention [--dry-run]",
		Short: "Delete expired recovery points and unreferenced blobs (sqlvault.Retention); --dry-run lists them",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res protocol.RetentionResult
			id := fmt.Sprintf("sqlvault-retention-%d", time.Now().UnixNano())
			if err := g.runWorkflow(cmd.Context(), id, protocol.WorkflowRetention, in, &res); err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), res)
			}
			printRetention(cmd.OutOrStdout(), res)
			return failedItems(cmd, "retention", res.Failed)
		},
	}
	cmd.Flags().BoolVar(&in.DryRun, "dry-run", false, "only list what would be deleted")
	return cmd
}

func newReconcileCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "reconcile",
		Short: "Rebuild every protected item's Temporal Schedules from the vault (sqlvault.Reconcile)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var res protocol.ReconcileResult
			id := fmt.Sprintf("sqlvault-reconcile-%d", time.Now().UnixNano())
			if err := g.runWorkflow(cmd.Context(), id, protocol.WorkflowReconcile, nil, &res); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d item(s): %d schedule(s) created, %d deleted\n", res.Items, res.Created, res.Deleted)
			return failedItems(cmd, "reconcile", res.Failed)
		},
	}
}

// failedItems reports the items a run could not process (the others were) and makes the
// command fail, so that a script notices.
func failedItems(cmd *cobra.Command, what string, failed []protocol.RetentionFailure) error {
	if len(failed) == 0 {
		return nil
	}
	for _, f := range failed {
		item := f.ItemID
		if item == "" {
			item = "(listing)"
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "failed %s: %s\n", item, f.Error)
	}
	return fmt.Errorf("%s could not process %d item(s) (listed above); the others were processed", what, len(failed))
}

// printRetention writes what a retention run deleted (or would delete) and the totals.
func printRetention(out io.Writer, res protocol.RetentionResult) {
	verb := "deleted"
	if res.DryRun {
		verb = "would delete"
	}
	for _, d := range res.Deleted {
		fmt.Fprintf(out, "%s %s/%s: %s\n", verb, d.ItemID, d.PointID, strings.Join(d.Reasons, "; "))
	}
	// A paged run lists at most protocol.MaxListedDecisions points; DeletedCount counts
	// them all (0 in results from before paging, which list every one).
	total := max(res.DeletedCount, len(res.Deleted))
	if total > len(res.Deleted) {
		fmt.Fprintf(out, "(%d more not listed: the result lists the first %d)\n", total-len(res.Deleted), len(res.Deleted))
	}
	fmt.Fprintf(out, "%d recovery point(s) %s, %d kept; %d unreferenced blob(s) %s\n", total, verb, res.Kept, len(res.SweptBlobs), verb)
}
