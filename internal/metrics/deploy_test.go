package metrics

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

const deployDir = "../../deploy/monitoring"

// prometheusOwn are series Prometheus records itself for every target, not sqlvault.
var prometheusOwn = map[string]bool{"up": true}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// sdkTags are the tags the Temporal SDK puts on series it records (ViaSDK series and its own).
var sdkTags = []string{"namespace", "task_queue", "workflow_type", "activity_type", "poller_type", "worker_type",
	"client_name", "operation", "failure_reason"}

// ruleFile is Prometheus' rule file format; decoded strictly, so a misspelt key fails.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval,omitempty"`
		Rules    []struct {
			Alert       string            `yaml:"alert,omitempty"`
			Record      string            `yaml:"record,omitempty"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for,omitempty"`
			Labels      map[string]string `yaml:"labels,omitempty"`
			Annotations map[string]string `yaml:"annotations,omitempty"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertRulesUseExportedSeries: the rules file has Prometheus' rule-file shape, and every
// series an expression selects is one the code exports (with labels it has).
func TestAlertRulesUseExportedSeries(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "sqlvault-alerts.yml"))
	require.NoError(t, err)
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f ruleFile
	require.NoError(t, dec.Decode(&f))
	require.NotEmpty(t, f.Groups)
	known := exportedNames(t)
	alerts := map[string]bool{}
	for _, g := range f.Groups {
		require.NotEmpty(t, g.Name)
		require.NotEmpty(t, g.Rules, "group %s", g.Name)
		for _, r := range g.Rules {
			require.True(t, (r.Alert == "") != (r.Record == ""), "a rule is an alert or a recording rule: %+v", r)
			require.NotEmpty(t, r.Expr, r.Alert)
			if r.Alert != "" {
				assert.False(t, alerts[r.Alert], "alert %s defined twice", r.Alert)
				alerts[r.Alert] = true
				assert.NotEmpty(t, r.Annotations["summary"], "alert %s has a summary", r.Alert)
				assert.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], r.Alert)
			}
			if r.For != "" {
				_, err := model.ParseDuration(r.For)
				assert.NoError(t, err, "alert %s: for", r.Alert)
			}
			checkExpr(t, "alert "+r.Alert, r.Expr, known)
		}
	}
	// The alerts.
	for _, a := range []string{"SqlvaultBackupFailed", "SqlvaultRPOBreached", "SqlvaultAgentDown", "SqlvaultVaultUnreachable", "SqlvaultRestoreDrillFailed"} {
		assert.True(t, alerts[a], "alert %s", a)
	}
}

// TestDashboardUsesExportedSeries: the Grafana dashboard is JSON with panels whose every
// query selects only series the code exports.
func TestDashboardUsesExportedSeries(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(deployDir, "sqlvault-dashboard.json"))
	require.NoError(t, err)
	type target struct {
		Expr string `json:"expr"`
	}
	type panel struct {
		Title   string   `json:"title"`
		Type    string   `json:"type"`
		Targets []target `json:"targets"`
		Panels  []panel  `json:"panels"`
	}
	var d struct {
		Title  string  `json:"title"`
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	require.NoError(t, json.Unmarshal(b, &d))
	require.NotEmpty(t, d.UID)
	known := exportedNames(t)
	used := map[string]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			if p.Type != "row" {
				assert.NotEmpty(t, p.Targets, "panel %q has a query", p.Title)
			}
			for _, q := range p.Targets {
				require.NotEmpty(t, q.Expr, "panel %q", p.Title)
				for _, n := range checkExpr(t, "panel "+p.Title, q.Expr, known) {
					used[n] = true
				}
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	// The series the issue lists are on the dashboard, the restore drills' among them.
	for _, n := range []string{Backups, Restores, BackupDuration + "_bucket", AgentBackupReadBytes, AgentBackupStoredBytes, AgentStreamDuration + "_bucket",
		AgentStreamThroughput + "_bucket", AgentBlocksInFlight, AgentEndpointSessions, AgentMemoryLimit, VaultOperationDuration + "_bucket",
		VaultOperationErrors, ItemLastSuccess, ItemRPO, ItemRPOTarget, "temporal_activity_execution_failed_total", "temporal_num_pollers",
		DrillLastOutcome, DrillLastSuccess, DrillRestoreSeconds} {
		assert.True(t, used[n], "the dashboard shows %s", n)
	}
}

// TestExprNamesCatchesUnknownSeries proves the check can fail: an unknown name, a label a
// series does not have, and a Prometheus-renamed label are each reported.
func TestExprNamesCatchesUnknownSeries(t *testing.T) {
	known := exportedNames(t)
	names, labels := exprNames(`sum by (le) (rate(sqlvault_backup_duration_seconds_bucket{outcome="failure", job=~"a|b"}[5m])) > 0.95 * 1e3`)
	assert.Equal(t, []string{"sqlvault_backup_duration_seconds_bucket"}, names)
	assert.Equal(t, map[string][]string{"sqlvault_backup_duration_seconds_bucket": {"outcome", "job"}}, labels)
	names, _ = exprNames(`time() - max(sqlvault_catalog_refresh_timestamp_seconds offset 1h) or vector(0) unless on(item) up`)
	assert.Equal(t, []string{"sqlvault_catalog_refresh_timestamp_seconds", "up"}, names)
	names, _ = exprNames(`increase(sqlvault_backups_total[$__range]) / ignoring(type) group_left(outcome) sqlvault_restores_total`)
	assert.Equal(t, []string{"sqlvault_backups_total", "sqlvault_restores_total"}, names)

	ft := &fakeT{}
	checkExpr(ft, "x", `rate(sqlvault_backups_failed_total[5m])`, known)
	checkExpr(ft, "x", `sqlvault_item_rpo_seconds{instance="SQLVM1"}`, known)
	checkExpr(ft, "x", `sqlvault_item_rpo_seconds{colour="red"}`, known)
	checkExpr(ft, "x", `vector(1)`, known)
	assert.Len(t, ft.errs, 3, "%v", ft.errs)
	// instance is the target's label: present on every series, so it passes; colour and the
	// unknown name fail, and an expression naming no series fails.
	assert.Contains(t, ft.errs[0], "sqlvault_backups_failed_total")
	assert.Contains(t, ft.errs[1], "colour")
	assert.Contains(t, ft.errs[2], "names no series")
}

type fakeT struct{ errs []string }

func (f *fakeT) Helper() {}
func (f *fakeT) Errorf(format string, args ...any) {
	f.errs = append(f.errs, strings.TrimSpace(fmt.Sprintf(format, args...)))
}

type errorfT interface {
	Helper()
	Errorf(string, ...any)
}

// exportedNames is every series the code exports: the catalogue (product and SDK series, with
// histograms' suffixes) and what a process registry holds from the start (go_*, process_*).
func exportedNames(t *testing.T) map[string][]string {
	out := map[string][]string{}
	for name, d := range Exported() {
		labels := append(append([]string{}, d.Labels...), targetLabels...)
		if d.Type == HistogramType && strings.HasSuffix(name, "_bucket") {
			labels = append(labels, "le")
		}
		if d.ViaSDK || strings.HasPrefix(name, "temporal_") {
			labels = append(labels, sdkTags...)
		}
		out[name] = labels
	}
	mfs, err := NewRegistry("test", "both").Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if _, ok := out[mf.GetName()]; !ok {
			out[mf.GetName()] = nil // a runtime series: any label is Prometheus' or none
		}
	}
	for n := range prometheusOwn {
		out[n] = targetLabels
	}
	return out
}

// checkExpr reports every series expr selects that known lacks, and every label matcher a
// product series does not have; it returns the names.
func checkExpr(t errorfT, where, expr string, known map[string][]string) []string {
	t.Helper()
	names, labels := exprNames(expr)
	if len(names) == 0 {
		t.Errorf("%s: %q names no series", where, expr)
	}
	for _, n := range names {
		allowed, ok := known[n]
		if !ok {
			t.Errorf("%s: %s is not a series sqlvault exports (expr %q)", where, n, expr)
			continue
		}
		if allowed == nil {
			continue
		}
		for _, l := range labels[n] {
			if !slices.Contains(allowed, l) {
				t.Errorf("%s: %s has no label %s (it has %v; expr %q)", where, n, l, allowed, expr)
			}
		}
	}
	return names
}

var (
	// Grafana's variables ($__rate_interval, ${DS}) stand where a duration or a value goes.
	grafanaVar = regexp.MustCompile(`\$\{?[A-Za-z_][A-Za-z0-9_]*\}?`)
	// Label lists of grouping and matching clauses: label names, not series.
	groupingClause = regexp.MustCompile(`\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	token          = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`" +
		`|\[[^\]]*\]|\{[^}]*\}|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?:ms|[smhdwy])?|[A-Za-z_:][A-Za-z0-9_:]*|\S`)
	matcherLabel = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)\s*(?:=~|!~|!=|=)`)
	// PromQL's keywords and the words that may stand alone without naming a series.
	promqlWords = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true,
		"group_right": true, "bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true,
		"nan": true, "Inf": true, "NaN": true, "atan2": true}
)

// exprNames is a careful tokenizer of PromQL (the prometheus module's parser would pull a
// newer gRPC and half of Prometheus into go.mod): it returns the series names an expression
// selects, in order, and the label names matched on each. Strings, durations, numbers,
// Grafana variables, grouping label lists and keywords are skipped; an identifier followed
// by "(" is a function or aggregation.
func exprNames(expr string) (names []string, labels map[string][]string) {
	expr = grafanaVar.ReplaceAllString(expr, "1m")
	expr = groupingClause.ReplaceAllString(expr, " ")
	toks := token.FindAllString(expr, -1)
	labels = map[string][]string{}
	for i, tok := range toks {
		c := tok[0]
		if !(c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') || promqlWords[tok] {
			continue
		}
		if i+1 < len(toks) && toks[i+1] == "(" {
			continue // a function or an aggregation
		}
		names = append(names, tok)
		if i+1 < len(toks) && strings.HasPrefix(toks[i+1], "{") {
			for _, m := range matcherLabel.FindAllStringSubmatch(stripStrings(toks[i+1]), -1) {
				labels[tok] = append(labels[tok], m[1])
			}
		}
	}
	return names, labels
}

var quoted = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)

func stripStrings(s string) string { return quoted.ReplaceAllString(s, `""`) }
