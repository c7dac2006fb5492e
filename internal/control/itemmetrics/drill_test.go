package itemmetrics

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Items whose policy has a drill get its series from their drill records: the last outcome
// (failed, after an earlier pass), the end of the last passed drill, and the restore time of
// the newest drill that recovered. Items without a drill in their policy get none, and an
// item with a drill never run gets none either.
func TestCatalogDrillSeries(t *testing.T) {
	ctx := context.Background()
	repo, _ := fleet(t)
	require.NoError(t, repo.PutPolicy(ctx, "drilled", []byte(`{"name": "drilled", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15},
 "drill": {"every": "weekly", "pick": "newest", "maxPerInstance": 1}}`)))
	for _, db := range []string{"Drilled", "NeverDrilled"} {
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: vault.ItemID("SQLVM1", db), VM: "SQLVM1", Instance: "SQLVM1",
			Database: db, Policy: "drilled", State: vault.ItemProtected, CreatedAt: t0, UpdatedAt: t0}))
	}
	drilled := vault.ItemID("SQLVM1", "Drilled")
	passedEnd := t0.Add(10 * time.Minute)
	require.NoError(t, repo.PutDrill(ctx, &protocol.DrillRecord{ItemID: drilled, StartedAt: t0, FinishedAt: passedEnd,
		RestoreSeconds: 95, Outcome: protocol.DrillPassed, PointID: "p1"}))
	require.NoError(t, repo.PutDrill(ctx, &protocol.DrillRecord{ItemID: drilled, StartedAt: t0.Add(7 * 24 * time.Hour),
		FinishedAt: t0.Add(7*24*time.Hour + 5*time.Minute), RestoreSeconds: 120, Outcome: protocol.DrillFailed,
		CheckDB: "DBCC CHECKDB reported errors", PointID: "p2"}))
	// A drill record of an item whose policy has no drill is not read.
	require.NoError(t, repo.PutDrill(ctx, &protocol.DrillRecord{ItemID: vault.ItemID("SQLVM1", "Sales"), StartedAt: t0,
		FinishedAt: t0, Outcome: protocol.DrillFailed}))

	reg := prometheus.NewRegistry()
	c := New(reg, repo, nil, func() time.Time { return t0.Add(8 * 24 * time.Hour) })
	require.NoError(t, c.Refresh(ctx))
	l := `database="Drilled",item="` + drilled + `"`
	expect := `
# HELP sqlvault_drill_last_outcome Per protected item whose policy has a restore drill: 1 for the outcome (passed, failed) of its last drill, 0 for the other; absent until its first drill.
# TYPE sqlvault_drill_last_outcome gauge
sqlvault_drill_last_outcome{` + l + `,outcome="failed",sql_instance="SQLVM1"} 1
sqlvault_drill_last_outcome{` + l + `,outcome="passed",sql_instance="SQLVM1"} 0
# HELP sqlvault_drill_last_success_timestamp_seconds Per protected item whose policy has a restore drill: when its last passed drill ended (Unix seconds); absent until one passed.
# TYPE sqlvault_drill_last_success_timestamp_seconds gauge
sqlvault_drill_last_success_timestamp_seconds{` + l + `,sql_instance="SQLVM1"} ` + unix(passedEnd) + `
# HELP sqlvault_drill_restore_seconds Per protected item whose policy has a restore drill: how long its last drill that recovered the database took to restore it (the measured RTO), in seconds.
# TYPE sqlvault_drill_restore_seconds gauge
sqlvault_drill_restore_seconds{` + l + `,sql_instance="SQLVM1"} 120
`
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(expect),
		"sqlvault_drill_last_outcome", "sqlvault_drill_last_success_timestamp_seconds", "sqlvault_drill_restore_seconds"))
}
