// Package catalog is the control side's read view of the vault: how a stored recovery point
// is presented to workflows and people. It imports only the vault and the wire types, so the
// CLI can use it without linking the control or agent activities (and with them the SQL
// Server client).
package catalog

import (
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// RecoveryPointOf summarises a manifest as the recovery point workflows and the CLI report.
func RecoveryPointOf(m *vault.Manifest) protocol.RecoveryPoint {
	t := protocol.BackupType(m.Backup.Type)
	if t == protocol.Full && m.Backup.CopyOnly {
		t = protocol.CopyOnlyFull
	}
	var stored int64
	for _, s := range m.Stripes {
		stored += s.StoredBytes
	}
	return protocol.RecoveryPoint{ItemID: m.ItemID, PointID: m.PointID, Instance: m.Server.Instance, Database: m.Database.Name,
		Type: t, FirstLSN: string(m.Backup.FirstLSN), LastLSN: string(m.Backup.LastLSN), CheckpointLSN: string(m.Backup.CheckpointLSN),
		DatabaseBackupLSN: string(m.Backup.DatabaseBackupLSN), StartTime: m.Backup.StartTime, FinishTime: m.Backup.FinishTime,
		SizeBytes: m.Backup.SizeBytes, StoredBytes: stored, Stripes: len(m.Stripes), KeyID: m.Encryption.KeyID, Reason: m.Reason,
		DataPath: DataPathOf(m)}
}

// DataPathOf is the data path a point was written through: "vdi", or "url" — what a point
// without the manifest field (every URL point, and every point before VDI) was.
func DataPathOf(m *vault.Manifest) string {
	if m.DataPath == vault.DataPathVDI {
		return vault.DataPathVDI
	}
	return "url"
}
