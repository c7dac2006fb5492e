// Package logging builds the one zap logger every sqlvault process uses, and Redact, which
// strips credentials out of strings (URLs, connection strings, driver errors) before they
// are logged or returned to a workflow.
package logging

import (
	"fmt"
	"regexp"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// New returns a logger writing to stderr. level is debug, info, warn or error; format is
// json (for log shippers) or console (for people at a terminal).
func New(level, format string) (*zap.Logger, error) {
	var lvl zapcore.Level
	switch strings.ToLower(level) {
	case "debug", "info", "warn", "error":
		// UnmarshalText cannot fail for these names.
		_ = lvl.UnmarshalText([]byte(strings.ToLower(level)))
	default:
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}

	enc := zap.NewProductionEncoderConfig()
	enc.TimeKey = "ts"
	enc.EncodeTime = zapcore.ISO8601TimeEncoder // readable and still sortable
	switch strings.ToLower(format) {
	case "json":
	case "console":
		enc.EncodeLevel = zapcore.CapitalLevelEncoder
	default:
		return nil, fmt.Errorf("log format %q: use json or console", format)
	}

	cfg := zap.Config{
		Level:    zap.NewAtomicLevelAt(lvl),
		Encoding: strings.ToLower(format),
		// No sampling: a backup tool must not drop the one line that explains a failure.
		EncoderConfig:    enc,
		OutputPaths:      []string{"stderr"},
		ErrorOutputPaths: []string{"stderr"},
	}
	return cfg.Build()
}

// Redacted replaces every secret that Redact finds.
const Redacted = "REDACTED"

// redactions run in order; each keeps the name of the secret and replaces only its value,
// so a redacted line still says which credential was involved.
var redactions = []struct {
	re   *regexp.Regexp
	repl string
}{
	// Userinfo in URLs (sqlserver://user:password@host). Greedy up to the last '@' of the
	// token, because url.Parse errors quote malformed URLs whose password holds a raw '@'.
	{regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^/\s:@"'<>]*):[^\s"'<>]*@`), "${1}:" + Redacted + "@"},
	// SAS signature: the only secret part of a SAS query string (sv, se, sp… are not).
	// Also matches the URL-encoded (%26sig%3D) and JSON-escaped (\u0026sig=) forms.
	{regexp.MustCompile(`(?i)(^|[^a-z0-9_]|\\u0026|%26|%3f)(sig)(=|%3d)(?:[^&%\s"'<>;,)\\]|%[0-9a-f]{2})+`), "${1}${2}${3}" + Redacted},
	// Password=… / Pwd=… in ADO-style connection strings (go-mssqldb) and URL queries.
	// Quoted values may hold ';'; unquoted ones run to ';' or end of line (ADO values may
	// contain spaces and '&', so over-redacting is the safe side).
	{regexp.MustCompile(`(?i)\b(password|pwd)(\s*=\s*)("(?:[^"]|"")*"|'(?:[^']|'')*'|\{(?:[^}]|\}\})*\}|[^;\r\n]*)`), "${1}${2}" + Redacted},
	// Azure Storage connection strings.
	{regexp.MustCompile(`(?i)\b(AccountKey)(\s*=\s*)[^;\s"']*`), "${1}${2}" + Redacted},
	// Bearer tokens (Temporal Cloud API keys, Entra ID tokens) in echoed headers.
	{regexp.MustCompile(`(?i)\b(bearer)\s+[a-z0-9._~+/-]+=*`), "${1} " + Redacted},
}

// Redact removes secrets from s: SAS signatures (sig=…), passwords in connection strings
// and URL userinfo, storage account keys and bearer tokens. Use it on any string that may
// carry a credential — URLs, connection strings, SQL driver and storage SDK errors — before
// it reaches a log line, an error returned to Temporal, or workflow history.
func Redact(s string) string {
	for _, r := range redactions {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	return s
}
