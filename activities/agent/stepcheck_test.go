package agent

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func TestCheckStepManifest(t *testing.T) {
	at := time.Date(2026, 3, 2, 0, 20, 0, 0, time.UTC)
	m := &vault.Manifest{Schema: vault.ManifestSchema, PointID: vault.NewPointID(at, vault.BackupLog, "0005"), ItemID: vault.ItemID("SQLVM1", "Sales"),
		Database: vault.DatabaseInfo{Name: "Sales", GUID: "6f1c0b8e-0000-4000-8000-000000000001", FamilyGUID: "6f1c0b8e-0000-4000-8000-000000000002"},
		Backup: vault.BackupInfo{Type: vault.BackupLog, FirstLSN: "37000000000001040", LastLSN: "37000000000001090", CheckpointLSN: "37000000000001037",
			DatabaseBackupLSN: "37000000000001037", BackupSetGUID: "b-5", StartTime: at, FinishTime: at.Add(20 * time.Second)}}
	s := vault.SummaryOf(m)
	good := protocol.RestoreStepPlan{PointID: m.PointID, Type: m.Backup.Type, FirstLSN: string(m.Backup.FirstLSN),
		LastLSN: string(m.Backup.LastLSN), SummaryDigest: s.Digest()}
	assert.NoError(t, checkStepManifest(0, good, m))
	old := good
	old.SummaryDigest = "" // a plan made before summaries: type and LSNs are still checked
	assert.NoError(t, checkStepManifest(0, old, m))
	later := good
	later.SummaryDigest = "v7:abc" // a later build's digest: not checkable here
	assert.NoError(t, checkStepManifest(0, later, m))

	for name, mod := range map[string]func(*protocol.RestoreStepPlan){
		"type":          func(p *protocol.RestoreStepPlan) { p.Type = vault.BackupFull },
		"first LSN":     func(p *protocol.RestoreStepPlan) { p.FirstLSN = "1" },
		"last LSN":      func(p *protocol.RestoreStepPlan) { p.LastLSN = "99999999999999999999" },
		"summary":       func(p *protocol.RestoreStepPlan) { p.SummaryDigest = "v1:00000000000000000000000000000000" },
		"old plan, LSN": func(p *protocol.RestoreStepPlan) { p.SummaryDigest, p.LastLSN = "", "1" },
	} {
		step := good
		mod(&step)
		err := checkStepManifest(2, step, m)
		require.Error(t, err, name)
		assert.Equal(t, protocol.ErrPlanMismatch, protocol.ErrorType(err), name)
		assert.Contains(t, err.Error(), "step 3", name)
		assert.Contains(t, err.Error(), name[strings.LastIndex(name, " ")+1:], name)
	}
}
