package itemmetrics

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

var t0 = time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)

// point stores a manifest with its listing summary, as a commit writes it.
func point(t *testing.T, s vault.Store, db, typ string, finish time.Time, first, last, ckpt, dbBackup string) {
	t.Helper()
	vaulttest.PutPoint(t, s, db, typ, finish, first, last, ckpt, dbBackup)
}

// fleet: Sales (FULL recovery, hourly logs: a full and a log after it), Empty (protected,
// nothing taken yet), Old (stopped: promises nothing), Orphan (its policy is gone).
func fleet(t *testing.T) (*vault.Repository, *vault.CountingStore) {
	ctx := context.Background()
	cs := &vault.CountingStore{Store: vault.NewMemStore()}
	repo := vault.NewRepository(cs, nil).WithKeys(vaulttest.Keys())
	require.NoError(t, repo.PutPolicy(ctx, "daily-30d", []byte(`{"name": "daily-30d", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}}`)))
	for _, it := range []struct{ db, state, policy string }{{"Sales", vault.ItemProtected, "daily-30d"}, {"Empty", vault.ItemProtected, "daily-30d"},
		{"Old", vault.ItemStoppedRetain, "daily-30d"}, {"Orphan", vault.ItemProtected, "gone"}} {
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: vault.ItemID("SQLVM1", it.db), VM: "SQLVM1", Instance: "SQLVM1",
			Database: it.db, Policy: it.policy, State: it.state, CreatedAt: t0.Add(-time.Hour), UpdatedAt: t0}))
	}
	point(t, cs, "Sales", vault.BackupFull, t0, "1000", "2000", "1500", "")
	point(t, cs, "Sales", vault.BackupLog, t0.Add(time.Hour), "1000", "3000", "1500", "1500")
	point(t, cs, "Old", vault.BackupFull, t0, "1000", "2000", "1500", "")
	point(t, cs, "Orphan", vault.BackupFull, t0, "1000", "2000", "1500", "")
	return repo, cs
}

// A refresh reads each protected item once; scrapes read only what it found, with the RPO
// computed at the scrape.
func TestCatalogSeries(t *testing.T) {
	repo, cs := fleet(t)
	now := t0.Add(3 * time.Hour)
	reg := prometheus.NewRegistry()
	c := New(reg, repo, nil, func() time.Time { return now })
	require.NoError(t, c.Refresh(context.Background()))
	lists := cs.Lists.Load()

	sales := vault.ItemID("SQLVM1", "Sales")
	empty := vault.ItemID("SQLVM1", "Empty")
	orphan := vault.ItemID("SQLVM1", "Orphan")
	expect := func() string {
		return `
# HELP sqlvault_item_last_success_timestamp_seconds Per protected item and kind (full, differential, log): the finish time (Unix seconds) of its newest recovery point of that kind in the vault.
# TYPE sqlvault_item_last_success_timestamp_seconds gauge
sqlvault_item_last_success_timestamp_seconds{database="Orphan",item="` + orphan + `",kind="full",sql_instance="SQLVM1"} ` + unix(t0) + `
sqlvault_item_last_success_timestamp_seconds{database="Sales",item="` + sales + `",kind="full",sql_instance="SQLVM1"} ` + unix(t0) + `
sqlvault_item_last_success_timestamp_seconds{database="Sales",item="` + sales + `",kind="log",sql_instance="SQLVM1"} ` + unix(t0.Add(time.Hour)) + `
# HELP sqlvault_item_rpo_target_seconds Per protected item: the RPO its policy promises, in seconds (the log interval where the database takes log backups, else the full's interval).
# TYPE sqlvault_item_rpo_target_seconds gauge
sqlvault_item_rpo_target_seconds{database="Empty",item="` + empty + `",sql_instance="SQLVM1"} 3600
sqlvault_item_rpo_target_seconds{database="Sales",item="` + sales + `",sql_instance="SQLVM1"} 3600
# HELP sqlvault_item_recovery_points Per protected item: recovery points in the vault.
# TYPE sqlvault_item_recovery_points gauge
sqlvault_item_recovery_points{database="Empty",item="` + empty + `",sql_instance="SQLVM1"} 0
sqlvault_item_recovery_points{database="Orphan",item="` + orphan + `",sql_instance="SQLVM1"} 1
sqlvault_item_recovery_points{database="Sales",item="` + sales + `",sql_instance="SQLVM1"} 2
# HELP sqlvault_catalog_items Protected items the last catalog refresh found.
# TYPE sqlvault_catalog_items gauge
sqlvault_catalog_items 3
# HELP sqlvault_catalog_refresh_success 1 if the last catalog refresh read the vault, 0 if it failed (the per-item series then keep the values of the last good one).
# TYPE sqlvault_catalog_refresh_success gauge
sqlvault_catalog_refresh_success 1
`
	}
	names := []string{"sqlvault_item_last_success_timestamp_seconds", "sqlvault_item_rpo_target_seconds", "sqlvault_item_recovery_points",
		"sqlvault_catalog_items", "sqlvault_catalog_refresh_success"}
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expect()), names...))

	rpo := map[string]time.Duration{}
	for _, it := range c.Items() {
		rpo[it.Database] = it.RPO(now)
	}
	// The planner's newest restorable instant: Sales's log reaches its own start (t0+59m), a
	// full alone its start (t0-1m); Empty has nothing, so it counts from its protection.
	assert.Equal(t, 2*time.Hour+time.Minute, rpo["Sales"])
	assert.Equal(t, 4*time.Hour, rpo["Empty"])
	assert.Equal(t, 3*time.Hour+time.Minute, rpo["Orphan"])
	now = now.Add(10 * time.Minute)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP sqlvault_item_rpo_seconds Per protected item: now minus its newest restorable instant, in seconds (with nothing restorable: now minus the time it was protected).
# TYPE sqlvault_item_rpo_seconds gauge
sqlvault_item_rpo_seconds{database="Empty",item="`+empty+`",sql_instance="SQLVM1"} 15000
sqlvault_item_rpo_seconds{database="Orphan",item="`+orphan+`",sql_instance="SQLVM1"} 11460
sqlvault_item_rpo_seconds{database="Sales",item="`+sales+`",sql_instance="SQLVM1"} 7860
`), "sqlvault_item_rpo_seconds"), "the RPO grows between refreshes")
	assert.Equal(t, lists, cs.Lists.Load(), "scrapes list nothing")
	assert.Equal(t, int64(3+1), lists, "one listing per protected item, and the item list")
}

// A refresh that cannot read the vault says so and keeps the last good values.
func TestCatalogRefreshFailureKeepsValues(t *testing.T) {
	repo, cs := fleet(t)
	reg := prometheus.NewRegistry()
	c := New(reg, repo, nil, func() time.Time { return t0.Add(3 * time.Hour) })
	require.NoError(t, c.Refresh(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.Error(t, c.Refresh(ctx))
	assert.Positive(t, cs.Lists.Load())
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP sqlvault_catalog_refresh_success 1 if the last catalog refresh read the vault, 0 if it failed (the per-item series then keep the values of the last good one).
# TYPE sqlvault_catalog_refresh_success gauge
sqlvault_catalog_refresh_success 0
# HELP sqlvault_catalog_items Protected items the last catalog refresh found.
# TYPE sqlvault_catalog_items gauge
sqlvault_catalog_items 3
`), "sqlvault_catalog_refresh_success", "sqlvault_catalog_items"))
	assert.Len(t, c.Items(), 3)
}

func unix(t time.Time) string { return strconv.FormatInt(t.Unix(), 10) }
