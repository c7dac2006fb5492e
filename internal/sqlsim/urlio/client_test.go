package urlio_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

const (
	agentHost     = "agent.sqlvault.test"
	containerName = "backups"
	// The sig holds characters that must be escaped in a query ('+', '/', '=').
	goodSAS = "sv=2020-08-04&sr=c&sp=racwdl&se=2099-01-01T00%3A00%3A00Z&sig=q%2Bsecret%2FSIG%3D"
	goodSig = "q+secret/SIG="
	kib     = 1 << 10
)

// fakeEnv is a blobfake served over HTTPS under agent.sqlvault.test on port 443 of a
// loopback address of its own, and a urlio client on a "SQL Server host" that trusts the
// test CA and resolves that name to that address.
type fakeEnv struct {
	fake   *blobfake.Server
	ca     *testenv.CA
	ip     string
	client *urlio.Client

	mu     sync.Mutex
	active map[string]int
	peak   map[string]int
}

func newFakeEnv(t *testing.T) *fakeEnv {
	t.Helper()
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), agentHost)
	require.NoError(t, err)
	fake := blobfake.New()
	fake.AddContainer(containerName, goodSAS)
	e := &fakeEnv{fake: fake, ca: ca}
	ln, err := testenv.ListenLoopback443()
	require.NoError(t, err)
	ts, err := blobfake.NewTLSServer(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.track(r, +1)
		defer e.track(r, -1)
		fake.ServeHTTP(w, r)
	}), certFile, keyFile)
	require.NoError(t, err)
	t.Cleanup(ts.Close)
	e.ip = testenv.LoopbackIP(ln.Addr().String())
	e.client = newClient(ca, e.ip, 5*time.Second)
	return e
}

// track counts the requests of each method in progress and keeps the highest count seen.
func (e *fakeEnv) track(r *http.Request, d int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.active == nil {
		e.active, e.peak = map[string]int{}, map[string]int{}
	}
	key := r.Method + " " + r.URL.Query().Get("comp")
	e.active[key] += d
	e.peak[key] = max(e.peak[key], e.active[key])
}

// peakInFlight is the most requests of one method and comp that were in progress at once.
func (e *fakeEnv) peakInFlight(method, comp string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.peak[method+" "+comp]
}

func newClient(ca *testenv.CA, ip string, timeout time.Duration) *urlio.Client {
	return urlio.NewClient(urlio.Config{
		RootCAs:   ca.Pool(),
		Resolve:   map[string]string{agentHost: ip},
		Timeout:   timeout,
		UserAgent: "SQLBLOBSIM/16.0",
	})
}

func (e *fakeEnv) url(t *testing.T, blob string) urlio.BlobURL {
	t.Helper()
	u, err := urlio.ParseURL(fmt.Sprintf("https://%s/%s/%s", agentHost, containerName, blob))
	require.NoError(t, err)
	return u
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// backup writes data to u like one BACKUP TO URL stream.
func backup(t *testing.T, c *urlio.Client, u urlio.BlobURL, sas string, o urlio.WriteOptions, data []byte) error {
	t.Helper()
	w, err := c.Create(context.Background(), u, sas, o)
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

func TestWriteCommitsOneBlockPerTransfer(t *testing.T) {
	env := newFakeEnv(t)
	const bs = 64 * kib
	for _, size := range []int{0, 1, bs, 3 * bs, 5*bs + 1234} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			name := fmt.Sprintf("db_%d.bak", size)
			u := env.url(t, name)
			data := randomBytes(t, size)

			w, err := env.client.Create(context.Background(), u, goodSAS, urlio.WriteOptions{BlockSize: bs})
			require.NoError(t, err)
			// Uneven writes, as a backup stream produces them.
			for rest := data; len(rest) > 0; {
				k := min(len(rest), 10000)
				n, err := w.Write(rest[:k])
				require.NoError(t, err)
				require.Equal(t, k, n)
				rest = rest[k:]
			}
			require.NoError(t, w.Close())
			assert.Equal(t, int64(size), w.Written())

			got, ok := env.fake.Blob(containerName, name)
			require.True(t, ok)
			assert.True(t, bytes.Equal(data, got.Content), "committed content is exactly what was written")
			assert.Len(t, got.BlockIDs, (size+bs-1)/bs, "one block per MAXTRANSFERSIZE bytes")
			for _, id := range got.BlockIDs {
				assert.Len(t, id, len(got.BlockIDs[0]), "block ids have equal length")
				_, err := base64.StdEncoding.DecodeString(id)
				assert.NoError(t, err)
			}
			assert.Equal(t, blobfake.LeaseAvailable, got.LeaseState, "the lease is released after the backup")
			assert.Empty(t, env.fake.UncommittedBlocks(containerName, name))
		})
	}
}

func TestWriteSpeaksSQLServersSequence(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "seq.bak")
	require.NoError(t, backup(t, env.client, u, goodSAS, urlio.WriteOptions{BlockSize: 64 * kib}, randomBytes(t, 100*kib)))

	var kinds []string
	var leaseID string
	for _, r := range env.fake.Requests() {
		kinds = append(kinds, r.Kind)
		assert.Equal(t, urlio.APIVersion, r.Header.Get("x-ms-version"))
		assert.NotEmpty(t, r.Header.Get("x-ms-date"))
		assert.NotEmpty(t, r.Header.Get("x-ms-client-request-id"))
		assert.Equal(t, "SQLBLOBSIM/16.0", r.Header.Get("User-Agent"))
		assert.Equal(t, goodSig, r.Query.Get("sig"), "the SAS travels as the query string")
		switch r.Kind {
		case blobfake.KindPutBlob:
			assert.Equal(t, "*", r.Header.Get("If-None-Match"), "never overwrite without FORMAT")
			assert.Equal(t, "0", r.Header.Get("Content-Length"))
		case blobfake.KindLeaseAcquire:
			assert.Equal(t, "Acquire", r.Header.Get("x-ms-lease-action"), "capitalised, as SQL Server sends it")
			assert.Equal(t, "-1", r.Header.Get("x-ms-lease-duration"), "infinite lease")
			leaseID = r.Header.Get("x-ms-proposed-lease-id")
			assert.Len(t, leaseID, 36, "a GUID")
		case blobfake.KindLeaseRelease:
			assert.Equal(t, "Release", r.Header.Get("x-ms-lease-action"))
			assert.Equal(t, leaseID, r.Header.Get("x-ms-lease-id"))
		case blobfake.KindPutBlock, blobfake.KindPutBlockList:
			assert.Equal(t, leaseID, r.Header.Get("x-ms-lease-id"))
		}
	}
	assert.Equal(t, []string{
		blobfake.KindPutBlob, blobfake.KindLeaseAcquire,
		blobfake.KindPutBlock, blobfake.KindPutBlock,
		blobfake.KindPutBlockList, blobfake.KindLeaseRelease,
	}, kinds)
}

func TestExistingBlobNeedsFormat(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "full.bak")
	require.NoError(t, backup(t, env.client, u, goodSAS, urlio.WriteOptions{}, []byte("first")))

	err := backup(t, env.client, u, goodSAS, urlio.WriteOptions{}, []byte("second"))
	require.ErrorIs(t, err, urlio.ErrBlobExists)
	assert.Contains(t, err.Error(), "exists on Microsoft Azure Storage")
	var e *urlio.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusConflict, e.Status)
	assert.Equal(t, "BlobAlreadyExists", e.Code)
	got, _ := env.fake.Blob(containerName, "full.bak")
	assert.Equal(t, "first", string(got.Content), "the existing backup is untouched")

	require.NoError(t, backup(t, env.client, u, goodSAS, urlio.WriteOptions{Format: true}, []byte("second")))
	got, _ = env.fake.Blob(containerName, "full.bak")
	assert.Equal(t, "second", string(got.Content), "WITH FORMAT overwrites")
}

func TestLeaseLeftByFailedBackupBlocksRetry(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "failed.bak")
	w, err := env.client.Create(context.Background(), u, goodSAS, urlio.WriteOptions{BlockSize: 64 * kib})
	require.NoError(t, err)
	_, err = w.Write(randomBytes(t, 64*kib))
	require.NoError(t, err)

	// The network dies before the writer can release its lease.
	env.fake.SetUnreachable(true)
	w.Abort()
	env.fake.SetUnreachable(false)
	got, _ := env.fake.Blob(containerName, "failed.bak")
	require.Equal(t, blobfake.LeaseLeased, got.LeaseState)
	assert.Equal(t, w.LeaseID(), got.LeaseID)

	err = backup(t, env.client, u, goodSAS, urlio.WriteOptions{Format: true}, []byte("retry"))
	require.ErrorIs(t, err, urlio.ErrLeaseHeld)
	var e *urlio.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusPreconditionFailed, e.Status)
	assert.Equal(t, "LeaseIdMissing", e.Code)

	// A restore cannot take the blob either.
	_, err = env.client.Open(context.Background(), u, goodSAS)
	assert.ErrorIs(t, err, urlio.ErrLeaseHeld)
}

func TestAbortReleasesTheLease(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "aborted.bak")
	ctx, cancel := context.WithCancel(context.Background())
	w, err := env.client.Create(ctx, u, goodSAS, urlio.WriteOptions{BlockSize: 64 * kib})
	require.NoError(t, err)
	_, err = w.Write(randomBytes(t, 200*kib))
	require.NoError(t, err)
	cancel() // the backup was cancelled: the release must still go out

	w.Abort()
	got, ok := env.fake.Blob(containerName, "aborted.bak")
	require.True(t, ok)
	assert.Equal(t, blobfake.LeaseAvailable, got.LeaseState)
	assert.Zero(t, got.Size, "nothing was committed")
	// Three blocks were sent; Abort cancels those still in flight, so up to three arrived.
	assert.LessOrEqual(t, len(env.fake.UncommittedBlocks(containerName, "aborted.bak")), 3)
	assert.Zero(t, env.fake.Count(blobfake.KindPutBlockList))
	_, err = w.Write([]byte("x"))
	assert.ErrorIs(t, err, urlio.ErrClosed)

	require.NoError(t, backup(t, env.client, u, goodSAS, urlio.WriteOptions{Format: true}, []byte("retry")))
}

func TestTooManyBlocks(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "big.bak")
	w, err := env.client.Create(context.Background(), u, goodSAS, urlio.WriteOptions{BlockSize: 64 * kib, MaxBlocks: 2})
	require.NoError(t, err)
	n, err := w.Write(randomBytes(t, 3*64*kib))
	require.ErrorIs(t, err, urlio.ErrTooManyBlocks)
	assert.Equal(t, 3*64*kib, n)
	assert.Equal(t, int64(2*64*kib), w.Written())
	assert.ErrorIs(t, w.Close(), urlio.ErrTooManyBlocks, "Close reports why the backup failed")

	assert.Equal(t, 2, env.fake.Count(blobfake.KindPutBlock), "no block past the limit was sent")
	assert.Zero(t, env.fake.Count(blobfake.KindPutBlockList))
	got, _ := env.fake.Blob(containerName, "big.bak")
	assert.Zero(t, got.Size)
	assert.Equal(t, blobfake.LeaseAvailable, got.LeaseState)
}

func TestBadSASIsAuthErrorWithoutTheToken(t *testing.T) {
	env := newFakeEnv(t)
	const badSAS = "sv=2020-08-04&sr=c&sp=racwdl&se=2099-01-01T00%3A00%3A00Z&sig=WRONGsignature%2Bxyz%3D"
	err := backup(t, env.client, env.url(t, "x.bak"), badSAS, urlio.WriteOptions{}, []byte("x"))
	require.ErrorIs(t, err, urlio.ErrAuth)
	var e *urlio.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusForbidden, e.Status)
	assert.Equal(t, "AuthenticationFailed", e.Code)
	for _, secret := range []string{badSAS, "WRONGsignature", "sig=", "?"} {
		assert.NotContains(t, err.Error(), secret)
	}
	assert.Contains(t, err.Error(), "https://agent.sqlvault.test/backups/x.bak")

	expired := strings.Replace(goodSAS, "2099", "2001", 1)
	env.fake.AllowSig(containerName, goodSig) // the signature is known, but the token has expired
	_, err = env.client.Open(context.Background(), env.url(t, "x.bak"), expired)
	assert.ErrorIs(t, err, urlio.ErrAuth)
}

func TestUntrustedCertificateIsTLSError(t *testing.T) {
	env := newFakeEnv(t)
	other, err := testenv.NewCA()
	require.NoError(t, err)
	for name, c := range map[string]*urlio.Client{
		"other CA":     newClient(other, env.ip, 5*time.Second),
		"system roots": urlio.NewClient(urlio.Config{Resolve: map[string]string{agentHost: env.ip}}),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Create(context.Background(), env.url(t, "x.bak"), goodSAS, urlio.WriteOptions{})
			assert.ErrorIs(t, err, urlio.ErrTLS)
			assert.NotContains(t, err.Error(), "secret")
		})
	}
	assert.Zero(t, len(env.fake.Requests()), "no request got through")
}

func TestUnreachableHosts(t *testing.T) {
	env := newFakeEnv(t)
	t.Run("unresolvable name", func(t *testing.T) {
		u, err := urlio.ParseURL("https://no-such-host.invalid/backups/x.bak")
		require.NoError(t, err)
		_, err = env.client.Create(context.Background(), u, goodSAS, urlio.WriteOptions{})
		assert.ErrorIs(t, err, urlio.ErrUnreachable)
	})
	t.Run("connection refused", func(t *testing.T) {
		// A name mapped to a loopback address where nothing listens on 443.
		free, err := testenv.Loopback443()
		require.NoError(t, err)
		c := urlio.NewClient(urlio.Config{RootCAs: env.ca.Pool(), Resolve: map[string]string{agentHost: testenv.LoopbackIP(free)}})
		_, err = c.Open(context.Background(), env.url(t, "x.bak"), goodSAS)
		assert.ErrorIs(t, err, urlio.ErrUnreachable)
		assert.NotContains(t, err.Error(), "secret")
	})
	t.Run("connection dropped", func(t *testing.T) {
		env.fake.SetUnreachable(true)
		defer env.fake.SetUnreachable(false)
		_, err := env.client.Create(context.Background(), env.url(t, "x.bak"), goodSAS, urlio.WriteOptions{})
		assert.ErrorIs(t, err, urlio.ErrNetwork)
	})
}

func TestPutBlockFaultFailsTheBackup(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "fault.bak")
	// The last of the four blocks fails: the three before it are always sent (a writer that
	// has seen a failure sends no further block, so failing an earlier one left how many
	// followed it to the scheduler, and the count below flaky under load).
	env.fake.FailNth(blobfake.KindPutBlock, 4, http.StatusServiceUnavailable)
	w, err := env.client.Create(context.Background(), u, goodSAS, urlio.WriteOptions{BlockSize: 64 * kib})
	require.NoError(t, err)
	// Blocks are in flight together: the failure of one is reported by a later Write or,
	// at the latest, by Close, which then commits nothing.
	_, werr := w.Write(randomBytes(t, 4*64*kib))
	err = w.Close()
	require.Error(t, err)
	if werr != nil {
		assert.Equal(t, werr, err, "Close reports the failure Write reported")
	}
	var e *urlio.Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, http.StatusServiceUnavailable, e.Status)
	assert.Equal(t, "ServerBusy", e.Code)
	assert.Equal(t, "Put Block", e.Op)
	assert.ErrorIs(t, err, urlio.ErrStorage)
	assert.Equal(t, int64(3*64*kib), w.Written(), "the other blocks were acknowledged")

	_, err = w.Write([]byte("more"))
	assert.ErrorIs(t, err, urlio.ErrClosed, "a closed writer stays closed")
	assert.Zero(t, env.fake.Count(blobfake.KindPutBlockList), "a failed backup never commits")
	got, _ := env.fake.Blob(containerName, "fault.bak")
	assert.Equal(t, blobfake.LeaseAvailable, got.LeaseState)
}

func TestReadAt(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "restore.bak")
	const bs = 64 * kib
	data := randomBytes(t, 3*bs+bs/2)
	require.NoError(t, backup(t, env.client, u, goodSAS, urlio.WriteOptions{BlockSize: bs}, data))

	r, err := env.client.Open(context.Background(), u, goodSAS)
	require.NoError(t, err)
	assert.Equal(t, int64(len(data)), r.Size())

	// Across a block boundary.
	p := make([]byte, 1000)
	n, err := r.ReadAt(p, bs-500)
	require.NoError(t, err)
	assert.Equal(t, 1000, n)
	assert.Equal(t, data[bs-500:bs+500], p)

	// Running into the end: short read with io.EOF.
	n, err = r.ReadAt(p, int64(len(data)-300))
	assert.ErrorIs(t, err, io.EOF)
	assert.Equal(t, 300, n)
	assert.Equal(t, data[len(data)-300:], p[:n])

	// Exactly to the end: a full read, no error.
	n, err = r.ReadAt(p, int64(len(data)-len(p)))
	require.NoError(t, err)
	assert.Equal(t, len(p), n)

	// At and past the end.
	n, err = r.ReadAt(p, int64(len(data)))
	assert.ErrorIs(t, err, io.EOF)
	assert.Zero(t, n)

	// The whole blob through io.SectionReader in odd-sized reads.
	all, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, all))

	for _, req := range env.fake.Requests() {
		if req.Kind == blobfake.KindGetBlob {
			assert.Regexp(t, `^bytes=\d+-\d+$`, req.Header.Get("x-ms-range"))
		}
	}
	require.NoError(t, r.Close())
	_, err = r.ReadAt(p, 0)
	assert.ErrorIs(t, err, urlio.ErrClosed)
}

func TestOpenHoldsTheRestoreLease(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "restore.bak")
	require.NoError(t, backup(t, env.client, u, goodSAS, urlio.WriteOptions{}, []byte("backup bytes")))

	r, err := env.client.Open(context.Background(), u, goodSAS)
	require.NoError(t, err)
	got, _ := env.fake.Blob(containerName, "restore.bak")
	assert.Equal(t, blobfake.LeaseLeased, got.LeaseState)
	assert.Equal(t, urlio.RestoreLeaseID, got.LeaseID)

	// A second restore of the same blob shares the fixed lease id.
	r2, err := env.client.Open(context.Background(), u, goodSAS)
	require.NoError(t, err)

	// A backup cannot overwrite a blob that is being restored from.
	err = backup(t, env.client, u, goodSAS, urlio.WriteOptions{Format: true}, []byte("x"))
	assert.ErrorIs(t, err, urlio.ErrLeaseHeld)

	p := make([]byte, 5)
	_, err = r.ReadAt(p, 7)
	require.NoError(t, err)
	assert.Equal(t, "bytes", string(p))

	require.NoError(t, r.Close())
	got, _ = env.fake.Blob(containerName, "restore.bak")
	assert.Equal(t, blobfake.LeaseAvailable, got.LeaseState, "Close releases the restore lease")
	assert.Error(t, r2.Close(), "the lease was already released by the first reader")

	// The lease is infinite (Microsoft: SQL Server "acquires an infinite lease" to back up
	// or restore), so it is never renewed.
	assert.Zero(t, env.fake.Count(blobfake.KindLeaseRenew))
	for _, req := range env.fake.Requests() {
		switch req.Kind {
		case blobfake.KindLeaseAcquire:
			assert.Equal(t, "Acquire", req.Header.Get("x-ms-lease-action"))
			assert.Equal(t, "-1", req.Header.Get("x-ms-lease-duration"))
		case blobfake.KindGetBlob:
			assert.Equal(t, urlio.RestoreLeaseID, req.Header.Get("x-ms-lease-id"), "reads name the restore lease")
		}
	}
}

func TestOpenMissingBlobAndDelete(t *testing.T) {
	env := newFakeEnv(t)
	u := env.url(t, "gone.bak")
	_, err := env.client.Open(context.Background(), u, goodSAS)
	require.ErrorIs(t, err, urlio.ErrNotFound)

	require.NoError(t, backup(t, env.client, u, goodSAS, urlio.WriteOptions{}, []byte("x")))
	require.NoError(t, env.client.Delete(context.Background(), u, goodSAS))
	_, ok := env.fake.Blob(containerName, "gone.bak")
	assert.False(t, ok)
	assert.ErrorIs(t, env.client.Delete(context.Background(), u, goodSAS), urlio.ErrNotFound)
}

func TestRequestTimeout(t *testing.T) {
	env := newFakeEnv(t)
	c := newClient(env.ca, env.ip, 100*time.Millisecond)
	env.fake.SetDelay(2 * time.Second)
	_, err := c.Create(context.Background(), env.url(t, "slow.bak"), goodSAS, urlio.WriteOptions{})
	require.Error(t, err)
	assert.ErrorIs(t, err, urlio.ErrNetwork)
	assert.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
}

func TestCreateRejectsBadOptions(t *testing.T) {
	env := newFakeEnv(t)
	for _, o := range []urlio.WriteOptions{{BlockSize: 1000}, {BlockSize: 8 << 20}, {BlockSize: 96 * kib}, {MaxBlocks: 60000}} {
		_, err := env.client.Create(context.Background(), env.url(t, "x.bak"), goodSAS, o)
		assert.Error(t, err, "%+v", o)
	}
	assert.Empty(t, env.fake.Requests(), "options are checked before any request")
}
