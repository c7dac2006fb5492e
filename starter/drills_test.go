package starter

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// `drills` shows every item's last drill from the vault; `status` shows it for items whose
// policy has a drill.
func TestDrillsAndStatusShowTheLastDrill(t *testing.T) {
	ctx := context.Background()
	fullAt := time.Date(2026, 11, 26, 2, 5, 0, 0, time.UTC)
	repo := statusVault(t, fullAt)
	sales := vault.ItemID("SQLVM1", "Sales")
	at := fullAt.Add(time.Hour)
	require.NoError(t, repo.PutDrill(ctx, &protocol.DrillRecord{ItemID: sales, Instance: "SQLVM1", Database: "Sales", PointID: "p1",
		TargetInstance: `DRILLVM\SCRATCH`, StartedAt: at, FinishedAt: at.Add(3 * time.Minute), RestoreSeconds: 95.4,
		Outcome: protocol.DrillPassed, CheckDB: "DBCC CHECKDB found no errors in Sales_sqlvault_verify_0123456789ab"}))
	require.NoError(t, repo.PutDrill(ctx, &protocol.DrillRecord{ItemID: sales, Instance: "SQLVM1", Database: "Sales", PointID: "p2",
		TargetInstance: `DRILLVM\SCRATCH`, StartedAt: at.Add(24 * time.Hour), FinishedAt: at.Add(24*time.Hour + time.Minute), RestoreSeconds: 61,
		Outcome: protocol.DrillFailed, CheckDB: "DBCC CHECKDB reported errors in Sales_sqlvault_verify_ba9876543210: 8928"}))

	lines, err := drillLines(ctx, repo)
	require.NoError(t, err)
	var out bytes.Buffer
	require.NoError(t, printDrills(&out, lines))
	assert.Regexp(t, `(?m)^INSTANCE +DATABASE +LAST DRILL +OUTCOME +ON +POINT +RESTORE \(RTO\) +LAST PASSED +CHECKDB / ERROR\n`, out.String())
	assert.Regexp(t, `(?m)^SQLVM1 +Sales +2026-11-27 03:05 +failed +DRILLVM\\SCRATCH +p2 +1m1s +2026-11-26 03:08 +DBCC CHECKDB reported errors in Sales_sqlvault_verify_ba9876543210: 8928\n`, out.String())
	assert.Regexp(t, `(?m)^SQLVM1 +HR +never +- +- +- +- +- +-\n`, out.String())

	// status: only for a policy with a drill.
	st, err := itemStatuses(ctx, repo, at, nil, &bytes.Buffer{})
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, printStatus(&out, st))
	assert.NotContains(t, out.String(), "restore drills", "daily-30d has no drill")

	require.NoError(t, repo.PutPolicy(ctx, "daily-30d", []byte(`{"name": "daily-30d", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}, "drill": {"every": "weekly", "pick": "newest", "maxPerInstance": 1}}`)))
	st, err = itemStatuses(ctx, repo, at, nil, &bytes.Buffer{})
	require.NoError(t, err)
	out.Reset()
	require.NoError(t, printStatus(&out, st))
	assert.Regexp(t, `(?m)^SQLVM1 +Sales +2026-11-27 03:05 +failed +1m1s +DBCC CHECKDB reported errors`, out.String())
	assert.Regexp(t, `(?m)^SQLVM1 +HR +never`, out.String())
}
