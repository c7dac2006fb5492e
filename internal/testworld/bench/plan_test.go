package bench

import (
	"bytes"
	"context"
	"fmt"
	"math/big"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/activities/control"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

var planDay = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

// history writes the manifests of one database's backups the way the simulator's LSNs and
// sqlvault.Backup's point IDs come out: a full appends a checkpoint ck (FirstLSN =
// CheckpointLSN = ck, LastLSN = ck+1) and moves the differential base; a differential is
// based on it; a log covers [previous log's LastLSN, marker+1).
type history struct {
	instance, database, item, guid string
	next                           *big.Int
	diffBase, logFrom              string
	n                              int
	manifests                      [][]byte
	names                          []string
	// metadata is what CommitManifest writes on each manifest blob (its point's summary).
	metadata []map[string]string
}

func newHistory(instance, database string) *history {
	return &history{instance: instance, database: database, item: vault.ItemID(instance, database),
		guid: "6f1c0b8e-0000-4000-8000-000000000001", next: big.NewInt(37_000_000_000_001_000)}
}

func (h *history) lsn(delta int64) string {
	h.next.Add(h.next, big.NewInt(delta))
	return h.next.String()
}

func plus1(s string) string {
	n, _ := new(big.Int).SetString(s, 10)
	return n.Add(n, big.NewInt(1)).String()
}

func (h *history) add(at time.Time, typ string, first, last, ck, dbBackup, diffBase string) {
	h.n++
	point := vault.NewPointID(at, typ, fmt.Sprintf("%08d", h.n))
	blob := vault.DataBlob(h.item, point, 1, 1)
	m := vault.Manifest{Schema: vault.ManifestSchema, PointID: point, ItemID: h.item, CreatedAt: at.Add(30 * time.Second),
		Server:   vault.ServerInfo{VM: h.instance, Instance: h.instance, ServerName: h.instance, ProductVersion: "16.0.4135.4", Edition: "Developer Edition (64-bit)"},
		Database: vault.DatabaseInfo{Name: h.database, GUID: h.guid, FamilyGUID: h.guid, RecoveryModel: "FULL"},
		Backup: vault.BackupInfo{Type: typ, FirstLSN: vault.LSN(first), LastLSN: vault.LSN(last), CheckpointLSN: vault.LSN(ck),
			DatabaseBackupLSN: vault.LSN(dbBackup), DifferentialBaseLSN: vault.LSN(diffBase), BackupSetGUID: h.guid,
			StartTime: at, FinishTime: at.Add(20 * time.Second), SizeBytes: 1 << 20, HasChecksums: true},
		Stripes: []vault.StripeInfo{{Blob: blob, Index: vault.IndexBlob(blob), IndexSHA256: fmt.Sprintf("%064x", h.n),
			PlainBytes: 1 << 20, StoredBytes: 600 << 10, Blocks: 1, Digest: fmt.Sprintf("%064x", h.n+1)}},
		Encryption: vault.EncryptionInfo{Algorithm: vault.AlgorithmAES256GCM, KeyID: planKey.ID(), Compression: vault.CompressionZstd},
		Workflow:   vault.WorkflowRef{ID: "sqlvault-backup-" + h.item, RunID: "run"},
	}
	// Authenticated, as CommitManifest stores it.
	data, md, err := vault.SealedManifest(planKey, &m)
	if err != nil {
		panic(err)
	}
	h.manifests = append(h.manifests, data)
	h.names = append(h.names, vault.ManifestBlob(h.item, point))
	h.metadata = append(h.metadata, md)
}

// planKey is the vault key of the planning benchmarks' vaults (the control worker's).
var planKey = func() *blockcrypt.Key {
	k, err := blockcrypt.NewKey(bytes.Repeat([]byte{5}, blockcrypt.KeySize))
	if err != nil {
		panic(err)
	}
	return k
}()

func (h *history) full(at time.Time) {
	ck := h.lsn(37)
	h.add(at, vault.BackupFull, ck, plus1(ck), ck, h.diffBase, "")
	h.diffBase = ck
	if h.logFrom == "" {
		h.logFrom = ck
	}
	h.lsn(1)
}

func (h *history) diff(at time.Time) {
	ck := h.lsn(37)
	h.add(at, vault.BackupDifferential, ck, plus1(ck), ck, h.diffBase, h.diffBase)
	h.lsn(1)
}

func (h *history) log(at time.Time) {
	m := h.lsn(37)
	last := plus1(m)
	h.add(at, vault.BackupLog, h.logFrom, last, m, h.diffBase, "")
	h.logFrom = last
	h.lsn(1)
}

// days writes n days of the usual policy: a full at midnight, differentials at 06:00, 12:00
// and 18:00, a log every 15 minutes (at :05, :20, :35, :50).
func (h *history) days(n int) *history {
	for d := range n {
		midnight := planDay.AddDate(0, 0, d)
		h.full(midnight)
		for q := range 96 {
			at := midnight.Add(time.Duration(q)*15*time.Minute + 5*time.Minute)
			if q%24 == 0 && q > 0 {
				h.diff(at.Add(-5 * time.Minute))
			}
			h.log(at)
		}
	}
	return h
}

// short writes a full, a differential and eight logs.
func (h *history) short() *history {
	h.full(planDay)
	h.diff(planDay.Add(6 * time.Hour))
	for q := range 8 {
		h.log(planDay.Add(6*time.Hour + time.Duration(q+1)*15*time.Minute))
	}
	return h
}

// put writes the manifests as CommitManifest does, each with its summary as blob metadata,
// or (legacy) as builds before summaries did, without.
func (h *history) put(tb testing.TB, s vault.Store, legacy bool) {
	ctx := context.Background()
	for i, data := range h.manifests {
		var md map[string]string
		if !legacy {
			md = h.metadata[i]
			require.NotNil(tb, md)
		}
		require.NoError(tb, s.Put(ctx, h.names[i], data, vault.PutOptions{Metadata: md}))
	}
}

// planVault is a MemStore holding SQLVAULT_BENCH_PLAN_DBS databases' manifests (default
// 2,000): "Sales" with 35 days of backups (35 fulls, 105 differentials, 3,360 logs) and the
// others with a full, a differential and eight logs each. legacy writes them without
// summaries, as builds before them did.
func planVault(tb testing.TB, legacy bool) (*vault.CountingStore, *history, *history) {
	nDB := int(envInt("SQLVAULT_BENCH_PLAN_DBS", 2000))
	mem := vault.NewMemStore()
	big := newHistory("PLANVM", "Sales").days(35)
	big.put(tb, mem, legacy)
	var small *history
	for i := 1; i < nDB; i++ {
		h := newHistory("PLANVM", fmt.Sprintf("Db%04d", i)).short()
		h.put(tb, mem, legacy)
		if small == nil {
			small = h
		}
	}
	return &vault.CountingStore{Store: mem}, big, small
}

// timePlan runs the PlanRestore activity reps times and returns the median time and the
// vault calls of one plan.
func timePlan(tb testing.TB, cs *vault.CountingStore, in protocol.PlanRestoreInput, reps int) (time.Duration, vault.Counts, protocol.RestorePlan) {
	ctl := &control.Control{Vault: vault.NewRepository(cs, nil).WithKeys(vault.Keys{planKey})}
	var times []time.Duration
	var calls vault.Counts
	var plan protocol.RestorePlan
	for range reps {
		before := cs.Snapshot()
		t0 := time.Now()
		p, err := ctl.PlanRestore(context.Background(), in)
		times = append(times, time.Since(t0))
		require.NoError(tb, err)
		calls, plan = cs.Snapshot().Sub(before), p
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2], calls, plan
}

// rawList is the baseline of a plan over summaries: the one vault call it needs (list the
// item's points with their metadata), without decoding, validating or planning. Median of
// reps.
func rawList(tb testing.TB, s vault.Store, item string, reps int) time.Duration {
	ctx := context.Background()
	var times []time.Duration
	for range reps {
		t0 := time.Now()
		var n int
		require.NoError(tb, s.List(ctx, vault.PointsPrefix(item), func(b vault.BlobInfo) error {
			if b.Metadata[vault.SummaryMetadataKey] != "" {
				n++
			}
			return nil
		}))
		times = append(times, time.Since(t0))
		require.Positive(tb, n, "the listing carries the summaries")
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2]
}

// rawReads is the baseline of a plan that reads every manifest (before summaries, and still
// for manifests written before them): list the item's points, read every manifest, 8 at a
// time as vault.Repository.ListPoints does, without decoding, validating or planning.
// Median of reps.
func rawReads(tb testing.TB, s vault.Store, item string, reps int) time.Duration {
	ctx := context.Background()
	var times []time.Duration
	for range reps {
		t0 := time.Now()
		var names []string
		require.NoError(tb, s.List(ctx, vault.PointsPrefix(item), func(b vault.BlobInfo) error {
			names = append(names, b.Name)
			return nil
		}))
		sem := make(chan struct{}, 8)
		var wg sync.WaitGroup
		for _, n := range names {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				_, err := s.Get(ctx, n)
				require.NoError(tb, err)
			}()
		}
		wg.Wait()
		times = append(times, time.Since(t0))
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	return times[len(times)/2]
}

// BenchmarkPlanRestore (issue 6, item 6): activities.(*Control).PlanRestore with
// vault.Repository over a vault of 2,000 databases' manifests (MemStore, wrapped to count
// Store calls), each manifest blob carrying its point's summary as metadata, as
// CommitManifest writes them: a point-in-time restore of "Sales" over 35 days of 15-minute
// logs (3,360 logs; the worst-case instant, 27 steps), a restore to its latest point, and a
// point-in-time restore of a database with 10 points; time per plan (median of 5) and
// Store.List / Store.Get calls per plan. Baseline: the raw List (with metadata) of the
// item's points, without decode, validation or planning. Legacy: the same plan over the same
// manifests written without summaries (as before them: 1 List and a Get per point), with
// its own baseline, the raw List + Gets (same parallelism). The same plans are also timed
// over Azurite (3,500 manifests uploaded there, with and without summaries), where every
// call is an HTTP request, and the planner alone (planner.PlanRestore over in-memory
// points) is timed for reference. Every plan is checked to be the same chain.
func BenchmarkPlanRestore(b *testing.B) {
	cs, big, small := planVault(b, false)
	legacy, _, _ := planVault(b, true)
	at := planDay.AddDate(0, 0, 34).Add(11*time.Hour + 52*time.Minute)
	pitIn := protocol.PlanRestoreInput{Instance: big.instance, Database: big.database, At: &at}
	for i := 0; i < b.N; i++ {
		pit, pitCalls, plan := timePlan(b, cs, pitIn, 5)
		require.Len(b, plan.Steps, 27)
		latest, latestCalls, _ := timePlan(b, cs, protocol.PlanRestoreInput{Instance: big.instance, Database: big.database,
			PointID: vault.NewPointID(planDay.AddDate(0, 0, 34).Add(23*time.Hour+50*time.Minute), vault.BackupLog, fmt.Sprintf("%08d", big.n))}, 5)
		smallAt := planDay.Add(7 * time.Hour)
		sm, smCalls, _ := timePlan(b, cs, protocol.PlanRestoreInput{Instance: small.instance, Database: small.database, At: &smallAt}, 5)
		raw := rawList(b, cs.Store, big.item, 5)

		lpit, lpitCalls, lplan := timePlan(b, legacy, pitIn, 5)
		require.Equal(b, plan, lplan, "the same plan with and without summaries")
		lraw := rawReads(b, legacy.Store, big.item, 5)

		// The planner alone, over the decoded points.
		sums, err := vault.NewRepository(cs.Store, nil).ListPointSummaries(context.Background(), big.item)
		require.NoError(b, err)
		pts := make([]planner.Point, len(sums))
		for k, s := range sums {
			pts[k] = s.Point()
		}
		t0 := time.Now()
		const loops = 20
		for range loops {
			_, err := planner.PlanRestore(pts, planner.Target{At: at})
			require.NoError(b, err)
		}
		pure := time.Since(t0) / loops

		b.ReportMetric(float64(len(big.manifests)), "points")
		b.ReportMetric(pit.Seconds()*1e3, "pit-ms")
		b.ReportMetric(float64(pitCalls.Lists), "pit-lists")
		b.ReportMetric(float64(pitCalls.Gets), "pit-gets")
		b.ReportMetric(latest.Seconds()*1e3, "latest-ms")
		b.ReportMetric(float64(latestCalls.Lists), "latest-lists")
		b.ReportMetric(float64(latestCalls.Gets), "latest-gets")
		b.ReportMetric(sm.Seconds()*1e3, "small-ms")
		b.ReportMetric(float64(smCalls.Lists), "small-lists")
		b.ReportMetric(float64(smCalls.Gets), "small-gets")
		b.ReportMetric(raw.Seconds()*1e3, "raw-ms")
		b.ReportMetric(pit.Seconds()/raw.Seconds(), "ratio")
		b.ReportMetric(lpit.Seconds()*1e3, "legacy-pit-ms")
		b.ReportMetric(float64(lpitCalls.Lists), "legacy-pit-lists")
		b.ReportMetric(float64(lpitCalls.Gets), "legacy-pit-gets")
		b.ReportMetric(lraw.Seconds()*1e3, "legacy-raw-ms")
		b.ReportMetric(lpit.Seconds()/pit.Seconds(), "speedup")
		b.ReportMetric(pure.Seconds()*1e3, "planner-only-ms")
		b.ReportMetric(float64(len(plan.Steps)), "steps")

		if envInt("SQLVAULT_BENCH_PLAN_AZURITE", 1) == 1 {
			az := sharedAzurite(b)
			store, _ := newContainer(b, az)
			big.put(b, store, false)
			acs := &vault.CountingStore{Store: store}
			apit, apitCalls, aplan := timePlan(b, acs, pitIn, 3)
			require.Equal(b, plan, aplan)
			araw := rawList(b, store, big.item, 3)
			lstore, _ := newContainer(b, az)
			big.put(b, lstore, true)
			lacs := &vault.CountingStore{Store: lstore}
			alpit, alpitCalls, _ := timePlan(b, lacs, pitIn, 3)
			alraw := rawReads(b, lstore, big.item, 3)
			b.ReportMetric(apit.Seconds()*1e3, "azurite-pit-ms")
			b.ReportMetric(float64(apitCalls.Lists), "azurite-pit-lists")
			b.ReportMetric(float64(apitCalls.Gets), "azurite-pit-gets")
			b.ReportMetric(araw.Seconds()*1e3, "azurite-raw-ms")
			b.ReportMetric(apit.Seconds()/araw.Seconds(), "azurite-ratio")
			b.ReportMetric(alpit.Seconds()*1e3, "azurite-legacy-pit-ms")
			b.ReportMetric(float64(alpitCalls.Gets), "azurite-legacy-pit-gets")
			b.ReportMetric(alraw.Seconds()*1e3, "azurite-legacy-raw-ms")
			b.ReportMetric(alpit.Seconds()/apit.Seconds(), "azurite-speedup")
		}
	}
}
