package control

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/control/planner"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

const (
	planInstance = "SQLVM1"
	planDatabase = "Sales"
)

var planDay = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

// planKey authenticates the plan tests' manifests, as the control worker's key does.
var planKey = func() *blockcrypt.Key {
	k, err := blockcrypt.NewKey(bytes.Repeat([]byte{9}, blockcrypt.KeySize))
	if err != nil {
		panic(err)
	}
	return k
}()

// planRepo is a repository on s holding the key, as the control worker's is.
func planRepo(s vault.Store) *vault.Repository {
	return vault.NewRepository(s, nil).WithKeys(vault.Keys{planKey})
}

// planHistory is two days of a full at midnight, a differential at noon and a log every 15
// minutes, with LSNs that chain as SQL Server's do.
func planHistory() []*vault.Manifest {
	item := vault.ItemID(planInstance, planDatabase)
	next := int64(37_000_000_000_001_000)
	lsn := func(d int64) string { next += d; return fmt.Sprint(next) }
	var out []*vault.Manifest
	var base, logFrom string
	add := func(at time.Time, typ, first, last, ck, diffBase string) {
		p := vault.NewPointID(at, typ, fmt.Sprintf("%04d", len(out)))
		blob := vault.DataBlob(item, p, 1, 1)
		out = append(out, &vault.Manifest{Schema: vault.ManifestSchema, PointID: p, ItemID: item, CreatedAt: at.Add(30 * time.Second),
			Server:   vault.ServerInfo{VM: planInstance, Instance: planInstance, ServerName: planInstance},
			Database: vault.DatabaseInfo{Name: planDatabase, GUID: "6f1c0b8e-0000-4000-8000-000000000001", FamilyGUID: "6f1c0b8e-0000-4000-8000-000000000002"},
			Backup: vault.BackupInfo{Type: typ, FirstLSN: vault.LSN(first), LastLSN: vault.LSN(last), CheckpointLSN: vault.LSN(ck),
				DatabaseBackupLSN: vault.LSN(base), DifferentialBaseLSN: vault.LSN(diffBase), BackupSetGUID: fmt.Sprintf("b-%d", len(out)),
				StartTime: at, FinishTime: at.Add(20 * time.Second)},
			Stripes:    []vault.StripeInfo{{Blob: blob, Index: vault.IndexBlob(blob), IndexSHA256: strings.Repeat("a", 64), Digest: strings.Repeat("b", 64)}},
			Encryption: vault.EncryptionInfo{Algorithm: vault.AlgorithmAES256GCM, KeyID: planKey.ID(), Compression: vault.CompressionZstd},
		})
	}
	for d := range 2 {
		midnight := planDay.AddDate(0, 0, d)
		ck := lsn(37)
		add(midnight, vault.BackupFull, ck, fmt.Sprint(next+1), ck, "")
		base = ck
		if logFrom == "" {
			logFrom = ck
		}
		lsn(1)
		for q := range 96 {
			at := midnight.Add(time.Duration(q)*15*time.Minute + 5*time.Minute)
			if q == 48 {
				ck := lsn(37)
				add(at.Add(-5*time.Minute), vault.BackupDifferential, ck, fmt.Sprint(next+1), ck, base)
				lsn(1)
			}
			m := lsn(37)
			last := fmt.Sprint(next + 1)
			add(at, vault.BackupLog, logFrom, last, m, "")
			logFrom = last
			lsn(1)
		}
	}
	return out
}

// putManifests writes the manifests as CommitManifest does (withSummary: authenticated,
// with their authenticated summaries), or authenticated but without a summary (a summary
// over the metadata limit).
func putManifests(t *testing.T, s vault.Store, ms []*vault.Manifest, withSummary func(i int) bool) {
	for i, m := range ms {
		data, md, err := vault.SealedManifest(planKey, m)
		require.NoError(t, err)
		require.NotNil(t, md)
		if !withSummary(i) {
			md = nil
		}
		require.NoError(t, s.Put(context.Background(), vault.ManifestBlob(m.ItemID, m.PointID), data, vault.PutOptions{Metadata: md}))
	}
}

// putLegacyManifests writes the manifests as a build before authentication did: bare JSON,
// with an unauthenticated summary.
func putLegacyManifests(t *testing.T, s vault.Store, ms []*vault.Manifest) {
	for _, m := range ms {
		data, err := json.MarshalIndent(m, "", "  ")
		require.NoError(t, err)
		require.NoError(t, s.Put(context.Background(), vault.ManifestBlob(m.ItemID, m.PointID), data, vault.PutOptions{Metadata: vault.SummaryMetadata(m)}))
	}
}

// planFromManifests is the plan as it was made before summaries: every manifest read.
func planFromManifests(t *testing.T, repo *vault.Repository, target planner.Target) []string {
	ms, err := repo.ListPoints(context.Background(), vault.ItemID(planInstance, planDatabase))
	require.NoError(t, err)
	pts := make([]planner.Point, len(ms))
	for i, m := range ms {
		pts[i] = vault.SummaryOf(m).Point()
	}
	plan, err := planner.PlanRestore(pts, target)
	require.NoError(t, err)
	var out []string
	for _, s := range plan.Steps {
		out = append(out, s.Point.ID+" "+string(s.Point.FirstLSN)+" "+string(s.Point.LastLSN))
	}
	return out
}

func stepIDs(p protocol.RestorePlan) []string {
	var out []string
	for _, s := range p.Steps {
		out = append(out, s.PointID+" "+s.FirstLSN+" "+s.LastLSN)
	}
	return out
}

func TestPlanRestoreIsOneListingAndNoManifestRead(t *testing.T) {
	ms := planHistory()
	mem := vault.NewMemStore()
	putManifests(t, mem, ms, func(int) bool { return true })
	cs := &vault.CountingStore{Store: mem}
	ctl := &Control{Vault: planRepo(cs)}
	ctx := context.Background()

	at := planDay.AddDate(0, 0, 1).Add(17*time.Hour + 52*time.Minute)
	plan, err := ctl.PlanRestore(ctx, protocol.PlanRestoreInput{Instance: planInstance, Database: planDatabase, At: &at})
	require.NoError(t, err)
	assert.Equal(t, int64(1), cs.Lists.Load(), "one List call")
	assert.Equal(t, int64(0), cs.Gets.Load(), "no manifest read")
	// The full, the noon differential, and the logs of 12:05 to 18:05 (the one holding 17:52).
	require.Len(t, plan.Steps, 2+25)
	assert.Equal(t, planFromManifests(t, planRepo(mem), planner.Target{At: at}), stepIDs(plan),
		"the same plan as from the manifests")
	for i, s := range plan.Steps {
		m := ms[indexOf(ms, s.PointID)]
		assert.Equal(t, vault.SummaryOf(m).Digest(), s.SummaryDigest, "step %d carries its point's summary digest", i)
		match, known := vault.CheckSummaryDigest(m, s.SummaryDigest)
		assert.True(t, known && match, "step %d: the agent's check (CheckSummaryDigest) accepts its manifest", i)
		assert.Equal(t, []string{m.Backup.Type, string(m.Backup.FirstLSN), string(m.Backup.LastLSN)}, []string{s.Type, s.FirstLSN, s.LastLSN}, "step %d", i)
	}

	cs.Lists.Store(0)
	last := ms[len(ms)-1].PointID
	plan, err = ctl.PlanRestore(ctx, protocol.PlanRestoreInput{Instance: planInstance, Database: planDatabase, PointID: last})
	require.NoError(t, err)
	assert.Equal(t, int64(1), cs.Lists.Load())
	assert.Equal(t, int64(0), cs.Gets.Load())
	assert.Equal(t, last, plan.Steps[len(plan.Steps)-1].PointID)
}

func indexOf(ms []*vault.Manifest, id string) int {
	for i, m := range ms {
		if m.PointID == id {
			return i
		}
	}
	return -1
}

func TestPlanRestoreOverManifestsWithoutSummaries(t *testing.T) {
	ms := planHistory()
	mem := vault.NewMemStore()
	// Every third written by a build before summaries.
	putManifests(t, mem, ms, func(i int) bool { return i%3 != 0 })
	cs := &vault.CountingStore{Store: mem}
	ctl := &Control{Vault: planRepo(cs)}
	at := planDay.AddDate(0, 0, 1).Add(9*time.Hour + 1*time.Minute)
	plan, err := ctl.PlanRestore(context.Background(), protocol.PlanRestoreInput{Instance: planInstance, Database: planDatabase, At: &at})
	require.NoError(t, err)
	assert.Equal(t, int64(1), cs.Lists.Load())
	assert.Equal(t, int64((len(ms)+2)/3), cs.Gets.Load(), "only the manifests without a summary are read")
	assert.Equal(t, planFromManifests(t, planRepo(mem), planner.Target{At: at}), stepIDs(plan))
	for i, s := range plan.Steps {
		assert.Empty(t, ms[indexOf(ms, s.PointID)].DiffersFromPlan(s.Type, s.FirstLSN, s.LastLSN, s.SummaryDigest), "step %d", i)
	}
}

// A summary that lies (here: a log's start time moved, which changes which logs a
// point-in-time plan takes, but not its type or LSNs) cannot carry a MAC: the planner leaves
// its point out and says so. In a legacy vault planned with --allow-unauthenticated, where
// the planner cannot tell, the plan made from the lie has a step that is refused by name
// when it reads the manifest.
func TestStepRefusesAManifestThatDisagreesWithThePlan(t *testing.T) {
	ms := planHistory()
	at := planDay.Add(2*time.Hour + 10*time.Minute)
	lie := func(mem *vault.MemStore, m *vault.Manifest) {
		// Rewrite the metadata of the log that holds the instant: it now claims to have been
		// taken before the instant, so the planner thinks the next log is needed too.
		lying := *m
		lying.Backup.StartTime = at.Add(-time.Minute)
		data, err := mem.Get(context.Background(), vault.ManifestBlob(m.ItemID, m.PointID))
		require.NoError(t, err)
		require.NoError(t, mem.Put(context.Background(), vault.ManifestBlob(m.ItemID, m.PointID), data, vault.PutOptions{Metadata: vault.SummaryMetadata(&lying)}))
	}

	t.Run("authenticated vault", func(t *testing.T) {
		mem := vault.NewMemStore()
		putManifests(t, mem, ms, func(int) bool { return true })
		ctl := &Control{Vault: planRepo(mem)}
		honest, err := ctl.PlanRestore(context.Background(), protocol.PlanRestoreInput{Instance: planInstance, Database: planDatabase, At: &at})
		require.NoError(t, err)
		assert.Empty(t, honest.Skipped)
		lied := honest.Steps[len(honest.Steps)-1].PointID
		lie(mem, ms[indexOf(ms, lied)])
		plan, err := ctl.PlanRestore(context.Background(), protocol.PlanRestoreInput{Instance: planInstance, Database: planDatabase, At: &at})
		if err != nil { // without the log that holds the instant, there may be no chain to it
			assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
			assert.Contains(t, err.Error(), lied)
			return
		}
		require.Len(t, plan.Skipped, 1)
		assert.Contains(t, plan.Skipped[0], lied)
		for _, s := range plan.Steps {
			assert.NotEqual(t, lied, s.PointID, "the lying point is not planned with")
		}
	})

	t.Run("legacy vault, unauthenticated allowed", func(t *testing.T) {
		mem := vault.NewMemStore()
		putLegacyManifests(t, mem, ms)
		ctl := &Control{Vault: planRepo(mem)}
		in := protocol.PlanRestoreInput{Instance: planInstance, Database: planDatabase, At: &at}
		_, err := ctl.PlanRestore(context.Background(), in)
		require.Error(t, err, "legacy points are not planned with unless allowed")
		assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err))
		assert.Contains(t, err.Error(), "sqlvault vault upgrade")
		in.AllowUnauthenticated = true
		honest, err := ctl.PlanRestore(context.Background(), in)
		require.NoError(t, err)
		lastStep := honest.Steps[len(honest.Steps)-1]
		m := ms[indexOf(ms, lastStep.PointID)]
		lie(mem, m)
		plan, err := ctl.PlanRestore(context.Background(), in)
		require.NoError(t, err)
		require.Len(t, plan.Steps, len(honest.Steps)+1, "the lie changed the plan")
		var refused []string
		for _, s := range plan.Steps {
			if refused = ms[indexOf(ms, s.PointID)].DiffersFromPlan(s.Type, s.FirstLSN, s.LastLSN, s.SummaryDigest); refused != nil {
				break
			}
		}
		require.NotEmpty(t, refused, "some step of the plan made from the lie must differ from its manifest (the agent refuses it: agent.TestCheckStepManifest)")
		assert.Contains(t, refused[0], "other planning fields")
	})
}
