package temporalx

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/log"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func observed(level zapcore.Level) (log.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return NewZapLogger(zap.New(core, zap.AddCaller())), logs
}

func TestZapLoggerLevels(t *testing.T) {
	l, logs := observed(zapcore.DebugLevel)
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	l.Error("e")
	var got []string
	for _, e := range logs.All() {
		got = append(got, e.Level.String()+":"+e.Message)
	}
	assert.Equal(t, []string{"debug:d", "info:i", "warn:w", "error:e"}, got)

	l, logs = observed(zapcore.WarnLevel)
	l.Debug("d")
	l.Info("i")
	l.Warn("w")
	assert.Equal(t, 1, logs.Len(), "the zap level filters SDK logs")
}

func TestZapLoggerKeyvals(t *testing.T) {
	l, logs := observed(zapcore.DebugLevel)
	l.Info("activity done", "ActivityType", "Backup", "Attempt", 3, "Elapsed", 1.5, "Error", errors.New("boom"), 42, "int key", "dangling")
	require.Equal(t, 1, logs.Len())
	assert.Equal(t, map[string]any{
		"ActivityType": "Backup",
		"Attempt":      int64(3),
		"Elapsed":      1.5,
		"Error":        "boom",
		"42":           "int key",
		"!BADKEY":      "dangling",
	}, logs.All()[0].ContextMap())
}

func TestZapLoggerWith(t *testing.T) {
	l, logs := observed(zapcore.DebugLevel)
	wl, ok := l.(log.WithLogger)
	require.True(t, ok, "implements log.WithLogger")
	child := wl.With("WorkflowID", "backup-db1")
	child.Info("started", "RunID", "r1")
	l.Info("parent")

	// log.With from the SDK uses our With.
	log.With(l, "TaskQueue", "sqlvault-control").Warn("via sdk")

	all := logs.All()
	require.Len(t, all, 3)
	assert.Equal(t, map[string]any{"WorkflowID": "backup-db1", "RunID": "r1"}, all[0].ContextMap())
	assert.Empty(t, all[1].ContextMap(), "With does not change the parent")
	assert.Equal(t, map[string]any{"TaskQueue": "sqlvault-control"}, all[2].ContextMap())
}

func TestZapLoggerReportsTheCaller(t *testing.T) {
	l, logs := observed(zapcore.DebugLevel)
	l.Info("here")
	log.With(l, "k", "v").Info("with")
	for _, e := range logs.All() {
		require.True(t, e.Caller.Defined)
		assert.Contains(t, e.Caller.File, "zaplogger_test.go", "caller is the code that logged, not the adapter")
	}
}

func TestZapLoggerRedactsSecrets(t *testing.T) {
	l, logs := observed(zapcore.DebugLevel)
	sasURL := "https://acct.blob.core.windows.net/sqlvault/db.bak?sv=2023&se=2030&sig=SIGSECRET"
	l.Error("activity failed: PUT "+sasURL, "Error", errors.New("dial sqlserver://sa:PWSECRET@h:1433: refused"), "URL", sasURL)
	require.Equal(t, 1, logs.Len())
	e := logs.All()[0]
	assert.Equal(t, "activity failed: PUT https://acct.blob.core.windows.net/sqlvault/db.bak?sv=2023&se=2030&sig=REDACTED", e.Message)
	assert.Equal(t, map[string]any{
		"Error": "dial sqlserver://sa:REDACTED@h:1433: refused",
		"URL":   "https://acct.blob.core.windows.net/sqlvault/db.bak?sv=2023&se=2030&sig=REDACTED",
	}, e.ContextMap())
}

func TestNewZapLoggerNil(t *testing.T) {
	assert.NotPanics(t, func() { NewZapLogger(nil).Info("discarded", "k", "v") })
}
