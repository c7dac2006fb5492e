package agent

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

func TestStripesFor(t *testing.T) {
	const gib = int64(1) << 30
	for _, c := range []struct {
		size int64
		want int
	}{
		{0, 1}, {1, 1}, {8 * gib, 1}, {8*gib + 1, 2}, {20 * gib, 3}, {64 * gib, 8}, {500 * gib, 8},
		{800 * gib, 8}, {801 * gib, 9}, {2048 * gib, 21}, {10000 * gib, 64},
	} {
		got := StripesFor(c.size)
		assert.Equal(t, c.want, got, "size %d GiB", c.size/gib)
		// A stripe never exceeds what one blob can hold at 4 MiB blocks (50,000 blocks).
		if c.want < 64 {
			assert.LessOrEqual(t, c.size/int64(got), int64(50000)*maxTransferSize)
		}
	}
}

func TestCheckBackupAllowed(t *testing.T) {
	online := sqlserver.Database{Name: "D", State: "ONLINE", RecoveryModel: "FULL", LastLogBackupLSN: "42"}
	cases := []struct {
		name string
		mod  func(*sqlserver.Database)
		typ  protocol.BackupType
		want string
	}{
		{"full is fine", func(*sqlserver.Database) {}, protocol.Full, ""},
		{"snapshot", func(d *sqlserver.Database) { d.IsSnapshot = true }, protocol.Full, protocol.ErrDatabaseSnapshot},
		{"mirrored", func(d *sqlserver.Database) { d.IsMirrored = true }, protocol.Full, protocol.ErrMirroredDatabase},
		{"restoring", func(d *sqlserver.Database) { d.State = "RESTORING" }, protocol.Full, protocol.ErrDatabaseNotOnline},
		{"log in simple", func(d *sqlserver.Database) { d.RecoveryModel = "SIMPLE" }, protocol.Log, protocol.ErrLogBackupSimple},
		{"log without chain", func(d *sqlserver.Database) { d.LastLogBackupLSN = "" }, protocol.Log, protocol.ErrNoLogChain},
		{"read-only differential", func(d *sqlserver.Database) { d.ReadOnly = true }, protocol.Differential, protocol.ErrReadOnlyDifferential},
		{"read-only copy-only full", func(d *sqlserver.Database) { d.ReadOnly = true }, protocol.CopyOnlyFull, ""},
	}
	for _, c := range cases {
		d := online
		c.mod(&d)
		err := checkBackupAllowed(d, c.typ)
		if c.want == "" {
			assert.NoError(t, err, c.name)
			continue
		}
		assert.Equal(t, c.want, protocol.ErrorType(err), c.name)
	}
}

type fixedLog int64

func (f fixedLog) LogBackupBytes(context.Context, sqlserver.Database) (int64, error) {
	return int64(f), nil
}

// A log backup's stripes follow its log (what SQL Server will write), not the data files: a
// 40 GiB database with 1 GiB of log since the last log backup streams its log on one stripe,
// and its full on five.
func TestBackupBytesSizesLogBackupsByTheirLog(t *testing.T) {
	const gib = int64(1) << 30
	db := sqlserver.Database{Name: "Big", DataBytes: 40 * gib, LogBytes: 8 * gib}
	ctx := context.Background()
	log, err := backupBytes(ctx, fixedLog(gib), db, protocol.Log)
	assert.NoError(t, err)
	assert.Equal(t, gib, log)
	assert.Equal(t, 1, StripesFor(log))
	for _, typ := range []protocol.BackupType{protocol.Full, protocol.Differential, protocol.CopyOnlyFull} {
		data, err := backupBytes(ctx, fixedLog(gib), db, typ)
		assert.NoError(t, err)
		assert.Equal(t, 40*gib, data, typ)
	}
	assert.Equal(t, 5, StripesFor(40*gib))
}
