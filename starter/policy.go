package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

func newPolicyCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Create, show and list backup policies (stored in the vault)"}
	var file string
	var replace, noReconcile bool
	create := &cobra.Command{
		Use:     "create --file policy.json [--replace]",
		Aliases: []string{"edit"},
		Short:   "Create a policy from a JSON file, or replace one (edit, or --replace); validated, every problem reported at once",
		Long: `create validates the policy and stores it in the vault through the sqlvault.PutPolicy workflow.
Storing the content the vault already holds succeeds without a change. A policy of that name
with other content is replaced only by "policy edit" or "policy create --replace"; otherwise
the command fails with PolicyExists. Replacing a policy re-plans the schedules of every item
that uses it (sqlvault.Reconcile) unless --no-reconcile.`,
		Example: `  {"name": "daily-30d", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
   "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}, "compression": true}`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := readPolicyFile(file)
			if err != nil {
				return err
			}
			in.Replace = replace || cmd.CalledAs() == "edit"
			ctx := cmd.Context()
			tc, cfg, err := g.temporal(ctx)
			if err != nil {
				return err
			}
			defer tc.Close()
			res, err := PutPolicy(ctx, tc, cfg.Temporal.ControlTaskQueue, in)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			report := map[string]any{"name": res.Name, "outcome": res.Outcome}
			if !g.jsonOut {
				fmt.Fprintf(out, "policy %s saved (%s)\n", res.Name, res.Outcome)
			}
			// A policy that existed (replaced, or found unchanged — perhaps by the retry of a
			// replace whose result was lost) may have items whose schedules follow the old one.
			if res.Outcome != protocol.PolicyCreated && !noReconcile {
				var rr protocol.ReconcileResult
				id := fmt.Sprintf("sqlvault-reconcile-%d", time.Now().UnixNano())
				if err := g.runWorkflow(ctx, id, protocol.WorkflowReconcile, nil, &rr); err != nil {
					return fmt.Errorf("policy saved, but re-planning the schedules failed (run `sqlvault reconcile`): %w", err)
				}
				report["replannedItems"] = rr.Items
				if !g.jsonOut {
					fmt.Fprintf(out, "schedules re-planned for %d item(s)\n", rr.Items)
				}
			}
			if g.jsonOut {
				return g.printJSON(out, report)
			}
			return nil
		},
	}
	create.Flags().StringVar(&file, "file", "", "JSON policy document")
	create.Flags().BoolVar(&replace, "replace", false, "replace a policy of that name that has other content (what `policy edit` does)")
	create.Flags().BoolVar(&noReconcile, "no-reconcile", false, "do not re-plan the schedules of items using a replaced policy")
	show := &cobra.Command{
		Use:  "show NAME",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			repo, _, err := g.vault(cmd.Context())
			if err != nil {
				return err
			}
			doc, err := repo.Policy(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(append(doc, '\n'))
			return err
		},
	}
	list := &cobra.Command{
		Use: "list",
		RunE: func(cmd *cobra.Command, _ []string) error {
			repo, _, err := g.vault(cmd.Context())
			if err != nil {
				return err
			}
			names, err := repo.Policies(cmd.Context())
			if err != nil {
				return err
			}
			if g.jsonOut {
				return g.printJSON(cmd.OutOrStdout(), names)
			}
			for _, n := range names {
				fmt.Fprintln(cmd.OutOrStdout(), n)
			}
			return nil
		},
	}
	cmd.AddCommand(create, show, list)
	return cmd
}

// readPolicyFile reads and checks a policy file before anything is contacted, so a mistake
// is reported at once with every problem; the PutPolicy activity checks it again.
func readPolicyFile(file string) (protocol.PutPolicyInput, error) {
	if file == "" {
		return protocol.PutPolicyInput{}, errors.New("give the policy document with --file")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return protocol.PutPolicyInput{}, err
	}
	var p policy.Policy
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return protocol.PutPolicyInput{}, fmt.Errorf("%s: %w", file, err)
	}
	if err := p.Validate(); err != nil {
		return protocol.PutPolicyInput{}, fmt.Errorf("policy %s is not valid:\n%w", p.Name, err)
	}
	doc, err := json.Marshal(p)
	if err != nil {
		return protocol.PutPolicyInput{}, err
	}
	return protocol.PutPolicyInput{Name: p.Name, Document: doc}, nil
}

// putPolicyStarts bounds how many times PutPolicy waits for another write of the same
// policy and starts again, so two writers that keep colliding end with an error.
const putPolicyStarts = 10

// PutPolicy runs sqlvault.PutPolicy and waits for its result. Its workflow ID is the
// policy's: while another write of the same policy runs, Temporal refuses the start; this
// waits for that write to end and starts again, so concurrent writes of one policy apply one
// after the other (and the later one is judged against what the earlier one stored).
func PutPolicy(ctx context.Context, tc client.Client, queue string, in protocol.PutPolicyInput) (*protocol.PutPolicyResult, error) {
	id := protocol.PutPolicyWorkflowID(in.Name)
	for range putPolicyStarts {
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue,
			WorkflowExecutionTimeout: 30 * time.Minute, WorkflowExecutionErrorWhenAlreadyStarted: true}, protocol.WorkflowPutPolicy, in)
		var started *serviceerror.WorkflowExecutionAlreadyStarted
		if errors.As(err, &started) {
			// Its outcome is its starter's to report; only its end matters here.
			_ = tc.GetWorkflow(ctx, id, "").Get(ctx, nil)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		var res protocol.PutPolicyResult
		if err := run.Get(ctx, &res); err != nil {
			return nil, explain(err)
		}
		return &res, nil
	}
	return nil, fmt.Errorf("policy %s: other writes of it kept running (workflow %s); try again", in.Name, id)
}
