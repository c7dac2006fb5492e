package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/mocks"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

// statusVault holds two items of policy daily-30d (logs hourly): Sales, protected, with a
// full finished at fullAt; HR, stopped.
func statusVault(t *testing.T, fullAt time.Time) *vault.Repository {
	t.Helper()
	ctx := context.Background()
	mem := vault.NewMemStore()
	repo := vault.NewRepository(mem, nil).WithKeys(vaulttest.Keys())
	require.NoError(t, repo.PutPolicy(ctx, "daily-30d", []byte(`{"name": "daily-30d", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}}`)))
	for _, it := range []struct{ db, state string }{{"Sales", vault.ItemProtected}, {"HR", vault.ItemStoppedRetain}} {
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: vault.ItemID("SQLVM1", it.db), VM: "SQLVM1", Instance: "SQLVM1",
			Database: it.db, Policy: "daily-30d", State: it.state, CreatedAt: fullAt, UpdatedAt: fullAt}))
	}
	item := vault.ItemID("SQLVM1", "Sales")
	m := &vault.Manifest{Schema: vault.ManifestSchema, ItemID: item, PointID: vault.NewPointID(fullAt, vault.BackupFull, "a1")}
	m.Database.Name = "Sales"
	m.Server.Instance = "SQLVM1"
	m.Backup.Type = vault.BackupFull
	m.Backup.StartTime, m.Backup.FinishTime = fullAt.Add(-time.Minute), fullAt
	m.Backup.FirstLSN, m.Backup.LastLSN, m.Backup.CheckpointLSN = "1000", "2000", "1500"
	m.CreatedAt = fullAt
	m.Encryption.Algorithm, m.Encryption.KeyID, m.Encryption.Compression = vault.AlgorithmAES256GCM, "k1", vault.CompressionZstd
	blob := vault.DataBlob(item, m.PointID, 1, 0)
	m.Stripes = []vault.StripeInfo{{Blob: blob, Index: vault.IndexBlob(blob), IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)}}
	require.NoError(t, m.Validate())
	// Without summary metadata: the listing reads the manifest itself.
	data, err := json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, mem.Put(ctx, vault.ManifestBlob(item, m.PointID), data, vault.PutOptions{}))
	return repo
}

// Next runs come from the schedules (asked only for protected items); RPO and health are
// judged at now.
func TestStatusTakesNextRunsFromTheSchedules(t *testing.T) {
	fullAt := time.Date(2026, 11, 26, 2, 5, 0, 0, time.UTC)
	repo := statusVault(t, fullAt)
	sales := vault.ItemID("SQLVM1", "Sales")
	nextFull := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	nextLog := time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)
	var asked []string
	next := func(_ context.Context, id string) (time.Time, error) {
		asked = append(asked, id) // serialNext makes this safe
		switch id {
		case protocol.ItemScheduleID(sales, "full"):
			return nextFull, nil
		case protocol.ItemScheduleID(sales, "log"):
			return nextLog, nil
		}
		return time.Time{}, nil
	}
	var warn bytes.Buffer
	st, err := itemStatuses(context.Background(), repo, fullAt.Add(30*time.Minute), serialNext(next), &warn)
	require.NoError(t, err)
	require.Len(t, st, 2)
	byDB := map[string]itemStatus{st[0].Database: st[0], st[1].Database: st[1]}
	s := byDB["Sales"]
	assert.Equal(t, map[string]time.Time{"full": nextFull, "log": nextLog}, s.NextRun)
	assert.Equal(t, "ok", s.Health)
	assert.Equal(t, "30m0s", s.RPO)
	assert.Equal(t, "1h0m0s", s.RPOTarget)
	assert.True(t, s.LastGood["full"].Equal(fullAt))
	assert.Empty(t, byDB["HR"].NextRun)
	assert.Equal(t, "stopped", byDB["HR"].Health)
	assert.ElementsMatch(t, []string{protocol.ItemScheduleID(sales, "full"), protocol.ItemScheduleID(sales, "differential"),
		protocol.ItemScheduleID(sales, "log")}, asked, "a stopped item's schedules are not asked for")
	assert.Empty(t, warn.String())

	var out bytes.Buffer
	require.NoError(t, printStatus(&out, st))
	assert.Regexp(t, `(?m)^INSTANCE +DATABASE +POLICY +HEALTH +RPO / TARGET +LAST FULL +LAST LOG +NEXT FULL +NEXT LOG\n`, out.String(), "the columns are kept")
	assert.Regexp(t, `(?m)^SQLVM1 +Sales +daily-30d +ok +30m0s / 1h0m0s +2026-11-26 02:05 +- +2026-11-27 02:00 +2026-11-26 03:00\n`, out.String())

	// A schedule that cannot be described is a warning, and the rest is still shown.
	warn.Reset()
	st, err = itemStatuses(context.Background(), repo, fullAt.Add(5*time.Hour), serialNext(func(context.Context, string) (time.Time, error) {
		return time.Time{}, errors.New("deadline exceeded")
	}), &warn)
	require.NoError(t, err)
	assert.Contains(t, warn.String(), "3 schedule(s) could not be described")
	assert.Contains(t, warn.String(), "deadline exceeded")
	for _, s := range st {
		assert.Empty(t, s.NextRun)
		if s.Database == "Sales" {
			assert.Equal(t, "late", s.Health)
		}
	}
}

// A SIMPLE-recovery database (its item allows no log backups) has no log schedule: no next
// log run is shown, and its RPO is judged against the full's interval, not the policy's
// log interval it cannot follow.
func TestStatusOfADatabaseWithoutLogBackups(t *testing.T) {
	fullAt := time.Date(2026, 11, 26, 2, 5, 0, 0, time.UTC)
	repo := statusVault(t, fullAt)
	ctx := context.Background()
	sales := vault.ItemID("SQLVM1", "Sales")
	it, err := repo.Item(ctx, sales)
	require.NoError(t, err)
	it.BackupTypes = []string{"full", "differential", "copy-only-full"}
	require.NoError(t, repo.PutItem(ctx, it))
	nextFull := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	// What Temporal answers: the full schedule exists (daily-30d has no differentials), the
	// log schedule does not.
	next := func(_ context.Context, id string) (time.Time, error) {
		if id == protocol.ItemScheduleID(sales, "full") {
			return nextFull, nil
		}
		return time.Time{}, nil
	}
	st, err := itemStatuses(ctx, repo, fullAt.Add(5*time.Hour), serialNext(next), io.Discard)
	require.NoError(t, err)
	var s itemStatus
	for _, x := range st {
		if x.Database == "Sales" {
			s = x
		}
	}
	assert.Equal(t, map[string]time.Time{"full": nextFull}, s.NextRun)
	assert.Equal(t, "24h0m0s", s.RPOTarget)
	assert.Equal(t, "ok", s.Health, "5 hours after the full is on time for a daily full")
	var out bytes.Buffer
	require.NoError(t, printStatus(&out, st))
	assert.Regexp(t, `(?m)^SQLVM1 +Sales +daily-30d +ok +5h0m0s / 24h0m0s +2026-11-26 02:05 +- +2026-11-27 02:00 +-\n`, out.String())
}

// serialNext makes a test's next-run function safe for fillNextRuns' concurrent calls.
func serialNext(f nextRunFunc) nextRunFunc {
	ch := make(chan struct{}, 1)
	return func(ctx context.Context, id string) (time.Time, error) {
		ch <- struct{}{}
		defer func() { <-ch }()
		return f(ctx, id)
	}
}

// What Temporal says: the first next action time; none for a paused schedule or one that
// does not exist; an error otherwise.
func TestScheduleNextRunReadsTheDescription(t *testing.T) {
	first := time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)
	describe := func(d *client.ScheduleDescription, err error) *mocks.ScheduleClient {
		h := &mocks.ScheduleHandle{}
		h.On("Describe", mock.Anything).Return(d, err)
		sc := &mocks.ScheduleClient{}
		sc.On("GetHandle", mock.Anything, "s1").Return(h)
		return sc
	}
	desc := func(paused bool) *client.ScheduleDescription {
		d := &client.ScheduleDescription{Schedule: client.Schedule{State: &client.ScheduleState{Paused: paused}}}
		d.Info.NextActionTimes = []time.Time{first, first.Add(24 * time.Hour)}
		return d
	}
	ctx := context.Background()
	got, err := scheduleNextRun(describe(desc(false), nil))(ctx, "s1")
	require.NoError(t, err)
	assert.True(t, got.Equal(first))
	got, err = scheduleNextRun(describe(desc(true), nil))(ctx, "s1")
	require.NoError(t, err)
	assert.True(t, got.IsZero(), "a paused schedule starts nothing")
	got, err = scheduleNextRun(describe(nil, serviceerror.NewNotFound("schedule not found")))(ctx, "s1")
	require.NoError(t, err)
	assert.True(t, got.IsZero())
	_, err = scheduleNextRun(describe(nil, serviceerror.NewUnavailable("down")))(ctx, "s1")
	require.Error(t, err)
}

// An item record changed without the vault key is shown, flagged, not hidden and not
// trusted: health "unauthenticated" with the reason, and no protection tag to hand to an
// overwrite (which refuses the record anyway).
func TestStatusFlagsAnUnauthenticatedItemRecord(t *testing.T) {
	fullAt := time.Date(2026, 11, 26, 2, 5, 0, 0, time.UTC)
	repo := statusVault(t, fullAt)
	ctx := context.Background()
	sales := vault.ItemID("SQLVM1", "Sales")
	it, err := repo.Item(ctx, sales)
	require.NoError(t, err)
	it.State = vault.ItemStoppedRetain
	record, err := json.Marshal(it)
	require.NoError(t, err)
	require.NoError(t, repo.Store().Put(ctx, vault.ItemBlob(sales), record, vault.PutOptions{}))

	st, err := itemStatuses(ctx, repo, fullAt.Add(5*time.Hour), nil, io.Discard)
	require.NoError(t, err)
	var s itemStatus
	for _, x := range st {
		if x.Database == "Sales" {
			s = x
		}
	}
	assert.Equal(t, "unauthenticated", s.Health)
	assert.Contains(t, s.Unauthenticated, "sqlvault vault upgrade")
	assert.Empty(t, s.ProtectionTag)
	for _, x := range st {
		if x.Database != "Sales" {
			assert.NotEqual(t, "unauthenticated", x.Health, "%s: the others are as before", x.Database)
		}
	}
}
