package urlio_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blockblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/lease"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

const azuriteHost = "blob.sqlsim.test"

// azuriteEnv is real Azurite over HTTPS with a certificate for blob.sqlsim.test, a container
// with a container SAS, an azblob client (shared key, by IP) to set up and inspect, and the
// urlio client that reaches Azurite under its DNS name, as SQL Server would.
type azuriteEnv struct {
	az     *testenv.Azurite
	sas    string
	cont   *container.Client
	client *urlio.Client
}

func newAzuriteEnv(t *testing.T) *azuriteEnv {
	t.Helper()
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	// Port 443 of an address of its own: like SQL Server, urlio accepts no port in a URL.
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), azuriteHost, testenv.LoopbackIP(listen))
	require.NoError(t, err)
	az := testenv.AzuriteT(t, testenv.AzuriteOptions{TLSCert: certFile, TLSKey: keyFile, Listen: listen})

	cred, err := container.NewSharedKeyCredential(az.Account, az.Key)
	require.NoError(t, err)
	httpClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool()}}}
	cont, err := container.NewClientWithSharedKeyCredential(az.BlobEndpoint+"/"+containerName, cred,
		&container.ClientOptions{ClientOptions: azcore.ClientOptions{
			Transport: httpClient,
			Retry:     policy.RetryOptions{MaxRetries: -1},
		}})
	require.NoError(t, err)
	_, err = cont.Create(context.Background(), nil)
	require.NoError(t, err)

	perms := sas.ContainerPermissions{Read: true, Add: true, Create: true, Write: true, Delete: true, List: true}
	q, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPS,
		ExpiryTime:    time.Now().UTC().Add(time.Hour),
		ContainerName: containerName,
		Permissions:   perms.String(),
	}.SignWithSharedKey(cred)
	require.NoError(t, err)

	return &azuriteEnv{
		az:   az,
		sas:  q.Encode(),
		cont: cont,
		// Azurite 3.37 answers a UTF-16 block list with 400 (measured), where Azure takes
		// what every SQL Server build sends: the emulator gets SQL Server 2022's form.
		client: urlio.NewClient(urlio.Config{
			RootCAs:           ca.Pool(),
			Resolve:           map[string]string{azuriteHost: az.IP},
			Timeout:           10 * time.Second,
			BlockListEncoding: urlio.UTF8DeclaredUTF16,
		}),
	}
}

func (e *azuriteEnv) url(t *testing.T, name string) urlio.BlobURL {
	t.Helper()
	u, err := urlio.ParseURL(fmt.Sprintf("https://%s/%s/%s/%s", azuriteHost, e.az.Account, containerName, name))
	require.NoError(t, err)
	return u
}

func (e *azuriteEnv) leaseState(t *testing.T, name string) string {
	t.Helper()
	props, err := e.cont.NewBlobClient(name).GetProperties(context.Background(), nil)
	require.NoError(t, err)
	return string(*props.LeaseState)
}

func TestAgainstAzurite(t *testing.T) {
	env := newAzuriteEnv(t)
	ctx := context.Background()
	const bs = 1 << 20
	data := randomBytes(t, 3*bs+bs/2)
	u := env.url(t, "x.bak")

	t.Run("write", func(t *testing.T) {
		require.NoError(t, backup(t, env.client, u, env.sas, urlio.WriteOptions{BlockSize: bs}, data))

		bl, err := env.cont.NewBlockBlobClient("x.bak").GetBlockList(ctx, blockblob.BlockListTypeAll, nil)
		require.NoError(t, err)
		require.Len(t, bl.CommittedBlocks, 4, "ceil(size / MAXTRANSFERSIZE) blocks")
		assert.Empty(t, bl.UncommittedBlocks)
		for i, b := range bl.CommittedBlocks {
			assert.Len(t, *b.Name, len(*bl.CommittedBlocks[0].Name))
			assert.EqualValues(t, min(bs, len(data)-i*bs), *b.Size)
		}
		dl, err := env.cont.NewBlobClient("x.bak").DownloadStream(ctx, nil)
		require.NoError(t, err)
		got, err := io.ReadAll(dl.Body)
		dl.Body.Close()
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, got), "Azurite holds exactly the bytes written")
		state := env.leaseState(t, "x.bak")
		assert.Equal(t, "available", state, "the backup lease is released")
	})

	t.Run("read back ranged", func(t *testing.T) {
		r, err := env.client.Open(ctx, u, env.sas)
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), r.Size())
		state := env.leaseState(t, "x.bak")
		assert.Equal(t, "leased", state, "the restore lease is held while reading")

		p := make([]byte, 4096)
		n, err := r.ReadAt(p, bs-2048) // across a block boundary
		require.NoError(t, err)
		assert.Equal(t, data[bs-2048:bs+2048], p[:n])
		n, err = r.ReadAt(p, int64(len(data)-100))
		assert.ErrorIs(t, err, io.EOF)
		assert.Equal(t, data[len(data)-100:], p[:n])
		all, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(data, all))

		// A backup WITH FORMAT cannot overwrite the blob while it is restored from.
		err = backup(t, env.client, u, env.sas, urlio.WriteOptions{Format: true}, []byte("x"))
		assert.ErrorIs(t, err, urlio.ErrLeaseHeld)

		require.NoError(t, r.Close())
		state = env.leaseState(t, "x.bak")
		assert.Equal(t, "available", state)
	})

	t.Run("overwrite needs format", func(t *testing.T) {
		err := backup(t, env.client, u, env.sas, urlio.WriteOptions{}, []byte("again"))
		require.ErrorIs(t, err, urlio.ErrBlobExists)
		var e *urlio.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, "BlobAlreadyExists", e.Code)

		require.NoError(t, backup(t, env.client, u, env.sas, urlio.WriteOptions{Format: true, BlockSize: 64 << 10}, []byte("again")))
		r, err := env.client.Open(ctx, u, env.sas)
		require.NoError(t, err)
		defer r.Close()
		p := make([]byte, 16)
		n, err := r.ReadAt(p, 0)
		assert.ErrorIs(t, err, io.EOF)
		assert.Equal(t, "again", string(p[:n]))
	})

	t.Run("lease left by a failed backup", func(t *testing.T) {
		bc := env.cont.NewBlobClient("x.bak")
		lc, err := lease.NewBlobClient(bc, nil)
		require.NoError(t, err)
		_, err = lc.AcquireLease(ctx, -1, nil)
		require.NoError(t, err)

		err = backup(t, env.client, u, env.sas, urlio.WriteOptions{Format: true}, []byte("retry"))
		require.ErrorIs(t, err, urlio.ErrLeaseHeld)
		var e *urlio.Error
		require.ErrorAs(t, err, &e)
		assert.Equal(t, http.StatusPreconditionFailed, e.Status)
		_, err = env.client.Open(ctx, u, env.sas)
		require.ErrorIs(t, err, urlio.ErrLeaseHeld)
		assert.ErrorIs(t, env.client.Delete(ctx, u, env.sas), urlio.ErrLeaseHeld)

		// Breaking the lease is how the product cleans up; then the retry works.
		_, err = lc.BreakLease(ctx, &lease.BlobBreakOptions{BreakPeriod: ptr(int32(0))})
		require.NoError(t, err)
		require.NoError(t, backup(t, env.client, u, env.sas, urlio.WriteOptions{Format: true}, []byte("retry")))
	})

	t.Run("abort leaves nothing committed and no lease", func(t *testing.T) {
		au := env.url(t, "aborted.bak")
		w, err := env.client.Create(ctx, au, env.sas, urlio.WriteOptions{BlockSize: 64 << 10})
		require.NoError(t, err)
		_, err = w.Write(randomBytes(t, 200<<10))
		require.NoError(t, err)
		w.Abort()
		props, err := env.cont.NewBlobClient("aborted.bak").GetProperties(ctx, nil)
		require.NoError(t, err)
		assert.EqualValues(t, 0, *props.ContentLength)
		assert.Equal(t, "available", string(*props.LeaseState))
	})

	t.Run("bad SAS", func(t *testing.T) {
		bad := env.sas[:len(env.sas)-6] + "AAAA%3D"
		_, err := env.client.Open(ctx, u, bad)
		require.ErrorIs(t, err, urlio.ErrAuth)
		assert.NotContains(t, err.Error(), "sig=")
		assert.NotContains(t, err.Error(), bad)
	})

	t.Run("delete", func(t *testing.T) {
		require.NoError(t, env.client.Delete(ctx, u, env.sas))
		_, err := env.cont.NewBlobClient("x.bak").GetProperties(ctx, nil)
		require.Error(t, err)
		_, err = env.client.Open(ctx, u, env.sas)
		assert.ErrorIs(t, err, urlio.ErrNotFound)
	})
}

func ptr[T any](v T) *T { return &v }
