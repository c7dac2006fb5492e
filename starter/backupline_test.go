package starter

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	workflowpb "go.temporal.io/api/workflow/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

func pendingStream(t *testing.T, attempt int32, state enumspb.PendingActivityState, started, beat time.Time, sp *protocol.StreamProgress) *workflowpb.PendingActivityInfo {
	t.Helper()
	pa := &workflowpb.PendingActivityInfo{Attempt: attempt, State: state, LastStartedTime: timestamppb.New(started)}
	if sp != nil {
		p, err := converter.GetDefaultDataConverter().ToPayloads(*sp)
		require.NoError(t, err)
		pa.HeartbeatDetails, pa.LastHeartbeatTime = p, timestamppb.New(beat)
	}
	return pa
}

// The line labels numbers with the attempt that recorded them: after a failed attempt, the
// next one starts from an empty bar and the failed one's numbers are said to be its own.
func TestBackupLineLabelsAttempts(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	stream := protocol.BackupProgress{Phase: "stream"}
	sp := &protocol.StreamProgress{Percent: 47, Bytes: 3 << 30, Stored: 1 << 30}

	assert.Equal(t, progress{}, backupLine(protocol.BackupProgress{}, nil), "nothing before the workflow has a phase")

	first := backupLine(stream, pendingStream(t, 1, enumspb.PENDING_ACTIVITY_STATE_STARTED, t0, t0.Add(time.Minute), sp))
	assert.Equal(t, 47, first.Percent)
	assert.Equal(t, "stream     [##############................]  47%  3.0 GiB read, 1.0 GiB stored", first.Line)

	// Attempt 1 failed at 47%; attempt 2 waits for its retry, or has started but not yet
	// heartbeated: Temporal still shows attempt 1's details.
	for _, pa := range []*workflowpb.PendingActivityInfo{
		pendingStream(t, 2, enumspb.PENDING_ACTIVITY_STATE_SCHEDULED, t0, t0.Add(time.Minute), sp),
		pendingStream(t, 2, enumspb.PENDING_ACTIVITY_STATE_STARTED, t0.Add(2*time.Minute), t0.Add(time.Minute), sp),
	} {
		l := backupLine(stream, pa)
		assert.Equal(t, 0, l.Percent)
		assert.Equal(t, "stream     [..............................]   0%  attempt 2 starting (attempt 1 reached 47%, 3.0 GiB read, 1.0 GiB stored)", l.Line)
		assert.Equal(t, "stream/2", l.State)
	}

	// Attempt 2's own heartbeat: its numbers, labelled with it.
	l := backupLine(stream, pendingStream(t, 2, enumspb.PENDING_ACTIVITY_STATE_STARTED, t0.Add(2*time.Minute), t0.Add(3*time.Minute),
		&protocol.StreamProgress{Percent: 10, Bytes: 1 << 20}))
	assert.Equal(t, 10, l.Percent)
	assert.Equal(t, "stream     [###...........................]  10%  1.0 MiB read, 0 B stored  (attempt 2)", l.Line)
}
