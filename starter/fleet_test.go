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
)

// --fleet reads a fresh watchdog report as it is; a stale one, or --direct, judges the
// fleet from the vault (here one item with nothing restorable: no-full).
func TestFleetStatusReportOrDirect(t *testing.T) {
	ctx := context.Background()
	repo := vault.NewRepository(vault.NewMemStore(), nil)
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
	assert.Equal(t, rep.Findings, st.Findings)

	var out bytes.Buffer
	require.NoError(t, printFleet(&out, st))
	assert.Regexp(t, `(?m)^ITEM +KIND +LAST GOOD +RPO NOW +TARGET +STATE +REASON\nSQLVM1/Sales +log +- +2h58m0s +1h0m0s +breached +schedule-paused\nSQLVM1/Sales: schedule x is paused\n`, out.String())

	st, err = fleetStatusOf(ctx, repo, now, 15*time.Minute, true, nil, &warn)
	require.NoError(t, err)
	assert.Equal(t, "direct", st.Source, "--direct")

	warn.Reset()
	st, err = fleetStatusOf(ctx, repo, now.Add(time.Hour), 15*time.Minute, false, nil, &warn)
	require.NoError(t, err)
	assert.Equal(t, "direct", st.Source, "a stale report")
	assert.Contains(t, warn.String(), "is it running?")
}
