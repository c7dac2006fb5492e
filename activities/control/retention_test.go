package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

const (
	rtInstance = "SQLVM1"
	rtDatabase = "Sales"
)

var rtStart = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

type retentionFixture struct {
	t    *testing.T
	ctx  context.Context
	repo *vault.Repository
	key  *blockcrypt.Key
	c    *Control
	now  time.Time
	item string
	lsn  int64
}

func newRetentionFixture(t *testing.T) *retentionFixture {
	key, err := blockcrypt.NewKey(make([]byte, blockcrypt.KeySize))
	require.NoError(t, err)
	f := &retentionFixture{t: t, ctx: context.Background(), repo: vault.NewRepository(vault.NewMemStore(), nil).WithKeys(vault.Keys{key}), key: key,
		now: rtStart, item: vault.ItemID(rtInstance, rtDatabase), lsn: 37_000_000_000_001_000}
	f.c = &Control{Vault: f.repo, Now: func() time.Time { return f.now }, LeaseWait: 50 * time.Millisecond}
	require.NoError(t, f.repo.PutItem(f.ctx, &vault.ProtectedItem{ItemID: f.item, VM: rtInstance, Instance: rtInstance,
		Database: rtDatabase, Policy: "daily", State: vault.ItemProtected, CreatedAt: f.now, UpdatedAt: f.now}))
	return f
}

// stream writes a backup's stripe to the vault, as the agent does, and returns the commit
// input the workflow would send once SQL Server finished.
func (f *retentionFixture) stream(typ protocol.BackupType, at time.Time) protocol.CommitInput {
	f.t.Helper()
	point := vault.NewPointID(at, typ.Kind(), fmt.Sprintf("r%d", f.lsn%1000))
	blob := vault.DataBlob(f.item, point, 1, 1)
	w := f.repo.NewStripeWriter(blob, f.key, vault.StripeWriterOptions{})
	defer w.Close()
	require.NoError(f.t, w.PutBlock(f.ctx, "AAAA", []byte("backup bytes of "+point)))
	si, err := w.Commit(f.ctx, []string{"AAAA"})
	require.NoError(f.t, err)
	first := f.lsn
	f.lsn += 100
	bs := protocol.BackupSet{Type: map[protocol.BackupType]string{protocol.Full: "D", protocol.Differential: "I", protocol.Log: "L"}[typ],
		FirstLSN: fmt.Sprint(first), LastLSN: fmt.Sprint(f.lsn), CheckpointLSN: fmt.Sprint(first + 10),
		BackupSetGUID: "b-" + point, DatabaseGUID: "6f1c0b8e-0000-4000-8000-000000000001", FamilyGUID: "6f1c0b8e-0000-4000-8000-000000000002",
		Start: at, Finish: at.Add(time.Minute), SizeBytes: 100, RecoveryModel: "FULL"}
	return protocol.CommitInput{ItemID: f.item, PointID: point, VM: rtInstance, Instance: rtInstance, ServerName: rtInstance,
		Database: rtDatabase, Type: typ, Stream: protocol.StreamBackupResult{BackupSet: bs, KeyID: f.key.ID(), Compression: "none",
			Stripes: []protocol.Stripe{{Blob: si.Blob, Index: si.Index, IndexSHA256: si.IndexSHA256, PlainBytes: si.PlainBytes,
				StoredBytes: si.StoredBytes, Blocks: si.Blocks, Digest: si.Digest}}}}
}

// stopWithDelete records the item as stopped with delete, as StopProtection does.
func (f *retentionFixture) stopWithDelete() {
	f.t.Helper()
	res, err := f.c.SetItemState(f.ctx, protocol.SetItemStateInput{ItemID: f.item, State: vault.ItemStoppedDelete})
	require.NoError(f.t, err)
	require.NotNil(f.t, res.DeleteAfter)
}

// pastSoftDelete moves the clock just past the end of the item's soft-delete period.
func (f *retentionFixture) pastSoftDelete() {
	f.t.Helper()
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(f.t, err)
	require.Equal(f.t, vault.ItemStoppedDelete, it.State)
	f.now = it.UpdatedAt.Add(protocol.DefaultSoftDeleteDays*24*time.Hour + time.Minute)
}

// pointsWithoutRecord lists the points of items that have no item record: points retention
// never visits.
func (f *retentionFixture) pointsWithoutRecord() []string {
	ids, err := f.repo.ListItems(f.ctx)
	require.NoError(f.t, err)
	var out []string
	for _, id := range ids {
		if _, err := f.repo.Item(f.ctx, id); err == nil {
			continue
		}
		ms, err := f.repo.ListPoints(f.ctx, id)
		require.NoError(f.t, err)
		for _, m := range ms {
			out = append(out, m.PointID)
		}
	}
	return out
}

// The reviewer's second case (issue 11, item 7): StopProtection with delete, then the commit
// of the backup that was streaming meanwhile, left a point with no item record, which
// retention never visits. The commit is now refused (ItemStopped) and the item's record stays
// (stopped-delete) as long as a backup started before the stop may still commit — and, with
// soft delete, until the soft-delete period ends, when the points and the record go.
func TestStopWithDeleteThenInFlightCommitLeavesNoOrphan(t *testing.T) {
	f := newRetentionFixture(t)
	full := f.stream(protocol.Full, f.now)
	_, err := f.c.CommitRecoveryPoint(f.ctx, full)
	require.NoError(t, err)
	f.now = f.now.Add(15 * time.Minute)
	inFlight := f.stream(protocol.Log, f.now) // streamed; its commit comes after the stop

	f.now = f.now.Add(time.Minute)
	f.stopWithDelete()
	rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.NoError(t, err)
	assert.Empty(t, rr.Deleted, "soft delete: nothing deleted yet")

	_, err = f.c.CommitRecoveryPoint(f.ctx, inFlight)
	require.Error(t, err, "a commit to a stopped item is refused")
	assert.Equal(t, protocol.ErrItemStopped, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "stopped")
	assert.Empty(t, f.pointsWithoutRecord())

	// The record is a tombstone until no backup started before the stop can still commit
	// and the soft-delete period has ended; then the points and the record go together.
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemStoppedDelete, it.State)
	f.now = it.UpdatedAt.Add(policy.BackupMaxDuration + time.Minute)
	rr, err = f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.NoError(t, err)
	assert.Empty(t, rr.Deleted, "still in the soft-delete period")
	assert.False(t, rr.ItemRemoved)
	f.pastSoftDelete()
	rr, err = f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.NoError(t, err)
	require.Len(t, rr.Deleted, 1)
	ms, err := f.repo.ListPoints(f.ctx, f.item)
	require.NoError(t, err)
	assert.Empty(t, ms)
	assert.True(t, rr.ItemRemoved)
	_, err = f.repo.Item(f.ctx, f.item)
	assert.ErrorIs(t, err, vault.ErrItemNotFound)
	var left []string
	require.NoError(t, f.repo.Store().List(f.ctx, vault.ItemPrefix(f.item), func(b vault.BlobInfo) error {
		left = append(left, b.Name)
		return nil
	}))
	assert.Equal(t, []string{inFlight.Stream.Stripes[0].Blob, inFlight.Stream.Stripes[0].Index}, left,
		"only the refused backup's stripe is left, for the sweep (no record, no lease)")
}

// While retention holds an item (decides from its listing, then deletes), no commit lands
// in between: the commit waits, then fails retryably (ItemBusy), and lands once retention is
// done.
func TestCommitWaitsWhileRetentionHoldsTheItem(t *testing.T) {
	f := newRetentionFixture(t)
	in := f.stream(protocol.Full, f.now)
	l, err := f.repo.AcquireItemLease(f.ctx, f.item, "retention", f.now, time.Hour)
	require.NoError(t, err)
	_, err = f.c.CommitRecoveryPoint(f.ctx, in)
	require.Error(t, err, "retention holds the item")
	assert.Equal(t, protocol.ErrItemBusy, protocol.ErrorType(err))
	ms, err := f.repo.ListPoints(f.ctx, f.item)
	require.NoError(t, err)
	assert.Empty(t, ms)
	require.NoError(t, l.Release(f.ctx))
	_, err = f.c.CommitRecoveryPoint(f.ctx, in)
	require.NoError(t, err)

	// And retention waits for a commit in the same way.
	l, err = f.repo.AcquireItemLease(f.ctx, f.item, "commit", f.now, time.Hour)
	require.NoError(t, err)
	_, err = f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	assert.Equal(t, protocol.ErrItemBusy, protocol.ErrorType(err))
	_, err = f.c.SetItemState(f.ctx, protocol.SetItemStateInput{ItemID: f.item, State: vault.ItemStoppedDelete})
	assert.Equal(t, protocol.ErrItemBusy, protocol.ErrorType(err), "so does stopping")
	require.NoError(t, l.Release(f.ctx))
}

// An unreadable manifest is a named, non-retryable error that names it: retrying it 20
// times changed nothing but delayed every other item.
func TestApplyRetentionOnAnUnreadableManifest(t *testing.T) {
	f := newRetentionFixture(t)
	bad := vault.NewPointID(f.now, vault.BackupFull, "bad1")
	require.NoError(t, f.repo.Store().Put(f.ctx, vault.ManifestBlob(f.item, bad), []byte("{not json"), vault.PutOptions{}))
	_, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnreadableRecord, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), bad)
	assert.True(t, isNonRetryable(err))
}

func isNonRetryable(err error) bool {
	var ae *temporal.ApplicationError
	return errors.As(err, &ae) && ae.NonRetryable()
}

// Protecting a stopped item again waits for retention, which may be removing that item's
// points and record: otherwise the record just written could be deleted behind it.
func TestProtectingAStoppedItemAgainWaitsForRetention(t *testing.T) {
	f := newRetentionFixture(t)
	f.stopWithDelete()
	l, err := f.repo.AcquireItemLease(f.ctx, f.item, "retention", f.now, time.Hour)
	require.NoError(t, err)
	in := protocol.RegisterItemsInput{VM: rtInstance, Instance: rtInstance, Policy: "daily",
		Databases: []protocol.DatabaseInfo{{Name: rtDatabase, ItemID: f.item}}}
	_, err = f.c.RegisterItems(f.ctx, in)
	assert.Equal(t, protocol.ErrItemBusy, protocol.ErrorType(err))
	require.NoError(t, l.Release(f.ctx))
	_, err = f.c.RegisterItems(f.ctx, in)
	require.NoError(t, err)
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemProtected, it.State)
}

// The reviewer's first case (issue 11, item 7), through ApplyRetention and the commit: a
// weekly full kept one week, differentials kept one day. Saturday's differential (based on
// last Sunday's full) is still streaming when retention runs just after midnight on Sunday;
// retention used to delete the full, and the differential then committed without its base.
func TestRetentionKeepsTheFullOfADifferentialStillStreaming(t *testing.T) {
	f := newRetentionFixture(t)
	p := policy.Policy{Name: "weekly",
		Full:         policy.FullSchedule{Frequency: policy.FrequencyWeekly, Weekdays: []time.Weekday{time.Sunday}, TimeOfDay: "23:00", TimeZone: "UTC"},
		Differential: &policy.DiffSchedule{Weekdays: []time.Weekday{1, 2, 3, 4, 5, 6}, TimeOfDay: "23:00"},
		Retention:    policy.Retention{Weekly: &policy.KeepWeekly{Weeks: 1, Weekday: time.Sunday}, DifferentialDays: 1},
	}
	require.NoError(t, p.Validate())
	doc, err := json.Marshal(p)
	require.NoError(t, err)
	require.NoError(t, f.repo.PutPolicy(f.ctx, "weekly", doc))
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	it.Policy = "weekly"
	require.NoError(t, f.repo.PutItem(f.ctx, it))

	sunday := time.Date(2026, 3, 1, 23, 0, 0, 0, time.UTC)
	full := f.stream(protocol.Full, sunday)
	base := full.Stream.BackupSet.CheckpointLSN
	_, err = f.c.CommitRecoveryPoint(f.ctx, full)
	require.NoError(t, err)
	diff := func(at time.Time) protocol.CommitInput {
		in := f.stream(protocol.Differential, at)
		in.Stream.BackupSet.DifferentialBaseLSN = base
		in.Stream.BackupSet.DatabaseBackupLSN = base
		return in
	}
	for d := 1; d <= 5; d++ {
		f.now = sunday.AddDate(0, 0, d).Add(10 * time.Minute)
		_, err := f.c.CommitRecoveryPoint(f.ctx, diff(sunday.AddDate(0, 0, d)))
		require.NoError(t, err)
	}
	saturday := diff(sunday.AddDate(0, 0, 6)) // streaming: not committed yet

	f.now = time.Date(2026, 3, 8, 0, 30, 0, 0, time.UTC)
	rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.NoError(t, err)
	for _, d := range rr.Deleted {
		assert.NotEqual(t, full.PointID, d.PointID, "the base of the differential in flight was deleted: %v", d.Reasons)
	}
	f.now = f.now.Add(90 * time.Minute)
	_, err = f.c.CommitRecoveryPoint(f.ctx, saturday)
	require.NoError(t, err)
	ms, err := f.repo.ListPoints(f.ctx, f.item)
	require.NoError(t, err)
	pts := make([]planner.Point, len(ms))
	for i, m := range ms {
		pts[i] = vault.SummaryOf(m).Point()
	}
	_, err = planner.PlanRestore(pts, planner.Target{PointID: saturday.PointID})
	require.NoError(t, err, "Saturday's differential restores (its base full is still in the vault)")
}

// Retry safety: a retention attempt killed after some deletions and before its result
// leaves its lease held; the retry waits (ItemBusy) until the lease expires, then finishes
// the job. Stopping twice keeps the time of the first stop (the tombstone counts from it).
func TestApplyRetentionAfterAKilledAttempt(t *testing.T) {
	f := newRetentionFixture(t)
	for i := range 3 {
		_, err := f.c.CommitRecoveryPoint(f.ctx, f.stream(protocol.Full, f.now.Add(time.Duration(i)*time.Hour)))
		require.NoError(t, err)
	}
	f.stopWithDelete()
	stopped, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	f.now = f.now.Add(time.Hour)
	f.stopWithDelete() // a retried stop
	again, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	assert.Equal(t, stopped.UpdatedAt, again.UpdatedAt)
	f.pastSoftDelete()

	// The killed attempt: lease taken for its 10-minute StartToClose, one point deleted.
	_, err = f.repo.AcquireItemLease(f.ctx, f.item, "retention", f.now, 10*time.Minute+leaseMargin)
	require.NoError(t, err)
	ms, err := f.repo.ListPoints(f.ctx, f.item)
	require.NoError(t, err)
	require.NoError(t, f.repo.DeletePoint(f.ctx, ms[0]))

	f.now = f.now.Add(5 * time.Minute)
	_, err = f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	assert.Equal(t, protocol.ErrItemBusy, protocol.ErrorType(err), "the dead attempt's lease still holds")
	f.now = f.now.Add(7 * time.Minute)
	rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.NoError(t, err)
	assert.Len(t, rr.Deleted, 2)
	ms, err = f.repo.ListPoints(f.ctx, f.item)
	require.NoError(t, err)
	assert.Empty(t, ms)
}

// recordingStore records which blobs are read and which prefixes listed.
type recordingStore struct {
	vault.Store
	mu     sync.Mutex
	gets   []string
	listed []string
}

func (s *recordingStore) Get(ctx context.Context, blob string) ([]byte, error) {
	s.mu.Lock()
	s.gets = append(s.gets, blob)
	s.mu.Unlock()
	return s.Store.Get(ctx, blob)
}

func (s *recordingStore) List(ctx context.Context, prefix string, fn func(vault.BlobInfo) error) error {
	s.mu.Lock()
	s.listed = append(s.listed, prefix)
	s.mu.Unlock()
	return s.Store.List(ctx, prefix, fn)
}

// Retention decides from the points' summaries: one listing of the item's points, and a
// manifest read only for each point it deletes (it needs the stripes), not one per point
// (issue 12: about 7 million reads per run at 2,000 items with 35 days of logs).
func TestApplyRetentionReadsOnlyTheManifestsItDeletes(t *testing.T) {
	f := newRetentionFixture(t)
	counting := &vault.CountingStore{Store: f.repo.Store()}
	rec := &recordingStore{Store: counting}
	f.repo = vault.NewRepository(rec, nil).WithKeys(vault.Keys{f.key})
	f.c.Vault = f.repo
	p := policy.Policy{Name: "week",
		Full:      policy.FullSchedule{Frequency: policy.FrequencyDaily, TimeOfDay: "00:00", TimeZone: "UTC"},
		Log:       &policy.LogSchedule{EveryMinutes: 60},
		Retention: policy.Retention{Daily: &policy.Keep{Days: 7}, LogDays: 2},
	}
	require.NoError(t, p.Validate())
	doc, err := json.Marshal(p)
	require.NoError(t, err)
	require.NoError(t, f.repo.PutPolicy(f.ctx, "week", doc))
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	it.Policy = "week"
	require.NoError(t, f.repo.PutItem(f.ctx, it))

	const days, logsPerDay = 20, 6
	n := 0
	for d := range days {
		day := rtStart.AddDate(0, 0, d)
		f.now = day.Add(10 * time.Minute)
		_, err := f.c.CommitRecoveryPoint(f.ctx, f.stream(protocol.Full, day))
		require.NoError(t, err)
		n++
		for h := 1; h <= logsPerDay; h++ {
			f.now = day.Add(time.Duration(h)*time.Hour + 10*time.Minute)
			_, err := f.c.CommitRecoveryPoint(f.ctx, f.stream(protocol.Log, day.Add(time.Duration(h)*time.Hour)))
			require.NoError(t, err)
			n++
		}
	}
	f.now = rtStart.AddDate(0, 0, days).Add(30 * time.Minute)
	rec.gets, rec.listed = nil, nil
	before := counting.Snapshot()
	rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.NoError(t, err)
	spent := counting.Snapshot().Sub(before)

	require.NotEmpty(t, rr.Deleted)
	require.Less(t, len(rr.Deleted), n-10, "the test needs kept points too")
	assert.Equal(t, n, rr.Kept+len(rr.Deleted))
	var wantGets []string
	for _, d := range rr.Deleted {
		wantGets = append(wantGets, vault.ManifestBlob(f.item, d.PointID))
	}
	var manifestGets []string
	for _, g := range rec.gets {
		if strings.HasPrefix(g, vault.PointsPrefix(f.item)) {
			manifestGets = append(manifestGets, g)
		}
	}
	assert.ElementsMatch(t, wantGets, manifestGets, "a manifest is read only for a point retention deletes")
	var pointListings int
	for _, prefix := range rec.listed {
		if prefix == vault.PointsPrefix(f.item) {
			pointListings++
		}
	}
	assert.Equal(t, 1, pointListings, "one listing of the item's points")
	assert.LessOrEqual(t, spent.Gets, int64(len(rr.Deleted))+3, "Gets: the deleted manifests, the item and policy records, the lease (%+v)", spent)

	// And what it kept still restores: every kept log has its chain.
	sums, err := f.repo.ListPointSummaries(f.ctx, f.item)
	require.NoError(t, err)
	require.Len(t, sums, rr.Kept)
	pts := make([]planner.Point, len(sums))
	for i := range sums {
		pts[i] = sums[i].Point()
	}
	for _, s := range sums {
		_, err := planner.PlanRestore(pts, planner.Target{PointID: s.PointID})
		assert.NoError(t, err, "kept point %s restores", s.PointID)
	}
}

// Soft delete (issue 16): an item stopped with delete keeps every point through its
// soft-delete period — retention reports when they go and a dry run lists nothing to
// delete — and protecting it again during the period undoes the delete with every point
// intact. After the period, retention deletes them all.
func TestSoftDeleteKeepsPointsUntilItEndsAndResumeUndoesIt(t *testing.T) {
	f := newRetentionFixture(t)
	for i := range 2 {
		_, err := f.c.CommitRecoveryPoint(f.ctx, f.stream(protocol.Full, f.now.Add(time.Duration(i)*time.Hour)))
		require.NoError(t, err)
	}
	f.now = f.now.Add(2 * time.Hour)
	f.stopWithDelete()
	stopped := f.now
	end := stopped.Add(protocol.DefaultSoftDeleteDays * 24 * time.Hour)
	for _, at := range []time.Time{stopped, stopped.Add(3 * 24 * time.Hour), end.Add(-time.Second)} {
		f.now = at
		for _, dry := range []bool{true, false} {
			rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item, DryRun: dry})
			require.NoError(t, err)
			assert.Empty(t, rr.Deleted, "at %s", at)
			assert.Equal(t, 2, rr.Kept)
			require.NotNil(t, rr.DeleteAfter)
			assert.True(t, end.Equal(*rr.DeleteAfter), "%s", rr.DeleteAfter)
			assert.False(t, rr.ItemRemoved)
		}
	}

	// Resumed on the last day: the delete is undone, every point still there.
	res, err := f.c.SetItemState(f.ctx, protocol.SetItemStateInput{ItemID: f.item, State: vault.ItemProtected})
	require.NoError(t, err)
	assert.Nil(t, res.DeleteAfter)
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(t, err)
	assert.Equal(t, vault.ItemProtected, it.State)
	ms, err := f.repo.ListPoints(f.ctx, f.item)
	require.NoError(t, err)
	assert.Len(t, ms, 2)

	// Stopped with delete again: the period starts anew, and after it everything goes.
	f.stopWithDelete()
	f.pastSoftDelete()
	rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.NoError(t, err)
	assert.Len(t, rr.Deleted, 2)
	assert.Nil(t, rr.DeleteAfter)
	assert.True(t, rr.ItemRemoved)
	_, err = f.c.SetItemState(f.ctx, protocol.SetItemStateInput{ItemID: f.item, State: vault.ItemProtected})
	assert.Equal(t, protocol.ErrNotProtected, protocol.ErrorType(err))
	assert.ErrorContains(t, err, "soft-delete period has ended")
}
