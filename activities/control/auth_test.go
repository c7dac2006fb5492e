package control

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// unseal rewrites a committed point as a build before authenticated manifests wrote it:
// the bare manifest JSON and an unauthenticated summary (what an attacker can always do
// too, or an old vault holds).
func (f *retentionFixture) unseal(pointID string) {
	f.t.Helper()
	name := vault.ManifestBlob(f.item, pointID)
	data, err := f.repo.Store().Get(f.ctx, name)
	require.NoError(f.t, err)
	var env struct {
		Manifest json.RawMessage `json:"manifest"`
	}
	require.NoError(f.t, json.Unmarshal(data, &env))
	m, err := vault.DecodeManifest(env.Manifest)
	require.NoError(f.t, err)
	require.NoError(f.t, f.repo.Store().Put(f.ctx, name, env.Manifest, vault.PutOptions{Metadata: vault.SummaryMetadata(m)}))
}

func (f *retentionFixture) pointIDs() []string {
	f.t.Helper()
	ms, err := f.repo.ListPoints(f.ctx, f.item)
	require.NoError(f.t, err)
	var out []string
	for _, m := range ms {
		out = append(out, m.PointID)
	}
	return out
}

func (f *retentionFixture) usePolicy(p policy.Policy) {
	f.t.Helper()
	doc, err := json.Marshal(p)
	require.NoError(f.t, err)
	require.NoError(f.t, f.repo.PutPolicy(f.ctx, p.Name, doc))
	it, err := f.repo.Item(f.ctx, f.item)
	require.NoError(f.t, err)
	it.Policy = p.Name
	require.NoError(f.t, f.repo.PutItem(f.ctx, it))
}

// Under a policy, one unauthenticated point of an item stops every deletion of the item
// (which points a chain needs depends on all of them), by name, with what to do; after it is
// authenticated (vault upgrade), retention deletes what expired.
func TestRetentionDeletesNothingOnTheWordOfAnUnauthenticatedPoint(t *testing.T) {
	f := newRetentionFixture(t)
	f.usePolicy(policy.Policy{Name: "twodays",
		Full:      policy.FullSchedule{Frequency: policy.FrequencyDaily, TimeOfDay: "00:00", TimeZone: "UTC"},
		Retention: policy.Retention{Daily: &policy.Keep{Days: 2}}})
	var ids []string
	for d := range 5 {
		in := f.stream(protocol.Full, rtStart.AddDate(0, 0, d))
		_, err := f.c.CommitRecoveryPoint(f.ctx, in)
		require.NoError(t, err)
		ids = append(ids, in.PointID)
	}
	f.now = rtStart.AddDate(0, 0, 5)
	f.unseal(ids[4]) // the newest: a forged "newest full" would make older ones expire
	before := f.pointIDs()

	_, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
	assert.True(t, isNonRetryable(err))
	assert.Contains(t, err.Error(), ids[4])
	assert.Contains(t, err.Error(), "sqlvault vault upgrade")
	assert.Equal(t, before, f.pointIDs(), "nothing deleted")

	rep, err := f.repo.Upgrade(f.ctx, vault.UpgradeOptions{})
	require.NoError(t, err)
	require.Equal(t, 1, rep.Count(vault.UpgradeAuthenticated), rep.String())
	rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.NoError(t, err)
	assert.NotEmpty(t, rr.Deleted, "once authenticated, expired points go")
}

// Stopped with delete, each point goes on its own word: the authenticated ones are deleted,
// the unauthenticated ones kept and reported by name.
func TestStopWithDeleteKeepsAndReportsUnauthenticatedPoints(t *testing.T) {
	f := newRetentionFixture(t)
	var ids []string
	for d := range 3 {
		in := f.stream(protocol.Full, rtStart.Add(time.Duration(d)*time.Hour))
		_, err := f.c.CommitRecoveryPoint(f.ctx, in)
		require.NoError(t, err)
		ids = append(ids, in.PointID)
	}
	f.unseal(ids[1])
	f.now = f.now.Add(4 * time.Hour)
	_, err := f.c.SetItemState(f.ctx, protocol.SetItemStateInput{ItemID: f.item, State: vault.ItemStoppedDelete})
	require.NoError(t, err)
	f.now = f.now.Add((protocol.DefaultSoftDeleteDays + 1) * 24 * time.Hour) // past the soft delete
	rr, err := f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), ids[1])
	assert.Len(t, rr.Deleted, 2)
	assert.Equal(t, []string{ids[1]}, f.pointIDs(), "the unauthenticated point is kept")
}

// A manifest changed under an authentic summary (here: its stripes pointed at nothing of
// its own) is found out when retention reads it to delete: refused by name, nothing deleted.
func TestRetentionRefusesATamperedManifest(t *testing.T) {
	f := newRetentionFixture(t)
	in := f.stream(protocol.Full, rtStart)
	_, err := f.c.CommitRecoveryPoint(f.ctx, in)
	require.NoError(t, err)
	name := vault.ManifestBlob(f.item, in.PointID)
	data, err := f.repo.Store().Get(f.ctx, name)
	require.NoError(t, err)
	var md map[string]string
	require.NoError(t, f.repo.Store().List(f.ctx, name, func(b vault.BlobInfo) error { md = b.Metadata; return nil }))
	data = bytes.Replace(data, []byte(`"plainBytes": `), []byte(`"plainBytes": 1`), 1)
	require.NoError(t, f.repo.Store().Put(f.ctx, name, data, vault.PutOptions{Metadata: md}))

	f.now = f.now.Add(time.Hour)
	_, err = f.c.SetItemState(f.ctx, protocol.SetItemStateInput{ItemID: f.item, State: vault.ItemStoppedDelete})
	require.NoError(t, err)
	f.now = f.now.Add((protocol.DefaultSoftDeleteDays + 1) * 24 * time.Hour) // past the soft delete
	_, err = f.c.ApplyRetention(f.ctx, protocol.ApplyRetentionInput{ItemID: f.item})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
	_, err = f.repo.Store().Get(f.ctx, name)
	assert.NoError(t, err, "not deleted")
	_, err = f.repo.Store().Get(f.ctx, in.Stream.Stripes[0].Blob)
	assert.NoError(t, err, "its data not deleted")
}
