package sqlsim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// SQL Server accepts a backup URL only with https, a DNS host name and the default port.
// Anything else is refused as a device name, with 3078 and then 3013, before a single
// request is sent (sources in FIDELITY.md, "Backup URL and endpoint address"). Each case
// has its own credential, so the refusal is the URL's and not a missing credential's.
func TestURLRefusedLikeSQLServer(t *testing.T) {
	e := newEnv(t)
	e.createDB(sqlsim.DatabaseSpec{Name: "D", DataPages: 64})
	e.mustExec("BACKUP DATABASE D TO URL = @p1", e.url("good.bak"))
	ip := e.hosts[blobHost]
	cases := map[string]string{
		// The blob service really listens here (port 443 of ip): only the URL is at fault.
		"explicit port":      "https://" + blobHost + ":443/" + container,
		"other port":         "https://" + blobHost + ":8443/" + container,
		"IP literal":         "https://" + ip + "/" + container,
		"IPv6 literal":       "https://[::1]/" + container,
		"http":               "http://" + blobHost + "/" + container,
		"emulator-style URL": "http://127.0.0.1:10000/devstoreaccount1/" + container, // Azurite #1089
	}
	ctx := context.Background()
	for name, containerURL := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := e.db.Exec(fmt.Sprintf("CREATE CREDENTIAL [%s] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '%s'",
				strings.ReplaceAll(containerURL, "]", "]]"), sasToken))
			require.NoError(t, err)
			before := len(e.blobs.Requests())
			for stmt, q := range map[string]string{
				"BACKUP DATABASE":    "BACKUP DATABASE D TO URL = '%s' WITH FORMAT",
				"BACKUP LOG":         "BACKUP LOG D TO URL = '%s'",
				"RESTORE DATABASE":   "RESTORE DATABASE D2 FROM URL = '%s'",
				"RESTORE HEADERONLY": "RESTORE HEADERONLY FROM URL = '%s'",
			} {
				device := containerURL + "/d.bak"
				_, err := e.messages(ctx, fmt.Sprintf(q, device))
				me := requireSQLError(t, err, 3078)
				assert.Equal(t, fmt.Sprintf("The file name \"%s\" is invalid as a backup device name for the specified device type. Reissue the BACKUP statement with a valid file name and device type.", device), me.Message, stmt)
				assert.EqualValues(t, 16, me.Class, stmt)
				nums := errNumbers(err)
				assert.Equal(t, []int32{3078, 3013}, nums, stmt)
				verb, _, _ := strings.Cut(stmt, " ")
				assert.Contains(t, err.Error(), verb+" ", stmt)
			}
			assert.Equal(t, before, len(e.blobs.Requests()), "no request reached the blob service")
		})
	}
}
