package endpoint

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

func TestBackupStripesReachSinksInOrder(t *testing.T) {
	e := newEnv(t, nil)
	const blockSize = 64 * kib
	sizes := map[string]int{"db_1.bak": 5*blockSize + 1234, "db_2.bak": 3 * blockSize, "db_3.bak": 1}
	sinks := map[string]*fakeSink{}
	data := map[string][]byte{}
	all := map[string]BackupSink{}
	for name, n := range sizes {
		sinks[name], data[name] = newSink(), randomBytes(t, n)
		all[name] = sinks[name]
	}
	bs := e.openBackup(t, all)
	assert.Equal(t, e.srv.BaseURL()+"/"+bs.ID(), bs.ContainerURL())
	assert.True(t, strings.HasPrefix(bs.ID(), "op-"))
	assert.NotContains(t, fmt.Sprint(bs), bs.SAS(), "printing a session does not show its token")

	// Three stripes in parallel, as one BACKUP … TO URL = …, URL = …, URL = … does.
	var wg sync.WaitGroup
	errs := make(chan error, len(sizes))
	for name := range sizes {
		u := blobURL(t, bs, name)
		wg.Go(func() {
			errs <- backup(context.Background(), e.client, u, bs.SAS(), urlio.WriteOptions{BlockSize: blockSize}, data[name])
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	var wantBytes, wantBlocks int64
	for name, sink := range sinks {
		assert.Equal(t, data[name], sink.content(), "%s: the vault gets exactly the backup's bytes", name)
		commits := sink.commitLists()
		require.Len(t, commits, 1, name)
		// Blocks arrive several at a time, in any order; the list puts them in the stream's.
		assert.ElementsMatch(t, sink.putIDs(), commits[0], "%s: every block put is committed", name)
		var raw []string
		for _, id := range commits[0] {
			b, err := base64.StdEncoding.DecodeString(id)
			require.NoError(t, err)
			raw = append(raw, string(b)) // the client numbers its blocks in stream order
		}
		assert.True(t, slices.IsSorted(raw), "%s: committed in SQL Server's order", name)
		assert.Len(t, commits[0], (sizes[name]+blockSize-1)/blockSize, "%s: one block per MAXTRANSFERSIZE", name)
		wantBytes += int64(sizes[name])
		wantBlocks += int64(len(commits[0]))

		head := e.do(t, http.MethodHead, bs.URL(name), bs.SAS(), "", nil, nil)
		assert.Equal(t, http.StatusOK, head.status)
		assert.Equal(t, strconv.Itoa(sizes[name]), head.header.Get("Content-Length"), "HEAD gives the committed size")
		assert.Equal(t, "BlockBlob", head.header.Get("x-ms-blob-type"))
		assert.Equal(t, "available", head.header.Get("x-ms-lease-state"), "the writer released its lease")
		assert.NotEmpty(t, head.header.Get("x-ms-request-id"))
		assert.Equal(t, sasVersion, head.header.Get("x-ms-version"), "answered with the token's version")
	}
	p := bs.Progress()
	assert.Equal(t, wantBytes, p.Bytes)
	assert.Equal(t, wantBlocks, p.Blocks)
	assert.Equal(t, 3, p.Committed)
	assert.False(t, p.LastActivity.IsZero())
	assert.Equal(t, []string{"db_1.bak", "db_2.bak", "db_3.bak"}, bs.Committed())
	assert.NoError(t, bs.Err())
}

func TestPutBlockOverMaxBlockSizeIsRefused(t *testing.T) {
	e := newEnv(t, func(o *Options) { o.MaxBlockSize = 64 * kib })
	sink := newSink()
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})

	err := backup(context.Background(), e.client, blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{BlockSize: 128 * kib}, randomBytes(t, 300*kib))
	require.Error(t, err)
	ue := urlioErr(t, err)
	assert.Equal(t, "Put Block", ue.Op)
	assert.Equal(t, http.StatusRequestEntityTooLarge, ue.Status)
	assert.Equal(t, "RequestBodyTooLarge", ue.Code)
	for id, n := range sink.sizes() {
		assert.LessOrEqual(t, n, 64*kib, "the sink never saw an oversized block (%s)", id)
	}
	assert.Empty(t, bs.Committed())

	// A block of exactly the limit is fine.
	require.NoError(t, backup(context.Background(), e.client, blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{BlockSize: 64 * kib, Format: true}, randomBytes(t, 100*kib)))
}

func TestLeaseRules(t *testing.T) {
	e := newEnv(t, nil)
	sink := newSink()
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})
	u := bs.URL("db.bak")
	block := base64.StdEncoding.EncodeToString([]byte("block-000001"))

	w, err := e.client.Create(context.Background(), blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{BlockSize: 64 * kib})
	require.NoError(t, err)

	// A write without the lease id, or with another one, is refused: 412.
	r := e.do(t, http.MethodPut, u, bs.SAS(), "comp=block&blockid="+block, nil, []byte("x"))
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseIdMissing", r.code())
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=block&blockid="+block,
		map[string]string{"x-ms-lease-id": "11111111-1111-4111-8111-111111111111"}, []byte("x"))
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseIdMismatchWithBlobOperation", r.code())
	assert.Empty(t, sink.putIDs(), "refused blocks never reach the sink")

	// A second writer cannot take the lease (409) nor create the blob again (409 →
	// "use WITH FORMAT"), and WITH FORMAT it still cannot pass the lease (412).
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{
		"x-ms-lease-action": "acquire", "x-ms-lease-duration": "-1",
		"x-ms-proposed-lease-id": "22222222-2222-4222-8222-222222222222"}, nil)
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "LeaseAlreadyPresent", r.code())
	_, err = e.client.Create(context.Background(), blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{})
	assert.ErrorIs(t, err, urlio.ErrBlobExists)
	assert.Equal(t, http.StatusConflict, urlioErr(t, err).Status)
	_, err = e.client.Create(context.Background(), blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{Format: true})
	assert.ErrorIs(t, err, urlio.ErrLeaseHeld)
	assert.Equal(t, "LeaseIdMissing", urlioErr(t, err).Code)

	// The lease holder writes on; Renew and Change keep it.
	first := randomBytes(t, 100*kib)
	_, err = w.Write(first)
	require.NoError(t, err)
	// The client sends Put Block in the background. Let the full block land while the
	// lease is still the writer's: a block still in flight at the break below would race
	// the FORMAT retry's block of the same id (the race itself is not what this pins).
	require.Eventually(t, func() bool { return w.Written() == 64*kib }, 10*time.Second, 5*time.Millisecond)
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{"x-ms-lease-action": "renew", "x-ms-lease-id": w.LeaseID()}, nil)
	assert.Equal(t, http.StatusOK, r.status)
	newID := "33333333-3333-4333-8333-333333333333"
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{
		"x-ms-lease-action": "change", "x-ms-lease-id": w.LeaseID(), "x-ms-proposed-lease-id": newID}, nil)
	assert.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, newID, r.header.Get("x-ms-lease-id"))
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{"x-ms-lease-action": "change",
		"x-ms-lease-id": newID, "x-ms-proposed-lease-id": w.LeaseID()}, nil)
	require.Equal(t, http.StatusOK, r.status)

	// The writer "dies" holding its infinite lease: a retry WITH FORMAT gets 412 until
	// the lease is broken, then overwrites.
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{"x-ms-lease-action": "break", "x-ms-lease-break-period": "0"}, nil)
	assert.Equal(t, http.StatusAccepted, r.status)
	assert.Equal(t, "0", r.header.Get("x-ms-lease-time"))
	head := e.do(t, http.MethodHead, u, bs.SAS(), "", nil, nil)
	assert.Equal(t, "broken", head.header.Get("x-ms-lease-state"))

	second := randomBytes(t, 70*kib)
	require.NoError(t, backup(context.Background(), e.client, blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{BlockSize: 64 * kib, Format: true}, second))
	assert.Equal(t, second, sink.content(), "the FORMAT retry's bytes are what is committed")
	assert.Equal(t, []string{"db.bak"}, bs.Committed())

	// The broken writer's Close now fails: its lease is gone.
	assert.Error(t, w.Close())
	assert.Equal(t, second, sink.content(), "a writer that lost its lease commits nothing")

	// A leased blob cannot be deleted without the lease either.
	w2, err := e.client.Create(context.Background(), blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{Format: true})
	require.NoError(t, err)
	r = e.do(t, http.MethodDelete, u, bs.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusPreconditionFailed, r.status)
	assert.Equal(t, "LeaseIdMissing", r.code())
	w2.Abort()
}

func TestPutBlobIfNoneMatchAndDelete(t *testing.T) {
	e := newEnv(t, nil)
	sink := newSink()
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})
	u := bs.URL("db.bak")
	data := randomBytes(t, 65*kib)
	require.NoError(t, backup(context.Background(), e.client, blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{BlockSize: 64 * kib}, data))

	r := e.do(t, http.MethodPut, u, bs.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob", "If-None-Match": "*"}, nil)
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, "BlobAlreadyExists", r.code())
	assert.Contains(t, string(r.body), "<Code>BlobAlreadyExists</Code>")
	assert.Equal(t, []string{"db.bak"}, bs.Committed(), "a refused Put Blob changes nothing")

	// Put Blob with content, which Azure accepts and WAL-G's proxy too (SQL Server is not
	// known to send it): the sink gets it as blocks of at most MaxBlockSize, committed.
	content := randomBytes(t, 9*mib+3)
	r = e.do(t, http.MethodPut, u, bs.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob"}, content)
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	assert.Equal(t, content, sink.content())
	lists := sink.commitLists()
	assert.Len(t, lists[len(lists)-1], 3, "4 MiB + 4 MiB + 1 MiB")
	for _, n := range sink.sizes() {
		assert.LessOrEqual(t, n, DefaultMaxBlockSize)
	}
	r = e.do(t, http.MethodHead, u, bs.SAS(), "", nil, nil)
	assert.Equal(t, "9437187", r.header.Get("Content-Length"))
	assert.Equal(t, []string{"db.bak"}, bs.Committed())

	// Delete forgets the session's state; the sink (the vault) keeps its data.
	r = e.do(t, http.MethodDelete, u, bs.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusAccepted, r.status)
	assert.Empty(t, bs.Committed())
	assert.Equal(t, content, sink.content(), "nothing is deleted from the vault through the endpoint")
	r = e.do(t, http.MethodHead, u, bs.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "BlobNotFound", r.code())

	// Blob names outside the session do not exist.
	r = e.do(t, http.MethodPut, bs.URL("other.bak"), bs.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "BlobNotFound", r.code())
}

func TestBlockListRequests(t *testing.T) {
	e := newEnv(t, nil)
	sink := newSink()
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})
	u := bs.URL("db.bak")
	id := func(i int) string { return base64.StdEncoding.EncodeToString(fmt.Appendf(nil, "blk%05d", i)) }

	r := e.do(t, http.MethodPut, u, bs.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	require.Equal(t, http.StatusCreated, r.status)
	for i, body := range []string{"aaa", "bb", "c"} {
		r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=block&blockid="+id(i), nil, []byte(body))
		require.Equal(t, http.StatusCreated, r.status)
	}
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=block&blockid="+base64.StdEncoding.EncodeToString([]byte("x")), nil, []byte("z"))
	assert.Equal(t, "InvalidBlobOrBlock", r.code(), "block ids of one blob have one length")
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=block&blockid=not*base64", nil, []byte("z"))
	assert.Equal(t, "InvalidBlockId", r.code())

	r = e.do(t, http.MethodGet, u, bs.SAS(), "comp=blocklist&blocklisttype=all", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Contains(t, string(r.body), "<UncommittedBlocks><Block><Name>"+id(0)+"</Name><Size>3</Size></Block>")

	// An unknown id makes the whole list invalid and commits nothing.
	bad := "<?xml version=\"1.0\"?><BlockList><Latest>" + id(0) + "</Latest><Latest>" + id(9) + "</Latest></BlockList>"
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=blocklist", nil, []byte(bad))
	assert.Equal(t, http.StatusBadRequest, r.status)
	assert.Equal(t, "InvalidBlockList", r.code())
	assert.Empty(t, sink.commitLists())

	// The list's order is the blob's order, whatever the upload order; left-out blocks go.
	list := "<BlockList><Uncommitted>" + id(2) + "</Uncommitted><Latest>" + id(0) + "</Latest></BlockList>"
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=blocklist", nil, []byte(list))
	require.Equal(t, http.StatusCreated, r.status)
	assert.Equal(t, [][]string{{id(2), id(0)}}, sink.commitLists())
	assert.Equal(t, "caaa", string(sink.content()))

	r = e.do(t, http.MethodGet, u, bs.SAS(), "comp=blocklist", nil, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "4", r.header.Get("x-ms-blob-content-length"))
	assert.Contains(t, string(r.body), "<CommittedBlocks><Block><Name>"+id(2)+"</Name><Size>1</Size></Block><Block><Name>"+id(0)+"</Name><Size>3</Size></Block></CommittedBlocks>")

	// Committed blocks can be listed again; discarded ones cannot.
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=blocklist", nil, []byte("<BlockList><Committed>"+id(0)+"</Committed><Latest>"+id(2)+"</Latest></BlockList>"))
	require.Equal(t, http.StatusCreated, r.status)
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=blocklist", nil, []byte("<BlockList><Latest>"+id(1)+"</Latest></BlockList>"))
	assert.Equal(t, "InvalidBlockList", r.code())
	r = e.do(t, http.MethodHead, u, bs.SAS(), "", nil, nil)
	assert.Equal(t, "4", r.header.Get("Content-Length"))
}

func TestSinkErrorFailsBackupAndIsKept(t *testing.T) {
	e := newEnv(t, nil)
	sinkErr := errors.New("vault: storage account throttled")
	sink := newSink()
	sink.failPut, sink.putErr = 3, sinkErr
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})

	w, err := e.client.Create(context.Background(), blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{BlockSize: 64 * kib})
	require.NoError(t, err)
	// Several blocks are in flight: the failed third one is reported by Write or by Close.
	_, _ = w.Write(randomBytes(t, 5*64*kib))
	err = w.Close()
	require.Error(t, err, "the third Put Block fails, so the backup cannot complete")
	ue := urlioErr(t, err)
	assert.Equal(t, http.StatusInternalServerError, ue.Status)
	assert.Equal(t, "InternalError", ue.Code)
	assert.NotContains(t, err.Error(), "throttled", "SQL Server does not learn the vault's internals")

	assert.ErrorIs(t, bs.Err(), sinkErr, "the agent gets the real cause")
	assert.Empty(t, sink.commitLists())
	assert.Empty(t, bs.Committed())
	accepted := int64(len(sink.sizes()))
	assert.Equal(t, accepted, bs.Progress().Blocks, "progress counts the blocks the sink accepted")
	assert.GreaterOrEqual(t, accepted, int64(2))
	assert.Less(t, accepted, int64(5))
	assert.True(t, hasLog(e.logs, "sink failed", "throttled"), "the cause is logged server-side")
}

func TestCloseMidBackupFailsClientPromptly(t *testing.T) {
	e := newEnv(t, nil)
	sink := newSink()
	sink.stallAt = 2
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})

	w, err := e.client.Create(context.Background(), blobURL(t, bs, "db.bak"), bs.SAS(), urlio.WriteOptions{BlockSize: 64 * kib})
	require.NoError(t, err)
	writeErr := make(chan error, 1)
	go func() {
		_, err := w.Write(randomBytes(t, 4*64*kib))
		writeErr <- err
	}()
	select {
	case <-sink.stalled:
	case <-time.After(10 * time.Second):
		t.Fatal("the second block never reached the sink")
	}

	within(t, 5*time.Second, bs.Close) // Close cancels the stalled sink call and waits for it
	select {
	case err := <-writeErr:
		// With blocks in flight, Write may have handed the stalled block off already.
		if err != nil {
			assert.ErrorIs(t, err, urlio.ErrAuth, "the session's token is dead")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the client hangs after the session closed")
	}
	assert.NoError(t, bs.Err(), "closing is not a sink failure")
	within(t, 5*time.Second, func() { assert.ErrorIs(t, w.Close(), urlio.ErrAuth, "the session's token is dead") })

	r := e.do(t, http.MethodHead, bs.URL("db.bak"), bs.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "AuthenticationFailed", r.code())
}

func TestConcurrentSessionsAreIsolated(t *testing.T) {
	e := newEnv(t, nil)
	sinkA, sinkB := newSink(), newSink()
	a := e.openBackup(t, map[string]BackupSink{"db.bak": sinkA})
	b := e.openBackup(t, map[string]BackupSink{"db.bak": sinkB})
	assert.NotEqual(t, a.ID(), b.ID())
	dataA, dataB := randomBytes(t, 200*kib), randomBytes(t, 150*kib)

	uA, uB := blobURL(t, a, "db.bak"), blobURL(t, b, "db.bak")
	var wg sync.WaitGroup
	var errA, errB error
	wg.Go(func() {
		errA = backup(context.Background(), e.client, uA, a.SAS(), urlio.WriteOptions{BlockSize: 64 * kib}, dataA)
	})
	wg.Go(func() {
		errB = backup(context.Background(), e.client, uB, b.SAS(), urlio.WriteOptions{BlockSize: 64 * kib}, dataB)
	})
	wg.Wait()
	require.NoError(t, errA)
	require.NoError(t, errB)
	assert.Equal(t, dataA, sinkA.content())
	assert.Equal(t, dataB, sinkB.content())

	// One session's token opens nothing in another.
	r := e.do(t, http.MethodHead, b.URL("db.bak"), a.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "AuthenticationFailed", r.code())

	// A restore session does not see a backup session's blobs either.
	rs := e.openRestore(t, map[string]RestoreSource{"other.bak": newSource([]byte("x"))})
	r = e.do(t, http.MethodHead, rs.ContainerURL()+"/db.bak", rs.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusNotFound, r.status)
	assert.Equal(t, "BlobNotFound", r.code())
}

func TestOpenRejectsBadInput(t *testing.T) {
	e := newEnv(t, nil)
	_, err := e.srv.OpenBackup(nil, time.Hour)
	assert.Error(t, err)
	_, err = e.srv.OpenBackup(map[string]BackupSink{"a/b.bak": newSink()}, time.Hour)
	assert.ErrorContains(t, err, "invalid blob name", "a '/' would move SQL Server's container URL")
	_, err = e.srv.OpenBackup(map[string]BackupSink{"a.bak": newSink()}, 0)
	assert.Error(t, err)
	_, err = e.srv.OpenRestore(map[string]RestoreSource{"a.bak": nil}, time.Hour)
	assert.Error(t, err)

	require.NoError(t, e.srv.Close())
	_, err = e.srv.OpenBackup(map[string]BackupSink{"a.bak": newSink()}, time.Hour)
	assert.Error(t, err, "a closed server opens no sessions")
}

// leasedStripe creates db.bak in a backup session and takes an infinite lease on it, as SQL
// Server starts a stripe; it returns the blob's URL and the lease id.
func leasedStripe(t *testing.T, e *env, bs *BackupSession, leaseID string) string {
	t.Helper()
	u := bs.URL("db.bak")
	r := e.do(t, http.MethodPut, u, bs.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{
		"x-ms-lease-action": "acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": leaseID}, nil)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	return u
}

// takeOver is SQL Server's retry of a failed backup: break the dead attempt's lease, create
// the stripe again WITH FORMAT, take a new lease.
func takeOver(t *testing.T, e *env, bs *BackupSession, u, leaseID string) {
	t.Helper()
	r := e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{"x-ms-lease-action": "break", "x-ms-lease-break-period": "0"}, nil)
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	r = e.do(t, http.MethodPut, u, bs.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{
		"x-ms-lease-action": "acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": leaseID}, nil)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
}

// A Put Block admitted under the first attempt's lease whose body is still arriving when a
// retry breaks that lease and starts over WITH FORMAT is refused when its body ends, and its
// bytes never replace the retry's block of the same id.
func TestStaleLeaseHoldersLateBlockIsRefused(t *testing.T) {
	e := newEnv(t, nil)
	sink := newSink()
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})
	first, second := "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	u := leasedStripe(t, e, bs, first)
	id := base64.StdEncoding.EncodeToString([]byte("block-000001"))

	// The first attempt's block: headers and half the body now, the rest later.
	stale := bytes.Repeat([]byte("A"), 8*kib)
	pr, pw := io.Pipe()
	req, err := http.NewRequest(http.MethodPut, u+"?"+bs.SAS()+"&comp=block&blockid="+id, pr)
	require.NoError(t, err)
	req.ContentLength = int64(len(stale))
	req.Header.Set("x-ms-version", urlio.APIVersion)
	req.Header.Set("x-ms-lease-id", first)
	status := make(chan int, 1)
	go func() {
		resp, err := e.raw.Do(req)
		if err != nil {
			status <- -1
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		status <- resp.StatusCode
	}()
	_, err = pw.Write(stale[:4*kib])
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond) // the server admits the block under the first lease

	// The retry takes over and stages its own block of the same id.
	takeOver(t, e, bs, u, second)
	fresh := bytes.Repeat([]byte("B"), 8*kib)
	r := e.do(t, http.MethodPut, u, bs.SAS(), "comp=block&blockid="+id, map[string]string{"x-ms-lease-id": second}, fresh)
	require.Equal(t, http.StatusCreated, r.status, string(r.body))

	// The first attempt's body ends: refused, as Azure refuses a write under a lease not its own.
	_, err = pw.Write(stale[4*kib:])
	require.NoError(t, err)
	require.NoError(t, pw.Close())
	assert.Equal(t, http.StatusPreconditionFailed, <-status, "a block of a broken lease is refused")

	list := `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>` + id + `</Latest></BlockList>`
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=blocklist", map[string]string{"x-ms-lease-id": second}, []byte(list))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, fresh, sink.content(), "the retry's bytes are what is committed")
}

// A block already in the sink when its lease is broken finishes first: the break waits for it,
// so the retry's FORMAT and blocks come after it and replace it.
func TestLeaseBreakWaitsForABlockInTheSink(t *testing.T) {
	e := newEnv(t, nil)
	sink := newSink()
	sink.hold, sink.entered = make(chan struct{}), make(chan struct{}, 4)
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": sink})
	first, second := "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"
	u := leasedStripe(t, e, bs, first)
	id := base64.StdEncoding.EncodeToString([]byte("block-000001"))

	staleDone := make(chan response, 1)
	go func() {
		staleDone <- e.do(t, http.MethodPut, u, bs.SAS(), "comp=block&blockid="+id, map[string]string{"x-ms-lease-id": first}, bytes.Repeat([]byte("A"), kib))
	}()
	<-sink.entered // the first attempt's block is in the sink's hands

	broke := make(chan response, 1)
	go func() {
		broke <- e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{"x-ms-lease-action": "break", "x-ms-lease-break-period": "0"}, nil)
	}()
	select {
	case r := <-broke:
		t.Fatalf("the break returned (%d) while a block admitted under the lease was still in the sink", r.status)
	case <-time.After(300 * time.Millisecond):
	}
	close(sink.hold)
	assert.Equal(t, http.StatusCreated, (<-staleDone).status, "admitted under its lease, it completes")
	assert.Equal(t, http.StatusAccepted, (<-broke).status)

	// The retry: FORMAT, lease, its own block of the same id, commit.
	r := e.do(t, http.MethodPut, u, bs.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	require.Equal(t, http.StatusCreated, r.status)
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=lease", map[string]string{
		"x-ms-lease-action": "acquire", "x-ms-lease-duration": "-1", "x-ms-proposed-lease-id": second}, nil)
	require.Equal(t, http.StatusCreated, r.status)
	fresh := bytes.Repeat([]byte("B"), kib)
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=block&blockid="+id, map[string]string{"x-ms-lease-id": second}, fresh)
	require.Equal(t, http.StatusCreated, r.status)
	list := `<?xml version="1.0" encoding="utf-8"?><BlockList><Latest>` + id + `</Latest></BlockList>`
	r = e.do(t, http.MethodPut, u, bs.SAS(), "comp=blocklist", map[string]string{"x-ms-lease-id": second}, []byte(list))
	require.Equal(t, http.StatusCreated, r.status, string(r.body))
	assert.Equal(t, fresh, sink.content())
}
