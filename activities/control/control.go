package control

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/control/catalog"
	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/grant"
)

// Control holds the control side's activities: the vault catalog and the commit.
type Control struct {
	Vault *vault.Repository
	Log   *zap.Logger
	// Temporal and ControlQueue manage the protection schedules (which start workflows on
	// the control queue).
	Temporal     client.Client
	ControlQueue string
	// Now is the clock for manifests' createdAt (tests pin it); nil means time.Now.
	Now func() time.Time
	// LeaseWait is how long an activity waits for another's item lease before failing
	// retryably (0: 30 seconds).
	LeaseWait time.Duration
	// AgentGrace is how long a VM whose agent was last seen that long ago still gets to be
	// waited for (CheckAgent); 0 means DefaultAgentGrace.
	AgentGrace time.Duration
	// AgentSettle is how long CheckAgent waits for a first poller before AgentUnavailable;
	// 0 means DefaultAgentSettle.
	AgentSettle time.Duration
	// AgentCheckCache is how long CheckAgent reuses a VM's "polling now" answer (0:
	// DefaultAgentCheckCache; negative: never).
	AgentCheckCache time.Duration
	// SoftDelete is how long an item stopped with delete keeps its recovery points before
	// retention deletes them, during which ResumeProtection undoes the delete
	// (retention.softDeleteDays); 0 means protocol.DefaultSoftDeleteDays. It is the control
	// worker's own setting, never a workflow input: whoever can start StopProtection cannot
	// shorten it.
	SoftDelete time.Duration

	// RPOMetrics exports the RPO watchdog's last report (nil: not exported); RPOWebhook is
	// where its breaches are POSTed (nil or no URL: nowhere).
	RPOMetrics *rpowatch.Metrics
	RPOWebhook *rpowatch.Webhook

	// Grants mints the agents' storage grants (MintVaultGrant); nil: none are minted and
	// agents use their own vault credential.
	Grants *grant.Minter
	// KeyDelivery delivers, inside a step's grant, the data keys the step needs to a VM
	// whose agent holds its own KEK (keys.Ring, the fleet's); nil: none are delivered.
	KeyDelivery KeyDeliverer
	// RefuseCrossVMKeys refuses to deliver a VM's data keys for a restore onto another VM
	// (key.crossVMRestores: refuse).
	RefuseCrossVMKeys bool

	agentChecks agentCheckCache
}

// Register registers the control activities under their public names.
func (c *Control) Register(r worker.ActivityRegistry) {
	r.RegisterActivityWithOptions(c.CommitRecoveryPoint, activity.RegisterOptions{Name: protocol.ActivityCommitRecoveryPoint})
	r.RegisterActivityWithOptions(c.PlanRestore, activity.RegisterOptions{Name: protocol.ActivityPlanRestore})
	r.RegisterActivityWithOptions(c.LoadPolicy, activity.RegisterOptions{Name: protocol.ActivityLoadPolicy})
	r.RegisterActivityWithOptions(c.RegisterItems, activity.RegisterOptions{Name: protocol.ActivityRegisterItems})
	r.RegisterActivityWithOptions(c.SetItemState, activity.RegisterOptions{Name: protocol.ActivitySetItemState})
	r.RegisterActivityWithOptions(c.ListItems, activity.RegisterOptions{Name: protocol.ActivityListItems})
	r.RegisterActivityWithOptions(c.EnsureSchedules, activity.RegisterOptions{Name: protocol.ActivityEnsureSchedule})
	r.RegisterActivityWithOptions(c.ApplyRetention, activity.RegisterOptions{Name: protocol.ActivityApplyRetention})
	r.RegisterActivityWithOptions(c.Sweep, activity.RegisterOptions{Name: protocol.ActivitySweep})
	r.RegisterActivityWithOptions(c.AutoProtection, activity.RegisterOptions{Name: protocol.ActivityAutoProtection})
	r.RegisterActivityWithOptions(c.ListItemIDs, activity.RegisterOptions{Name: protocol.ActivityListItemIDs})
	r.RegisterActivityWithOptions(c.ListItemIDsPage, activity.RegisterOptions{Name: protocol.ActivityListItemIDsPage})
	r.RegisterActivityWithOptions(c.CancelItemBackups, activity.RegisterOptions{Name: protocol.ActivityCancelItemBackups})
	r.RegisterActivityWithOptions(c.CheckAgent, activity.RegisterOptions{Name: protocol.ActivityCheckAgent})
	r.RegisterActivityWithOptions(c.ScheduleSkips, activity.RegisterOptions{Name: protocol.ActivityScheduleSkips})
	r.RegisterActivityWithOptions(c.PutPolicy, activity.RegisterOptions{Name: protocol.ActivityPutPolicy})
	r.RegisterActivityWithOptions(c.BackupChainState, activity.RegisterOptions{Name: protocol.ActivityBackupChainState})
	r.RegisterActivityWithOptions(c.CheckRPOPage, activity.RegisterOptions{Name: protocol.ActivityCheckRPOPage})
	r.RegisterActivityWithOptions(c.FinishRPOSweep, activity.RegisterOptions{Name: protocol.ActivityFinishRPOSweep})
	r.RegisterActivityWithOptions(c.NotifyRPOWebhook, activity.RegisterOptions{Name: protocol.ActivityNotifyRPO})
	r.RegisterActivityWithOptions(c.PickDrillTarget, activity.RegisterOptions{Name: protocol.ActivityPickDrillTarget})
	r.RegisterActivityWithOptions(c.RecordDrill, activity.RegisterOptions{Name: protocol.ActivityRecordDrill})
	r.RegisterActivityWithOptions(c.PlanDrills, activity.RegisterOptions{Name: protocol.ActivityPlanDrills})
	r.RegisterActivityWithOptions(c.CheckOverwrite, activity.RegisterOptions{Name: protocol.ActivityCheckOverwrite})
	r.RegisterActivityWithOptions(c.MintVaultGrant, activity.RegisterOptions{Name: protocol.ActivityMintVaultGrant})
}

func (c *Control) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now().UTC()
}

// CommitRecoveryPoint is the commit confirmation: it checks that every stripe the agent
// reported is committed in the vault as the agent described it, then writes the manifest.
// From that write on, the recovery point exists. Retrying is safe: everything it writes
// comes from its input (createdAt is workflow time, in.CreatedAt), and a manifest already
// written that is equal in substance counts as success (vault.SameSubstance), so an attempt
// whose write succeeded but whose result was lost is not failed by the next one.
func (c *Control) CommitRecoveryPoint(ctx context.Context, in protocol.CommitInput) (protocol.RecoveryPoint, error) {
	bs := in.Stream.BackupSet
	createdAt := in.CreatedAt.UTC()
	if in.CreatedAt.IsZero() {
		createdAt = c.now() // a workflow started before CreatedAt was passed in
	}
	m := &vault.Manifest{
		Schema:    vault.ManifestSchema,
		PointID:   in.PointID,
		ItemID:    in.ItemID,
		CreatedAt: createdAt,
		Server: vault.ServerInfo{VM: in.VM, Instance: in.Instance, ServerName: in.ServerName,
			ProductVersion: in.ProductVersion, Edition: in.Edition},
		Database: vault.DatabaseInfo{Name: in.Database, GUID: bs.DatabaseGUID, FamilyGUID: bs.FamilyGUID, RecoveryModel: bs.RecoveryModel},
		Backup: vault.BackupInfo{
			Type: manifestType(in.Type), CopyOnly: bs.CopyOnly || in.Type == protocol.CopyOnlyFull,
			FirstLSN: vault.LSN(bs.FirstLSN), LastLSN: vault.LSN(bs.LastLSN), CheckpointLSN: vault.LSN(bs.CheckpointLSN),
			DatabaseBackupLSN: vault.LSN(bs.DatabaseBackupLSN), DifferentialBaseLSN: vault.LSN(bs.DifferentialBaseLSN),
			DifferentialBaseGUID: bs.DifferentialBaseGUID, BackupSetGUID: bs.BackupSetGUID,
			StartTime: bs.Start, FinishTime: bs.Finish, SizeBytes: bs.SizeBytes, HasChecksums: bs.HasChecksums,
			FirstForkGUID: bs.FirstForkGUID, ForkGUID: bs.ForkGUID, ForkPointLSN: vault.LSN(bs.ForkPointLSN),
			ForkTime: utcPtr(bs.ForkTime), ServerUTCOffsetMinutes: bs.UTCOffsetMinutes,
		},
		Encryption:  vault.EncryptionInfo{Algorithm: "AES-256-GCM", KeyID: in.Stream.KeyID, Compression: in.Stream.Compression},
		Workflow:    vault.WorkflowRef{ID: in.WorkflowID, RunID: in.RunID},
		Reason:      in.Reason,
		RetainUntil: in.RetainUntil,
		DataPath:    manifestDataPath(in.Stream.DataPath),
	}
	for _, s := range in.Stream.Stripes {
		m.Stripes = append(m.Stripes, vault.StripeInfo{Blob: s.Blob, Index: s.Index, IndexSHA256: s.IndexSHA256,
			PlainBytes: s.PlainBytes, StoredBytes: s.StoredBytes, Blocks: s.Blocks, Digest: s.Digest})
	}
	release, err := c.admitCommit(ctx, in)
	if err != nil {
		return protocol.RecoveryPoint{}, err
	}
	defer release()
	if err := c.Vault.CommitManifest(ctx, m); err != nil {
		if isVerifyError(err) {
			return protocol.RecoveryPoint{}, protocol.UserError(protocol.ErrRecoveryPointVerifyError,
				"the vault does not hold the stripes the agent reported, so no recovery point was created: %v", err)
		}
		return protocol.RecoveryPoint{}, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "commit the manifest: %v", err)
	}
	if c.Log != nil {
		c.Log.Info("recovery point committed", zap.String("item", in.ItemID), zap.String("point", in.PointID),
			zap.String("type", string(in.Type)), zap.String("lastLsn", bs.LastLSN))
	}
	return catalog.RecoveryPointOf(m), nil
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// manifestType is the vault's name for the kind of backup (the protocol and the vault
// spell them alike; a copy-only full is a full with copyOnly set).
func manifestType(t protocol.BackupType) string { return t.Kind() }

// isVerifyError reports a commit refused because the vault does not hold what the agent
// reported: retrying cannot fix that.
func isVerifyError(err error) bool {
	for _, e := range []error{vault.ErrIndexMissing, vault.ErrIndexMismatch, vault.ErrIndexInvalid, vault.ErrStripeMismatch,
		vault.ErrDataNotCommitted, vault.ErrBlockListMismatch, vault.ErrSizeMismatch, vault.ErrWrongKey, vault.ErrInvalidManifest,
		vault.ErrExists} { // a different manifest already holds this point ID
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// manifestDataPath is the manifest's record of the stream's data path: URL (or an agent
// that does not report one, which had only URL) is the absence of the field
// (vault.Manifest.DataPath says why).
func manifestDataPath(streamed string) string {
	if streamed == "vdi" {
		return vault.DataPathVDI
	}
	return ""
}
