package vault

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

func TestDrillRecords(t *testing.T) {
	ctx := context.Background()
	r := NewRepository(NewMemStore(), zap.NewNop())
	item := ItemID("SQLVM1", "Sales")
	last, err := r.LastDrill(ctx, item)
	require.NoError(t, err)
	assert.Nil(t, last, "never drilled")

	t0 := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	point := NewPointID(t0.Add(-time.Hour), BackupFull, "abc")
	passed := &protocol.DrillRecord{ItemID: item, Instance: "SQLVM1", Database: "Sales", PointID: point,
		StartedAt: t0, FinishedAt: t0.Add(time.Minute), RestoreSeconds: 42, Outcome: protocol.DrillPassed, CheckDB: "ok"}
	failed := &protocol.DrillRecord{ItemID: item, Instance: "SQLVM1", Database: "Sales",
		StartedAt: t0.Add(7 * 24 * time.Hour), Outcome: protocol.DrillFailed, Error: "not restorable"}
	require.NoError(t, r.PutDrill(ctx, failed))
	require.NoError(t, r.PutDrill(ctx, passed))
	require.NoError(t, r.PutDrill(ctx, passed), "a retried write")

	all, err := r.Drills(ctx, item)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, protocol.DrillPassed, all[0].Outcome, "oldest first")
	last, lastPassed, err := r.LastDrills(ctx, item)
	require.NoError(t, err)
	assert.Equal(t, failed, last)
	assert.Equal(t, passed, lastPassed, "the newest passed one, found from the names")
	assert.Equal(t, DrillsPrefix(item)+"20261201T030000Z_passed_"+point+".json", DrillBlob(passed), "named by its start, outcome and the point it proved")
	assert.Equal(t, DrillsPrefix(item)+"20261208T030000Z_failed_none.json", DrillBlob(failed))
	other := ItemID("SQLVM1", "Other")
	require.NoError(t, r.PutDrill(ctx, &protocol.DrillRecord{ItemID: other, StartedAt: t0, Outcome: protocol.DrillFailed}))
	last, lastPassed, err = r.LastDrills(ctx, other)
	require.NoError(t, err)
	assert.Equal(t, protocol.DrillFailed, last.Outcome)
	assert.Nil(t, lastPassed, "never passed")

	// Drill records are no item record, and neither Sweep nor ItemIDs trips on them.
	ids, err := r.ItemIDs(ctx)
	require.NoError(t, err)
	assert.Empty(t, ids)
	all, err = r.Drills(ctx, item)
	require.NoError(t, err)
	require.Len(t, all, 2)
	f, ok := FolderOf(DrillBlob(passed), ItemsPrefix, recordDelimiter)
	require.True(t, ok)
	_, isRecord := itemOfRecordFolder(f)
	assert.False(t, isRecord)
	rep, err := r.Sweep(ctx, t0.Add(365*24*time.Hour), time.Hour, false)
	require.NoError(t, err)
	assert.Empty(t, rep.Deleted)
	all, err = r.Drills(ctx, item)
	require.NoError(t, err)
	assert.Len(t, all, 2)

	assert.ErrorIs(t, r.PutDrill(ctx, &protocol.DrillRecord{ItemID: "x", StartedAt: t0, Outcome: protocol.DrillPassed}), ErrInvalidDrillRecord)
	assert.ErrorIs(t, r.PutDrill(ctx, &protocol.DrillRecord{ItemID: item, Outcome: protocol.DrillPassed}), ErrInvalidDrillRecord)
	assert.ErrorIs(t, r.PutDrill(ctx, &protocol.DrillRecord{ItemID: item, StartedAt: t0}), ErrInvalidDrillRecord)
}
