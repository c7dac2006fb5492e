package workflows

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
)

// TestReplayRecordedHistories replays every history recorded from the real dev server
// (testdata/*.json) against today's workflow code: a change that would break a running or
// past workflow fails here. Record new ones with
//
//	SQLVAULT_RECORD_HISTORIES=1 go test ./internal/e2e/ -run 'TestNoSecretInHistoriesOrLogs|TestAgentKilledMidStream'
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
			require.NoError(t, r.ReplayWorkflowHistory(nil, h))
		})
	}
}
