package sqlserver_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// On a server whose clock is not UTC (India: UTC+05:30, no DST), the backup set's times
// come back as instants with the server's offset, and Now and UTCOffset read the clock.
func TestBackupSetTimesOnALocalTimeServer(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	kolkata, err := time.LoadLocation("Asia/Kolkata")
	require.NoError(t, err)
	in, err := f.sim.StartInstance(sqlsim.InstanceConfig{Machine: "VM3", Location: kolkata,
		Logins: []sqlsim.Login{{Name: "sqlvault", Password: "pw", Sysadmin: true}}})
	require.NoError(t, err)
	conn, err := sqlserver.Open(in.DSN("sqlvault", "pw", ""))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Tz", DataPages: 64})
	require.NoError(t, err)
	f.clock.Advance(time.Minute)
	ran := f.clock.Now()
	path := t.TempDir() + "/tz.bak"
	_, err = conn.DB().Exec("BACKUP DATABASE [Tz] TO DISK = @p1", path)
	require.NoError(t, err)

	bs, err := conn.BackupSetByDevice(ctx, path)
	require.NoError(t, err)
	require.NotNil(t, bs)
	assert.Equal(t, 330, bs.UTCOffsetMinutes)
	assert.True(t, ran.Equal(bs.Start), "start %s, ran at %s", bs.Start, ran)
	assert.Equal(t, ran.Add(330*time.Minute).Format("15:04:05"), bs.LocalStart.Format("15:04:05"), "msdb's own reading")
	now, err := conn.Now(ctx)
	require.NoError(t, err)
	assert.WithinDuration(t, f.clock.Now(), now, time.Millisecond)
	off, err := conn.UTCOffset(ctx)
	require.NoError(t, err)
	assert.Equal(t, 330, off)
}
