// Package workflows holds sqlvault's Temporal workflows. Workflow code is deterministic: no
// I/O, clocks, randomness or goroutines outside the workflow APIs; every change to a
// released workflow goes behind workflow.GetVersion, and replay tests over recorded
// histories (testdata/) guard that.
package workflows

import (
	"fmt"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Timeouts and retries of the backup's steps. The stream heartbeats every few seconds, so
// a dead agent is noticed within HeartbeatTimeout and the stream retried on a live one.
const (
	prepareTimeout   = 2 * time.Minute
	streamTimeout    = protocol.StreamTimeout
	heartbeatTimeout = time.Minute
	commitTimeout    = 10 * time.Minute
	// agentWait bounds how long a step waits for the VM's agent to pick it up.
	agentWait = protocol.AgentWait
	// commitMaxInterval caps the commit's retry backoff: within CommitRetryWindow it is
	// tried about every few minutes until the vault is back.
	commitMaxInterval = 5 * time.Minute
	commitMaxAttempts = 10000
	// chainStateTimeout bounds the control side's chain state (one listing of the item's
	// points); past three of it the agent reads the vault itself.
	chainStateTimeout = time.Minute
)

// Backup takes one backup of one database and commits it as a recovery point:
// prepare (on the VM's agent: may it run, how many stripes), stream (on the agent: SQL
// Server → agent endpoint → vault), commit (on the control side: verify the stripes and
// write the manifest — the recovery point exists from that moment on).
func Backup(ctx workflow.Context, in protocol.BackupInput) (*protocol.BackupResult, error) {
	start := workflow.Now(ctx)
	res, err := backup(ctx, in)
	// The type taken (a broken chain turns a log into a full), else the type asked for.
	typ := "invalid"
	if in.Type.Valid() {
		typ = string(in.Type)
	}
	if res != nil {
		typ = string(res.RecoveryPoint.Type)
	}
	recordOutcome(ctx, protocol.MetricBackups, protocol.MetricBackupDuration, typ, start, err)
	return res, err
}

func backup(ctx workflow.Context, in protocol.BackupInput) (*protocol.BackupResult, error) {
	if err := in.Validate(); err != nil {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), protocol.ErrInvalidInput, nil)
	}
	// A tail-log backup (BACKUP LOG … WITH NORECOVERY) leaves the database RESTORING: only a
	// Restore that overwrites that database may ask for one, as its child.
	if in.TailLog && workflow.GetVersion(ctx, "tail-log-only-from-restore", workflow.DefaultVersion, 1) == 1 {
		info := workflow.GetInfo(ctx)
		parent := ""
		if info.ParentWorkflowExecution != nil {
			parent = info.ParentWorkflowExecution.ID
		}
		if !protocol.IsTailLogChild(info.WorkflowExecution.ID, parent) {
			return nil, temporal.NewNonRetryableApplicationError(
				`"tailLog" is not accepted here: a tail-log backup leaves the database RESTORING, so it is taken only as the first step of a restore over that database (sqlvault.Restore with "overwrite": true); for a log backup, leave "tailLog" out`,
				protocol.ErrInvalidInput, nil)
		}
	}
	progress := protocol.BackupProgress{Phase: protocol.PhasePreparing}
	if err := workflow.SetQueryHandler(ctx, protocol.QueryProgress, func() (protocol.BackupProgress, error) {
		return progress, nil
	}); err != nil {
		return nil, err
	}
	vm := in.AgentVM()
	// Started from the CLI without search attributes: set them so the UI can filter.
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		protocol.SAInstance.ValueSet(in.Instance), protocol.SADatabase.ValueSet(in.Database),
		protocol.SABackupType.ValueSet(string(in.Type)), protocol.SAVM.ValueSet(vm)); err != nil {
		return nil, err
	}
	log := workflow.GetLogger(ctx)
	if err := checkAgent(ctx, vm); err != nil {
		return nil, err
	}

	prepCtx := agentStepCtx(ctx, vm, 0, protocol.UserErrors)
	// Version 1: a scheduled log or differential gets the vault's chain state from the
	// control side, so the agent compares it with SQL Server without reading the vault's
	// catalog. Without it (the old branch, or the control side could not compute it), the
	// agent reads the vault itself.
	wantChain := in.AutoFull && in.Type != protocol.Full
	// An on-demand differential gets it too, so that the agent refuses one whose base is no
	// full in the vault (it could never be restored) instead of storing it.
	if !wantChain && in.Type == protocol.Differential &&
		workflow.GetVersion(ctx, "chain-state-for-differentials", workflow.DefaultVersion, 1) == 1 {
		wantChain = true
	}
	var chain *protocol.ChainState
	if wantChain && workflow.GetVersion(ctx, "chain-state-from-control", workflow.DefaultVersion, 1) == 1 {
		chainCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout:    chainStateTimeout,
			ScheduleToCloseTimeout: 3 * chainStateTimeout,
			RetryPolicy:            stepRetry(0, protocol.UserErrors),
		})
		if err := workflow.ExecuteActivity(chainCtx, protocol.ActivityBackupChainState, protocol.ChainStateInput{
			Instance: in.Instance, Database: in.Database, ItemID: in.ItemID,
		}).Get(ctx, &chain); err != nil {
			log.Warn("no chain state from the control side; the agent reads the vault", "error", err)
			chain = nil
		}
	}
	var prep protocol.PrepareBackupResult
	if err := workflow.ExecuteActivity(prepCtx, protocol.ActivityPrepareBackup, protocol.PrepareBackupInput{
		Instance: in.Instance, Database: in.Database, Type: in.Type, Stripes: in.Stripes, AutoFull: in.AutoFull, Chain: chain,
	}).Get(ctx, &prep); err != nil {
		return nil, err
	}
	// A broken chain turns a scheduled log or differential into a full (prep says why).
	typ, reason := in.Type, in.Reason
	if prep.Type != "" && prep.Type != in.Type {
		typ = prep.Type
		reason = prep.Reason
		log.Warn("backup type changed", "requested", in.Type, "taking", typ, "reason", prep.Reason)
	}
	// In an availability group the backup runs on the replica the group's backup preference
	// names for this type (the reference's table), so it follows failovers.
	instance := in.Instance
	if workflow.GetVersion(ctx, "ag-replica-choice", workflow.DefaultVersion, 1) == 1 && prep.AG != nil {
		var target string
		var err error
		// A secondary sees only its own role, so routing follows what the asked replica
		// can see and asks the other replicas when that is not enough.
		if workflow.GetVersion(ctx, "ag-visible-routing", workflow.DefaultVersion, 1) == 1 {
			target, err = routeInGroup(ctx, *prep.AG, prep.Database, typ)
		} else {
			target, err = replicaFor(*prep.AG, typ)
		}
		if err != nil {
			return nil, temporal.NewNonRetryableApplicationError(err.Error(), protocol.ErrSecondaryReplica, nil)
		}
		if !strings.EqualFold(target, instance) {
			log.Info("routing to the availability group's chosen replica", "group", prep.AG.Name, "replica", target, "type", typ)
			instance = target
			vm, _, _ = strings.Cut(target, `\`)
			if err := checkAgent(ctx, vm); err != nil {
				return nil, err
			}
			prepCtx = agentStepCtx(ctx, vm, 0, protocol.UserErrors)
			if err := workflow.ExecuteActivity(prepCtx, protocol.ActivityPrepareBackup, protocol.PrepareBackupInput{
				Instance: instance, Database: in.Database, Type: typ, Stripes: in.Stripes,
			}).Get(ctx, &prep); err != nil {
				return nil, err
			}
		}
	}

	// The point ID names the vault blobs. It comes from workflow time and the run ID, both
	// fixed in history, so every retry of the stream writes under the same point (each
	// attempt in its own blobs).
	pointID := newPointID(workflow.Now(ctx), typ, workflow.GetInfo(ctx).WorkflowExecution.RunID)
	progress = protocol.BackupProgress{Phase: protocol.PhaseStreaming, PointID: pointID, Stripes: prep.Stripes}
	log.Info("streaming backup", "database", prep.Database, "type", typ, "point", pointID, "stripes", prep.Stripes)

	compression := in.Compression == nil || *in.Compression
	const streamAttempts = 8
	streamCtx := agentLongStepCtx(ctx, vm, streamTimeout, streamAttempts, protocol.UserErrors)
	// Every attempt of the stream writes blobs of its own (vault.DataBlob): the grant
	// covers all of them, for as long as the stream's retries may run.
	vaultGrant, err := mintGrant(ctx, protocol.MintGrantInput{Op: protocol.GrantBackup, ItemID: prep.ItemID,
		PointIDs: []string{pointID}, Stripes: prep.Stripes, Attempts: streamAttempts}, vm, streamTimeout+agentWait)
	if err != nil {
		return nil, err
	}
	var stream protocol.StreamBackupResult
	if err := workflow.ExecuteActivity(streamCtx, protocol.ActivityStreamBackup, protocol.StreamBackupInput{
		Instance: instance, Database: prep.Database, Type: typ, ItemID: prep.ItemID, PointID: pointID,
		Stripes: prep.Stripes, Compression: compression, TailLog: in.TailLog, Grant: vaultGrant,
	}).Get(ctx, &stream); err != nil {
		return nil, err
	}

	progress.Phase = protocol.PhaseCommitting
	commitOpts := workflow.ActivityOptions{
		StartToCloseTimeout: commitTimeout,
		RetryPolicy:         stepRetry(20, []string{protocol.ErrRecoveryPointVerifyError}),
	}
	// Version 1: the commit writes the same manifest on every attempt (its createdAt is
	// workflow time, passed in), and it is retried for hours (CommitRetryWindow, bounded
	// below the sweep's grace: protocol.MinSweepGrace) instead of 20 attempts, so an outage
	// after SQL Server finished the backup neither loses the point nor fails a retry.
	var createdAt time.Time
	if workflow.GetVersion(ctx, "commit-idempotent-hours", workflow.DefaultVersion, 1) == 1 {
		createdAt = workflow.Now(ctx).UTC()
		commitOpts.ScheduleToCloseTimeout = protocol.CommitRetryWindow
		commitOpts.RetryPolicy = &temporal.RetryPolicy{
			InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: commitMaxInterval,
			// The window (ScheduleToClose) is the bound; this count is never reached within
			// it (~75 attempts), and is set only because the SDK's test environment caps an
			// unlimited count at 10, so the tests could not exercise the window.
			MaximumAttempts:        commitMaxAttempts,
			NonRetryableErrorTypes: []string{protocol.ErrRecoveryPointVerifyError},
		}
	}
	commitCtx := workflow.WithActivityOptions(ctx, commitOpts)
	info := workflow.GetInfo(ctx)
	var retainUntil *time.Time
	if in.RetainDays > 0 {
		t := workflow.Now(ctx).Add(time.Duration(in.RetainDays) * 24 * time.Hour).UTC()
		retainUntil = &t
	}
	var rp protocol.RecoveryPoint
	if err := workflow.ExecuteActivity(commitCtx, protocol.ActivityCommitRecoveryPoint, protocol.CommitInput{
		ItemID: prep.ItemID, PointID: pointID, VM: vm, Instance: instance, ServerName: prep.ServerName,
		ProductVersion: prep.ProductVersion, Edition: prep.Edition, Database: prep.Database, Type: typ,
		Stream: stream, WorkflowID: info.WorkflowExecution.ID, RunID: info.WorkflowExecution.RunID, Reason: reason,
		RetainUntil: retainUntil, CreatedAt: createdAt,
	}).Get(ctx, &rp); err != nil {
		return nil, err
	}
	progress.Phase = protocol.PhaseDone
	log.Info("recovery point committed", "point", rp.PointID, "lastLsn", rp.LastLSN)
	return &protocol.BackupResult{RecoveryPoint: rp}, nil
}

// newPointID is time-sortable and unique: UTC start time, type, and the random end of the
// run ID (run IDs are UUIDv7, whose leading digits are a timestamp shared by runs started
// close together).
func newPointID(t time.Time, typ protocol.BackupType, runID string) string {
	suffix := strings.ReplaceAll(runID, "-", "")
	if len(suffix) > 10 {
		suffix = suffix[len(suffix)-10:]
	}
	return fmt.Sprintf("%s-%s-%s", t.UTC().Format("20060102T150405Z"), typ.Kind(), suffix)
}

// agViewTimeout bounds asking one replica's agent for its view of the group; a replica
// whose agent does not answer in time is skipped.
const agViewTimeout = 2 * time.Minute

// routeInGroup picks the replica that takes a backup of type typ from what the asked
// replica sees (view). When that is not enough — a secondary cannot see which replica is
// primary — it asks each other replica's agent for its own view, in the group's metadata
// order, until it reaches the primary, whose view decides.
func routeInGroup(ctx workflow.Context, view protocol.AGInfo, database string, typ protocol.BackupType) (string, error) {
	target, decided, err := routeFromView(view, typ)
	if decided || err != nil {
		return target, err
	}
	log := workflow.GetLogger(ctx)
	var unreachable []string
	for _, replica := range askOrder(view) {
		vm, _, _ := strings.Cut(replica, `\`)
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:              protocol.AgentTaskQueue(vm),
			ScheduleToCloseTimeout: agViewTimeout,
			StartToCloseTimeout:    time.Minute,
			RetryPolicy: &temporal.RetryPolicy{InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumAttempts: 3,
				NonRetryableErrorTypes: protocol.UserErrors},
		})
		var res protocol.AGViewResult
		if err := workflow.ExecuteActivity(actx, protocol.ActivityAGView, protocol.AGViewInput{Instance: replica, Database: database}).Get(ctx, &res); err != nil {
			log.Warn("availability group replica did not answer", "replica", replica, "error", err)
			unreachable = append(unreachable, replica)
			continue
		}
		if res.AG != nil && isPrimaryView(*res.AG) {
			return replicaFor(*res.AG, typ)
		}
	}
	msg := fmt.Sprintf("availability group %s: the asked replica %s is a secondary and no other replica reported itself primary", view.Name, view.Local)
	if len(unreachable) > 0 {
		msg += fmt.Sprintf(" (no answer from the agents of %s: check that each replica's VM runs an agent managing its instance)", strings.Join(unreachable, ", "))
	}
	return "", fmt.Errorf("%s", msg)
}
