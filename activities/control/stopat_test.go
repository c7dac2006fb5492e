package control

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// A point-in-time plan on a server on New York time: the last log step gets STOPAT as the
// server's local time, the earlier logs none (they roll forward whole), and an instant in
// a log across which the offset changed is refused with AmbiguousServerTime.
func TestLocalStopAt(t *testing.T) {
	edt, est := -240, -300
	start := time.Date(2026, 11, 1, 5, 50, 0, 0, time.UTC)
	sum := func(id string, min int, off *int) *vault.PointSummary {
		return &vault.PointSummary{PointID: id, StartTime: start.Add(time.Duration(min) * time.Minute), ServerUTCOffsetMinutes: off}
	}
	at := time.Date(2026, 11, 1, 6, 30, 30, 0, time.UTC) // 01:30:30 EST
	plan := func() []protocol.RestoreStepPlan {
		return []protocol.RestoreStepPlan{{PointID: "full", Type: vault.BackupFull}, {PointID: "l1", Type: vault.BackupLog, StopAt: &at},
			{PointID: "l2", Type: vault.BackupLog, StopAt: &at}, {PointID: "l3", Type: vault.BackupLog, StopAt: &at}}
	}

	steps := plan()
	byID := map[string]*vault.PointSummary{"full": sum("full", -100, &edt), "l1": sum("l1", 0, &edt), "l2": sum("l2", 30, &est), "l3": sum("l3", 45, &est)}
	require.NoError(t, localStopAt(at, steps, byID))
	assert.Nil(t, steps[1].StopAt, "an earlier log with the change after it rolls forward whole, without STOPAT")
	assert.Nil(t, steps[2].StopAt, "l2 started on EDT (l1's start)")
	assert.Equal(t, "", steps[2].StopAtLocal)
	assert.Equal(t, "2026-11-01T01:30:30", steps[3].StopAtLocal, "the server's local time (EST)")
	got, err := steps[3].ServerStopAt()
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 1, 1, 30, 30, 0, time.UTC), *got)
	require.NotNil(t, steps[3].StopAt, "the instant stays for the applied-step check")

	// The offset changed between the step before and this log: refused, named.
	steps = plan()
	byID["l2"] = sum("l2", 30, &edt)
	err = localStopAt(at, steps, byID)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrAmbiguousServerTime, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "UTC-04:00 to UTC-05:00")
	assert.Contains(t, err.Error(), "before 2026-11-01T06:20:00Z or at or after 2026-11-01T06:35:00Z")

	// Points from before offsets were recorded: STOPAT is the instant's UTC reading, as it was.
	steps = plan()
	byID = map[string]*vault.PointSummary{"full": sum("full", -100, nil), "l1": sum("l1", 0, nil), "l2": sum("l2", 30, nil), "l3": sum("l3", 45, nil)}
	require.NoError(t, localStopAt(at, steps, byID))
	assert.Equal(t, "", steps[3].StopAtLocal)
	got, err = steps[3].ServerStopAt()
	require.NoError(t, err)
	assert.Equal(t, at, *got)

	// No offset change anywhere in the chain: every log step carries the same local STOPAT,
	// as before (Microsoft's advice for a point-in-time sequence).
	steps = plan()
	byID = map[string]*vault.PointSummary{"full": sum("full", -100, &est), "l1": sum("l1", 0, &est), "l2": sum("l2", 30, &est), "l3": sum("l3", 45, &est)}
	require.NoError(t, localStopAt(at, steps, byID))
	for _, i := range []int{1, 2, 3} {
		require.NotNil(t, steps[i].StopAt, "step %d", i)
		assert.Equal(t, "2026-11-01T01:30:30", steps[i].StopAtLocal, "step %d", i)
	}

	_, err = protocol.RestoreStepPlan{PointID: "x", StopAtLocal: "01:30 tomorrow"}.ServerStopAt()
	assert.Equal(t, protocol.ErrInvalidInput, protocol.ErrorType(err))
}
