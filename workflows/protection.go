package workflows

import (
	"fmt"
	"sort"
	"strings"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

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
	if in.VM == "" || in.Instance == "" || in.Policy == "" || (len(in.Databases) == 0 && !in.AutoProtect) {
		return nil, temporal.NewNonRetryableApplicationError(`invalid input: "vm", "instance", "policy" and at least one of "databases" (or "autoProtect") are required`,
			protocol.ErrInvalidInput, nil)
	}
	cctx := controlCtx(ctx, protectionErrors...)
	var p protocol.Policy
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityLoadPolicy, in.Policy).Get(ctx, &p); err != nil {
		return nil, err
	}
	if err := checkAgent(ctx, in.VM); err != nil {
		return nil, err
	}
	actx := agentStepCtx(ctx, in.VM, 0, protocol.UserErrors)
	var inv protocol.InquiryResult
	if err := workflow.ExecuteActivity(actx, protocol.ActivityDiscover, protocol.InquiryInput{VM: in.VM}).Get(ctx, &inv); err != nil {
		return nil, err
	}
	var chosen []protocol.DatabaseInfo
	if in.AutoProtect && len(in.Databases) == 0 {
		chosen = protectable(inv, in.Instance, nil)
	} else {
		var err error
		if chosen, err = pickDatabases(inv, in); err != nil {
			return nil, err
		}
	}
	if in.AutoProtect {
		var list []protocol.AutoProtectedInstance
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityAutoProtection, protocol.AutoProtectionInput{
			VM: in.VM, Instance: in.Instance, Policy: in.Policy}).Get(ctx, &list); err != nil {
			return nil, err
		}
	}
	protected, err := protect(ctx, in.VM, in.Instance, in.Policy, p.Compression, chosen, !in.SkipFirstFull, "first full after configure protection")
	if err != nil {
		return nil, err
	}
	return &protocol.ConfigureProtectionResult{Protected: protected}, nil
}

// protect records the databases as protected items, creates their schedules and, if asked,
// takes each first full (in parallel; a failure leaves protection in place, the schedule
// retries).
func protect(ctx workflow.Context, vm, instance, policyName string, compression bool, dbs []protocol.DatabaseInfo, firstFull bool, reason string) ([]protocol.ProtectedDatabase, error) {
	if len(dbs) == 0 {
		return nil, nil
	}
	cctx := controlCtx(ctx, protectionErrors...)
	var ids []string
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityRegisterItems, protocol.RegisterItemsInput{
		VM: vm, Instance: instance, Policy: policyName, Databases: dbs}).Get(ctx, &ids); err != nil {
		return nil, err
	}
	var out []protocol.ProtectedDatabase
	if workflow.GetVersion(ctx, "concurrent-schedules", workflow.DefaultVersion, 1) == 1 {
		// Each item's schedules are independent of the others': ask for all of them at once,
		// so that a call of 50 costs a few workflow tasks rather than 50 round trips through
		// the server (measured in BENCHMARKS.md, item 5). The first failure, in item order,
		// fails the call as before; items whose schedules were made keep them, and Reconcile
		// (or running the call again) completes the rest.
		futures := make([]workflow.Future, len(dbs))
		for i := range dbs {
			futures[i] = workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: ids[i]})
		}
		for i, d := range dbs {
			var sr protocol.EnsureSchedulesResult
			if err := futures[i].Get(ctx, &sr); err != nil {
				return nil, err
			}
			out = append(out, protocol.ProtectedDatabase{Database: d.Name, ItemID: ids[i], Schedules: sr.Schedules})
		}
	} else {
		for i, d := range dbs {
			var sr protocol.EnsureSchedulesResult
			if err := workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: ids[i]}).Get(ctx, &sr); err != nil {
				return nil, err
			}
			out = append(out, protocol.ProtectedDatabase{Database: d.Name, ItemID: ids[i], Schedules: sr.Schedules})
		}
	}
	if !firstFull {
		return out, nil
	}
	tag := runTag(ctx)
	futures := make([]workflow.ChildWorkflowFuture, len(dbs))
	for i, d := range dbs {
		cw := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID: fmt.Sprintf("%s-first-full-%s", protocol.BackupWorkflowID(ids[i], protocol.Full), tag),
		})
		c := compression
		futures[i] = workflow.ExecuteChildWorkflow(cw, protocol.WorkflowBackup, protocol.BackupInput{Instance: instance, Database: d.Name,
			Type: protocol.Full, VM: vm, Compression: &c, Reason: reason})
	}
	for i, f := range futures {
		var br protocol.BackupResult
		if err := f.Get(ctx, &br); err != nil {
			out[i].FirstFullError = err.Error()
			continue
		}
		rp := br.RecoveryPoint
		out[i].FirstFull = &rp
	}
	return out, nil
}

// protectable returns the instance's protectable databases, less those in skip.
func protectable(inv protocol.InquiryResult, instance string, skip map[string]bool) []protocol.DatabaseInfo {
	var out []protocol.DatabaseInfo
	for _, inst := range inv.Instances {
		if !strings.EqualFold(inst.Name, instance) {
			continue
		}
		for _, d := range inst.Databases {
			if d.Protectable && !skip[d.ItemID] {
				out = append(out, d)
			}
		}
	}
	return out
}

// Rediscover runs discovery on every auto-protected instance and protects the databases
// created since (a Temporal Schedule runs it; ConfigureProtection with autoProtect creates
// that schedule).
func Rediscover(ctx workflow.Context) (*protocol.RediscoverResult, error) {
	cctx := controlCtx(ctx, protectionErrors...)
	var instances []protocol.AutoProtectedInstance
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityAutoProtection, protocol.AutoProtectionInput{List: true}).Get(ctx, &instances); err != nil {
		return nil, err
	}
	var items []protocol.ProtectedItem
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityListItems).Get(ctx, &items); err != nil {
		return nil, err
	}
	known := map[string]bool{}
	for _, it := range items {
		known[it.ItemID] = true // stopped items stay stopped: never re-protected behind the user's back
	}
	res := &protocol.RediscoverResult{}
	// One instance whose policy is gone, or whose items cannot be recorded, must not keep
	// the others from their discovery: it is reported (Failed) and the rest proceed.
	isolate := workflow.GetVersion(ctx, "rediscover-isolate-instances", workflow.DefaultVersion, 1) == 1
	fail := func(inst protocol.AutoProtectedInstance, err error) {
		workflow.GetLogger(ctx).Error("rediscovery failed for an instance; the others proceed", "vm", inst.VM, "instance", inst.Instance, "error", err)
		res.Failed = append(res.Failed, protocol.InstanceFailure{VM: inst.VM, Instance: inst.Instance,
			ErrorType: protocol.ErrorType(err), Error: err.Error()})
	}
	for _, inst := range instances {
		if err := checkAgent(ctx, inst.VM); err != nil {
			workflow.GetLogger(ctx).Warn("no agent for the VM; discovery tries again next time", "vm", inst.VM, "error", err)
			continue
		}
		actx := agentStepCtx(ctx, inst.VM, 5, protocol.UserErrors)
		var inv protocol.InquiryResult
		if err := workflow.ExecuteActivity(actx, protocol.ActivityDiscover, protocol.InquiryInput{VM: inst.VM}).Get(ctx, &inv); err != nil {
			workflow.GetLogger(ctx).Warn("discovery failed; trying again next time", "vm", inst.VM, "error", err)
			continue
		}
		var p protocol.Policy
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityLoadPolicy, inst.Policy).Get(ctx, &p); err != nil {
			if !isolate {
				return nil, err
			}
			fail(inst, err)
			continue
		}
		added, err := protect(ctx, inst.VM, inst.Instance, inst.Policy, p.Compression, protectable(inv, inst.Instance, known), true,
			"first full after auto-protection discovered the database")
		if err != nil {
			if !isolate {
				return nil, err
			}
			fail(inst, err)
			continue
		}
		res.Protected = append(res.Protected, added...)
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

// StopProtection removes an item's schedules first, records the item as stopped (from then
// on commits to it are refused), cancels its running backups and waits for them, then either
// keeps its recovery points forever (stopped-retain) or leaves them to retention
// (stopped-delete): data is only deleted once nothing can add to it any more, and not
// before the control worker's soft-delete period has passed (retention.softDeleteDays,
// default 14), during which ResumeProtection undoes the delete.
func StopProtection(ctx workflow.Context, in protocol.StopProtectionInput) (*protocol.StopProtectionResult, error) {
	item := protocol.ItemID(in.Instance, in.Database)
	cctx := controlCtx(ctx, protectionErrors...)
	var sr protocol.EnsureSchedulesResult
	if err := workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: item, Remove: true}).Get(ctx, &sr); err != nil {
		return nil, err
	}
	state := protocol.ItemStoppedRetain
	if in.DeleteData {
		state = protocol.ItemStoppedDelete
	}
	// Recorded runs before soft delete have no result here: it decodes as empty.
	var st protocol.SetItemStateResult
	if err := workflow.ExecuteActivity(cctx, protocol.ActivitySetItemState, protocol.SetItemStateInput{ItemID: item, State: state}).Get(ctx, &st); err != nil {
		return nil, err
	}
	if workflow.GetVersion(ctx, "stop-cancels-backups", workflow.DefaultVersion, 1) == 1 {
		// The item is stopped, so a running backup's commit would be refused anyway: cancel
		// it and wait for it to close, so nothing writes the item's data while it is deleted.
		var cr protocol.CancelItemBackupsResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityCancelItemBackups, protocol.CancelItemBackupsInput{ItemID: item}).Get(ctx, &cr); err != nil {
			return nil, err
		}
	}
	if !in.DeleteData {
		return &protocol.StopProtectionResult{State: state}, nil
	}
	if workflow.GetVersion(ctx, softDeleteChange, workflow.DefaultVersion, 1) == 1 {
		// Nothing is deleted now: retention deletes the points once the soft-delete period
		// (which SetItemState reported) has passed. Deleting right away would let anyone who
		// can start a workflow destroy a database's backups for good.
		return &protocol.StopProtectionResult{State: state, DeleteAfter: st.DeleteAfter}, nil
	}
	var rr protocol.ApplyRetentionResult
	return nil, workflow.ExecuteActivity(cctx, protocol.ActivityApplyRetention, protocol.ApplyRetentionInput{ItemID: item}).Get(ctx, &rr)
}

// softDeleteChange gates StopProtection's soft delete: runs recorded before it applied
// retention right after stopping with delete.
const softDeleteChange = "stop-soft-delete"

// ResumeProtection protects a stopped item again and recreates its schedules: one stopped
// with retain, or one stopped with delete whose soft-delete period has not ended (its
// recovery points are all still there, so this undoes the delete).
func ResumeProtection(ctx workflow.Context, in protocol.ResumeProtectionInput) error {
	item := protocol.ItemID(in.Instance, in.Database)
	cctx := controlCtx(ctx, protectionErrors...)
	if err := workflow.ExecuteActivity(cctx, protocol.ActivitySetItemState, protocol.SetItemStateInput{ItemID: item, State: protocol.ItemProtected}).Get(ctx, nil); err != nil {
		return err
	}
	var sr protocol.EnsureSchedulesResult
	return workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: item}).Get(ctx, &sr)
}

// Retention deletes every expired recovery point of every item (never one a kept point
// needs), then sweeps unreferenced blobs. With dryRun it only lists what it would delete.
// A Temporal Schedule runs it (EnsureSchedules creates it with the items' schedules).
//
// Each item's failure is its own: it is logged and reported in the result (Failed), and the
// other items and the sweep proceed. (Before, one unreadable manifest failed its item 20
// times and then aborted the run before the sweep, for every item: issue 11, item 7.)
//
// It walks the items a page at a time and continues as new every few pages, carrying its
// cursor and totals (itempaging.go); the sweep runs once, in the last run.
func Retention(ctx workflow.Context, in protocol.RetentionInput) (*protocol.RetentionResult, error) {
	cctx := controlCtx(ctx, protectionErrors...)
	isolate := workflow.GetVersion(ctx, "retention-isolate-items", workflow.DefaultVersion, 1) == 1
	if isolate {
		cctx = controlCtx(ctx, append(append([]string{}, protectionErrors...), protocol.ErrUnreadableRecord)...)
		if len(in.Items) == 0 && workflow.GetVersion(ctx, itemPagingChange, workflow.DefaultVersion, 1) == 1 {
			return retentionPaged(ctx, cctx, in)
		}
	}
	res := &protocol.RetentionResult{DryRun: in.DryRun}
	items := in.Items
	if len(items) == 0 {
		if isolate {
			// Ids only: reading the records here would let one unreadable record stop all.
			if err := workflow.ExecuteActivity(cctx, protocol.ActivityListItemIDs).Get(ctx, &items); err != nil {
				workflow.GetLogger(ctx).Error("retention could not list the items; sweeping anyway", "error", err)
				res.Failed = append(res.Failed, retentionFailure("", err))
			}
		} else {
			var all []protocol.ProtectedItem
			if err := workflow.ExecuteActivity(cctx, protocol.ActivityListItems).Get(ctx, &all); err != nil {
				return nil, err
			}
			for _, it := range all {
				items = append(items, it.ItemID)
			}
		}
	}
	for _, item := range items {
		var ar protocol.ApplyRetentionResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityApplyRetention, protocol.ApplyRetentionInput{ItemID: item, DryRun: in.DryRun}).Get(ctx, &ar); err != nil {
			if !isolate {
				return nil, err
			}
			workflow.GetLogger(ctx).Error("retention failed for an item; the others proceed", "item", item, "error", err)
			res.Failed = append(res.Failed, retentionFailure(item, err))
			continue
		}
		res.Deleted = append(res.Deleted, ar.Deleted...)
		res.Kept += ar.Kept
		if ar.ItemRemoved {
			res.ItemsRemoved = append(res.ItemsRemoved, item)
		}
		if ar.DeleteAfter != nil {
			res.SoftDeleted++
		}
	}
	var sw protocol.RetentionResult
	if err := workflow.ExecuteActivity(cctx, protocol.ActivitySweep, in).Get(ctx, &sw); err != nil {
		return nil, err
	}
	res.SweptBlobs, res.SweptBytes = sw.SweptBlobs, sw.SweptBytes
	return res, nil
}

func retentionFailure(item string, err error) protocol.RetentionFailure {
	return protocol.RetentionFailure{ItemID: item, ErrorType: protocol.ErrorType(err), Error: err.Error()}
}

// Reconcile rebuilds every item's schedules from the vault (after losing Temporal's
// database, or after drift): protected items get their policy's schedules, stopped items
// none. It walks the items a page at a time and continues as new every few pages, carrying
// its cursor and totals (itempaging.go).
func Reconcile(ctx workflow.Context, in protocol.ReconcileInput) (*protocol.ReconcileResult, error) {
	cctx := controlCtx(ctx, protectionErrors...)
	// Isolated items: see below. Asked first, because it decides whether the records are read.
	isolate := workflow.GetVersion(ctx, "reconcile-isolate-items", workflow.DefaultVersion, 1) == 1
	var all []protocol.ProtectedItem
	if !isolate {
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityListItems).Get(ctx, &all); err != nil {
			return nil, err
		}
	}
	res := &protocol.ReconcileResult{Items: len(all)}
	paged := isolate && workflow.GetVersion(ctx, itemPagingChange, workflow.DefaultVersion, 1) == 1
	if paged {
		if _, err := itemPageSize(in.PageSize); err != nil {
			return nil, err
		}
	}
	// A continued run has done this already.
	firstRun := !paged || (in.Cursor == "" && in.Totals == nil)
	// Auto-protected instances need their rediscovery schedule too.
	if firstRun && workflow.GetVersion(ctx, "reconcile-rediscovery", workflow.DefaultVersion, 1) == 1 {
		var instances []protocol.AutoProtectedInstance
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityAutoProtection, protocol.AutoProtectionInput{
			List: true, EnsureSchedule: true}).Get(ctx, &instances); err != nil {
			return nil, err
		}
	}
	if paged {
		return reconcilePaged(ctx, in)
	}
	if isolate {
		// One item whose record cannot be read, or whose schedules fail, must not keep every
		// other item from its schedules: it is reported (Failed) and the rest proceed. The
		// ids come from a listing that reads no record; EnsureSchedules reads each item's
		// state itself (a stopped item gets no schedules).
		var ids []string
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityListItemIDs).Get(ctx, &ids); err != nil {
			return nil, err
		}
		rctx := controlCtx(ctx, append(append([]string{}, protectionErrors...), protocol.ErrUnreadableRecord)...)
		res.Items = len(ids)
		for _, id := range ids {
			var sr protocol.EnsureSchedulesResult
			if err := workflow.ExecuteActivity(rctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{ItemID: id}).Get(ctx, &sr); err != nil {
				workflow.GetLogger(ctx).Error("reconcile failed for an item; the others proceed", "item", id, "error", err)
				res.Failed = append(res.Failed, retentionFailure(id, err))
				continue
			}
			res.Created += sr.Created
			res.Deleted += sr.Deleted
		}
		return res, nil
	}
	for _, it := range all {
		var sr protocol.EnsureSchedulesResult
		if err := workflow.ExecuteActivity(cctx, protocol.ActivityEnsureSchedule, protocol.EnsureSchedulesInput{
			ItemID: it.ItemID, Remove: it.State != protocol.ItemProtected}).Get(ctx, &sr); err != nil {
			return nil, err
		}
		res.Created += sr.Created
		res.Deleted += sr.Deleted
	}
	return res, nil
}
