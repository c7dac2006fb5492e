package catalog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

func TestRecoveryPointOfNamesCopyOnlyAndSumsStripes(t *testing.T) {
	fin := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
	m := &vault.Manifest{PointID: "p1", ItemID: "i1", Reason: "on-demand"}
	m.Server.Instance = "SQLVM1"
	m.Database.Name = "Sales"
	m.Backup.Type = string(protocol.Full)
	m.Backup.CopyOnly = true
	m.Backup.FinishTime = fin
	m.Backup.SizeBytes = 100
	m.Stripes = []vault.StripeInfo{{StoredBytes: 30}, {StoredBytes: 12}}
	rp := RecoveryPointOf(m)
	assert.Equal(t, protocol.CopyOnlyFull, rp.Type)
	assert.Equal(t, int64(42), rp.StoredBytes)
	assert.Equal(t, 2, rp.Stripes)
	assert.Equal(t, "Sales", rp.Database)
	assert.Equal(t, "SQLVM1", rp.Instance)
	assert.True(t, rp.FinishTime.Equal(fin))
}
