package rpowatch

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

var t0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

// point stores a manifest with its listing summary, as a commit writes it.
func point(t *testing.T, s vault.Store, db, typ string, finish time.Time, first, last, ckpt, dbBackup string) {
	t.Helper()
	vaulttest.PutPoint(t, s, db, typ, finish, first, last, ckpt, dbBackup)
}

const hourlyLogs = `{"name": "daily", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}}`

// fleet: Fresh (a full and a log within the hour), Behind (its last log 3 h ago), Broken (a
// log that does not chain after the last restorable one), Empty (nothing yet), Orphan (its
// policy is gone), Old (stopped).
func fleet(t *testing.T) *vault.Repository {
	ctx := context.Background()
	mem := vault.NewMemStore()
	repo := vault.NewRepository(mem, nil).WithKeys(vaulttest.Keys())
	require.NoError(t, repo.PutPolicy(ctx, "daily", []byte(hourlyLogs)))
	for _, it := range []struct{ db, state, policy string }{{"Fresh", vault.ItemProtected, "daily"}, {"Behind", vault.ItemProtected, "daily"},
		{"Broken", vault.ItemProtected, "daily"}, {"Empty", vault.ItemProtected, "daily"}, {"Orphan", vault.ItemProtected, "gone"},
		{"Old", vault.ItemStoppedRetain, "daily"}} {
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: vault.ItemID("SQLVM1", it.db), VM: "SQLVM1", Instance: "SQLVM1",
			Database: it.db, Policy: it.policy, State: it.state, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0}))
	}
	point(t, mem, "Fresh", vault.BackupFull, t0, "1000", "2000", "1500", "")
	point(t, mem, "Fresh", vault.BackupLog, t0.Add(4*time.Hour+30*time.Minute), "1000", "3000", "1500", "1500")
	point(t, mem, "Behind", vault.BackupFull, t0, "1000", "2000", "1500", "")
	point(t, mem, "Behind", vault.BackupLog, t0.Add(2*time.Hour), "1000", "3000", "1500", "1500")
	point(t, mem, "Broken", vault.BackupFull, t0, "1000", "2000", "1500", "")
	point(t, mem, "Broken", vault.BackupLog, t0.Add(time.Hour), "1000", "3000", "1500", "1500")
	point(t, mem, "Broken", vault.BackupLog, t0.Add(4*time.Hour+50*time.Minute), "9000", "9500", "1500", "1500") // a gap: 3000..9000
	return repo
}

var now = t0.Add(5 * time.Hour)

// Without schedules, breaches are named from the catalog alone: nothing restorable, a
// broken chain, or late; an unreadable policy is unknown; stopped items are left out; the
// worst (furthest past its target) comes first.
func TestJudgeAllFromTheCatalog(t *testing.T) {
	fs, err := JudgeAll(context.Background(), fleet(t), now, nil)
	require.NoError(t, err)
	type row struct{ db, state, reason string }
	var got []row
	for _, f := range fs {
		got = append(got, row{f.Database, f.State, f.Reason})
	}
	assert.Equal(t, []row{
		{"Empty", protocol.RPOStateBreached, protocol.RPOReasonNoFull},       // 6 h with nothing
		{"Broken", protocol.RPOStateBreached, protocol.RPOReasonChainBroken}, // restorable to t0+1h: 4 h
		{"Behind", protocol.RPOStateBreached, protocol.RPOReasonBackupsLate}, // 3 h
		{"Orphan", protocol.RPOStateUnknown, protocol.RPOReasonPolicyMissing},
		{"Fresh", protocol.RPOStateOK, ""},
	}, got)
	byDB := map[string]Finding{}
	for _, f := range fs {
		byDB[f.Database] = f
	}
	assert.Equal(t, time.Hour, byDB["Fresh"].Target)
	assert.Equal(t, policy.KindLog, byDB["Fresh"].Kind)
	// A log restores up to its start (a minute before its finish here).
	assert.Equal(t, 31*time.Minute, byDB["Fresh"].RPO)
	assert.Equal(t, t0.Add(59*time.Minute), byDB["Broken"].LastGood)
	assert.Equal(t, 4*time.Hour+time.Minute, byDB["Broken"].RPO)
	assert.Contains(t, byDB["Broken"].Detail, "the next scheduled log backup takes a full itself")
	assert.Contains(t, byDB["Broken"].Detail, "sqlvault backup --instance SQLVM1 --database Broken --type full")
	assert.Equal(t, 6*time.Hour, byDB["Empty"].RPO, "with nothing restorable, the RPO counts from the protection's start")
}

// With schedules known, a paused, missing or stuck schedule is the reason, named with what
// resumes it; a healthy item's schedules are not asked about.
func TestJudgeNamesTheSchedules(t *testing.T) {
	ctx := context.Background()
	repo := fleet(t)
	p := LoadPolicy(ctx, repo, "daily")
	require.NotNil(t, p)
	judge := func(db string, scheds map[string]Schedule) (Finding, []string) {
		it, err := repo.Item(ctx, vault.ItemID("SQLVM1", db))
		require.NoError(t, err)
		sums, err := repo.ListPointSummaries(ctx, it.ItemID)
		require.NoError(t, err)
		var asked []string
		f, err := Judge(ctx, it, sums, p, now, func(_ context.Context, id string) (Schedule, error) {
			asked = append(asked, id)
			kind := id[strings.LastIndex(id, "-")+1:]
			if s, ok := scheds[kind]; ok {
				return s, nil
			}
			return Schedule{Exists: true}, nil
		})
		require.NoError(t, err)
		return f, asked
	}
	behind := vault.ItemID("SQLVM1", "Behind")

	f, asked := judge("Fresh", nil)
	assert.Equal(t, protocol.RPOStateOK, f.State)
	assert.Empty(t, asked, "a healthy item costs no schedule description")

	f, asked = judge("Behind", map[string]Schedule{policy.KindLog: {Exists: true, Paused: true, Note: "paused by failover"}})
	assert.Equal(t, protocol.RPOReasonSchedulePaused, f.Reason)
	assert.Contains(t, f.Detail, "paused by failover")
	assert.Contains(t, f.Detail, "temporal schedule toggle --schedule-id "+protocol.ItemScheduleID(behind, policy.KindLog)+" --unpause")
	assert.Equal(t, []string{protocol.ItemScheduleID(behind, policy.KindFull), protocol.ItemScheduleID(behind, policy.KindLog)}, asked)

	f, _ = judge("Behind", map[string]Schedule{policy.KindFull: {}})
	assert.Equal(t, protocol.RPOReasonScheduleMissing, f.Reason)
	assert.Contains(t, f.Detail, "sqlvault reconcile")

	f, _ = judge("Behind", map[string]Schedule{policy.KindLog: {Exists: true, SkippedOverlap: 4, Running: 1}})
	assert.Equal(t, protocol.RPOReasonScheduleStuck, f.Reason)
	assert.Contains(t, f.Detail, "skipped 4 runs")

	f, _ = judge("Behind", map[string]Schedule{policy.KindLog: {Exists: true, SkippedOverlap: 4}})
	assert.Equal(t, protocol.RPOReasonBackupsLate, f.Reason, "skips long past, with nothing running now, are not a stuck schedule")

	it, err := repo.Item(ctx, behind)
	require.NoError(t, err)
	_, err = Judge(ctx, it, nil, p, now, func(context.Context, string) (Schedule, error) { return Schedule{}, errors.New("frontend down") })
	assert.ErrorContains(t, err, "frontend down")
}
