package starter

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

func newDiscoverCmd(g *globals) *cobra.Command {
	var in protocol.InquiryInput
	cmd := &cobra.Command{
		Use:   "discover --vm NAME",
		Short: "Discover a VM's SQL Server instances and databases, and what of them can be protected (sqlvault.Inquiry)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if in.VM == "" {
				return fmt.Errorf("name the VM with --vm (its agent polls sqlvault-agent-<vm>)")
			}
			if err := in.ValidateNames(); err != nil {
				return err
			}
			ctx := cmd.Context()
			tc, cfg, err := g.temporal(ctx)
			if err != nil {
				return err
			}
			defer tc.Close()
			run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
				ID:        "sqlvault-inquiry-" + strings.ToLower(in.VM) + "-" + time.Now().UTC().Format("20060102T150405"),
				TaskQueue: cfg.Temporal.ControlTaskQueue, WorkflowExecutionTimeout: 30 * time.Minute,
			}, protocol.WorkflowInquiry, in)
			if err != nil {
				return err
			}
			var res protocol.InquiryResult
			if err := run.Get(ctx, &res); err != nil {
				return explain(err)
			}
			out := cmd.OutOrStdout()
			if g.jsonOut {
				return g.printJSON(out, res)
			}
			for _, inst := range res.Instances {
				fmt.Fprintf(out, "%s  (%s, %s; login %s)\n", inst.Name, inst.ProductVersion, inst.Edition, inst.Login)
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "  DATABASE\tSTATE\tRECOVERY\tSIZE\tAG\tPROTECTABLE\tBACKUP TYPES / WHY NOT")
				for _, d := range inst.Databases {
					ag := "-"
					if d.AG != nil {
						ag = d.AG.Name + " (" + d.AG.Preference + ")"
					}
					note := strings.Join(d.Reasons, "; ")
					if d.Protectable {
						types := make([]string, len(d.BackupTypes))
						for i, t := range d.BackupTypes {
							types[i] = string(t)
						}
						note = strings.Join(types, ", ")
					}
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%v\t%s\n", d.Name, d.State, d.RecoveryModel, human(d.SizeBytes), ag, d.Protectable, note)
				}
				if err := tw.Flush(); err != nil {
					return err
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&in.VM, "vm", "", "the VM whose agent to ask")
	return cmd
}
