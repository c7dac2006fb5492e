package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/control/rpowatch"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
	"github.com/sqlvault/sqlvault/workflows"
)

// rpoPolicy is the policy every item of the watchdog benchmark is protected with: a weekly
// full, a differential the other days, a log every hour. Its RPO target is an hour (the log
// interval), and it has three schedules per item, so a breached item whose schedules all
// run costs the watchdog three schedule descriptions.
func rpoPolicy() policy.Policy {
	return policy.Policy{Name: "rpo-weekly-hourly",
		Full: policy.FullSchedule{Frequency: policy.FrequencyWeekly, Weekdays: []time.Weekday{time.Sunday},
			TimeOfDay: "22:00", TimeZone: "UTC"},
		Differential: &policy.DiffSchedule{Weekdays: []time.Weekday{time.Monday, time.Tuesday, time.Wednesday,
			time.Thursday, time.Friday, time.Saturday}, TimeOfDay: "22:00"},
		Log:       &policy.LogSchedule{EveryMinutes: 60},
		Retention: policy.Retention{Weekly: &policy.KeepWeekly{Weeks: 4, Weekday: time.Sunday}, DifferentialDays: 7, LogDays: 7},
	}
}

// rpoBreachReasons are the breaches the benchmark makes, in turn, and the reason the
// watchdog must give for each.
var rpoBreachReasons = []string{protocol.RPOReasonSchedulePaused, protocol.RPOReasonScheduleMissing,
	protocol.RPOReasonBackupsLate, protocol.RPOReasonNoFull, protocol.RPOReasonChainBroken}

// rpoVMs is how many SQL instances the items are spread over.
const rpoVMs = 20

// rpoItem is one protected item of the benchmark's vault and the breach made of it ("" for
// none).
type rpoItem struct {
	id, instance, database, breach string
}

// rpoItems lays out n items over rpoVMs instances; one database in each row of rpoVMs (a
// different instance each row) is breached, the reasons taken in turn: 5% of the items.
func rpoItems(n int) []rpoItem {
	out := make([]rpoItem, n)
	for i := range out {
		row := i / rpoVMs
		it := rpoItem{instance: fmt.Sprintf("RPOVM%02d", i%rpoVMs+1), database: fmt.Sprintf("Db%04d", row+1)}
		it.id = vault.ItemID(it.instance, it.database)
		if i%rpoVMs == row%rpoVMs {
			it.breach = rpoBreachReasons[row%len(rpoBreachReasons)]
		}
		out[i] = it
	}
	return out
}

// breakChain makes the next log start past the previous one's end: a gap in the log chain.
func (h *history) breakChain() { h.logFrom = h.lsn(1000) }

// rpoHistory is the item's recovery points at now over the last days: a full, a
// differential a day after it, and a log every hour, the newest 2 minutes old; for a breach,
// no point at all (no-full), logs that stopped 3 hours ago (the schedule reasons and
// backups-late), or a gap in the log chain 3 hours ago with logs after it (chain-broken).
func rpoHistory(it rpoItem, now time.Time, days int) *history {
	h := newHistory(it.instance, it.database)
	if it.breach == protocol.RPOReasonNoFull {
		return h
	}
	t0 := now.Add(-time.Duration(days) * 24 * time.Hour)
	newest := now.Add(-2 * time.Minute)
	switch it.breach {
	case protocol.RPOReasonSchedulePaused, protocol.RPOReasonScheduleMissing, protocol.RPOReasonBackupsLate:
		newest = now.Add(-3 * time.Hour)
	}
	gap := now.Add(-3 * time.Hour)
	gapped := it.breach != protocol.RPOReasonChainBroken
	h.full(t0)
	nextDiff := t0.Add(24 * time.Hour)
	first := newest.Add(-newest.Sub(t0).Truncate(time.Hour))
	if !first.After(t0) {
		first = first.Add(time.Hour)
	}
	for at := first; !at.After(newest); at = at.Add(time.Hour) {
		if !nextDiff.After(at) {
			h.diff(nextDiff)
			nextDiff = nextDiff.Add(24 * time.Hour)
		}
		if !gapped && !at.Before(gap) {
			h.breakChain()
			gapped = true
		}
		h.log(at)
	}
	return h
}

// rpoWorld is the benchmark's vault, its items, and the schedules made for the breaches.
type rpoWorld struct {
	items     []rpoItem
	store     *vault.CountingStore
	repo      *vault.Repository
	points    int
	schedules []string
}

// newRPOWorld writes the policy, n item records created days+1 ago and their points (each
// manifest with its summary as blob metadata, as CommitManifest writes it) into an
// item-sharded in-memory vault.
func newRPOWorld(tb testing.TB, n, days int, now time.Time) *rpoWorld {
	ctx := context.Background()
	store := &vault.CountingStore{Store: newItemStore()}
	w := &rpoWorld{items: rpoItems(n), store: store, repo: vault.NewRepository(store, zap.NewNop()).WithKeys(vaulttest.Keys())}
	pol := rpoPolicy()
	require.NoError(tb, pol.Validate())
	doc, err := json.Marshal(pol)
	require.NoError(tb, err)
	require.NoError(tb, w.repo.PutPolicy(ctx, pol.Name, doc))
	created := now.Add(-time.Duration(days+1) * 24 * time.Hour)
	for _, it := range w.items {
		require.NoError(tb, w.repo.PutItem(ctx, &vault.ProtectedItem{ItemID: it.id, VM: it.instance, Instance: it.instance,
			Database: it.database, Policy: pol.Name, State: vault.ItemProtected, CreatedAt: created, UpdatedAt: created}))
		h := rpoHistory(it, now, days)
		h.put(tb, store.Store, false)
		w.points += len(h.names)
	}
	return w
}

// breached is the reason made for each breached item.
func (w *rpoWorld) breached() map[string]string {
	out := map[string]string{}
	for _, it := range w.items {
		if it.breach != "" {
			out[it.id] = it.breach
		}
	}
	return out
}

// makeSchedules gives every breached item but the schedule-missing ones its schedules, as
// protecting it would (the EnsureSchedules activity's own code, 8 items at a time), and
// pauses the full schedule of the schedule-paused ones, as a failover pauses them.
func (w *rpoWorld) makeSchedules(tb testing.TB, ctl *control.Control, tc client.Client) {
	ctx := context.Background()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	errs := make(chan error, len(w.items))
	for _, it := range w.items {
		if it.breach == "" || it.breach == protocol.RPOReasonScheduleMissing {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := ctl.EnsureSchedules(ctx, protocol.EnsureSchedulesInput{ItemID: it.id})
			if err == nil && it.breach == protocol.RPOReasonSchedulePaused {
				err = tc.ScheduleClient().GetHandle(ctx, protocol.ItemScheduleID(it.id, policy.KindFull)).
					Pause(ctx, client.SchedulePauseOptions{Note: "paused by failover to RPOVM99"})
			}
			if err != nil {
				errs <- fmt.Errorf("schedules of %s: %w", it.id, err)
				return
			}
			mu.Lock()
			w.schedules = append(w.schedules, res.Schedules...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(tb, err)
	}
}

// deleteSchedules removes the schedules made (clean-up).
func (w *rpoWorld) deleteSchedules(tc client.Client) {
	for _, id := range w.schedules {
		_ = tc.ScheduleClient().GetHandle(context.Background(), id).Delete(context.Background())
	}
}

// rawSweep is the benchmark's baseline: the vault reads a sweep makes, made directly, one
// after another as the pages make them (the item folders listed, then for every item its
// record read and its points listed with their metadata), with no Temporal, no decoding and
// no judging. Median of reps.
func (w *rpoWorld) rawSweep(tb testing.TB, reps int) time.Duration {
	ctx := context.Background()
	s := w.store.Store
	repo := vault.NewRepository(s, zap.NewNop())
	var times []time.Duration
	for range reps {
		t0 := time.Now()
		ids, err := repo.ItemIDs(ctx)
		require.NoError(tb, err)
		summaries := 0
		for _, id := range ids {
			_, err := s.Get(ctx, vault.ItemBlob(id))
			require.NoError(tb, err)
			require.NoError(tb, s.List(ctx, vault.PointsPrefix(id), func(b vault.BlobInfo) error {
				if b.Metadata[vault.SummaryMetadataKey] != "" {
					summaries++
				}
				return nil
			}))
		}
		times = append(times, time.Since(t0))
		require.Equal(tb, w.points, summaries, "the listings carry every point's summary")
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2]
}

// sweepCost is what one sweep's activities did, measured around each execution on the
// worker: the activities run one after another, so the vault and Temporal calls made while
// one runs are its own.
type sweepCost struct {
	executions int
	busy       time.Duration
	pages      int
	pageTime   time.Duration
	vault      vault.Counts
	describes  int64
	describing time.Duration // the describes' time
}

// sweepMeter is a worker interceptor that adds each watchdog activity's time, vault calls
// and schedule descriptions to its sweep's cost, and reports each sweep whose
// FinishRPOSweep returned.
type sweepMeter struct {
	interceptor.WorkerInterceptorBase
	store     *vault.CountingStore
	describes *describeMeter
	finished  chan string

	mu    sync.Mutex
	costs map[string]*sweepCost
}

func newSweepMeter(store *vault.CountingStore, describes *describeMeter) *sweepMeter {
	return &sweepMeter{store: store, describes: describes, finished: make(chan string, 16), costs: map[string]*sweepCost{}}
}

func (m *sweepMeter) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &meteredActivity{m: m}
	i.Next = next
	return i
}

func (m *sweepMeter) cost(sweep string) sweepCost {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.costs[sweep]; c != nil {
		return *c
	}
	return sweepCost{}
}

type meteredActivity struct {
	interceptor.ActivityInboundInterceptorBase
	m *sweepMeter
}

// sweepOf is the sweep an activity's input names ("" for another activity).
func sweepOf(args []any) string {
	for _, a := range args {
		switch in := a.(type) {
		case protocol.CheckRPOPageInput:
			return in.Sweep
		case protocol.FinishRPOSweepInput:
			return in.Sweep
		case protocol.NotifyRPOInput:
			return in.Sweep
		}
	}
	return ""
}

func (a *meteredActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	sweep := sweepOf(in.Args)
	before, d0, dt0, t0 := a.m.store.Snapshot(), a.m.describes.calls.Load(), a.m.describes.nanos.Load(), time.Now()
	res, err := a.Next.ExecuteActivity(ctx, in)
	took, calls := time.Since(t0), a.m.store.Snapshot().Sub(before)
	described, describing := a.m.describes.calls.Load()-d0, time.Duration(a.m.describes.nanos.Load()-dt0)
	name := activity.GetInfo(ctx).ActivityType.Name
	a.m.mu.Lock()
	c := a.m.costs[sweep]
	if c == nil {
		c = &sweepCost{}
		a.m.costs[sweep] = c
	}
	c.executions++
	c.busy += took
	if name == protocol.ActivityCheckRPOPage {
		c.pages++
		c.pageTime += took
	}
	c.vault = addCounts(c.vault, calls)
	c.describes += described
	c.describing += describing
	a.m.mu.Unlock()
	if name == protocol.ActivityFinishRPOSweep && err == nil {
		a.m.finished <- sweep
	}
	return res, err
}

func addCounts(a, b vault.Counts) vault.Counts {
	return vault.Counts{Stages: a.Stages + b.Stages, Commits: a.Commits + b.Commits, BlockLists: a.BlockLists + b.BlockLists,
		Reads: a.Reads + b.Reads, Puts: a.Puts + b.Puts, Gets: a.Gets + b.Gets, Props: a.Props + b.Props, Lists: a.Lists + b.Lists,
		PrefixLists: a.PrefixLists + b.PrefixLists, Deletes: a.Deletes + b.Deletes}
}

// sweepEvents is one sweep as the watchdog's history records it.
type sweepEvents struct {
	activities            int
	first, done           time.Time // the first activity scheduled, FinishRPOSweep completed
	firstEvent, doneEvent int64
	maxInput, maxResult   int // serialized payload bytes
}

// historySweeps reads the watchdog run's history: per sweep (named in every activity's
// input), its activities, its span, and the largest activity input and result.
func historySweeps(tb testing.TB, tc client.Client, id, runID string) map[string]*sweepEvents {
	out := map[string]*sweepEvents{}
	type sched struct{ sweep, typ string }
	scheduled := map[int64]sched{}
	it := tc.GetWorkflowHistory(context.Background(), id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		require.NoError(tb, err)
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
			a := ev.GetActivityTaskScheduledEventAttributes()
			var in struct {
				Sweep string `json:"sweep"`
			}
			if ps := a.GetInput().GetPayloads(); len(ps) > 0 {
				require.NoError(tb, json.Unmarshal(ps[0].GetData(), &in))
			}
			s := out[in.Sweep]
			if s == nil {
				s = &sweepEvents{first: ev.GetEventTime().AsTime(), firstEvent: ev.GetEventId()}
				out[in.Sweep] = s
			}
			s.activities++
			s.maxInput = max(s.maxInput, proto.Size(a.GetInput()))
			scheduled[ev.GetEventId()] = sched{sweep: in.Sweep, typ: a.GetActivityType().GetName()}
		case enumspb.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
			a := ev.GetActivityTaskCompletedEventAttributes()
			sc := scheduled[a.GetScheduledEventId()]
			s := out[sc.sweep]
			if s == nil {
				continue
			}
			s.maxResult = max(s.maxResult, proto.Size(a.GetResult()))
			if sc.typ == protocol.ActivityFinishRPOSweep {
				s.done, s.doneEvent = ev.GetEventTime().AsTime(), ev.GetEventId()
			}
		}
	}
	return out
}

// describeMeter counts the DescribeSchedule calls a Temporal client makes and the time
// they take.
type describeMeter struct {
	calls, nanos atomic.Int64
}

func (d *describeMeter) dialOption() grpc.DialOption {
	return grpc.WithChainUnaryInterceptor(func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn,
		invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if !strings.HasSuffix(method, "/DescribeSchedule") {
			return invoker(ctx, method, req, reply, cc, opts...)
		}
		t0 := time.Now()
		err := invoker(ctx, method, req, reply, cc, opts...)
		d.calls.Add(1)
		d.nanos.Add(int64(time.Since(t0)))
		return err
	})
}

// webhookLog is a local webhook that records every payload it is sent.
type webhookLog struct {
	mu       sync.Mutex
	payloads []rpowatch.Payload
}

func (w *webhookLog) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p rpowatch.Payload
	if err := json.Unmarshal(body, &p); err != nil {
		rw.WriteHeader(http.StatusBadRequest)
		return
	}
	w.mu.Lock()
	w.payloads = append(w.payloads, p)
	w.mu.Unlock()
}

func (w *webhookLog) all() []rpowatch.Payload {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]rpowatch.Payload{}, w.payloads...)
}

// reasonsOf is each breached finding's reason, by item.
func reasonsOf(fs []rpowatch.Finding) map[string]string {
	out := map[string]string{}
	for _, f := range fs {
		if f.State == protocol.RPOStateBreached {
			out[f.ItemID] = f.Reason
		}
	}
	return out
}

// terminateParked ends the backups the breached items' schedules started while the
// benchmark ran (on a queue no worker polls), so that none is left running on the server.
func terminateParked(tc client.Client, namespace, queue string) {
	ctx := context.Background()
	resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: namespace,
		Query: fmt.Sprintf("TaskQueue = %q AND ExecutionStatus = 'Running'", queue)})
	if err != nil {
		return
	}
	for _, e := range resp.GetExecutions() {
		_ = tc.TerminateWorkflow(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), "benchmark over")
	}
}

// BenchmarkRPOWatchdog (issue 15): the cost of one sweep of the RPO watchdog over
// SQLVAULT_BENCH_RPO_ITEMS protected items (default 2,000, the vault's limit) spread over 20
// instances. The vault (in memory, item-sharded so that an item's point listing costs what
// that item holds, as in Azure; wrapped to count Store calls) holds the policy (weekly full,
// daily differentials, hourly logs: a one-hour target), every item record, and each item's
// last SQLVAULT_BENCH_RPO_DAYS days (default 2) of points relative to now, every manifest
// with its summary as blob metadata as CommitManifest writes it: a full, a differential a day
// later, a log every hour, the newest 2 minutes old (≈ 50 points an item). One item in 20
// is breached, five ways in turn: its full schedule paused (a failover), its schedules
// missing, its logs stopped 3 hours ago with its schedules running (backups-late), no point
// at all (no-full), a gap in its log chain 3 hours ago (chain-broken); the breached items
// but the schedule-missing ones have their three Temporal Schedules (made by EnsureSchedules'
// own code; their backups start on a queue no worker polls).
//
// The real sqlvault.RPOWatchdog runs on the Temporal dev server with a control worker wired
// as worker/run.go wires it (workflows, control activities with a Temporal client, the
// breach webhook pointed at a local server), with the product's page size (200) and a
// 10-second interval. Two sweeps are measured: the first (the report is new, so the webhook
// is told) and the second (the steady state: the same breaches, no webhook). Reported per
// sweep: activities scheduled (from the run's history), the sweep's time from its first
// activity scheduled to its FinishRPOSweep completed (history timestamps), the activities'
// own time, vault calls and schedule descriptions with their time (counted around each
// activity on the worker), the history events it adds, and the largest activity input and
// result in bytes (serialized payloads; bounded however many items). Baseline: the same
// vault reads made directly, one after another, without Temporal, decoding or judging
// (rawSweep). Asserted:
// both sweeps judge every item; the breached items in the vault's report, the watchdog's
// summary and the webhook's payload are exactly the ones made, each with its reason; the
// second sweep changes nothing and tells no webhook; the largest payload stays under 32 KiB.
func BenchmarkRPOWatchdog(b *testing.B) {
	n := int(envInt("SQLVAULT_BENCH_RPO_ITEMS", 2000))
	days := int(envInt("SQLVAULT_BENCH_RPO_DAYS", 2))
	tp := sharedTemporal(b)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		ctx := context.Background()
		tag := fmt.Sprintf("%d-%d", os.Getpid(), containerSeq.Add(1))
		setup := time.Now()
		w := newRPOWorld(b, n, days, setup.UTC())
		describes := &describeMeter{}
		tc, err := client.Dial(client.Options{HostPort: tp.HostPort, Namespace: tp.Namespace,
			Logger:            temporalx.NewZapLogger(zap.NewNop()),
			ConnectionOptions: client.ConnectionOptions{DialOptions: []grpc.DialOption{describes.dialOption()}}})
		require.NoError(b, err)
		hooks := &webhookLog{}
		srv := httptest.NewServer(hooks)
		queue, parked := "bench-rpo-"+tag, "bench-rpo-parked-"+tag
		ctl := &control.Control{Vault: w.repo, Log: zap.NewNop(), Temporal: tc, ControlQueue: parked,
			RPOWebhook: &rpowatch.Webhook{URL: srv.URL}}
		w.makeSchedules(b, ctl, tc)
		meter := newSweepMeter(w.store, describes)
		cw := worker.New(tc, queue, worker.Options{Interceptors: []interceptor.WorkerInterceptor{meter}})
		workflows.Register(cw)
		ctl.Register(cw)
		require.NoError(b, cw.Start())
		setupTime := time.Since(setup)
		id := "bench-rpo-watchdog-" + tag
		closeAll := func() {
			_ = tc.TerminateWorkflow(context.Background(), id, "", "benchmark over")
			cw.Stop()
			w.deleteSchedules(tc)
			terminateParked(tc, tp.Namespace, parked)
			srv.Close()
			tc.Close()
		}
		b.Cleanup(func() { closeAll() }) // on failure; a run that ends well closes it itself

		b.StartTimer()
		run, err := tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: queue},
			protocol.WorkflowRPOWatchdog, protocol.RPOWatchdogInput{Interval: protocol.MinRPOWatchdogInterval})
		require.NoError(b, err)
		var sweeps []string
		limit := time.After(fleetRunLimit)
		for len(sweeps) < 2 {
			select {
			case s := <-meter.finished:
				if len(sweeps) == 0 || sweeps[len(sweeps)-1] != s { // a retried finish reports its sweep again
					sweeps = append(sweeps, s)
				}
			case <-limit:
				b.Fatalf("the watchdog finished %d sweeps in %s", len(sweeps), fleetRunLimit)
			}
		}
		b.StopTimer()
		// The summary the watchdog keeps is the second sweep's once the workflow has
		// recorded its FinishRPOSweep.
		var last *protocol.RPOSweepSummary
		require.Eventually(b, func() bool {
			v, err := tc.QueryWorkflow(ctx, id, run.GetRunID(), protocol.QueryRPOWatchdog)
			var sum *protocol.RPOSweepSummary // fresh each time: a field left out of the JSON must not keep an earlier answer's value
			if err != nil || v.Get(&sum) != nil || sum == nil || sum.Sweep != sweeps[1] {
				return false
			}
			last = sum
			return true
		}, time.Minute, 200*time.Millisecond)
		require.NoError(b, tc.TerminateWorkflow(ctx, id, run.GetRunID(), "benchmark: two sweeps measured"))
		hist := historySweeps(b, tc, id, run.GetRunID())

		// Correctness: exactly the breaches made, everywhere the watchdog raises them.
		want := w.breached()
		require.Equal(b, n, last.Items, "items the second sweep judged")
		require.Equal(b, len(want), last.Breached, "breaches the second sweep found")
		doc, err := w.repo.RPOReport(ctx)
		require.NoError(b, err)
		var rep rpowatch.Report
		require.NoError(b, json.Unmarshal(doc, &rep))
		require.Equal(b, sweeps[1], rep.Sweep)
		require.Len(b, rep.Findings, n)
		require.Equal(b, want, reasonsOf(rep.Findings), "the breached items and their reasons in the vault's report")
		for _, f := range rep.Findings {
			if want[f.ItemID] == "" {
				require.Equal(b, protocol.RPOStateOK, f.State, "item %s: %s", f.ItemID, f.Detail)
			}
		}
		for _, wb := range last.Worst {
			require.Equal(b, want[wb.ItemID], wb.Reason, "summary's breach %s", wb.ItemID)
		}
		require.Len(b, last.Worst, min(len(want), protocol.MaxListedBreaches))
		posts := hooks.all()
		require.Len(b, posts, 1, "webhook POSTs: one, for the first sweep's new breaches")
		require.Equal(b, sweeps[0], posts[0].Sweep)
		require.Equal(b, want, reasonsOf(posts[0].Breached), "the breached items and their reasons in the webhook's payload")
		require.False(b, last.Changed, "the second sweep found the same breaches as the first")

		first, steady := hist[sweeps[0]], hist[sweeps[1]]
		require.NotNil(b, first)
		require.NotNil(b, steady)
		maxPayload := 0
		for _, s := range []*sweepEvents{first, steady} {
			require.False(b, s.done.IsZero(), "the history records the sweep's FinishRPOSweep")
			maxPayload = max(maxPayload, s.maxInput, s.maxResult)
		}
		require.Less(b, maxPayload, 32<<10, "the largest activity payload")
		c1, c2 := meter.cost(sweeps[0]), meter.cost(sweeps[1])
		rawTime := w.rawSweep(b, 3)
		closeAll = func() {}
		terminateParked(tc, tp.Namespace, parked)
		cw.Stop()
		w.deleteSchedules(tc)
		srv.Close()
		tc.Close()
		b.StartTimer()

		sweepS := steady.done.Sub(steady.first).Seconds()
		b.ReportMetric(float64(n), "items")
		b.ReportMetric(float64(len(want)), "breached")
		b.ReportMetric(float64(w.points)/float64(n), "points/item")
		b.ReportMetric(float64(len(w.schedules)), "schedules")
		b.ReportMetric(setupTime.Seconds(), "setup-s")
		b.ReportMetric(sweepS, "sweep-s")
		b.ReportMetric(float64(steady.activities), "activities/sweep")
		b.ReportMetric(float64(c2.pages), "pages/sweep")
		b.ReportMetric(float64(c2.executions), "attempts/sweep") // above activities/sweep: retries
		b.ReportMetric(c2.pageTime.Seconds()*1000/float64(max(1, c2.pages)), "page-ms")
		b.ReportMetric(c2.busy.Seconds(), "activity-s")
		b.ReportMetric(c2.busy.Seconds()/sweepS, "activity-share")
		b.ReportMetric(float64(c2.vault.Gets), "vault-gets/sweep")
		b.ReportMetric(float64(c2.vault.Lists-c2.vault.PrefixLists), "vault-lists/sweep")
		b.ReportMetric(float64(c2.vault.PrefixLists), "vault-prefix-lists/sweep")
		b.ReportMetric(float64(c2.vault.Puts), "vault-puts/sweep")
		b.ReportMetric(float64(c2.vault.Deletes), "vault-deletes/sweep")
		b.ReportMetric(float64(c2.vault.Gets+c2.vault.Lists+c2.vault.Puts+c2.vault.Deletes)/float64(n), "vault-calls/item")
		b.ReportMetric(float64(c2.describes), "describes/sweep")
		b.ReportMetric(c2.describing.Seconds()*1000/float64(max(1, c2.describes)), "describe-ms")
		b.ReportMetric(c2.describing.Seconds()/c2.busy.Seconds(), "describe-share")
		b.ReportMetric(float64(steady.doneEvent-steady.firstEvent+1), "history-events/sweep")
		b.ReportMetric(float64(max(steady.maxInput, first.maxInput)), "max-input-B")
		b.ReportMetric(float64(max(steady.maxResult, first.maxResult)), "max-result-B")
		b.ReportMetric(float64(maxPayload), "max-payload-B")
		b.ReportMetric(first.done.Sub(first.first).Seconds(), "first-sweep-s")
		b.ReportMetric(float64(first.activities), "first-activities/sweep")
		b.ReportMetric(float64(c1.vault.Gets), "first-vault-gets/sweep")
		b.ReportMetric(float64(c1.describes), "first-describes/sweep")
		b.ReportMetric(rawTime.Seconds(), "raw-s")
		b.ReportMetric(sweepS/rawTime.Seconds(), "ratio")
	}
}

// The benchmark's vault is what it claims: judged directly (rpowatch.JudgeAll, schedules
// answered as the benchmark makes them), every healthy item is within its one-hour target
// and every breached one is breached for the reason made, with about 50 points an item.
func TestRPOWorldIsBreachedAsMade(t *testing.T) {
	now := time.Now().UTC()
	w := newRPOWorld(t, 5*rpoVMs, 2, now) // five rows: one breach of each reason
	want := w.breached()
	require.Len(t, want, len(rpoBreachReasons))
	made := map[string]string{}
	for _, it := range w.items {
		for _, kind := range []string{policy.KindFull, policy.KindDifferential, policy.KindLog} {
			made[protocol.ItemScheduleID(it.id, kind)] = it.breach
		}
	}
	schedules := func(_ context.Context, id string) (rpowatch.Schedule, error) {
		switch made[id] {
		case protocol.RPOReasonScheduleMissing:
			return rpowatch.Schedule{}, nil
		case protocol.RPOReasonSchedulePaused:
			return rpowatch.Schedule{Exists: true, Paused: strings.HasSuffix(id, "-"+policy.KindFull)}, nil
		}
		return rpowatch.Schedule{Exists: true}, nil
	}
	fs, err := rpowatch.JudgeAll(context.Background(), w.repo, now.Add(10*time.Minute), schedules)
	require.NoError(t, err)
	require.Len(t, fs, len(w.items))
	require.Equal(t, want, reasonsOf(fs))
	for _, f := range fs {
		if want[f.ItemID] == "" {
			require.Equal(t, protocol.RPOStateOK, f.State, "%s: %s", f.ItemID, f.Detail)
			require.Less(t, f.RPO, 15*time.Minute, f.ItemID)
		}
	}
	require.InDelta(t, 49, float64(w.points)/float64(len(w.items)), 4)
	// All five reasons, as many items each once there are enough rows.
	all := rpoItems(100 * rpoVMs)
	count := map[string]int{}
	for _, it := range all {
		count[it.breach]++
	}
	for _, r := range rpoBreachReasons {
		require.Equal(t, 20, count[r], r)
	}
}
