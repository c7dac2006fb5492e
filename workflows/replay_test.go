package workflows

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
	"github.com/sqlvault/sqlvault/internal/temporalx"
)

// TestReplayRecordedHistories replays every history recorded from the real dev server
// (testdata/*.json) against today's workflow code: a change that would break a running or
// past workflow fails here. Record new ones with
//
//	SQLVAULT_RECORD_HISTORIES=1 go test ./internal/testworld/e2e/ -run 'TestNoSecretInHistoriesOrLogs|TestAgentKilledMidStream|TestRPOWatchdogRaisesAPausedDatabase|TestStopWithDeleteIsSoftAndResumeUndoesIt|TestOverwriteOfAProtectedDatabaseNeedsItsProtectionTag'
//
// or from any cluster with `temporal workflow show --workflow-id ID --output json > testdata/NAME.json`.
//
// The replayer decodes through the payload codec, as a worker with codec.keyFile does:
// histories recorded before the codec (clear payloads) pass through it, and
// backup-full-codec.json, recorded with the codec on by
// TestCodecHistoriesAreCiphertextWithoutTheCodecServer, is decoded with the test keys in
// testdata/codec/ (a vault key file as the KEK and the codec key file it wraps).
func TestReplayRecordedHistories(t *testing.T) {
	codec := fixtureCodec(t)
	files, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in testdata/")
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			require.NoError(t, err)
			h, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
			require.NoError(t, err)
			r, err := worker.NewWorkflowReplayerWithOptions(worker.WorkflowReplayerOptions{
				DataConverter: temporalx.DataConverter(codec), FailureConverter: temporalx.FailureConverter(codec)})
			require.NoError(t, err)
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

// fixtureCodec loads testdata/codec/ as a worker loads codec.keyFile. Git keeps no file
// modes, so the key files are copied to private (0600) files first, as the loader demands.
func fixtureCodec(t *testing.T) *payloadcodec.Codec {
	t.Helper()
	dir := t.TempDir()
	for _, name := range []string{"vault.key", "codec.keys"} {
		b, err := os.ReadFile(filepath.Join("testdata", "codec", name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), b, 0o600))
	}
	codec, err := payloadcodec.FromConfig(context.Background(), config.Codec{KeyFile: filepath.Join(dir, "codec.keys")},
		config.Key{File: filepath.Join(dir, "vault.key")})
	require.NoError(t, err)
	return codec
}

// The codec-recorded history really is encrypted (every payload outside the search
// attributes), and replaying it needs the codec: without it the replay fails.
func TestReplayCodecHistoryNeedsTheCodec(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "backup-full-codec.json"))
	require.NoError(t, err)
	h, err := client.HistoryFromJSON(bytes.NewReader(data), client.HistoryJSONOptions{})
	require.NoError(t, err)
	in := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes().GetInput().GetPayloads()
	require.NotEmpty(t, in)
	for _, p := range in {
		require.True(t, payloadcodec.IsEncrypted(p), "the recorded input is ciphertext")
	}
	var doc any
	require.NoError(t, json.Unmarshal(data, &doc))
	clearPayloads, encrypted := 0, 0
	var walk func(v any, inSA bool)
	walk = func(v any, inSA bool) {
		switch x := v.(type) {
		case map[string]any:
			if md, ok := x["metadata"].(map[string]any); ok && !inSA {
				switch enc, _ := md["encoding"].(string); enc {
				case base64.StdEncoding.EncodeToString([]byte(payloadcodec.Encoding)):
					encrypted++
				default:
					clearPayloads++
				}
			}
			for k, c := range x {
				walk(c, inSA || k == "searchAttributes")
			}
		case []any:
			for _, c := range x {
				walk(c, inSA)
			}
		}
	}
	walk(doc, false)
	require.Zero(t, clearPayloads, "no clear payload outside the search attributes")
	require.Greater(t, encrypted, 5)

	r := worker.NewWorkflowReplayer()
	Register(r)
	started := h.GetEvents()[0].GetWorkflowExecutionStartedEventAttributes()
	err = r.ReplayWorkflowHistoryWithOptions(nil, h, worker.ReplayWorkflowHistoryOptions{
		OriginalExecution: workflow.Execution{ID: started.GetWorkflowId(), RunID: started.GetOriginalExecutionRunId()},
	})
	require.Error(t, err, "a replayer without the codec cannot read the input")
}
