package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// rpoFleet protects three databases under an hourly-log policy with nothing backed up
// since their protection began two hours before u.now, and creates their schedules; the
// log schedule of Paused is paused.
func rpoFleet(t *testing.T, u *unitControl) {
	ctx := context.Background()
	require.NoError(t, u.repo.PutPolicy(ctx, "daily", []byte(`{"name": "daily", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}}`)))
	for _, db := range []string{"Alpha", "Paused", "Zulu"} {
		id := vault.ItemID("SQLVM1", db)
		require.NoError(t, u.repo.PutItem(ctx, &vault.ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: db,
			Policy: "daily", State: vault.ItemProtected, CreatedAt: u.now.Add(-2 * time.Hour), UpdatedAt: u.now}))
		for _, kind := range []string{policy.KindFull, policy.KindLog} {
			_, err := u.tc.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: protocol.ItemScheduleID(id, kind), Paused: db == "Paused" && kind == policy.KindLog})
			require.NoError(t, err)
		}
	}
}

// A sweep a page at a time stores each page's findings in the vault, not in its result;
// the finish merges them worst first into the latest report, deletes the pages, sets the
// breach series, and says whether the breaches changed since the last report.
func TestRPOSweepUnit(t *testing.T) {
	u := newUnitControl(t)
	reg := prometheus.NewRegistry()
	u.c.RPOMetrics = rpowatch.NewMetrics(reg)
	rpoFleet(t, u)

	sweep := func(name string) protocol.RPOSweepSummary {
		after, pages := "", 0
		for {
			var pg protocol.CheckRPOPageResult
			require.NoError(t, u.run(t, &pg, protocol.ActivityCheckRPOPage, protocol.CheckRPOPageInput{Sweep: name, After: after, Limit: 2, At: u.now}))
			pages++
			assert.Equal(t, pg.Items, pg.Breached, "nothing is backed up: every item is breached")
			if !pg.More {
				break
			}
			after = pg.Next
		}
		assert.Equal(t, 2, pages, "three items, two a page")
		var sum protocol.RPOSweepSummary
		require.NoError(t, u.run(t, &sum, protocol.ActivityFinishRPOSweep, protocol.FinishRPOSweepInput{Sweep: name, At: u.now}))
		return sum
	}
	sum := sweep("run1-1")
	assert.Equal(t, 3, sum.Items)
	assert.Equal(t, 3, sum.Breached)
	assert.True(t, sum.Changed, "the first report changes everything")
	require.Len(t, sum.Worst, 3)
	paused := vault.ItemID("SQLVM1", "Paused")
	reasons := map[string]string{}
	for _, b := range sum.Worst {
		reasons[b.Database] = b.Reason
		assert.Equal(t, int64(7200), b.RPOSeconds)
		assert.Equal(t, int64(3600), b.TargetSeconds)
	}
	assert.Equal(t, map[string]string{"Alpha": protocol.RPOReasonNoFull, "Paused": protocol.RPOReasonSchedulePaused, "Zulu": protocol.RPOReasonNoFull}, reasons)

	doc, err := u.repo.RPOReport(context.Background())
	require.NoError(t, err)
	var rep rpowatch.Report
	require.NoError(t, json.Unmarshal(doc, &rep))
	assert.Equal(t, "run1-1", rep.Sweep)
	require.Len(t, rep.Findings, 3)
	names, _, err := u.repo.RPOPages(context.Background())
	require.NoError(t, err)
	assert.Empty(t, names, "the pages are deleted once merged")

	n, err := testutil.GatherAndCount(reg, "sqlvault_item_rpo_breached")
	require.NoError(t, err)
	assert.Equal(t, 3, n)
	require.NoError(t, testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP sqlvault_rpo_watchdog_breaches Protected items the RPO watchdog's last sweep found past their RPO target.
# TYPE sqlvault_rpo_watchdog_breaches gauge
sqlvault_rpo_watchdog_breaches 3
`), "sqlvault_rpo_watchdog_breaches"))
	assert.Contains(t, gathered(t, reg), `sqlvault_item_rpo_breached{database="Paused",item="`+paused+`",kind="log",reason="schedule-paused",sql_instance="SQLVM1"} 1`)

	// The same breaches again: no change, so the webhook is not told again.
	assert.False(t, sweep("run1-2").Changed)
}

func gathered(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			b.WriteString(mf.GetName() + "{" + strings.Join(labels, ",") + "} ")
			b.WriteString(strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(m.GetGauge().String(), "value:"), " "), "\n"))
			b.WriteString("\n")
		}
	}
	return b.String()
}

// The webhook gets the breaches as JSON with the secret header read from the environment
// variable the configuration names; an answer other than 2xx is a retryable named error (the
// activity's retry policy sends it again); none configured sends nothing.
func TestNotifyRPOWebhookUnit(t *testing.T) {
	u := newUnitControl(t)
	rpoFleet(t, u)
	var calls atomic.Int32
	var got rpowatch.Payload
	var header string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		header = r.Header.Get("X-Sqlvault-Token")
		assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		assert.NoError(t, json.NewDecoder(r.Body).Decode(&got))
	}))
	defer srv.Close()

	var res protocol.NotifyRPOResult
	require.NoError(t, u.run(t, &res, protocol.ActivityNotifyRPO, protocol.NotifyRPOInput{Sweep: "s"}))
	assert.False(t, res.Sent, "no webhook configured")

	t.Setenv("SQLVAULT_TEST_WEBHOOK_SECRET", "s3cret-value")
	u.c.RPOWebhook = &rpowatch.Webhook{URL: srv.URL, Header: "X-Sqlvault-Token", SecretEnv: "SQLVAULT_TEST_WEBHOOK_SECRET"}
	require.NoError(t, u.run(t, nil, protocol.ActivityCheckRPOPage, protocol.CheckRPOPageInput{Sweep: "s", Limit: 10, At: u.now}))
	require.NoError(t, u.run(t, nil, protocol.ActivityFinishRPOSweep, protocol.FinishRPOSweepInput{Sweep: "s", At: u.now}))

	err := u.run(t, &res, protocol.ActivityNotifyRPO, protocol.NotifyRPOInput{Sweep: "s"})
	var app *temporal.ApplicationError
	require.ErrorAs(t, err, &app)
	assert.Equal(t, protocol.ErrWebhookFailed, app.Type())
	assert.False(t, app.NonRetryable())
	assert.Contains(t, err.Error(), "503")
	assert.NotContains(t, err.Error(), "s3cret-value")

	require.NoError(t, u.run(t, &res, protocol.ActivityNotifyRPO, protocol.NotifyRPOInput{Sweep: "s"}))
	assert.True(t, res.Sent)
	assert.Equal(t, "s3cret-value", header)
	assert.Equal(t, rpowatch.PayloadSchema, got.Schema)
	assert.Equal(t, 3, got.Items)
	require.Len(t, got.Breached, 3)
	assert.Equal(t, protocol.RPOStateBreached, got.Breached[0].State)

	u.c.RPOWebhook.SecretEnv = "SQLVAULT_TEST_WEBHOOK_SECRET_UNSET"
	err = u.run(t, &res, protocol.ActivityNotifyRPO, protocol.NotifyRPOInput{Sweep: "s"})
	assert.ErrorContains(t, err, "environment variable SQLVAULT_TEST_WEBHOOK_SECRET_UNSET is not set")
}

// A finish retried after it stored the report (the worker died before its result) answers as
// the first did, from the report: it does not merge the pages it already deleted into an
// empty report, which would tell the webhook that every breach had cleared.
func TestFinishRPOSweepRetriedAfterItsWrite(t *testing.T) {
	u := newUnitControl(t)
	u.c.RPOMetrics = rpowatch.NewMetrics(prometheus.NewRegistry())
	rpoFleet(t, u)
	var pg protocol.CheckRPOPageResult
	require.NoError(t, u.run(t, &pg, protocol.ActivityCheckRPOPage, protocol.CheckRPOPageInput{Sweep: "r-1", Limit: 10, At: u.now}))
	require.False(t, pg.More)
	in := protocol.FinishRPOSweepInput{Sweep: "r-1", At: u.now}
	var first, again protocol.RPOSweepSummary
	require.NoError(t, u.run(t, &first, protocol.ActivityFinishRPOSweep, in))
	require.NoError(t, u.run(t, &again, protocol.ActivityFinishRPOSweep, in))
	assert.Equal(t, first, again, "the retry answers as the first finish did")
	assert.Equal(t, 3, again.Breached)
	assert.True(t, again.Changed)
	doc, err := u.repo.RPOReport(context.Background())
	require.NoError(t, err)
	var rep rpowatch.Report
	require.NoError(t, json.Unmarshal(doc, &rep))
	assert.Len(t, rep.Findings, 3, "the stored report keeps every finding")
}

// The RPO watchdog shows an item whose record is not authenticated as unknown, with the
// reason, instead of judging it by what the record says (one edited to "stopped" would
// otherwise drop out of the report) or failing the sweep.
func TestRPOSweepShowsAnUnauthenticatedItemAsUnknown(t *testing.T) {
	u := newUnitControl(t)
	rpoFleet(t, u)
	ctx := context.Background()
	zulu := vault.ItemID("SQLVM1", "Zulu")
	it, err := u.repo.Item(ctx, zulu)
	require.NoError(t, err)
	it.State = vault.ItemStoppedRetain
	record, err := json.Marshal(it)
	require.NoError(t, err)
	require.NoError(t, u.repo.Store().Put(ctx, vault.ItemBlob(zulu), record, vault.PutOptions{}))

	var pg protocol.CheckRPOPageResult
	require.NoError(t, u.run(t, &pg, protocol.ActivityCheckRPOPage, protocol.CheckRPOPageInput{Sweep: "s1", Limit: 10, At: u.now}))
	assert.Equal(t, 3, pg.Items, "the item is still reported")
	assert.Equal(t, 2, pg.Breached)
	var sum protocol.RPOSweepSummary
	require.NoError(t, u.run(t, &sum, protocol.ActivityFinishRPOSweep, protocol.FinishRPOSweepInput{Sweep: "s1", At: u.now}))
	doc, err := u.repo.RPOReport(ctx)
	require.NoError(t, err)
	var rep rpowatch.Report
	require.NoError(t, json.Unmarshal(doc, &rep))
	var found bool
	for _, f := range rep.Findings {
		if f.ItemID == zulu {
			found = true
			assert.Equal(t, protocol.RPOStateUnknown, f.State)
			assert.Contains(t, f.Detail, "not authenticated")
		}
	}
	assert.True(t, found)
}

// A page judges its items several at a time (a breached item waits on schedule
// descriptions): the stored page still lists its findings in the page's order, one per item,
// each with its own item's reason.
func TestCheckRPOPageKeepsThePagesOrder(t *testing.T) {
	u := newUnitControl(t)
	ctx := context.Background()
	require.NoError(t, u.repo.PutPolicy(ctx, "daily", []byte(`{"name": "daily", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}}`)))
	var ids []string
	for i := range 3 * rpoJudgeParallel {
		db := fmt.Sprintf("DB%02d", i)
		id := vault.ItemID("SQLVM1", db)
		ids = append(ids, id)
		require.NoError(t, u.repo.PutItem(ctx, &vault.ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: db,
			Policy: "daily", State: vault.ItemProtected, CreatedAt: u.now.Add(-2 * time.Hour), UpdatedAt: u.now}))
		for _, kind := range []string{policy.KindFull, policy.KindLog} {
			_, err := u.tc.ScheduleClient().Create(ctx, client.ScheduleOptions{ID: protocol.ItemScheduleID(id, kind), Paused: i%3 == 0 && kind == policy.KindLog})
			require.NoError(t, err)
		}
	}
	sort.Strings(ids)
	var pg protocol.CheckRPOPageResult
	require.NoError(t, u.run(t, &pg, protocol.ActivityCheckRPOPage, protocol.CheckRPOPageInput{Sweep: "order-1", Limit: len(ids), At: u.now}))
	assert.Equal(t, len(ids), pg.Items)
	assert.Equal(t, len(ids), pg.Breached)
	_, docs, err := u.repo.RPOPages(ctx)
	require.NoError(t, err)
	require.Len(t, docs, 1)
	var findings []rpowatch.Finding
	require.NoError(t, json.Unmarshal(docs[0], &findings))
	require.Len(t, findings, len(ids))
	for i, f := range findings {
		assert.Equal(t, ids[i], f.ItemID, "finding %d", i)
		n, err := strconv.Atoi(strings.TrimPrefix(f.Database, "DB"))
		require.NoError(t, err)
		want := protocol.RPOReasonNoFull
		if n%3 == 0 {
			want = protocol.RPOReasonSchedulePaused
		}
		assert.Equal(t, want, f.Reason, f.Database)
	}

	// One item's points cannot be listed (the store fails): the page fails as a vault outage,
	// retried, and stores no page of its sweep; the earlier sweep's page is left as it was.
	zero, err := blockcrypt.NewKey(make([]byte, blockcrypt.KeySize))
	require.NoError(t, err)
	u.c.Vault = vault.NewRepository(&failListing{Store: u.mem, prefix: vault.PointsPrefix(ids[len(ids)/2])}, nil).WithKeys(vault.Keys{zero})
	err = u.run(t, &pg, protocol.ActivityCheckRPOPage, protocol.CheckRPOPageInput{Sweep: "order-2", Limit: len(ids), At: u.now})
	var appErr *temporal.ApplicationError
	require.ErrorAs(t, err, &appErr)
	assert.Equal(t, protocol.ErrVaultUnavailable, appErr.Type())
	assert.False(t, appErr.NonRetryable())
	names, docs2, err := u.repo.RPOPages(ctx)
	require.NoError(t, err)
	assert.Len(t, names, 1, "no page of the failed sweep")
	assert.Equal(t, docs, docs2)
}

// failListing fails every listing under prefix.
type failListing struct {
	vault.Store
	prefix string
}

func (f *failListing) List(ctx context.Context, prefix string, fn func(vault.BlobInfo) error) error {
	if strings.HasPrefix(prefix, f.prefix) {
		return errors.New("injected: listing failed")
	}
	return f.Store.List(ctx, prefix, fn)
}
