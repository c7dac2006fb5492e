package sqlsim_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
)

// RESTORE HEADERONLY's DeviceType is the device the backup was written to: 2 for a disk
// file, 9 for a URL (Microsoft's RESTORE HEADERONLY page), and msdb backupmediafamily's
// device_type says the same (its page: 2 disk, 9 Azure Storage).
func TestDeviceTypeOfDiskAndURLBackups(t *testing.T) {
	e := newEnv(t)
	db := e.createDB(sqlsim.DatabaseSpec{Name: "Dev", DataPages: 32})
	e.write(db, time.Second, 2)
	path := t.TempDir() + "/dev_full.bak"
	e.mustExec("BACKUP DATABASE Dev TO DISK = @p1", path)
	e.mustExec("BACKUP DATABASE Dev TO URL = @p1", e.url("dev_full.bak"))

	disk := e.queryRows("RESTORE HEADERONLY FROM DISK = @p1", path)
	require.Len(t, disk, 1)
	assert.EqualValues(t, 2, disk[0]["DeviceType"], "a TO DISK backup is a disk backup")
	url := e.queryRows("RESTORE HEADERONLY FROM URL = @p1", e.url("dev_full.bak"))
	require.Len(t, url, 1)
	assert.EqualValues(t, 9, url[0]["DeviceType"], "a TO URL backup is a URL backup")

	fams := e.queryRows(`SELECT mf.physical_device_name AS d, mf.device_type AS t FROM msdb.dbo.backupmediafamily mf
		JOIN msdb.dbo.backupset bs ON bs.media_set_id = mf.media_set_id WHERE bs.database_name = 'Dev' ORDER BY bs.backup_set_id`)
	require.Len(t, fams, 2)
	assert.Equal(t, path, fams[0]["d"])
	assert.EqualValues(t, 2, fams[0]["t"])
	assert.EqualValues(t, 9, fams[1]["t"])
}

// BLOCKSIZE is a power of two from 512 to 65536 (BACKUP's documentation). SQL Server's
// messages for a bad value are 3253 (not a power of 2) and 3250 (not within range), then
// 3013; nothing is written.
func TestBlockSizeMustBeAPowerOfTwoInRange(t *testing.T) {
	e := newEnv(t)
	e.createDB(sqlsim.DatabaseSpec{Name: "Blk", DataPages: 16})
	for _, c := range []struct {
		value int
		want  int32
	}{{3000, 3253}, {0, 3253}, {256, 3250}, {131072, 3250}} {
		_, err := e.db.Exec("BACKUP DATABASE Blk TO URL = @p1 WITH BLOCKSIZE = @p2", e.url("blk.bak"), c.value)
		me := requireSQLError(t, err, c.want)
		assert.Equal(t, []int32{c.want, 3013}, errNumbers(err), "BLOCKSIZE = %d", c.value)
		if c.want == 3250 {
			assert.Contains(t, me.Message, "BLOCKSIZE")
		}
	}
	assert.Zero(t, e.blobs.Count(blobfake.KindPutBlock), "a refused option writes nothing")
	for _, ok := range []int{512, 4096, 65536} {
		_, err := e.db.Exec("BACKUP DATABASE Blk TO URL = @p1 WITH FORMAT, BLOCKSIZE = @p2", e.url("blk.bak"), ok)
		assert.NoError(t, err, "BLOCKSIZE = %d", ok)
	}
	_, err := e.db.Exec("RESTORE DATABASE Blk2 FROM URL = @p1 WITH BLOCKSIZE = 3000", e.url("blk.bak"))
	assert.Contains(t, errNumbers(err), int32(3253), "RESTORE checks BLOCKSIZE too")
}

// MAXTRANSFERSIZE runs from 64 KiB to 4 MiB (BACKUP's documentation); outside it SQL Server
// says the value is not within range for the parameter (3250), not a sector-size message.
func TestMaxTransferSizeOutOfRange(t *testing.T) {
	e := newEnv(t)
	e.createDB(sqlsim.DatabaseSpec{Name: "Mts", DataPages: 16})
	for _, v := range []int{1000, 65535, 4194305, 8388608} {
		_, err := e.db.Exec("BACKUP DATABASE Mts TO URL = @p1 WITH MAXTRANSFERSIZE = @p2", e.url("mts.bak"), v)
		me := requireSQLError(t, err, 3250)
		assert.Equal(t, []int32{3250, 3013}, errNumbers(err), "MAXTRANSFERSIZE = %d", v)
		assert.Contains(t, me.Message, "MAXTRANSFERSIZE")
		assert.NotContains(t, errNumbers(err), int32(3268))
	}
	assert.Zero(t, e.blobs.Count(blobfake.KindPutBlock))
	// 65537 is accepted (Microsoft's SQLCAT post on TDE backup compression uses it).
	e.mustExec("BACKUP DATABASE Mts TO URL = @p1 WITH MAXTRANSFERSIZE = 65537", e.url("mts.bak"))
}
