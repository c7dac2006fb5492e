package workflows

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func controlCtx(ctx workflow.Context, nonRetryable ...string) workflow.Context {
	return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 10 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			MaximumAttempts: 20, NonRetryableErrorTypes: append(append([]string{}, protocol.UserErrors...), nonRetryable...)},
	})
}

var protectionErrors = []string{protocol.ErrPolicyNotFound, protocol.ErrInvalidPolicy, protocol.ErrVaultFull, protocol.ErrNotProtected}

// ConfigureProtection protects up to 50 databases of one instance with a policy: it
// discovers them on the VM's agent and checks each against the support rules (all or
// nothing: one unsupported database refuses the call, naming it and why), records the
// protected items in the vault, creates their Temporal Schedules, and takes each first full
// right away.
func ConfigureProtection(ctx workflow.Context, in protocol.ConfigureProtectionInput) (*protocol.ConfigureProtectionResult, error) {
	if len(in.Databases) > protocol.MaxDatabasesPerConfigure {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"%d databases in one call: configure at most %d at a time (split the list into calls of %d)",
			len(in.Databases), protocol.MaxDatabasesPerConfigure, protocol.MaxDatabasesPerConfigure), protocol.ErrTooManyDatabases, nil)
	}
	if in.VM == "" || in.Instance == "" || in.Policy == "" || len(in.Databases) == 0 {
		return nil, temporal.NewNonRetryableApplicationError(`invalid input: "vm", "instance", "policy" and at least one of "databases" are required`,
			protocol.ErrInvalidInput, nil)
	}
	cctx := controlCtx(ctx, protectionErrors...)
	var p policy.Policy
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityLoadPolicy, in.Policy).Get(ctx, &p); err != nil {
		return nil, err
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: protocol.AgentTaskQueue(in.VM),
		ScheduleToCloseTimeout: agentWait, StartToCloseTimeout: prepareTimeout,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute,
			NonRetryableErrorTypes: protocol.UserErrors}})
	var inv protocol.InquiryResult
	if err := workflow.ExecuteActivity(actx, protocol.ActivityDiscover, protocol.InquiryInput{VM: in.VM}).Get(ctx, &inv); err != nil {
		return nil, err
	}
	chosen, err := pickDatabases(inv, in)
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityRegisterItems, protocol.RegisterItemsInput{
		VM: in.VM, Instance: in.Instance, Policy: in.Policy, Databases: chosen}).Get(ctx, &ids); err != nil {
		return nil, err
	}
	res := &protocol.ConfigureProtectionResult{}
	for i, d := range chosen {
		var sr protocol.EnsureSchedulesResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: ids[i]}).Get(ctx, &sr); err != nil {
			return nil, err
		}
		res.Protected = append(res.Protected, protocol.ProtectedDatabase{Database: d.Name, ItemID: ids[i], Schedules: sr.Schedules})
	}
	if in.SkipFirstFull {
		return res, nil
	}
	// First fulls, in parallel; a failure leaves protection in place (the schedule retries).
	futures := make([]workflow.ChildWorkflowFuture, len(chosen))
	for i, d := range chosen {
		cw := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s-first-full-%s", protocol.BackupWorkflowID(ids[i], protocol.Full), shortRunID(workflow.GetInfo(ctx).WorkflowExecution.RunID)),
		})
		compression := p.Compression
		futures[i] = workflow.ExecuteChildWorkflow(cw, protocol.WorkflowBackup, protocol.BackupInput{Instance: in.Instance, Database: d.Name,
			Type: protocol.Full, VM: in.VM, Compression: &compression, Reason: "first full after configure protection"})
	}
	for i, f := range futures {
		var br protocol.BackupResult
		if err := f.Get(ctx, &br); err != nil {
			res.Protected[i].FirstFullError = err.Error()
			continue
		}
		rp := br.RecoveryPoint
		res.Protected[i].FirstFull = &rp
	}
	return res, nil
}

// pickDatabases matches the requested names to what the agent discovered and applies the
// support rules: every refusal is reported at once, and nothing is protected then.
func pickDatabases(inv protocol.InquiryResult, in protocol.ConfigureProtectionInput) ([]protocol.DatabaseInfo, error) {
	var inst *protocol.InstanceInfo
	for i := range inv.Instances {
		if strings.EqualFold(inv.Instances[i].Name, in.Instance) {
			inst = &inv.Instances[i]
		}
	}
	if inst == nil {
		return nil, temporal.NewNonRetryableApplicationError(fmt.Sprintf("the agent on %s does not manage instance %s", in.VM, in.Instance),
			protocol.ErrInstanceNotManaged, nil)
	}
	byName := map[string]protocol.DatabaseInfo{}
	for _, d := range inst.Databases {
		byName[strings.ToUpper(d.Name)] = d
	}
	var chosen []protocol.DatabaseInfo
	var refused []string
	seen := map[string]bool{}
	for _, name := range in.Databases {
		d, ok := byName[strings.ToUpper(name)]
		switch {
		case !ok:
			refused = append(refused, fmt.Sprintf("%s: no such database on %s", name, in.Instance))
		case !d.Protectable:
			refused = append(refused, fmt.Sprintf("%s: %s", d.Name, strings.Join(d.Reasons, "; ")))
		case seen[d.ItemID]:
		default:
			seen[d.ItemID] = true
			chosen = append(chosen, d)
		}
	}
	if len(refused) > 0 {
		sort.Strings(refused)
		return nil, temporal.NewNonRetryableApplicationError("these databases cannot be protected (nothing was changed; remove them from the list): "+
			strings.Join(refused, " | "), protocol.ErrDatabaseNotSupported, nil)
	}
	return chosen, nil
}

// StopProtection removes an item's schedules first, then either keeps its recovery points
// forever (stopped-retain) or deletes them through retention (stopped-delete): data is
// only deleted once nothing can add to it any more.
func StopProtection(ctx workflow.Context, in protocol.StopProtectionInput) error {
	item := vault.ItemID(in.Instance, in.Database)
	cctx := controlCtx(ctx, protectionErrors...)
	var sr protocol.EnsureSchedulesResult
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: item, Remove: true}).Get(ctx, &sr); err != nil {
		return err
	}
	state := vault.ItemStoppedRetain
	if in.DeleteData {
		state = vault.ItemStoppedDelete
	}
	if err := workflow.ExecuteActivity(cctx, protocol.ActivitySetItemState, protocol.SetItemStateInput{ItemID: item, State: state}).Get(ctx, nil); err != nil {
		return err
	}
	if in.DeleteData {
		var rr protocol.ApplyRetentionResult
		return workflow.ExecuteActivity(cctx, protocol.ActivityApplyRetention, protocol.ApplyRetentionInput{ItemID: item}).Get(ctx, &rr)
	}
	return nil
}

// ResumeProtection protects a stopped (retain) item again and recreates its schedules.
func ResumeProtection(ctx workflow.Context, in protocol.ResumeProtectionInput) error {
	item := vault.ItemID(in.Instance, in.Database)
	cctx := controlCtx(ctx, protectionErrors...)
	if err := workflow.ExecuteActivity(cctx, protocol.ActivitySetItemState, protocol.SetItemStateInput{ItemID: item, State: vault.ItemProtected}).Get(ctx, nil); err != nil {
		return err
	}
	var sr protocol.EnsureSchedulesResult
	return workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: item}).Get(ctx, &sr)
}

// Retention deletes every expired recovery point of every item (never one a kept point
// needs), then sweeps unreferenced blobs. With dryRun it only lists what it would delete.
func Retention(ctx workflow.Context, in protocol.RetentionInput) (*protocol.RetentionResult, error) {
	cctx := controlCtx(ctx, protectionErrors...)
	items := in.Items
	if len(items) == 0 {
		var all []vault.ProtectedItem
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityListItems).Get(ctx, &all); err != nil {
			return nil, err
		}
		for _, it := range all {
			items = append(items, it.ItemID)
		}
	}
	res := &protocol.RetentionResult{DryRun: in.DryRun}
	for _, item := range items {
		var ar protocol.ApplyRetentionResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityApplyRetention, protocol.ApplyRetentionInput{ItemID: item, DryRun: in.DryRun}).Get(ctx, &ar); err != nil {
			return nil, err
		}
		res.Deleted = append(res.Deleted, ar.Deleted...)
		res.Kept += ar.Kept
	}
	var sw protocol.RetentionResult
	if err := workflow.ExecuteActivity(cctx, protocol.ActivitySweep, in).Get(ctx, &sw); err != nil {
		return nil, err
	}
	res.SweptBlobs, res.SweptBytes = sw.SweptBlobs, sw.SweptBytes
	return res, nil
}

// Reconcile rebuilds every item's schedules from the vault (after losing Temporal's
// database, or after drift): protected items get their policy's schedules, stopped items
// none.
func Reconcile(ctx workflow.Context) (*protocol.ReconcileResult, error) {
	cctx := controlCtx(ctx, protectionErrors...)
	var all []vault.ProtectedItem
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityListItems).Get(ctx, &all); err != nil {
		return nil, err
	}
	res := &protocol.ReconcileResult{Items: len(all)}
	for _, it := range all {
		var sr protocol.EnsureSchedulesResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{
			ItemID: it.ItemID, Remove: it.State != vault.ItemProtected}).Get(ctx, &sr); err != nil {
			return nil, err
		}
		res.Created += sr.Created
		res.Deleted += sr.Deleted
	}
	return res, nil
}
