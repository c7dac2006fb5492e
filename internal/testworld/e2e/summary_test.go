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

// Backups write each point's summary with its manifest, authenticated, the listing gives them
// back exactly, and a summary changed to disagree with its manifest fails its MAC: the
// restore leaves the point out of its plan and, with no chain left, is refused by name
// before SQL Server is asked to restore anything. (A legacy vault, whose summaries carry no
// MAC, still has the step's check against its manifest: TestStepRefusesAManifestThatDisagreesWithThePlan.)
func TestRestorePlannedFromSummariesRefusesAManifestThatDisagrees(t *testing.T) {
	t.Parallel()
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
		assert.Equal(t, vault.AuthOK, sums[i].Auth, "summary of %s is authenticated", m.PointID)
		sums[i].Auth = vault.AuthUnchecked
		assert.Equal(t, vault.SummaryOf(m), sums[i], "summary of %s", m.PointID)
	}
	var original map[string]string
	for _, b := range s.blobs() {
		if b.Name == vault.ManifestBlob(item, ms[0].PointID) {
			original = b.Metadata
			assert.Equal(t, vault.SummaryMetadata(ms[0])[vault.SummaryMetadataKey], b.Metadata[vault.SummaryMetadataKey],
				"the backup wrote the summary as the manifest's metadata")
			assert.NotEmpty(t, b.Metadata[vault.SummaryAuthMetadataKey], "with its MAC")
		}
	}
	require.NotNil(t, original)

	// The full's summary now says it started a second earlier: the plan to the first log is
	// the same chain, but made from a summary its manifest does not match.
	full := ms[0]
	require.Equal(t, f.points[0].PointID, full.PointID)
	lying := *full
	lying.Backup.StartTime = full.Backup.StartTime.Add(-time.Second)
	name := vault.ManifestBlob(item, full.PointID)
	data, err := s.repo.Store().Get(ctx, name)
	require.NoError(t, err)
	md := vault.SummaryMetadata(&lying)
	md[vault.SummaryAuthMetadataKey] = original[vault.SummaryAuthMetadataKey] // all the writer can do: keep the old MAC
	require.NoError(t, s.repo.Store().Put(ctx, name, data, vault.PutOptions{Metadata: md}))

	_, err = s.restore(protocol.RestoreInput{Instance: vm, Database: "Summ", PointID: f.points[1].PointID, TargetDatabase: "Summ_lie"})
	require.Error(t, err)
	assert.Equal(t, protocol.ErrUnauthenticated, protocol.ErrorType(err), "%v", err)
	assert.Contains(t, err.Error(), full.PointID)
	_, exists := s.inst.Database("Summ_lie")
	assert.False(t, exists, "the refused restore restored nothing")

	// With the summary true again, the same restore is exact.
	require.NoError(t, s.repo.Store().Put(ctx, name, data, vault.PutOptions{Metadata: original}))
	res, err := s.restore(protocol.RestoreInput{Instance: vm, Database: "Summ", PointID: f.points[1].PointID, TargetDatabase: "Summ_ok"})
	require.NoError(t, err)
	assert.Equal(t, "ONLINE", res.State)
	want, err := f.src.DigestAtLSN(f.points[1].LastLSN)
	require.NoError(t, err)
	assert.Equal(t, want, s.db("Summ_ok").Digest())
}
