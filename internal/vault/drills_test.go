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
	last, err = r.LastDrill(ctx, item)
	require.NoError(t, err)
	assert.Equal(t, failed, last)
	assert.Equal(t, DrillsPrefix(item)+"20261201T030000Z_"+point+".json", DrillBlob(passed), "named by its start and the point it proved")

	// Drill records are no item record, and neither Sweep nor ItemIDs trips on them.
	ids, err := r.ItemIDs(ctx)
	require.NoError(t, err)
	assert.Empty(t, ids)
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

	assert.ErrorIs(t, r.PutDrill(ctx, &protocol.DrillRecord{ItemID: "x", StartedAt: t0}), ErrInvalidDrillRecord)
	assert.ErrorIs(t, r.PutDrill(ctx, &protocol.DrillRecord{ItemID: item}), ErrInvalidDrillRecord)
}
