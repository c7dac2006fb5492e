package pathpolicy

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestWithin(t *testing.T) {
	roots := []string{"/var/backups/sqlvault", `D:\Restore`, `\\files\share\sql`}
	for _, ok := range []string{
		"/var/backups/sqlvault", "/var/backups/sqlvault/sales", "/var/backups/sqlvault//sales/./x",
		`D:\Restore`, `d:\restore\Sales`, `D:/Restore/Sales`, `\\files\share\sql\x`, `\\FILES\Share\SQL\x`,
	} {
		assert.NoError(t, Within(ok, roots), ok)
	}
	for _, bad := range []string{
		"/var/backups/sqlvault-other", "/var/backups", "/var/backups/sqlvault/../../etc", "/etc/cron.d",
		"relative/dir", `C:\Restore`, `D:\RestoreX`, `D:\Restore\..\Windows`, `\\files\share\other`, "/var/backups/sqlvault/a\nb", "",
		`D:Restore`,
	} {
		assert.Error(t, Within(bad, roots), bad)
	}
	err := Within("/srv/x", nil)
	assert.ErrorContains(t, err, "agent.restoreRoots")
	assert.ErrorContains(t, Within("/srv/x", roots), "agent.restoreRoots")
	// Linux paths are case-sensitive.
	assert.Error(t, Within("/VAR/backups/sqlvault/x", roots))
}

func TestParse(t *testing.T) {
	p, err := Parse(`c:\Data\\Sales\.`)
	assert.NoError(t, err)
	assert.Equal(t, `C:\Data\Sales`, p.String())
	p, err = Parse("/var//opt/mssql/")
	assert.NoError(t, err)
	assert.Equal(t, "/var/opt/mssql", p.String())
	_, err = Parse(`\\server`)
	assert.Error(t, err)
}
