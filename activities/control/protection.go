package control

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// LoadPolicy reads a policy from the vault and validates it.
func (c *Control) LoadPolicy(ctx context.Context, name string) (policy.Policy, error) {
	var p policy.Policy
	doc, err := c.Vault.Policy(ctx, name)
	if errors.Is(err, vault.ErrPolicyNotFound) {
		names, _ := c.Vault.Policies(ctx)
		return p, protocol.UserError(protocol.ErrPolicyNotFound, "no policy named %q in the vault (it has: %s): create it with `sqlvault policy create`",
			name, strings.Join(names, ", "))
	}
	if rerr := recordRefusal(err, "policy "+name+" is not used"); rerr != nil {
		return p, rerr
	}
	if err != nil {
		return p, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read policy %s: %v", name, err)
	}
	if err := json.Unmarshal(doc, &p); err != nil {
		return p, protocol.UserError(protocol.ErrInvalidPolicy, "policy %s is not valid JSON: %v", name, err)
	}
	if err := p.Validate(); err != nil {
		return p, protocol.UserError(protocol.ErrInvalidPolicy, "policy %s: %v", name, err)
	}
	return p, nil
}

// RegisterItems records the databases as protected items, refusing to pass the vault's
// database limit. The limit counts item records in any state (stopped ones too) from one
// listing that reads none of them (Repository.ItemIDs), so the check costs a request per
// ~1,600 items, not a walk of every recovery point nor a read per item.
func (c *Control) RegisterItems(ctx context.Context, in protocol.RegisterItemsInput) ([]string, error) {
	existing, err := c.Vault.ItemIDs(ctx)
	if err != nil {
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list items: %v", err)
	}
	have := map[string]bool{}
	for _, id := range existing {
		have[id] = true
	}
	added := 0
	for _, d := range in.Databases {
		if !have[d.ItemID] {
			added++
		}
	}
	if len(existing)+added > protocol.MaxDatabasesPerVault {
		return nil, protocol.UserError(protocol.ErrVaultFull,
			"the vault protects %d databases and this would add %d, past the limit of ~%d per vault: use another vault (container) for more",
			len(existing), added, protocol.MaxDatabasesPerVault)
	}
	now := c.now()
	var ids []string
	for _, d := range in.Databases {
		types := make([]string, len(d.BackupTypes))
		for i, t := range d.BackupTypes {
			types[i] = string(t)
		}
		it := &vault.ProtectedItem{ItemID: d.ItemID, VM: in.VM, Instance: in.Instance, Database: d.Name, Policy: in.Policy,
			State: vault.ItemProtected, BackupTypes: types, CreatedAt: now, UpdatedAt: now}
		old, err := c.Vault.Item(ctx, d.ItemID)
		if err == nil {
			it.CreatedAt = old.CreatedAt
			if sameItem(old, it) {
				// Already recorded (a retried attempt, or configured again unchanged):
				// rewriting would only move updatedAt.
				ids = append(ids, d.ItemID)
				continue
			}
		}
		put := func(*vault.ItemLease) error {
			if err := c.Vault.PutItem(ctx, it); err != nil {
				return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "record item %s: %v", d.Name, err)
			}
			return nil
		}
		if err == nil && old.State != vault.ItemProtected {
			// Protecting a stopped item again changes its state: under its lease, so it does
			// not interleave with retention removing the stopped item's points and record.
			err = c.withItemLease(ctx, d.ItemID, "protect again", put)
		} else {
			err = put(nil)
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, d.ItemID)
	}
	return ids, nil
}

// SetItemState changes an item's protection state, holding the item's lease: a commit in
// progress finishes first, and one after sees the new state. For stopped-delete it says
// when the soft-delete period ends.
func (c *Control) SetItemState(ctx context.Context, in protocol.SetItemStateInput) (protocol.SetItemStateResult, error) {
	res := protocol.SetItemStateResult{State: in.State}
	err := c.withItemLease(ctx, in.ItemID, "set state "+in.State, func(*vault.ItemLease) error {
		it, err := c.Vault.Item(ctx, in.ItemID)
		if errors.Is(err, vault.ErrItemNotFound) {
			if in.State == protocol.ItemProtected {
				return protocol.UserError(protocol.ErrNotProtected,
					"no protected item %s in the vault: it was never protected, or it was stopped with delete and its soft-delete period has ended (its recovery points are gone); protect the database again with ConfigureProtection",
					in.ItemID)
			}
			return protocol.UserError(protocol.ErrNotProtected, "no protected item %s in the vault", in.ItemID)
		}
		if rerr := recordRefusal(err, "the protection of item "+in.ItemID+" is not changed"); rerr != nil {
			// Writing a new state over it would vouch, under the vault key, for whatever else
			// the record now says. Configuring protection again writes a record anew.
			return rerr
		}
		if err != nil {
			return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read item: %v", err)
		}
		if it.State != in.State {
			// Not for a retry after the write: the time of the change stays (the tombstone
			// and the soft-delete period count from it).
			it.State, it.UpdatedAt = in.State, c.now()
			if err := c.Vault.PutItem(ctx, it); err != nil {
				return err
			}
		}
		if it.State == vault.ItemStoppedDelete {
			after := c.softDeleteEnds(it)
			res.DeleteAfter = &after
		}
		return nil
	})
	return res, err
}

// softDeleteEnds is when an item stopped with delete (at its updatedAt) loses its points.
func (c *Control) softDeleteEnds(it *vault.ProtectedItem) time.Time {
	d := c.SoftDelete
	if d <= 0 {
		d = protocol.DefaultSoftDeleteDays * 24 * time.Hour
	}
	return it.UpdatedAt.Add(d).UTC()
}

// ListItemIDs returns the ids of every item record without reading them (Retention: one
// unreadable record must fail only its own item).
func (c *Control) ListItemIDs(ctx context.Context) ([]string, error) {
	ids, err := c.Vault.ItemIDs(ctx)
	if err != nil {
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list items: %v", err)
	}
	return ids, nil
}

// ListItemIDsPage returns at most in.Limit item ids after in.After, in id order, without
// reading the records (Retention and Reconcile page through the items with it). The cursor
// is an item id, not a listing marker, so items added or removed between pages neither
// repeat nor shift the rest: an id removed is simply not there, one added after the cursor
// is reached in its turn. Each page lists the ids anew (one request per ~1,600 items).
func (c *Control) ListItemIDsPage(ctx context.Context, in protocol.ListItemIDsPageInput) (protocol.ListItemIDsPageResult, error) {
	var res protocol.ListItemIDsPageResult
	if in.Limit <= 0 || in.Limit > protocol.MaxItemPageSize {
		return res, protocol.UserError(protocol.ErrInvalidInput, "a page of item ids holds 1 to %d ids, not %d", protocol.MaxItemPageSize, in.Limit)
	}
	ids, err := c.Vault.ItemIDs(ctx)
	if err != nil {
		return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list items: %v", err)
	}
	sort.Strings(ids) // ItemIDs sorts already; the cursor depends on it
	from := sort.SearchStrings(ids, in.After)
	if from < len(ids) && ids[from] == in.After {
		from++
	}
	rest := ids[from:]
	if len(rest) > in.Limit {
		res.IDs, res.More = rest[:in.Limit], true
	} else {
		res.IDs = rest
	}
	return res, nil
}

// sameItem reports whether two item records say the same thing, timestamps aside.
func sameItem(a, b *vault.ProtectedItem) bool {
	x, y := *a, *b
	x.CreatedAt, x.UpdatedAt, y.CreatedAt, y.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	x.Schema, y.Schema = "", "" // PutItem stamps the schema
	return reflect.DeepEqual(x, y)
}

// ListItems returns every protected item record.
func (c *Control) ListItems(ctx context.Context) ([]protocol.ProtectedItem, error) {
	items, err := c.Vault.Items(ctx)
	if err != nil {
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list items: %v", err)
	}
	out := make([]protocol.ProtectedItem, len(items))
	for i, it := range items {
		out[i] = it.Wire()
	}
	return out, nil
}

// ScheduleID names an item's schedule of one backup kind.
func ScheduleID(itemID, kind string) string { return protocol.ItemScheduleID(itemID, kind) }

// EnsureSchedules makes an item's Temporal Schedules match its policy: one per scheduled
// backup kind the database allows, each starting sqlvault.Backup. Schedules are visible,
// pausable and back-fillable in the UI; the vault, not Temporal, is the source of truth,
// so this is also how Reconcile rebuilds them.
func (c *Control) EnsureSchedules(ctx context.Context, in protocol.EnsureSchedulesInput) (protocol.EnsureSchedulesResult, error) {
	var res protocol.EnsureSchedulesResult
	// Every vault with items needs retention and the sweep to run by themselves (before,
	// only a person running `sqlvault retention` ever deleted anything).
	if err := c.ensureRetentionSchedule(ctx); err != nil {
		return res, err
	}
	it, err := c.Vault.Item(ctx, in.ItemID)
	switch {
	case errors.Is(err, vault.ErrItemNotFound):
		// Removed since it was listed (an item stopped with delete): it has no schedules.
		it, in.Remove = &vault.ProtectedItem{ItemID: in.ItemID}, true
	case recordRefusal(err, "") != nil:
		return res, recordRefusal(err, "the schedules of item "+in.ItemID+" are left as they are")
	case err != nil && unreadableRecord(err):
		return res, protocol.UserError(protocol.ErrUnreadableRecord, "the item record of %s cannot be read (look at it in the vault): %v", in.ItemID, err)
	case err != nil:
		return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read item: %v", err)
	}
	desired := map[string]client.ScheduleSpec{}
	if !in.Remove && it.State == vault.ItemProtected {
		p, err := c.LoadPolicy(ctx, it.Policy)
		if err != nil {
			return res, err
		}
		allowed := map[string]bool{}
		for _, t := range it.BackupTypes {
			allowed[protocol.BackupType(t).Kind()] = true
		}
		for kind, spec := range scheduleSpecs(p) {
			if len(it.BackupTypes) == 0 || allowed[kind] {
				desired[kind] = spec
			}
		}
	}
	sc := c.Temporal.ScheduleClient()
	for _, kind := range []string{policy.KindFull, policy.KindDifferential, policy.KindLog} {
		id := ScheduleID(it.ItemID, kind)
		spec, want := desired[kind]
		h := sc.GetHandle(ctx, id)
		_, derr := h.Describe(ctx)
		var nf *serviceerror.NotFound
		exists := derr == nil
		if derr != nil && !errors.As(derr, &nf) {
			return res, protocol.RetryableError(protocol.ErrBackupFailed, derr, "describe schedule %s: %v", id, derr)
		}
		switch {
		case !want && exists:
			if err := h.Delete(ctx); err != nil && !errors.As(err, &nf) {
				return res, protocol.RetryableError(protocol.ErrBackupFailed, err, "delete schedule %s: %v", id, err)
			}
			res.Deleted++
		case want && !exists:
			_, err := sc.Create(ctx, client.ScheduleOptions{ID: id, Spec: spec, Action: c.backupAction(it, kind),
				Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP, Paused: in.Pause, Note: "sqlvault " + it.Database + " " + kind,
				TypedSearchAttributes: temporal.NewSearchAttributes(protocol.SAInstance.ValueSet(it.Instance),
					protocol.SADatabase.ValueSet(it.Database), protocol.SAVM.ValueSet(it.VM)),
			})
			if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
				return res, protocol.RetryableError(protocol.ErrBackupFailed, err, "create schedule %s: %v", id, err)
			}
			res.Created++
			res.Schedules = append(res.Schedules, id)
		case want && exists:
			action := c.backupAction(it, kind)
			if err := h.Update(ctx, client.ScheduleUpdateOptions{DoUpdate: func(u client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
				s := u.Description.Schedule
				s.Spec = &spec
				s.Action = action
				return &client.ScheduleUpdate{Schedule: &s}, nil
			}}); err != nil {
				return res, protocol.RetryableError(protocol.ErrBackupFailed, err, "update schedule %s: %v", id, err)
			}
			if in.Pause {
				_ = h.Pause(ctx, client.SchedulePauseOptions{Note: "paused by sqlvault"})
			}
			res.Schedules = append(res.Schedules, id)
		}
	}
	sort.Strings(res.Schedules)
	return res, nil
}

func (c *Control) backupAction(it *vault.ProtectedItem, kind string) *client.ScheduleWorkflowAction {
	t := protocol.BackupType(kind)
	return &client.ScheduleWorkflowAction{
		ID:       protocol.BackupWorkflowID(it.ItemID, t),
		Workflow: protocol.WorkflowBackup,
		Args: []any{protocol.BackupInput{Instance: it.Instance, Database: it.Database, Type: t, VM: it.VM, Reason: "schedule",
			AutoFull: t != protocol.Full, ItemID: it.ItemID}},
		TaskQueue:                c.ControlQueue,
		WorkflowExecutionTimeout: policy.BackupMaxDuration, // retention relies on this bound
		TypedSearchAttributes: temporal.NewSearchAttributes(protocol.SAInstance.ValueSet(it.Instance),
			protocol.SADatabase.ValueSet(it.Database), protocol.SABackupType.ValueSet(kind), protocol.SAVM.ValueSet(it.VM)),
	}
}

// ApplyRetention decides, for one item, which recovery points have expired under its
// policy (all of them for an item stopped with delete once its soft-delete period has
// ended, none before; none for one stopped with retain)
// and deletes those (manifest first, so a point stops existing at once; then its data).
// It is the only code that deletes recovery points. It holds the item's lease from the
// listing to the last delete, so no commit lands between the decision and the deletions.
//
// An item stopped with delete keeps its record, as a tombstone that refuses commits, until
// BackupMaxDuration after the stop: a backup that started before the stop may commit until
// then. The first run after that removes the record (ItemRemoved).
func (c *Control) ApplyRetention(ctx context.Context, in protocol.ApplyRetentionInput) (protocol.ApplyRetentionResult, error) {
	var res protocol.ApplyRetentionResult
	err := c.withItemLease(ctx, in.ItemID, "retention", func(l *vault.ItemLease) error {
		var err error
		res, err = c.applyRetention(ctx, in, l)
		return err
	})
	return res, err
}

func (c *Control) applyRetention(ctx context.Context, in protocol.ApplyRetentionInput, l *vault.ItemLease) (protocol.ApplyRetentionResult, error) {
	var res protocol.ApplyRetentionResult
	it, err := c.Vault.Item(ctx, in.ItemID)
	if err != nil {
		// Never on the word of an unauthenticated record: whoever can write to the storage
		// account could otherwise mark a database stopped-with-delete long ago.
		if rerr := recordRefusal(err, "retention deletes nothing of item "+in.ItemID); rerr != nil {
			return res, rerr
		}
		if unreadableRecord(err) {
			return res, protocol.UserError(protocol.ErrUnreadableRecord, "the item record of %s cannot be read (look at it in the vault): %v", in.ItemID, err)
		}
		return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read item: %v", err)
	}
	// The decision needs only the points' summaries (one listing, as restore planning
	// reads them); a manifest is read only for a point about to be deleted, which needs its
	// stripes. Reading every manifest cost a Get per point per item per run.
	sums, err := c.Vault.ListPointSummaries(ctx, in.ItemID)
	if err != nil {
		if unreadableRecord(err) {
			return res, protocol.UserError(protocol.ErrUnreadableRecord,
				"a recovery point of item %s (%s on %s) cannot be read, so retention leaves the item alone (look at it in the vault): %v",
				in.ItemID, it.Database, it.Instance, err)
		}
		return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list points: %v", err)
	}
	// Retention never deletes on the word of an unauthenticated object. Under a policy, the
	// decision about each point depends on the others (a chain is kept whole), so one
	// unauthenticated point stops every deletion of the item; stopped with delete, each
	// point goes on its own word, so the authenticated ones go and the rest are reported.
	trusted, unauthenticated := authenticatedOnly(sums, false)
	refuse := func() error {
		return protocol.UserError(protocol.ErrUnauthenticated,
			"retention deletes nothing of item %s (%s on %s) on the word of %d unauthenticated recovery points: %s",
			in.ItemID, it.Database, it.Instance, len(unauthenticated), skippedAdvice(unauthenticated))
	}
	var decisions []policy.Decision
	switch it.State {
	case vault.ItemStoppedRetain:
		res.Kept = len(sums)
		return res, nil
	case vault.ItemStoppedDelete:
		// Soft delete: the points stay until the period after the stop ends, so a delete
		// that whoever can start workflows asked for can be undone (ResumeProtection).
		if after := c.softDeleteEnds(it); c.now().Before(after) {
			res.Kept, res.DeleteAfter = len(sums), &after
			return res, nil
		}
		for _, s := range trusted {
			decisions = append(decisions, policy.Decision{PointID: s.PointID, Reasons: []string{"protection stopped with delete"}})
		}
	default:
		if len(unauthenticated) > 0 {
			return res, refuse()
		}
		p, err := c.LoadPolicy(ctx, it.Policy)
		if err != nil {
			return res, err
		}
		points := make([]policy.Point, len(sums))
		for i := range sums {
			points[i] = sums[i].Point()
		}
		decisions = policy.Retain(points, p, c.now())
	}
	byID := make(map[string]*vault.PointSummary, len(sums))
	for i := range sums {
		byID[sums[i].PointID] = &sums[i]
	}
	for _, d := range decisions {
		if d.Keep {
			res.Kept++
			continue
		}
		res.Deleted = append(res.Deleted, protocol.RetentionDecision{ItemID: in.ItemID, PointID: d.PointID, Delete: true, Reasons: d.Reasons})
		if in.DryRun {
			continue
		}
		if err := c.deletePoint(ctx, it, byID[d.PointID]); err != nil {
			return res, err
		}
		if c.Log != nil {
			c.Log.Info("retention deleted a recovery point", zap.String("item", in.ItemID), zap.String("point", d.PointID),
				zap.Strings("reasons", d.Reasons))
		}
	}
	if len(unauthenticated) > 0 {
		res.Kept += len(unauthenticated)
		return res, refuse()
	}
	if it.State == vault.ItemStoppedDelete && !in.DryRun && !c.now().Before(it.UpdatedAt.Add(policy.BackupMaxDuration)) {
		if err := l.DeleteItem(ctx); err != nil {
			return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "remove item: %v", err)
		}
		res.ItemRemoved = true
		if c.Log != nil {
			c.Log.Info("retention removed an item stopped with delete", zap.String("item", in.ItemID))
		}
	}
	return res, nil
}

// deletePoint deletes the point retention decided on from its summary: it reads the
// manifest, authenticated (its stripes name the blobs to delete), and deletes only if the
// manifest still says what the summary said, so the decision is never applied to another
// point than the one it was made for, nor on the word of an unauthenticated manifest.
func (c *Control) deletePoint(ctx context.Context, it *vault.ProtectedItem, s *vault.PointSummary) error {
	m, err := c.Vault.Manifest(ctx, s.ItemID, s.PointID)
	switch {
	case errors.Is(err, vault.ErrNotFound):
		return nil // gone already (an earlier attempt deleted it)
	case errors.Is(err, vault.ErrUnauthenticated):
		return protocol.UserError(protocol.ErrUnauthenticated,
			"recovery point %s of item %s (%s on %s) is not authenticated, so retention does not delete it: %v",
			s.PointID, s.ItemID, it.Database, it.Instance, err)
	case err != nil && unreadableRecord(err):
		return protocol.UserError(protocol.ErrUnreadableRecord,
			"recovery point %s of item %s (%s on %s) cannot be read, so retention does not delete it (look at it in the vault): %v",
			s.PointID, s.ItemID, it.Database, it.Instance, err)
	case err != nil:
		return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read %s: %v", s.PointID, err)
	}
	if match, _ := vault.CheckSummaryDigest(m, s.Digest()); !match {
		return protocol.UserError(protocol.ErrUnreadableRecord,
			"recovery point %s of item %s (%s on %s): its manifest no longer says what its listing summary says, so retention does not delete it (look at it in the vault; the next run decides again)",
			s.PointID, s.ItemID, it.Database, it.Instance)
	}
	if err := c.Vault.DeletePoint(ctx, m); err != nil {
		return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "delete %s: %v", s.PointID, err)
	}
	return nil
}

// Sweep deletes blobs no manifest references, older than the grace period (or lists them).
func (c *Control) Sweep(ctx context.Context, in protocol.RetentionInput) (protocol.RetentionResult, error) {
	grace, err := protocol.SweepGrace(in.SweepGraceHours)
	if err != nil {
		return protocol.RetentionResult{}, protocol.UserError(protocol.ErrSweepGraceTooShort, "%v", err)
	}
	rep, err := c.Vault.Sweep(ctx, c.now(), grace, in.DryRun)
	if err != nil {
		return protocol.RetentionResult{}, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "sweep: %v", err)
	}
	var res protocol.RetentionResult
	for _, d := range rep.Deleted {
		res.SweptBlobs = append(res.SweptBlobs, d.Name)
	}
	res.SweptBytes = rep.DeletedBytes
	return res, nil
}

// AutoProtection records an auto-protected instance and makes sure the rediscovery schedule
// exists; it returns every auto-protected instance (with List, it only returns them).
func (c *Control) AutoProtection(ctx context.Context, in protocol.AutoProtectionInput) ([]protocol.AutoProtectedInstance, error) {
	if !in.List {
		if err := c.Vault.PutInstance(ctx, &vault.InstanceRecord{VM: in.VM, Instance: in.Instance, Policy: in.Policy,
			AutoProtect: true, UpdatedAt: c.now()}); err != nil {
			return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "record instance: %v", err)
		}
		if err := c.ensureRediscoverSchedule(ctx); err != nil {
			return nil, err
		}
	}
	recs, err := c.Vault.Instances(ctx)
	if err != nil {
		return nil, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "list instances: %v", err)
	}
	var out []protocol.AutoProtectedInstance
	for _, r := range recs {
		if r.Unauthenticated != "" {
			// Discovery would protect new databases under the policy it names: not on the
			// word of a record written without the key (`vault upgrade` authenticates a
			// legacy one; AutoProtection writes it anew).
			if c.Log != nil {
				c.Log.Warn("auto-protection: instance record not authenticated, ignored", zap.String("instance", r.Instance), zap.String("why", r.Unauthenticated))
			}
			continue
		}
		if r.AutoProtect {
			out = append(out, protocol.AutoProtectedInstance{VM: r.VM, Instance: r.Instance, Policy: r.Policy})
		}
	}
	// Reconcile: the vault says discovery must run, so its schedule must exist.
	if in.EnsureSchedule && len(out) > 0 {
		if err := c.ensureRediscoverSchedule(ctx); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RediscoverEvery is how often auto-protected instances are searched for new databases
// (Azure Backup rediscovers every 8 hours).
const RediscoverEvery = 8 * time.Hour

func (c *Control) ensureRediscoverSchedule(ctx context.Context) error {
	_, err := c.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID:      protocol.RediscoverScheduleID,
		Spec:    client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: RediscoverEvery}}},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Note:    "sqlvault: protect databases created on auto-protected instances",
		Action: &client.ScheduleWorkflowAction{ID: "sqlvault-rediscover", Workflow: protocol.WorkflowRediscover,
			TaskQueue: c.ControlQueue, WorkflowExecutionTimeout: 4 * time.Hour},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return protocol.RetryableError(protocol.ErrBackupFailed, err, "create the rediscovery schedule: %v", err)
	}
	return nil
}

// RetentionAt is when the retention schedule runs each day (UTC): after the night's fulls
// of most zones have started, and well apart from the hour marks logs cluster on.
const RetentionAt = "01:37"

// RetentionTimeout bounds one scheduled retention run (items one after another, then the
// sweep); the next day's run takes over from a run that did not finish.
const RetentionTimeout = 20 * time.Hour

// ensureRetentionSchedule creates the daily schedule of sqlvault.Retention if it is missing.
// An existing one is left as it is: an operator may have paused it or changed its time in
// the UI, and creating it again must not undo that.
func (c *Control) ensureRetentionSchedule(ctx context.Context) error {
	_, err := c.Temporal.ScheduleClient().Create(ctx, client.ScheduleOptions{
		ID: protocol.RetentionScheduleID,
		Spec: client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{{
			Hour:   []client.ScheduleRange{{Start: 1}},
			Minute: []client.ScheduleRange{{Start: 37}},
		}}},
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Note:    "sqlvault: delete expired recovery points of every item, then sweep unreferenced blobs",
		Action: &client.ScheduleWorkflowAction{ID: "sqlvault-retention-run", Workflow: protocol.WorkflowRetention,
			Args: []any{protocol.RetentionInput{}}, TaskQueue: c.ControlQueue, WorkflowExecutionTimeout: RetentionTimeout},
	})
	if err != nil && !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return protocol.RetryableError(protocol.ErrBackupFailed, err, "create the retention schedule: %v", err)
	}
	return nil
}

// cancelWait bounds how long StopProtection waits for cancelled backups to close.
const cancelWait = 5 * time.Minute

// CancelItemBackups cancels the item's running backups (its data and log lanes, the
// workflow IDs the schedules and the starter use) and waits for them to close, so that
// StopProtection deletes nothing a backup still writes. A backup it cannot see (started
// under another ID) is still refused at commit: the item is stopped by then.
func (c *Control) CancelItemBackups(ctx context.Context, in protocol.CancelItemBackupsInput) (protocol.CancelItemBackupsResult, error) {
	var res protocol.CancelItemBackupsResult
	running := func(id string) (bool, error) {
		d, err := c.Temporal.DescribeWorkflowExecution(ctx, id, "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return false, nil
		}
		if err != nil {
			return false, protocol.RetryableError(protocol.ErrBackupFailed, err, "describe %s: %v", id, err)
		}
		return d.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, nil
	}
	var ids []string
	for _, t := range []protocol.BackupType{protocol.Full, protocol.Log} {
		id := protocol.BackupWorkflowID(in.ItemID, t)
		run, err := running(id)
		if err != nil {
			return res, err
		}
		if !run {
			continue
		}
		if err := c.Temporal.CancelWorkflow(ctx, id, ""); err != nil {
			var nf *serviceerror.NotFound
			if !errors.As(err, &nf) {
				return res, protocol.RetryableError(protocol.ErrBackupFailed, err, "cancel %s: %v", id, err)
			}
		}
		ids = append(ids, id)
		if c.Log != nil {
			c.Log.Info("stop protection: cancelled a running backup", zap.String("item", in.ItemID), zap.String("workflow", id))
		}
	}
	res.Cancelled = ids
	give := time.Now().Add(cancelWait)
	for _, id := range ids {
		for {
			run, err := running(id)
			if err != nil {
				return res, err
			}
			if !run {
				break
			}
			if time.Now().After(give) {
				// Not fatal: its commit is refused (the item is stopped) and its data swept.
				if c.Log != nil {
					c.Log.Warn("a cancelled backup is still running; its commit will be refused", zap.String("workflow", id))
				}
				break
			}
			if activity.IsActivity(ctx) {
				activity.RecordHeartbeat(ctx, id)
			}
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(time.Second):
			}
		}
	}
	return res, nil
}
