package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

// --fleet reads a fresh watchdog report as it is; a stale one, or --direct, judges the
// fleet from the vault (here one item with nothing restorable: no-full).
func TestFleetStatusReportOrDirect(t *testing.T) {
	ctx := context.Background()
	repo := vault.NewRepository(vault.NewMemStore(), nil).WithKeys(vaulttest.Keys())
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, repo.PutPolicy(ctx, "daily", []byte(`{"name": "daily", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}}`)))
	id := vault.ItemID("SQLVM1", "Sales")
	require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: "Sales",
		Policy: "daily", State: vault.ItemProtected, CreatedAt: now.Add(-3 * time.Hour), UpdatedAt: now}))

	// No report: judged here.
	var warn bytes.Buffer
	st, err := fleetStatusOf(ctx, repo, now, 15*time.Minute, false, nil, &warn)
	require.NoError(t, err)
	assert.Equal(t, "direct", st.Source)
	require.Len(t, st.Findings, 1)
	assert.Equal(t, protocol.RPOReasonNoFull, st.Findings[0].Reason)
	assert.Equal(t, 3*time.Hour, st.Findings[0].RPO)

	rep := rpowatch.Report{Schema: rpowatch.ReportSchema, Sweep: "s1", At: now.Add(-2 * time.Minute), Findings: []rpowatch.Finding{{
		ItemID: id, Instance: "SQLVM1", Database: "Sales", Kind: "log", RPO: 2*time.Hour + 58*time.Minute, Target: time.Hour,
		State: protocol.RPOStateBreached, Reason: protocol.RPOReasonSchedulePaused, Detail: "schedule x is paused"}}}
	doc, err := json.Marshal(rep)
	require.NoError(t, err)
	require.NoError(t, repo.PutRPOReport(ctx, doc))
	st, err = fleetStatusOf(ctx, repo, now, 15*time.Minute, false, nil, &warn)
	require.NoError(t, err)
	assert.Equal(t, "watchdog", st.Source)
	assert.Equal(t, "s1", st.Sweep)
	assert.Equal(t, []fleetFinding{{Finding: rep.Findings[0]}}, st.Findings, "never drilled: no RTO")

	var out bytes.Buffer
	require.NoError(t, printFleet(&out, st))
	assert.Regexp(t, `(?m)^ITEM +KIND +LAST GOOD +RPO NOW +TARGET +STATE +REASON +LAST RTO\nSQLVM1/Sales +log +- +2h58m0s +1h0m0s +breached +schedule-paused +-\nSQLVM1/Sales: schedule x is paused\n`, out.String())

	st, err = fleetStatusOf(ctx, repo, now, 15*time.Minute, true, nil, &warn)
	require.NoError(t, err)
	assert.Equal(t, "direct", st.Source, "--direct")

	warn.Reset()
	st, err = fleetStatusOf(ctx, repo, now.Add(time.Hour), 15*time.Minute, false, nil, &warn)
	require.NoError(t, err)
	assert.Equal(t, "direct", st.Source, "a stale report")
	assert.Contains(t, warn.String(), "is it running?")
}

// Restore drills are RTO evidence: --fleet shows each item's last measured restore time,
// from the report and judged directly alike. A drill that failed before it restored
// anything measured nothing, so the last passed drill's time stays; "-" for an item
// never drilled.
func TestFleetStatusShowsTheLastMeasuredRTO(t *testing.T) {
	ctx := context.Background()
	repo := vault.NewRepository(vault.NewMemStore(), nil).WithKeys(vaulttest.Keys())
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	require.NoError(t, repo.PutPolicy(ctx, "daily", []byte(`{"name": "daily", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}}`)))
	var findings []rpowatch.Finding
	for _, db := range []string{"Sales", "Orders", "Stock", "Small"} {
		id := vault.ItemID("SQLVM1", db)
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: db,
			Policy: "daily", State: vault.ItemProtected, CreatedAt: now.Add(-3 * time.Hour), UpdatedAt: now}))
		findings = append(findings, rpowatch.Finding{ItemID: id, Instance: "SQLVM1", Database: db, Kind: "log",
			RPO: 30 * time.Minute, Target: time.Hour, State: protocol.RPOStateOK})
	}
	drill := func(db string, started time.Time, outcome string, seconds float64) {
		t.Helper()
		require.NoError(t, repo.PutDrill(ctx, &protocol.DrillRecord{ItemID: vault.ItemID("SQLVM1", db), Instance: "SQLVM1", Database: db,
			TargetInstance: "SQLVM1", StartedAt: started, FinishedAt: started.Add(time.Duration(seconds) * time.Second),
			Outcome: outcome, PointID: "p1", RestoreSeconds: seconds}))
	}
	// Sales: an older drill, then the newest (which failed CHECKDB, but restored in 95 s).
	drill("Sales", now.Add(-8*24*time.Hour), protocol.DrillPassed, 300)
	drill("Sales", now.Add(-24*time.Hour), protocol.DrillFailed, 95.4)
	// Orders: passed in 62 s, then a drill that failed before restoring (no agent).
	drill("Orders", now.Add(-48*time.Hour), protocol.DrillPassed, 62)
	drill("Orders", now.Add(-time.Hour), protocol.DrillFailed, 0)
	// Stock: never drilled. Small: a restore under a second is shown to the millisecond.
	drill("Small", now.Add(-time.Hour), protocol.DrillPassed, 0.4213)

	rep := rpowatch.Report{Schema: rpowatch.ReportSchema, Sweep: "s1", At: now.Add(-time.Minute), Findings: findings}
	doc, err := json.Marshal(rep)
	require.NoError(t, err)
	require.NoError(t, repo.PutRPOReport(ctx, doc))
	var warn bytes.Buffer
	for _, direct := range []bool{false, true} {
		st, err := fleetStatusOf(ctx, repo, now, 15*time.Minute, direct, nil, &warn)
		require.NoError(t, err)
		assert.Equal(t, map[bool]string{false: "watchdog", true: "direct"}[direct], st.Source)
		rto := map[string]*fleetRTO{}
		for _, f := range st.Findings {
			rto[f.Database] = f.LastRTO
		}
		require.Len(t, rto, 4)
		assert.Equal(t, &fleetRTO{Seconds: 95.4, Outcome: protocol.DrillFailed, DrilledAt: now.Add(-24 * time.Hour)}, rto["Sales"], "the last drill's restore")
		assert.Equal(t, &fleetRTO{Seconds: 62, Outcome: protocol.DrillPassed, DrilledAt: now.Add(-48 * time.Hour)}, rto["Orders"], "the last passed drill's, when the last restored nothing")
		assert.Nil(t, rto["Stock"], "never drilled")

		var out bytes.Buffer
		require.NoError(t, printFleet(&out, st))
		assert.Regexp(t, `(?m)^ITEM +KIND +LAST GOOD +RPO NOW +TARGET +STATE +REASON +LAST RTO$`, out.String())
		assert.Regexp(t, `(?m)^SQLVM1/Sales +log +.* +1m35s$`, out.String())
		assert.Regexp(t, `(?m)^SQLVM1/Orders +log +.* +1m2s$`, out.String())
		assert.Regexp(t, `(?m)^SQLVM1/Stock +log +.* +-$`, out.String())
		assert.Regexp(t, `(?m)^SQLVM1/Small +log +.* +421ms$`, out.String())

		b, err := json.Marshal(st)
		require.NoError(t, err)
		assert.Contains(t, string(b), `"database":"Sales"`, "the finding's fields stay where they were")
		assert.Contains(t, string(b), `"lastRto":{"seconds":95.4,"outcome":"failed"`)
	}
}
