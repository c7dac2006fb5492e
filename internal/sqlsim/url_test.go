package sqlsim_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
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

// Each simulated machine has its own hosts file: instances on two machines of one simulator
// reach two blob services under the same name (as two VMs each reach their own agent at
// sqlvault-agent.local), instances on one machine share it, and a machine without an entry
// falls back to Config.Resolve.
func TestHostsEntryIsPerMachine(t *testing.T) {
	e := newEnv(t)
	// A second blob service under the same name, on a loopback address of its own.
	ln, err := testenv.ListenLoopback443()
	require.NoError(t, err)
	ip2 := testenv.LoopbackIP(ln.Addr().String())
	certFile, keyFile, err := e.ca.Issue(t.TempDir(), blobHost)
	require.NoError(t, err)
	blobs2 := blobfake.New()
	blobs2.AddContainer(container, sasToken)
	srv2, err := blobfake.NewTLSServer(ln, blobs2, certFile, keyFile)
	require.NoError(t, err)
	t.Cleanup(srv2.Close)

	other, err := e.sim.StartInstance(sqlsim.InstanceConfig{Machine: "SQLVM2"})
	require.NoError(t, err)
	other.SetHostsEntry(strings.ToUpper(blobHost), ip2) // names are case-insensitive
	_, err = other.CreateDatabase(sqlsim.DatabaseSpec{Name: "D2", DataPages: 16})
	require.NoError(t, err)
	db2 := e.connectTo(other)
	_, err = db2.Exec(fmt.Sprintf("CREATE CREDENTIAL [%s] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '%s'", e.base, sasToken))
	require.NoError(t, err)
	_, err = db2.Exec("BACKUP DATABASE D2 TO URL = @p1", e.url("d2.bak"))
	require.NoError(t, err)

	// A named instance on the same machine reads the same hosts file.
	named, err := e.sim.StartInstance(sqlsim.InstanceConfig{Machine: "sqlvm2", Instance: "INST2"})
	require.NoError(t, err)
	_, err = named.CreateDatabase(sqlsim.DatabaseSpec{Name: "D3", DataPages: 16})
	require.NoError(t, err)
	db3 := e.connectTo(named)
	_, err = db3.Exec(fmt.Sprintf("CREATE CREDENTIAL [%s] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '%s'", e.base, sasToken))
	require.NoError(t, err)
	_, err = db3.Exec("BACKUP DATABASE D3 TO URL = @p1", e.url("d3.bak"))
	require.NoError(t, err)

	e.createDB(sqlsim.DatabaseSpec{Name: "D1", DataPages: 16})
	e.mustExec("BACKUP DATABASE D1 TO URL = @p1", e.url("d1.bak"))

	names := func(s *blobfake.Server) []string {
		var out []string
		for _, b := range s.Blobs() {
			out = append(out, b.Name)
		}
		return out
	}
	assert.ElementsMatch(t, []string{"d2.bak", "d3.bak"}, names(blobs2), "SQLVM2's hosts entry sends both its instances to the second service")
	assert.Equal(t, []string{"d1.bak"}, names(e.blobs), "SQLVM1 still resolves through Config.Resolve")
}
