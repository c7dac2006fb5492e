package sqlsim_test

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// TestBackupAndRestoreThroughAzurite runs BACKUP TO URL and RESTORE FROM URL against the
// real Azure Storage emulator over HTTPS with a real container SAS: the simulator's blob
// client speaks Azure Blob REST, not just what the fake understands.
func TestBackupAndRestoreThroughAzurite(t *testing.T) {
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	const host = "azurite.sqlsim.test"
	// Port 443 of an address of its own: the simulator, like SQL Server, accepts no port.
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	cert, key, err := ca.Issue(t.TempDir(), host, testenv.LoopbackIP(listen))
	require.NoError(t, err)
	az := testenv.AzuriteT(t, testenv.AzuriteOptions{TLSCert: cert, TLSKey: key, Listen: listen})

	ctx := context.Background()
	cred, err := azblob.NewSharedKeyCredential(az.Account, az.Key)
	require.NoError(t, err)
	client, err := azblob.NewClientWithSharedKeyCredential(az.BlobEndpoint, cred, clientOptions(ca))
	require.NoError(t, err)
	_, err = client.CreateContainer(ctx, "sqlbackups", nil)
	require.NoError(t, err)
	perms := sas.ContainerPermissions{Read: true, Write: true, Create: true, Delete: true, List: true}
	qp, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPS, ExpiryTime: time.Now().Add(time.Hour),
		ContainerName: "sqlbackups", Permissions: perms.String()}.SignWithSharedKey(cred)
	require.NoError(t, err)

	clock := sqlsim.NewManualClock(t0)
	// Azurite 3.37 answers a UTF-16 block list with 400 (measured), where Azure takes what
	// every SQL Server build sends: the emulator is given SQL Server 2022's form.
	sim := sqlsim.New(sqlsim.Config{Clock: clock, TrustedRoots: ca.Pool(), Resolve: map[string]string{host: az.IP},
		BlockListEncoding: urlio.UTF8DeclaredUTF16})
	t.Cleanup(func() { _ = sim.Close() })
	in, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "AZVM"})
	require.NoError(t, err)
	db, err := sql.Open("sqlserver", in.DSN("sa", saPass, ""))
	require.NoError(t, err)
	defer db.Close()
	containerURL := fmt.Sprintf("https://%s/%s/sqlbackups", host, az.Account)
	_, err = db.Exec(fmt.Sprintf("CREATE CREDENTIAL [%s] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = '%s'", containerURL, qp.Encode()))
	require.NoError(t, err)

	src, err := in.CreateDatabase(sqlsim.DatabaseSpec{Name: "Az", DataPages: 1024})
	require.NoError(t, err)
	clock.Advance(time.Second)
	_, err = src.Write(50)
	require.NoError(t, err)
	_, err = db.Exec(fmt.Sprintf("BACKUP DATABASE Az TO URL = '%[1]s/az_1.bak', URL = '%[1]s/az_2.bak' WITH COMPRESSION, MAXTRANSFERSIZE = 1048576", containerURL))
	require.NoError(t, err)
	clock.Advance(time.Second)
	_, err = src.Write(20)
	require.NoError(t, err)
	clock.Advance(time.Second)
	_, err = db.Exec(fmt.Sprintf("BACKUP LOG Az TO URL = '%s/az.trn'", containerURL))
	require.NoError(t, err)

	// The blobs are committed block blobs in Azurite.
	props, err := client.ServiceClient().NewContainerClient("sqlbackups").NewBlobClient("az_1.bak").GetProperties(ctx, nil)
	require.NoError(t, err)
	assert.Greater(t, *props.ContentLength, int64(0))

	_, err = db.Exec(fmt.Sprintf("RESTORE DATABASE AzCopy FROM URL = '%[1]s/az_2.bak', URL = '%[1]s/az_1.bak' WITH NORECOVERY, MOVE 'Az' TO '/d/azc.mdf', MOVE 'Az_log' TO '/d/azc.ldf'", containerURL))
	require.NoError(t, err)
	_, err = db.Exec(fmt.Sprintf("RESTORE LOG AzCopy FROM URL = '%s/az.trn' WITH RECOVERY", containerURL))
	require.NoError(t, err)
	cp, ok := in.Database("AzCopy")
	require.True(t, ok)
	assert.Equal(t, src.Digest(), cp.Digest())

	// A wrong SAS is refused by Azurite and reported as SQL Server does (3201).
	_, err = db.Exec(fmt.Sprintf("ALTER CREDENTIAL [%s] WITH IDENTITY = 'SHARED ACCESS SIGNATURE', SECRET = 'sv=2020-02-10&sr=c&sp=rw&se=2099-01-01&sig=bm90LXZhbGlk'", containerURL))
	require.NoError(t, err)
	_, err = db.Exec(fmt.Sprintf("BACKUP DATABASE Az TO URL = '%s/denied.bak'", containerURL))
	requireSQLError(t, err, 3201)
}

// clientOptions makes an azblob client trust the test CA (Azurite serves HTTPS with it).
func clientOptions(ca *testenv.CA) *azblob.ClientOptions {
	return &azblob.ClientOptions{ClientOptions: azcore.ClientOptions{
		Transport: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}},
	}}
}
