package control

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// unitStream writes a one-stripe backup of SQLVM1/Sales to the vault as the agent does and
// returns the commit input the Backup workflow would send.
func (u *unitControl) unitStream(t *testing.T, typ protocol.BackupType, at time.Time, first, last int64) protocol.CommitInput {
	t.Helper()
	ctx := context.Background()
	key, err := blockcrypt.NewKey(make([]byte, blockcrypt.KeySize))
	require.NoError(t, err)
	item := vault.ItemID("SQLVM1", "Sales")
	point := vault.NewPointID(at, typ.Kind(), fmt.Sprintf("u%d", first%1000))
	w := u.repo.NewStripeWriter(vault.DataBlob(item, point, 1, 1), key, vault.StripeWriterOptions{})
	defer w.Close()
	require.NoError(t, w.PutBlock(ctx, "AAAA", []byte("backup bytes of "+point)))
	si, err := w.Commit(ctx, []string{"AAAA"})
	require.NoError(t, err)
	bs := protocol.BackupSet{Type: map[protocol.BackupType]string{protocol.Full: "D", protocol.Log: "L"}[typ],
		FirstLSN: fmt.Sprint(first), LastLSN: fmt.Sprint(last), CheckpointLSN: fmt.Sprint(first + 10),
		BackupSetGUID: "b-" + point, DatabaseGUID: "6f1c0b8e-0000-4000-8000-000000000001", FamilyGUID: "6f1c0b8e-0000-4000-8000-000000000002",
		Start: at, Finish: at.Add(time.Minute), SizeBytes: 4096, RecoveryModel: "FULL", HasChecksums: true}
	return protocol.CommitInput{ItemID: item, PointID: point, VM: "SQLVM1", Instance: "SQLVM1", ServerName: "SQLVM1", Database: "Sales",
		Type: typ, CreatedAt: at.Add(2 * time.Minute), WorkflowID: "wf-" + point, RunID: "run-1", Reason: "unit test",
		Stream: protocol.StreamBackupResult{BackupSet: bs, KeyID: key.ID(), Compression: "none",
			Stripes: []protocol.Stripe{{Blob: si.Blob, Index: si.Index, IndexSHA256: si.IndexSHA256, PlainBytes: si.PlainBytes,
				StoredBytes: si.StoredBytes, Blocks: si.Blocks, Digest: si.Digest}}}}
}

// The commit writes the manifest from the workflow's input (createdAt included) and
// returns the recovery point; the same commit again (a lost result) succeeds with the same
// point and writes nothing new.
func TestCommitRecoveryPointUnitWritesTheManifest(t *testing.T) {
	u := newUnitControl(t)
	at := time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC)
	in := u.unitStream(t, protocol.Full, at, 37_000_000_000_001_000, 37_000_000_000_002_000)

	var rp protocol.RecoveryPoint
	require.NoError(t, u.run(t, &rp, protocol.ActivityCommitRecoveryPoint, in))
	assert.Equal(t, in.PointID, rp.PointID)
	assert.Equal(t, in.ItemID, rp.ItemID)
	assert.Equal(t, protocol.Full, rp.Type)
	assert.Equal(t, "37000000000002000", rp.LastLSN)
	assert.Equal(t, 1, rp.Stripes)
	assert.Equal(t, in.Stream.Stripes[0].StoredBytes, rp.StoredBytes)
	assert.Equal(t, "unit test", rp.Reason)

	m, err := u.repo.Manifest(context.Background(), in.ItemID, in.PointID)
	require.NoError(t, err)
	mw := unitWire(t, m)
	assert.Equal(t, "full", mw["backup"].(map[string]any)["type"])
	assert.Equal(t, "6f1c0b8e-0000-4000-8000-000000000001", mw["database"].(map[string]any)["guid"])
	assert.True(t, in.CreatedAt.Equal(m.CreatedAt), "createdAt is the workflow's, not the clock's")
	assert.Equal(t, "wf-"+in.PointID, m.Workflow.ID)

	var again protocol.RecoveryPoint
	require.NoError(t, u.run(t, &again, protocol.ActivityCommitRecoveryPoint, in), "a retried commit succeeds")
	assert.Equal(t, rp, again)
	points, err := u.repo.ListPoints(context.Background(), in.ItemID)
	require.NoError(t, err)
	assert.Len(t, points, 1)
}

// A copy-only full is recorded as a full with copyOnly, and reported as copy-only again.
func TestCommitRecoveryPointUnitCopyOnly(t *testing.T) {
	u := newUnitControl(t)
	in := u.unitStream(t, protocol.Full, time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC), 37_000_000_000_001_000, 37_000_000_000_002_000)
	in.Type = protocol.CopyOnlyFull
	var rp protocol.RecoveryPoint
	require.NoError(t, u.run(t, &rp, protocol.ActivityCommitRecoveryPoint, in))
	assert.Equal(t, protocol.CopyOnlyFull, rp.Type)
	m, err := u.repo.Manifest(context.Background(), in.ItemID, in.PointID)
	require.NoError(t, err)
	assert.Equal(t, "full", m.Backup.Type)
	assert.True(t, m.Backup.CopyOnly)
}

// Stripes that are not what the agent reported: no recovery point, and the named error
// (not retried: retrying cannot make the data appear).
func TestCommitRecoveryPointUnitRefusesStripesTheVaultDoesNotHold(t *testing.T) {
	u := newUnitControl(t)
	in := u.unitStream(t, protocol.Full, time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC), 37_000_000_000_001_000, 37_000_000_000_002_000)
	in.Stream.Stripes[0].Digest = strings.Repeat("0", 64)
	in.Stream.Stripes[0].StoredBytes++
	err := u.run(t, nil, protocol.ActivityCommitRecoveryPoint, in)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrRecoveryPointVerifyError, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "no recovery point was created")
	_, err = u.repo.Manifest(context.Background(), in.ItemID, in.PointID)
	assert.Error(t, err, "no manifest")
}

// A commit to an item stopped while the backup ran is refused with ItemStopped.
func TestCommitRecoveryPointUnitRefusesAStoppedItem(t *testing.T) {
	u := newUnitControl(t)
	require.NoError(t, u.repo.PutItem(context.Background(), unitItem("SQLVM1", "Sales", "stopped-retain", "full")))
	in := u.unitStream(t, protocol.Full, time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC), 37_000_000_000_001_000, 37_000_000_000_002_000)
	err := u.run(t, nil, protocol.ActivityCommitRecoveryPoint, in)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrItemStopped, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "stopped-retain")
	points, err := u.repo.ListPoints(context.Background(), in.ItemID)
	require.NoError(t, err)
	assert.Empty(t, points)
}

// PlanRestore through the activity environment, over points committed by
// CommitRecoveryPoint: a full and the log after it restore to the log; a database with no
// points, or a point that is not there, is NotRestorable.
func TestPlanRestoreUnit(t *testing.T) {
	u := newUnitControl(t)
	t0 := time.Date(2026, 11, 2, 1, 0, 0, 0, time.UTC)
	full := u.unitStream(t, protocol.Full, t0, 37_000_000_000_001_000, 37_000_000_000_002_000)
	full.Stream.BackupSet.CheckpointLSN = "37000000000001500"
	require.NoError(t, u.run(t, nil, protocol.ActivityCommitRecoveryPoint, full))
	lg := u.unitStream(t, protocol.Log, t0.Add(15*time.Minute), 37_000_000_000_001_500, 37_000_000_000_003_000)
	lg.Stream.BackupSet.DatabaseBackupLSN = "37000000000001500"
	require.NoError(t, u.run(t, nil, protocol.ActivityCommitRecoveryPoint, lg))

	var plan protocol.RestorePlan
	require.NoError(t, u.run(t, &plan, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: lg.PointID}))
	assert.Equal(t, vault.ItemID("SQLVM1", "Sales"), plan.ItemID)
	require.Len(t, plan.Steps, 2)
	assert.Equal(t, []string{full.PointID, lg.PointID}, []string{plan.Steps[0].PointID, plan.Steps[1].PointID})
	assert.Equal(t, "full", plan.Steps[0].Type)
	assert.Equal(t, "37000000000003000", plan.Steps[1].LastLSN)
	assert.NotEmpty(t, plan.Steps[1].SummaryDigest, "each step carries what the plan knew of its point")

	require.NoError(t, u.run(t, &plan, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: full.PointID}))
	assert.Len(t, plan.Steps, 1, "a full alone restores to itself")

	err := u.run(t, nil, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Payroll", PointID: lg.PointID})
	assert.Equal(t, protocol.ErrNotRestorable, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "no recovery points of Payroll")

	err = u.run(t, nil, protocol.ActivityPlanRestore, protocol.PlanRestoreInput{Instance: "SQLVM1", Database: "Sales", PointID: "20261102T000000Z-full-nope"})
	assert.Equal(t, protocol.ErrNotRestorable, protocol.ErrorType(err))
}
