package sqlserver_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
)

// The device clause follows the data path's device type; URL stays the default, so a
// command built without one renders as before.
func TestStatementsNameTheDeviceType(t *testing.T) {
	q, args := sqlserver.BackupCommand{Database: "db", Kind: sqlserver.Full, URLs: []string{"a", "b"}}.Statement()
	assert.Contains(t, q, "BACKUP DATABASE @p1 TO URL = @p2, URL = @p3 WITH")
	assert.Equal(t, []any{"db", "a", "b"}, args)
	q, args = sqlserver.BackupCommand{Database: "db", Kind: sqlserver.Log, URLs: []string{"sqlvault-p1"},
		DeviceType: sqlserver.DeviceVirtual}.Statement()
	assert.Contains(t, q, "BACKUP LOG @p1 TO VIRTUAL_DEVICE = @p2 WITH")
	assert.Equal(t, []any{"db", "sqlvault-p1"}, args)

	q, _ = sqlserver.RestoreCommand{Database: "db", URLs: []string{"a"}}.Statement()
	assert.Contains(t, q, "RESTORE DATABASE @p1 FROM URL = @p2 WITH")
	q, args = sqlserver.RestoreCommand{Database: "db", Log: true, URLs: []string{"v1", "v2"}, DeviceType: sqlserver.DeviceVirtual}.Statement()
	assert.Contains(t, q, "RESTORE LOG @p1 FROM VIRTUAL_DEVICE = @p2, VIRTUAL_DEVICE = @p3 WITH")
	assert.Equal(t, []any{"db", "v1", "v2"}, args)
}
