package temporalx

import (
	"fmt"

	"go.temporal.io/sdk/log"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/logging"
)

// zapLogger adapts *zap.Logger to the Temporal SDK's log.Logger, so SDK, worker, workflow
// and activity logs all go through the process's one zap logger with the same format and
// level. It implements log.WithLogger (SDK "With" keeps zap's structured fields) and
// log.WithSkipCallers (caller points at the code that logged, not at this adapter).
type zapLogger struct{ l *zap.Logger }

var (
	_ log.Logger          = zapLogger{}
	_ log.WithLogger      = zapLogger{}
	_ log.WithSkipCallers = zapLogger{}
)

// NewZapLogger returns a Temporal SDK logger that writes to l (nil: discard). Keyvals become
// zap fields. String and error values pass through logging.Redact first, because the SDK
// logs activity errors verbatim and a storage or SQL driver error can echo a SAS URL or a
// connection string.
func NewZapLogger(l *zap.Logger) log.Logger {
	if l == nil {
		l = zap.NewNop()
	}
	return zapLogger{l: l.WithOptions(zap.AddCallerSkip(1))}
}

func (z zapLogger) Debug(msg string, keyvals ...any) {
	z.l.Debug(logging.Redact(msg), fields(keyvals)...)
}
func (z zapLogger) Info(msg string, keyvals ...any) {
	z.l.Info(logging.Redact(msg), fields(keyvals)...)
}
func (z zapLogger) Warn(msg string, keyvals ...any) {
	z.l.Warn(logging.Redact(msg), fields(keyvals)...)
}
func (z zapLogger) Error(msg string, keyvals ...any) {
	z.l.Error(logging.Redact(msg), fields(keyvals)...)
}

// With returns a logger that adds keyvals to every entry.
func (z zapLogger) With(keyvals ...any) log.Logger { return zapLogger{l: z.l.With(fields(keyvals)...)} }

// WithCallerSkip returns a logger that skips depth more stack frames when reporting the caller.
func (z zapLogger) WithCallerSkip(depth int) log.Logger {
	return zapLogger{l: z.l.WithOptions(zap.AddCallerSkip(depth))}
}

// fields turns SDK keyvals (k1, v1, k2, v2, …) into zap fields. A non-string key is
// printed; a trailing key without a value is kept under "!BADKEY" (as log/slog does)
// rather than dropped, so a malformed call still shows what it meant to log.
func fields(keyvals []any) []zap.Field {
	fs := make([]zap.Field, 0, (len(keyvals)+1)/2)
	for i := 0; i < len(keyvals); i += 2 {
		if i+1 == len(keyvals) {
			fs = append(fs, field("!BADKEY", keyvals[i]))
			break
		}
		k, ok := keyvals[i].(string)
		if !ok {
			k = fmt.Sprint(keyvals[i])
		}
		fs = append(fs, field(k, keyvals[i+1]))
	}
	return fs
}

func field(k string, v any) zap.Field {
	switch v := v.(type) {
	case string:
		return zap.String(k, logging.Redact(v))
	case error:
		return zap.String(k, logging.Redact(v.Error()))
	default:
		return zap.Any(k, v)
	}
}
