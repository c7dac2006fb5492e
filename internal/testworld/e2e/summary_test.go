package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// Backups write each point's summary with its manifest, the listing gives them back exactly,
// and a restore planned from a summary that disagrees with its manifest is refused by name
// at the step that reads that manifest, before SQL Server is asked to restore anything.
func TestRestorePlannedFromSummariesRefusesAManifestThatDisagrees(t *testing.T) {
	s := newStack(t)
	s.startControl()
	s.startAgent()
	f := s.buildChain("Summ")
	ctx := context.Background()
	item := vault.ItemID(vm, "Summ")

	ms := s.points(vm, "Summ")
	sums, err := s.repo.ListPointSummaries(ctx, item)
	require.NoError(t, err)
	require.Len(t, sums, len(ms))
	for i, m := range ms {
		assert.Equal(t, vault.SummaryOf(m), sums[i], "summary of %s", m.PointID)
	}
	for _, b := range s.blobs() {
		if b.Name == vault.ManifestBlob(item, ms[0].PointID) {
			assert.Equal(t, vault.SummaryMetadata(ms[0]), b.Metadata, "the backup wrote the summary as the manifest's metadata")
		}
	}

	// The full's summary now says it started a second earlier: the plan to the first log is
	// the same chain, but made from a summary its manifest does not match.
	full := ms[0]
	require.Equal(t, f.points[0].PointID, full.PointID)
	lying := *full
	lying.Backup.StartTime = full.Backup.StartTime.Add(-time.Second)
	name := vault.ManifestBlob(item, full.PointID)
	data, err := s.repo.Store().Get(ctx, name)
	require.NoError(t, err)
	require.NoError(t, s.repo.Store().Put(ctx, name, data, vault.PutOptions{Metadata: vault.SummaryMetadata(&lying)}))

	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Summ", PointID: f.points[1].PointID, TargetDatabase: "Summ_lie"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrPlanMismatch, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), full.PointID)
	_, exists := s.inst.Database("Summ_lie")
	assert.False(t, exists, "the refused step restored nothing")

	// With the summary true again, the same restore is exact.
	require.NoError(t, s.repo.Store().Put(ctx, name, data, vault.PutOptions{Metadata: vault.SummaryMetadata(full)}))
	res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Summ", PointID: f.points[1].PointID, TargetDatabase: "Summ_ok"})
	require.NoError(t, err)
	assert.Equal(t, "ONLINE", res.State)
	want, err := f.src.DigestAtLSN(f.points[1].LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Summ_ok").Digest())
}
