package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// history returns a workflow's full event history.
func (s *stack) history(id, runID string) *historypb.History {
	it := s.tc.GetWorkflowHistory(context.Background(), id, runID, false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		e, err := it.Next()
		require.NoError(s.t, err)
		h.Events = append(h.Events, e)
	}
	return h
}

// historyJSON is the history in the JSON form `temporal workflow show --output json` writes
// and client.HistoryFromJSON reads.
func historyJSON(t *testing.T, h *historypb.History) []byte {
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	require.NoError(t, err)
	return b
}

// record saves a history as a replay fixture when SQLVAULT_RECORD_HISTORIES is set:
//
//	SQLVAULT_RECORD_HISTORIES=1 go test ./internal/testworld/e2e/ -run TestX
//
// writes workflows/testdata/<name>.json, which workflows' replay test then replays.
func record(t *testing.T, name string, h *historypb.History) {
	if os.Getenv("SQLVAULT_RECORD_HISTORIES") == "" {
		return
	}
	root, err := testenv.RepoRoot()
	require.NoError(t, err)
	path := filepath.Join(root, "workflows", "testdata", name+".json")
	require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
	require.NoError(t, os.WriteFile(path, historyJSON(t, h), 0o644))
	t.Logf("recorded %s", path)
}

// activityAttempts counts, per activity type, the attempts that started (retries included).
func activityAttempts(h *historypb.History) map[string]int32 {
	types := map[int64]string{}
	out := map[string]int32{}
	for _, e := range h.Events {
		if a := e.GetActivityTaskScheduledEventAttributes(); a != nil {
			types[e.EventId] = a.GetActivityType().GetName()
		}
		if a := e.GetActivityTaskStartedEventAttributes(); a != nil {
			// Retries are not separate events: a started event carries the final attempt.
			out[types[a.ScheduledEventId]] = max(out[types[a.ScheduledEventId]], a.Attempt)
		}
	}
	return out
}

// secretsIn returns which of the named secrets occur in text.
func secretsIn(text string, secrets map[string]string) []string {
	var found []string
	for name, v := range secrets {
		if v != "" && strings.Contains(text, v) {
			found = append(found, name)
		}
	}
	return found
}
