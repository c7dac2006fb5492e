package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/interceptor"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sqlvault/sqlvault/activities/agent"
	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/agent/endpoint"
	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/temporalx"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/workflows"
)

// concurrency tracks how many streams run at once and the most ever seen.
type concurrency struct {
	now, peak atomic.Int64
}

func (c *concurrency) enter() {
	n := c.now.Add(1)
	for {
		p := c.peak.Load()
		if n <= p || c.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

func (c *concurrency) leave() { c.now.Add(-1) }

// Names of the no-op workflow and activities of the baseline burst.
const (
	noopWorkflow = "bench.Noop"
	noopAgent    = "bench.NoopAgent"
	noopControl  = "bench.NoopControl"
)

// noopBackup has the shape of sqlvault.Backup (two agent activities, one control activity)
// with no work in them: the orchestration ceiling of the dev server on this machine.
func noopBackup(ctx workflow.Context, vm string) error {
	agentCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{TaskQueue: protocol.AgentTaskQueue(vm),
		StartToCloseTimeout: time.Minute, ScheduleToCloseTimeout: 10 * time.Minute})
	for range 2 {
		if err := workflow.ExecuteActivity(agentCtx, noopAgent).Get(ctx, nil); err != nil {
			return err
		}
	}
	ctlCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: time.Minute})
	return workflow.ExecuteActivity(ctlCtx, noopControl).Get(ctx, nil)
}

// burstResult is the timing of one burst of workflows.
type burstResult struct {
	n         int
	total     time.Duration // first start to last completion
	sustained float64       // completions per second between the 10th and 90th percentile
}

// burst runs per(key) workflows one after another for every key, all keys at once.
func burst(tb testing.TB, keys int, per int, run func(key, k int) error) burstResult {
	var mu sync.Mutex
	var done []time.Time
	var wg sync.WaitGroup
	start := time.Now()
	errs := make(chan error, keys*per)
	for key := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range per {
				if err := run(key, k); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				done = append(done, time.Now())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(tb, err)
	}
	total := time.Since(start)
	sort.Slice(done, func(i, j int) bool { return done[i].Before(done[j]) })
	n := len(done)
	lo, hi := n/10, n*9/10
	sustained := math.NaN()
	if hi-lo >= 2 {
		sustained = float64(hi-lo) / done[hi-1].Sub(done[lo]).Seconds()
	}
	return burstResult{n: n, total: total, sustained: sustained}
}

// activityTimes is a worker interceptor that adds up the time each activity type takes on
// its worker (the configure phase's breakdown: discovery, item records, schedules).
type activityTimes struct {
	interceptor.WorkerInterceptorBase
	mu    sync.Mutex
	stats map[string]activityStat
}

type activityStat struct {
	n     int
	total time.Duration
}

func (t *activityTimes) InterceptActivity(ctx context.Context, next interceptor.ActivityInboundInterceptor) interceptor.ActivityInboundInterceptor {
	i := &timedActivity{times: t}
	i.Next = next
	return i
}

// take returns the times so far and starts again from zero.
func (t *activityTimes) take() map[string]activityStat {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.stats
	t.stats = map[string]activityStat{}
	return s
}

type timedActivity struct {
	interceptor.ActivityInboundInterceptorBase
	times *activityTimes
}

func (a *timedActivity) ExecuteActivity(ctx context.Context, in *interceptor.ExecuteActivityInput) (any, error) {
	start := time.Now()
	res, err := a.Next.ExecuteActivity(ctx, in)
	d := time.Since(start)
	name := activity.GetInfo(ctx).ActivityType.Name
	a.times.mu.Lock()
	if a.times.stats == nil {
		a.times.stats = map[string]activityStat{}
	}
	s := a.times.stats[name]
	s.n++
	s.total += d
	a.times.stats[name] = s
	a.times.mu.Unlock()
	return res, err
}

// fleetVM is one simulated SQL Server VM: a simulator instance and its in-process agent
// (endpoint, SQL connection, activity worker on the VM's task queue).
type fleetVM struct {
	name    string
	host    *simHost
	dbs     []*sqlsim.Database
	streams concurrency
}

// fleetConfig is the fleet's shape (environment knobs, defaults of the issue).
type fleetConfig struct {
	vms, dbs, logs, limit, pages, par int
	// starts is how many workflow starts the benchmark's client has in flight at once.
	starts int
}

func fleetConfigFromEnv() fleetConfig {
	c := fleetConfig{
		vms:    int(envInt("SQLVAULT_BENCH_FLEET_VMS", 20)),
		dbs:    int(envInt("SQLVAULT_BENCH_FLEET_DBS", 100)),
		logs:   int(envInt("SQLVAULT_BENCH_FLEET_LOGS", 1)),
		limit:  int(envInt("SQLVAULT_BENCH_FLEET_LIMIT", 2)),
		pages:  int(envInt("SQLVAULT_BENCH_FLEET_PAGES", 128)),
		par:    int(envInt("SQLVAULT_BENCH_FLEET_CONFIGURE_PAR", 0)),
		starts: int(envInt("SQLVAULT_BENCH_FLEET_STARTS", 64)),
	}
	return c
}

// fleetPolicy is the policy every database of the fleet is protected with: a daily full and
// an hourly log backup (two schedules per database). Logs are hourly rather than every 15
// minutes so that a schedule rarely comes due while the benchmark runs (the interval does
// not change what creating a schedule costs).
func fleetPolicy() policy.Policy {
	return policy.Policy{Name: "fleet-daily-hourly",
		Full:      policy.FullSchedule{Frequency: policy.FrequencyDaily, TimeOfDay: "02:00", TimeZone: "UTC"},
		Log:       &policy.LogSchedule{EveryMinutes: 60},
		Retention: policy.Retention{Daily: &policy.Keep{Days: 30}, LogDays: 15},
	}
}

// fleet is one Temporal client's view of a control worker, its vault and the simulated VMs.
type fleet struct {
	cfg   fleetConfig
	tc    client.Client
	tag   string
	store *vault.CountingStore
	repo  *vault.Repository
	// control is the control worker's task queue; parked is the queue the schedules'
	// actions start their backups on, which no worker polls (see BenchmarkFleet).
	control, parked string
	times           *activityTimes
	ctl             *control.Control
	vms             []*fleetVM
	closers         []func()
	// startRetries counts workflow starts tried again after the per-call deadline (execute).
	startRetries atomic.Int64
	// getRetries counts result waits asked again after a server-side deadline (execute).
	getRetries atomic.Int64
	// startSlots bounds the start calls in flight (cfg.starts).
	startSlots chan struct{}
}

func newFleet(tb testing.TB, tc client.Client, cfg fleetConfig) *fleet {
	tag := fmt.Sprintf("%d-%d", os.Getpid(), containerSeq.Add(1))
	store := &vault.CountingStore{Store: vault.NewMemStore()}
	// One vault key, as in production (every agent and the control worker load the same key
	// file): the control authenticates the manifests it commits with it.
	key := newKey(tb)
	f := &fleet{cfg: cfg, tc: tc, tag: tag, store: store, repo: vault.NewRepository(store, nil).WithKeys(vault.Keys{key}),
		control: "bench-control-" + tag, parked: "bench-parked-" + tag, times: &activityTimes{},
		startSlots: make(chan struct{}, max(1, cfg.starts))}
	tb.Cleanup(f.close) // on failure; a run that ends well closes it itself

	// The control worker as worker/run.go's NewControlWorker wires it (the control
	// activities with a Temporal client, for the schedules), plus the no-op baseline.
	cw := worker.New(tc, f.control, worker.Options{Interceptors: []interceptor.WorkerInterceptor{f.times}})
	workflows.Register(cw)
	f.ctl = &control.Control{Vault: f.repo, Temporal: tc, ControlQueue: f.parked}
	f.ctl.Register(cw)
	cw.RegisterWorkflowWithOptions(noopBackup, workflow.RegisterOptions{Name: noopWorkflow})
	cw.RegisterActivityWithOptions(func(context.Context) error { return nil }, activity.RegisterOptions{Name: noopControl})
	require.NoError(tb, cw.Start())
	f.closers = append(f.closers, cw.Stop)

	for i := range cfg.vms {
		name := fmt.Sprintf("FLT%s-VM%02d", tag, i+1)
		h := newSimHost(tb, name)
		vm := &fleetVM{name: name, host: h}
		for d := range cfg.dbs {
			db, err := h.inst.CreateDatabase(sqlsim.DatabaseSpec{Name: fmt.Sprintf("Db%03d", d+1), DataPages: int64(cfg.pages)})
			require.NoError(tb, err)
			vm.dbs = append(vm.dbs, db)
		}
		ag, err := agent.New(agent.Options{VM: name, Vault: f.repo, Key: key, HeartbeatEvery: time.Second,
			Endpoint:  endpoint.Options{Host: agentHost, Listen: h.endpointAddr(tb), CertFile: h.certFile, KeyFile: h.keyFile},
			Instances: []agent.InstanceDSN{{Name: name, DSN: h.dsn}}})
		require.NoError(tb, err)
		f.closers = append(f.closers, ag.Close)
		// As worker/run.go's NewAgentWorker: the VM's queue, at most limit activities at once.
		w := worker.New(tc, protocol.AgentTaskQueue(name), worker.Options{DisableWorkflowWorker: true,
			MaxConcurrentActivityExecutionSize: cfg.limit, Interceptors: []interceptor.WorkerInterceptor{f.times}})
		w.RegisterActivityWithOptions(ag.Discover, activity.RegisterOptions{Name: protocol.ActivityDiscover})
		w.RegisterActivityWithOptions(ag.PrepareBackup, activity.RegisterOptions{Name: protocol.ActivityPrepareBackup})
		w.RegisterActivityWithOptions(func(ctx context.Context, in protocol.StreamBackupInput) (protocol.StreamBackupResult, error) {
			vm.streams.enter()
			defer vm.streams.leave()
			return ag.StreamBackup(ctx, in)
		}, activity.RegisterOptions{Name: protocol.ActivityStreamBackup})
		w.RegisterActivityWithOptions(func(context.Context) error { return nil }, activity.RegisterOptions{Name: noopAgent})
		require.NoError(tb, w.Start())
		f.closers = append(f.closers, w.Stop)
		f.vms = append(f.vms, vm)
	}
	return f
}

func (f *fleet) close() {
	for i := len(f.closers) - 1; i >= 0; i-- {
		f.closers[i]()
	}
	f.closers = nil
}

func (f *fleet) keys() int { return f.cfg.vms * f.cfg.dbs }

// at spreads the keys over the VMs: consecutive keys are on different VMs.
func (f *fleet) at(key int) (*fleetVM, *sqlsim.Database) {
	vm := f.vms[key%f.cfg.vms]
	return vm, vm.dbs[key/f.cfg.vms]
}

func (f *fleet) itemID(key int) string {
	vm, db := f.at(key)
	return vault.ItemID(vm.name, db.Name())
}

// fleetRunLimit bounds one workflow of the fleet benchmark, start to result.
const fleetRunLimit = 30 * time.Minute

// execute runs one workflow on the control queue and waits for its result.
func (f *fleet) execute(id, workflowType string, in, out any) error {
	// The bound catches a hung run, not a slow one: on this shared 2-core machine a burst of
	// 2,000 workflows takes 2 minutes alone and over 10 with other builds running.
	ctx, cancel := context.WithTimeout(context.Background(), fleetRunLimit)
	defer cancel()
	// The client keeps at most cfg.starts start calls in flight, as a starter that fans out
	// over a fleet would: 2,000 start calls at once queue inside the dev server's single
	// shard behind the running workflows' own writes, past the SDK's 10-second per-call
	// deadline (the server then logs create-wf-execution "context canceled"), and retrying
	// only re-queues them. Only the start call is bounded; the workflows run all at once.
	// A start is idempotent by workflow ID (a start that did reach the server returns that
	// run), so one that still times out is tried again; the time counts in the burst.
	var run client.WorkflowRun
	var err error
	f.startSlots <- struct{}{}
	for attempt := 1; ; attempt++ {
		run, err = f.tc.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: id, TaskQueue: f.control,
			WorkflowExecutionTimeout: fleetRunLimit}, workflowType, in)
		if err == nil || attempt == 5 || ctx.Err() != nil || !isDeadline(err) {
			break
		}
		f.startRetries.Add(1)
	}
	<-f.startSlots
	if err != nil {
		return fmt.Errorf("start %s %s: %w", workflowType, id, err)
	}
	// Waiting for the result is a read: a long poll the saturated server answers with
	// DeadlineExceeded (its own, not ctx's) is asked again, as the run goes on regardless.
	for {
		err = run.Get(ctx, out)
		if err == nil || ctx.Err() != nil || !isDeadline(err) {
			break
		}
		f.getRetries.Add(1)
	}
	if err != nil {
		return fmt.Errorf("%s %s: %w", workflowType, id, err)
	}
	return nil
}

// backup runs one sqlvault.Backup and returns the recovery point it committed.
func (f *fleet) backup(key int, t protocol.BackupType, id string) (string, error) {
	vm, db := f.at(key)
	var res protocol.BackupResult
	if err := f.execute(id, protocol.WorkflowBackup, protocol.BackupInput{Instance: vm.name, Database: db.Name(), Type: t}, &res); err != nil {
		return "", err
	}
	if res.RecoveryPoint.PointID == "" || res.RecoveryPoint.ItemID != f.itemID(key) {
		return "", fmt.Errorf("backup %s: result %+v is not a recovery point of item %s", id, res.RecoveryPoint, f.itemID(key))
	}
	return res.RecoveryPoint.PointID, nil
}

// configureCall is one ConfigureProtection call: up to 50 databases of one VM.
type configureCall struct {
	vm   *fleetVM
	keys []int
}

// configureCalls splits every VM's databases into calls of at most
// protocol.MaxDatabasesPerConfigure, ordered round-robin over the VMs.
func (f *fleet) configureCalls() []configureCall {
	var perVM [][]configureCall
	for v, vm := range f.vms {
		var calls []configureCall
		for d := 0; d < f.cfg.dbs; d += protocol.MaxDatabasesPerConfigure {
			c := configureCall{vm: vm}
			for k := d; k < min(d+protocol.MaxDatabasesPerConfigure, f.cfg.dbs); k++ {
				c.keys = append(c.keys, k*f.cfg.vms+v)
			}
			calls = append(calls, c)
		}
		perVM = append(perVM, calls)
	}
	var out []configureCall
	for j := 0; ; j++ {
		n := len(out)
		for _, calls := range perVM {
			if j < len(calls) {
				out = append(out, calls[j])
			}
		}
		if len(out) == n {
			return out
		}
	}
}

// configureResult is the timing of the configure phase.
type configureResult struct {
	calls int
	par   int // calls in flight at once
	total time.Duration
	each  []time.Duration // sorted
}

// configure protects every database of the fleet with calls of at most 50 through the real
// sqlvault.ConfigureProtection, par calls at a time (all at once when par ≤ 0), with
// skipFirstFull, and checks every call's result.
func (f *fleet) configure(tb testing.TB, run, policyName string, kinds []string) configureResult {
	calls := f.configureCalls()
	par := f.cfg.par
	if par <= 0 || par > len(calls) {
		par = len(calls)
	}
	each := make([]time.Duration, len(calls))
	errs := make([]error, len(calls))
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	start := time.Now()
	for i, c := range calls {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			names := make([]string, len(c.keys))
			for j, k := range c.keys {
				_, db := f.at(k)
				names[j] = db.Name()
			}
			t0 := time.Now()
			var res protocol.ConfigureProtectionResult
			err := f.execute(fmt.Sprintf("bench-configure-%s-%s-%d", run, c.vm.name, i), protocol.WorkflowConfigureProtection,
				protocol.ConfigureProtectionInput{VM: c.vm.name, Instance: c.vm.name, Databases: names, Policy: policyName, SkipFirstFull: true}, &res)
			each[i] = time.Since(t0)
			if err == nil {
				err = checkProtected(res, c, f, kinds)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	total := time.Since(start)
	for i, err := range errs {
		require.NoError(tb, err, "configure call %d (%s)", i, calls[i].vm.name)
	}
	slices.Sort(each)
	return configureResult{calls: len(calls), par: par, total: total, each: each}
}

// checkProtected checks one call's result: every database protected, with its schedules
// and no first full.
func checkProtected(res protocol.ConfigureProtectionResult, c configureCall, f *fleet, kinds []string) error {
	if len(res.Protected) != len(c.keys) {
		return fmt.Errorf("%d databases protected, want %d", len(res.Protected), len(c.keys))
	}
	for j, p := range res.Protected {
		_, db := f.at(c.keys[j])
		want := make([]string, len(kinds))
		for i, kind := range kinds {
			want[i] = control.ScheduleID(f.itemID(c.keys[j]), kind)
		}
		switch {
		case p.Database != db.Name() || p.ItemID != f.itemID(c.keys[j]):
			return fmt.Errorf("protected %s (%s), want %s (%s)", p.Database, p.ItemID, db.Name(), f.itemID(c.keys[j]))
		case !slices.Equal(p.Schedules, want):
			return fmt.Errorf("%s: schedules %v, want %v", p.Database, p.Schedules, want)
		case p.FirstFull != nil || p.FirstFullError != "":
			return fmt.Errorf("%s: a first full ran despite skipFirstFull", p.Database)
		}
	}
	return nil
}

// expectedSchedules is every schedule ID the fleet's protection must have created.
func (f *fleet) expectedSchedules(kinds []string) map[string]bool {
	want := map[string]bool{}
	for key := range f.keys() {
		for _, kind := range kinds {
			want[control.ScheduleID(f.itemID(key), kind)] = true
		}
	}
	return want
}

// countSchedules lists the Temporal Schedules through the client (the server's visibility)
// and counts those in want; it waits up to a minute for visibility to catch up, and fails on
// any other sqlvault item schedule (the benchmark deletes its schedules after each run, so
// there must be none).
func (f *fleet) countSchedules(tb testing.TB, want map[string]bool) int {
	deadline := time.Now().Add(time.Minute)
	for {
		seen := 0
		var extra []string
		it, err := f.tc.ScheduleClient().List(context.Background(), client.ScheduleListOptions{PageSize: 1000})
		require.NoError(tb, err)
		for it.HasNext() {
			s, err := it.Next()
			require.NoError(tb, err)
			switch {
			case want[s.ID]:
				seen++
			case strings.HasPrefix(s.ID, "sqlvault-") && s.ID != protocol.RediscoverScheduleID && s.ID != protocol.RetentionScheduleID:
				extra = append(extra, s.ID)
			}
		}
		require.Empty(tb, extra, "schedules that no database of the fleet should have")
		if seen == len(want) || time.Now().After(deadline) {
			return seen
		}
		time.Sleep(time.Second)
	}
}

// rawSchedules is the configure phase's baseline: the same schedules created by the
// EnsureSchedules activity's own code, called directly for every item (no workflow, no task
// dispatch), par items at a time. It returns the time and the schedules created.
func (f *fleet) rawSchedules(tb testing.TB, par int) (time.Duration, int) {
	var created atomic.Int64
	errs := make([]error, f.keys())
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	start := time.Now()
	for key := range f.keys() {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			res, err := f.ctl.EnsureSchedules(context.Background(), protocol.EnsureSchedulesInput{ItemID: f.itemID(key)})
			created.Add(int64(res.Created))
			errs[key] = err
		}()
	}
	wg.Wait()
	d := time.Since(start)
	for _, err := range errs {
		require.NoError(tb, err)
	}
	return d, int(created.Load())
}

// deleteSchedules removes the schedules (untimed clean-up, 32 at a time).
func (f *fleet) deleteSchedules(tb testing.TB, ids map[string]bool) time.Duration {
	start := time.Now()
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := f.tc.ScheduleClient().GetHandle(context.Background(), id).Delete(context.Background()); err != nil {
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	require.Zero(tb, failed.Load(), "schedules that could not be deleted")
	return time.Since(start)
}

// checkItems checks that the vault records every database as a protected item of the policy.
func (f *fleet) checkItems(tb testing.TB, policyName string) int {
	items, err := f.repo.Items(context.Background())
	require.NoError(tb, err)
	byID := map[string]*vault.ProtectedItem{}
	for _, it := range items {
		byID[it.ItemID] = it
	}
	for key := range f.keys() {
		vm, db := f.at(key)
		it := byID[f.itemID(key)]
		require.NotNil(tb, it, "no item for %s/%s", vm.name, db.Name())
		require.Equal(tb, vault.ItemProtected, it.State)
		require.Equal(tb, policyName, it.Policy)
		require.Equal(tb, vm.name, it.VM)
		require.Equal(tb, db.Name(), it.Database)
	}
	return len(items)
}

// checkPoints checks that every database has exactly the recovery points the backups
// reported: one full and its log backups, no more and no fewer.
func (f *fleet) checkPoints(tb testing.TB, fulls []string, logs [][]string) {
	for key := range f.keys() {
		ms, err := f.repo.ListPoints(context.Background(), f.itemID(key))
		require.NoError(tb, err)
		var gotFull, gotLogs []string
		for _, m := range ms {
			switch m.Backup.Type {
			case vault.BackupFull:
				gotFull = append(gotFull, m.PointID)
			case vault.BackupLog:
				gotLogs = append(gotLogs, m.PointID)
			default:
				tb.Fatalf("item %s: unexpected %s point %s", f.itemID(key), m.Backup.Type, m.PointID)
			}
		}
		want := slices.Clone(logs[key])
		slices.Sort(want)
		slices.Sort(gotLogs)
		require.Equal(tb, []string{fulls[key]}, gotFull, "item %s: full points", f.itemID(key))
		require.Equal(tb, want, gotLogs, "item %s: log points", f.itemID(key))
	}
}

// BenchmarkFleet (issue 6, item 5): SQLVAULT_BENCH_FLEET_VMS simulated VMs (default 20),
// each a simulator instance with SQLVAULT_BENCH_FLEET_DBS databases (default 100, so 2,000:
// the vault's limit) of SQLVAULT_BENCH_FLEET_PAGES 8 KiB pages (default 128, 1 MiB), and its
// own in-process agent (endpoint, SQL connection, worker on its own task queue with
// MaxConcurrentActivityExecutionSize = SQLVAULT_BENCH_FLEET_LIMIT, default 2, as
// worker/run.go sets it from agent.maxConcurrentBackups), one control worker wired as
// worker/run.go wires it (workflows, control activities with the Temporal client that
// creates the schedules), one Temporal dev server, one vault (MemStore: this measures
// orchestration, not storage). Each iteration:
//
//  1. Configure: a policy (daily full, hourly log) is put in the vault, then every
//     database is protected through the real sqlvault.ConfigureProtection workflow in
//     calls of 50 databases of one VM (40 calls), with skipFirstFull, all calls at once
//     (SQLVAULT_BENCH_FLEET_CONFIGURE_PAR > 0 runs that many at a time instead). Every
//     call's result is checked, the vault must record every item, and the Temporal
//     Schedules listed through the client must be exactly one per database and kind.
//     Reported: total time, per-call median and max, calls/s and databases/s, and where the
//     time goes (mean time of each activity type, the activities' share of the calls'
//     time, vault calls per call). Baseline: after the schedules are deleted, the same
//     schedules created again by the EnsureSchedules activity's own code called directly,
//     item by item, as many at a time as calls ran (no workflow, no task dispatch); its
//     ratio is baseline time / configure time. The schedules' actions start their backups
//     on a task queue no worker polls, so a schedule that comes due during the run cannot
//     add backups to the measurement (their count is reported as scheduled-starts); the
//     schedules are deleted after they are counted (untimed).
//  2. Warm-up and log chain: a full backup of every database through sqlvault.Backup, all
//     at once (reported: fulls/s). "All at once" here and below: every workflow runs
//     concurrently; the client has at most SQLVAULT_BENCH_FLEET_STARTS start calls in
//     flight (default 64, reported as starts-in-flight; see fleet.execute).
//  3. The burst: SQLVAULT_BENCH_FLEET_LOGS log backups (default 1) of every database back
//     to back through the real sqlvault.Backup workflow, all databases at once (2,000),
//     with 20 page writes before each. Reported: the time to finish the burst, backups per
//     second (whole burst, and sustained between the 10th and 90th percentile
//     completions), and the most streams any one VM ran at once (counted around the real
//     StreamBackup activity, asserted ≤ the limit). Every backup must have produced exactly
//     one recovery point: each database's points in the vault are exactly its full and its
//     log backups' points.
//  4. Baseline: the same burst of a no-op workflow of the same shape (two agent activities
//     and one control activity, no work), the dev server's own ceiling here.
func BenchmarkFleet(b *testing.B) {
	cfg := fleetConfigFromEnv()
	tp := sharedTemporal(b)
	tc, err := client.Dial(client.Options{HostPort: tp.HostPort, Namespace: tp.Namespace,
		Logger: temporalx.NewZapLogger(zap.NewNop())})
	require.NoError(b, err)
	defer tc.Close()
	pol := fleetPolicy()
	require.NoError(b, pol.Validate())
	doc, err := json.Marshal(pol)
	require.NoError(b, err)
	var kinds []string
	for kind := range pol.Schedules() {
		kinds = append(kinds, kind)
	}
	sort.Strings(kinds) // the order of an item's schedule IDs in EnsureSchedules' result

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f := newFleet(b, tc, cfg)
		require.NoError(b, f.repo.PutPolicy(context.Background(), pol.Name, doc))
		b.StartTimer()
		run := fmt.Sprintf("%s-%d", f.tag, i)
		n := f.keys()

		// 1. Configure protection of every database.
		f.times.take()
		vault0 := f.store.Snapshot()
		conf := f.configure(b, run, pol.Name, kinds)
		vaultCalls := f.store.Snapshot().Sub(vault0)
		acts := f.times.take()
		want := f.expectedSchedules(kinds)
		schedules := f.countSchedules(b, want)
		require.Equal(b, len(want), schedules, "Temporal Schedules created")
		items := f.checkItems(b, pol.Name)
		require.Equal(b, n, items, "items recorded in the vault")
		deleteTime := f.deleteSchedules(b, want)
		// The baseline: the same schedules without the workflow, as many at a time as calls ran.
		rawTime, rawCreated := f.rawSchedules(b, conf.par)
		require.Equal(b, len(want), rawCreated, "schedules the baseline created")
		require.Equal(b, len(want), f.countSchedules(b, want), "Temporal Schedules the baseline created")
		f.deleteSchedules(b, want)
		cnt, err := tc.CountWorkflow(context.Background(), &workflowservice.CountWorkflowExecutionsRequest{
			Namespace: tp.Namespace, Query: fmt.Sprintf("TaskQueue = %q", f.parked)})
		require.NoError(b, err)

		// 2. Warm-up, and the log chain: a full of every database.
		fullIDs := make([]string, n)
		fulls := burst(b, n, 1, func(key, _ int) error {
			vm, db := f.at(key)
			id, err := f.backup(key, protocol.Full, fmt.Sprintf("bench-full-%s-%s-%s", run, vm.name, db.Name()))
			fullIDs[key] = id
			return err
		})
		// 3. The burst of log backups.
		f.times.take()
		logIDs := make([][]string, n)
		for key := range logIDs {
			logIDs[key] = make([]string, cfg.logs)
		}
		logs := burst(b, n, cfg.logs, func(key, k int) error {
			vm, db := f.at(key)
			if _, err := db.Write(20); err != nil {
				return err
			}
			id, err := f.backup(key, protocol.Log, fmt.Sprintf("bench-log-%s-%s-%s-%d", run, vm.name, db.Name(), k))
			logIDs[key][k] = id
			return err
		})
		burstActs := f.times.take()
		// 4. The no-op baseline of the same shape.
		noop := burst(b, n, cfg.logs, func(key, k int) error {
			vm, _ := f.at(key)
			return f.execute(fmt.Sprintf("bench-noop-%s-%d-%d", run, key, k), noopWorkflow, vm.name, nil)
		})
		b.StopTimer()
		f.checkPoints(b, fullIDs, logIDs)
		// What a flat listing of items/ walks once the items have points (every blob under
		// items/): what the limit check of every ConfigureProtection call listed before it
		// became a folder listing (Repository.ItemIDs), kept for the report's comparison.
		listed := 0
		require.NoError(b, f.store.List(context.Background(), vault.ItemsPrefix, func(vault.BlobInfo) error { listed++; return nil }))
		var peak int64
		for _, vm := range f.vms {
			peak = max(peak, vm.streams.peak.Load())
		}
		require.LessOrEqual(b, peak, int64(cfg.limit), "a VM ran more streams at once than its worker allows")
		f.close()
		b.StartTimer()

		b.ReportMetric(float64(cfg.vms), "vms")
		b.ReportMetric(float64(f.startRetries.Load()), "start-retries")
		b.ReportMetric(float64(f.getRetries.Load()), "get-retries")
		b.ReportMetric(float64(cfg.starts), "starts-in-flight")
		b.ReportMetric(float64(cfg.pages)*8/1024, "db-MiB")
		b.ReportMetric(float64(listed), "items-list-blobs")
		b.ReportMetric(float64(conf.calls), "configure-calls")
		b.ReportMetric(float64(n), "configure-dbs")
		b.ReportMetric(conf.total.Seconds(), "configure-s")
		b.ReportMetric(float64(conf.calls)/conf.total.Seconds(), "configure-calls/s")
		b.ReportMetric(float64(n)/conf.total.Seconds(), "configure-dbs/s")
		b.ReportMetric(conf.each[len(conf.each)/2].Seconds(), "configure-call-median-s")
		b.ReportMetric(conf.each[len(conf.each)-1].Seconds(), "configure-call-max-s")
		b.ReportMetric(float64(conf.par), "configure-parallel")
		b.ReportMetric(rawTime.Seconds(), "raw-schedules-s")
		b.ReportMetric(float64(n)/rawTime.Seconds(), "raw-dbs/s")
		b.ReportMetric(rawTime.Seconds()/conf.total.Seconds(), "configure-ratio")
		b.ReportMetric(float64(schedules), "schedules")
		b.ReportMetric(float64(items), "items")
		b.ReportMetric(deleteTime.Seconds(), "schedule-delete-s")
		b.ReportMetric(float64(cnt.GetCount()), "scheduled-starts")
		for _, a := range []struct{ name, unit string }{{protocol.ActivityDiscover, "discover-ms"},
			{protocol.ActivityRegisterItems, "register-items-ms"}, {protocol.ActivityEnsureSchedule, "ensure-schedules-ms"}} {
			if s := acts[a.name]; s.n > 0 {
				b.ReportMetric(s.total.Seconds()*1000/float64(s.n), a.unit)
			}
		}
		var actTotal time.Duration
		for _, s := range acts {
			actTotal += s.total
		}
		var callTotal time.Duration
		for _, d := range conf.each {
			callTotal += d
		}
		b.ReportMetric(actTotal.Seconds()/callTotal.Seconds(), "configure-activity-share")
		b.ReportMetric(float64(vaultCalls.Gets)/float64(conf.calls), "configure-vault-gets/call")
		b.ReportMetric(float64(vaultCalls.Lists+vaultCalls.Puts)/float64(conf.calls), "configure-vault-lists+puts/call")

		for _, a := range []struct{ name, unit string }{{protocol.ActivityPrepareBackup, "log-prepare-ms"},
			{protocol.ActivityStreamBackup, "log-stream-ms"}, {protocol.ActivityCommitRecoveryPoint, "log-commit-ms"}} {
			if s := burstActs[a.name]; s.n > 0 {
				b.ReportMetric(s.total.Seconds()*1000/float64(s.n), a.unit)
			}
		}
		b.ReportMetric(float64(logs.n), "log-backups")
		b.ReportMetric(logs.total.Seconds(), "burst-s")
		b.ReportMetric(float64(logs.n)/logs.total.Seconds(), "backups/s")
		b.ReportMetric(logs.sustained, "sustained-backups/s")
		b.ReportMetric(float64(noop.n)/noop.total.Seconds(), "noop-wf/s")
		b.ReportMetric(noop.total.Seconds(), "noop-burst-s")
		b.ReportMetric(float64(logs.n)/logs.total.Seconds()/(float64(noop.n)/noop.total.Seconds()), "ratio")
		b.ReportMetric(float64(fulls.n), "full-backups")
		b.ReportMetric(fulls.total.Seconds(), "fulls-s")
		b.ReportMetric(float64(fulls.n)/fulls.total.Seconds(), "fulls/s")
		b.ReportMetric(float64(peak), "max-streams-per-VM")
		b.ReportMetric(float64(cfg.limit), "limit-per-VM")
	}
}

// isDeadline says whether err is a call that ran out of time (the client's deadline or the
// server's DEADLINE_EXCEEDED).
func isDeadline(err error) bool {
	var se *serviceerror.DeadlineExceeded // what the SDK turns the server's deadline into
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &se) || status.Code(err) == codes.DeadlineExceeded ||
		strings.Contains(err.Error(), context.DeadlineExceeded.Error())
}

// The fleet retries a start or a result wait on the server's deadline in every form the SDK
// returns it, and on nothing else.
func TestIsDeadline(t *testing.T) {
	for _, err := range []error{context.DeadlineExceeded, fmt.Errorf("get: %w", serviceerror.NewDeadlineExceeded("deadline")),
		status.Error(codes.DeadlineExceeded, "slow"), errors.New("sqlvault.Backup x: context deadline exceeded")} {
		require.True(t, isDeadline(err), "%v", err)
	}
	require.False(t, isDeadline(errors.New("workflow execution error: BackupFailed")))
}
