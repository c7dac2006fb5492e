package workflows

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// TestReplayRecordedHistories replays every history recorded from the real dev server
// (testdata/*.json) against today's workflow code: a change that would break a running or
// past workflow fails here. Record new ones with
//
//	SQLVAULT_RECORD_HISTORIES=1 go test ./internal/testworld/e2e/ -run 'TestNoSecretInHistoriesOrLogs|TestAgentKilledMidStream|TestRPOWatchdogRaisesAPausedDatabase|TestStopWithDeleteIsSoftAndResumeUndoesIt|TestOverwriteOfAProtectedDatabaseNeedsItsProtectionTag'
//
// or from any cluster with `temporal workflow show --workflow-id ID --output json > testdata/NAME.json`.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in testdata/")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			h, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
			require.NoError(t, err)
			r := worker.NewWorkflowReplayer()
			Register(r)
			// Replay under the recorded workflow ID: child workflow IDs derive from it.
			started := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
			require.NotNil(t, started)
			require.NoError(t, r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
				OriginalExecution: workflow.Execution{ID: started.GetWorkflowId(), RunID: started.GetOriginalExecutionRunId()},
			}))
		})
	}
}
