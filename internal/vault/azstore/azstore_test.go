package azstore

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/storetest"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

// One Azurite for the package: starting one per test would dominate the run time. A missing
// Azurite fails the package (testenv says "run make tools"); it never skips.
var az *testenv.Azurite

func TestMain(m *testing.M) {
	a, stop, err := testenv.StartAzurite(testenv.AzuriteOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "azstore tests need Azurite:", err)
		os.Exit(1)
	}
	az = a
	code := m.Run()
	stop()
	os.Exit(code)
}

var containerSeq atomic.Int64

func newContainer(t *testing.T, mut func(*Config)) *Store {
	t.Helper()
	cfg := Config{
		AccountURL:      az.BlobEndpoint,
		Container:       fmt.Sprintf("t%d-%d", time.Now().UnixNano()%1e9, containerSeq.Add(1)),
		SharedKey:       &SharedKey{Account: az.Account, Key: az.Key},
		CreateContainer: true,
		MaxRetries:      1,
		TryTimeout:      20 * time.Second,
	}
	if mut != nil {
		mut(&cfg)
	}
	s, err := New(context.Background(), cfg)
	require.NoError(t, err)
	return s
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) vault.Store {
		return newContainer(t, func(c *Config) { c.ListPageSize = 3 })
	}, storetest.Options{ListPageSize: 3})
}

func TestListFetchesPages(t *testing.T) {
	s := newContainer(t, func(c *Config) { c.ListPageSize = 2 })
	ctx := ctxT(t)
	for i := 0; i < 7; i++ {
		require.NoError(t, s.Put(ctx, fmt.Sprintf("x/%d", i), []byte("y"), vault.PutOptions{}))
	}
	pages := 0
	s.onPage = func() { pages++ }
	n := 0
	require.NoError(t, s.List(ctx, "x/", func(vault.BlobInfo) error { n++; return nil }))
	assert.Equal(t, 7, n)
	assert.Equal(t, 4, pages, "7 blobs at 2 per page")
}

func TestListPrefixesFetchesPagesOfFolders(t *testing.T) {
	s := newContainer(t, func(c *Config) { c.ListPageSize = 2 })
	ctx := ctxT(t)
	for i := 0; i < 7; i++ {
		for j := 0; j < 5; j++ {
			require.NoError(t, s.Put(ctx, fmt.Sprintf("x/%d/%d", i, j), []byte("y"), vault.PutOptions{}))
		}
	}
	pages := 0
	s.onPage = func() { pages++ }
	var got []string
	require.NoError(t, s.ListPrefixes(ctx, "x/", "/", func(p string) error { got = append(got, p); return nil }))
	assert.Equal(t, []string{"x/0/", "x/1/", "x/2/", "x/3/", "x/4/", "x/5/", "x/6/"}, got)
	assert.Equal(t, 4, pages, "7 folders at 2 per page, whatever they hold")
}

// On Azure's listing (Azurite), enumerating items costs pages of item folders, not of the
// items' blobs: ListItems one folder per item, ItemIDs and Items at most three.
func TestItemListingsArePagesOfItemsNotBlobs(t *testing.T) {
	s := newContainer(t, func(c *Config) { c.ListPageSize = 5 })
	ctx := ctxT(t)
	repo := vault.NewRepository(s, nil).WithKeys(vaulttest.Keys())
	now := time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)
	var records []string
	const items, points = 4, 30
	for i := 0; i < items; i++ {
		db := fmt.Sprintf("Db %d ]ñ", i)
		id := vault.ItemID("SQLVM1", db)
		require.NoError(t, repo.PutItem(ctx, &vault.ProtectedItem{ItemID: id, VM: "SQLVM1", Instance: "SQLVM1", Database: db,
			Policy: "daily", State: vault.ItemProtected, CreatedAt: now, UpdatedAt: now}))
		records = append(records, id)
		for p := 0; p < points; p++ {
			putPoint(t, s, id, vault.NewPointID(now.Add(time.Duration(p)*15*time.Minute), vault.BackupLog, fmt.Sprintf("t%02d", p)))
		}
	}
	loose := vault.ItemID("SQLVM1", "no record") // points, no item record
	putPoint(t, s, loose, vault.NewPointID(now, vault.BackupFull, "tt"))
	sort.Strings(records)
	all := append([]string{loose}, records...)
	sort.Strings(all)

	pages := 0
	s.onPage = func() { pages++ }
	ids, err := repo.ListItems(ctx)
	require.NoError(t, err)
	assert.Equal(t, all, ids)
	assert.Equal(t, 1, pages, "5 item folders: one page of 5")

	pages = 0
	ids, err = repo.ItemIDs(ctx)
	require.NoError(t, err)
	assert.Equal(t, records, ids)
	assert.Equal(t, 3, pages, "14 folders (dat, it and point of 4 items; dat and point of the loose one) at 5 per page")

	pages = 0
	got, err := repo.Items(ctx)
	require.NoError(t, err)
	require.Len(t, got, items)
	assert.Equal(t, "Db 0 ]ñ", got[0].Database)
	assert.Equal(t, 3, pages, "the same listing, then one Get per record")

	pages, blobs := 0, 0
	require.NoError(t, s.List(ctx, vault.ItemsPrefix, func(vault.BlobInfo) error { blobs++; return nil }))
	assert.Equal(t, items*(1+3*points)+3, blobs, "what the flat listing these replace walked")
	assert.Equal(t, (blobs+4)/5, pages)
}

// putPoint writes a point's manifest, data and index blobs (contents are not read here).
func putPoint(t *testing.T, s vault.Store, item, point string) {
	ctx := ctxT(t)
	data := vault.DataBlob(item, point, 1, 0)
	for _, b := range []string{vault.ManifestBlob(item, point), data, vault.IndexBlob(data)} {
		require.NoError(t, s.Put(ctx, b, []byte("{}"), vault.PutOptions{}))
	}
}

func TestConnectionString(t *testing.T) {
	s := newContainer(t, func(c *Config) {
		c.SharedKey, c.AccountURL = nil, ""
		c.ConnectionString = az.ConnectionString
	})
	ctx := ctxT(t)
	require.NoError(t, s.Put(ctx, "a", []byte("b"), vault.PutOptions{}))
	got, err := s.Get(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, "b", string(got))
}

func TestBadSharedKeyIsErrAuthAndRedacted(t *testing.T) {
	owner := newContainer(t, nil)
	// A well-formed key that is not the account's.
	badKey := strings.Repeat("QmFkS2V5", 11) + "QQ=="
	bad, err := New(context.Background(), Config{
		AccountURL: az.BlobEndpoint, Container: owner.c.URL()[strings.LastIndex(owner.c.URL(), "/")+1:],
		SharedKey: &SharedKey{Account: az.Account, Key: badKey}, MaxRetries: 1,
	})
	require.NoError(t, err)
	ctx := ctxT(t)
	err = bad.Put(ctx, "x", []byte("y"), vault.PutOptions{})
	require.ErrorIs(t, err, vault.ErrAuth)
	assert.NotContains(t, err.Error(), badKey)
	assert.NotContains(t, err.Error(), badKey[:20])
	_, err = bad.Get(ctx, "x")
	require.ErrorIs(t, err, vault.ErrAuth)
	assert.NotErrorIs(t, err, vault.ErrNotFound)
	var azErr *Error
	require.True(t, errors.As(err, &azErr))
	assert.Equal(t, 403, azErr.Status)
}

func TestInvalidSharedKeyRejectedWithoutEcho(t *testing.T) {
	_, err := New(context.Background(), Config{AccountURL: az.BlobEndpoint, Container: "c",
		SharedKey: &SharedKey{Account: "a", Key: "not-base64-secret!!"}})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "not-base64-secret")
}

func sasToken(t *testing.T, containerName string, perms sas.ContainerPermissions) string {
	cred, err := container.NewSharedKeyCredential(az.Account, az.Key)
	require.NoError(t, err)
	qp, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		ExpiryTime:    time.Now().Add(time.Hour).UTC(),
		Permissions:   perms.String(),
		ContainerName: containerName,
	}.SignWithSharedKey(cred)
	require.NoError(t, err)
	return qp.Encode()
}

func TestSAS(t *testing.T) {
	owner := newContainer(t, nil)
	name := owner.c.URL()[strings.LastIndex(owner.c.URL(), "/")+1:]
	tok := sasToken(t, name, sas.ContainerPermissions{Read: true, Write: true, Create: true, List: true, Delete: true})
	ctx := ctxT(t)

	s, err := New(ctx, Config{AccountURL: az.BlobEndpoint, Container: name, SASToken: "?" + tok, MaxRetries: 1})
	require.NoError(t, err)
	require.NoError(t, s.Put(ctx, "sas.json", []byte("{}"), vault.PutOptions{}))
	var names []string
	require.NoError(t, s.List(ctx, "", func(b vault.BlobInfo) error { names = append(names, b.Name); return nil }))
	assert.Equal(t, []string{"sas.json"}, names)

	// A forged signature: refused, typed, and neither the token nor its signature leak.
	forged := strings.Replace(tok, "sig=", "sig=AAAA", 1)
	bad, err := New(ctx, Config{AccountURL: az.BlobEndpoint, Container: name, SASToken: forged, MaxRetries: 1})
	require.NoError(t, err)
	_, err = bad.Get(ctx, "sas.json")
	require.ErrorIs(t, err, vault.ErrAuth)
	assert.NotContains(t, err.Error(), "sig=")
	assert.NotContains(t, err.Error(), sigOf(t, tok))

	// Read-only SAS: writes are refused as ErrAuth too (authorization, not authentication).
	ro, err := New(ctx, Config{AccountURL: az.BlobEndpoint, Container: name,
		SASToken: sasToken(t, name, sas.ContainerPermissions{Read: true, List: true}), MaxRetries: 1})
	require.NoError(t, err)
	err = ro.Put(ctx, "nope", []byte("x"), vault.PutOptions{})
	assert.ErrorIs(t, err, vault.ErrAuth)
}

func sigOf(t *testing.T, tok string) string {
	for _, kv := range strings.Split(tok, "&") {
		if v, ok := strings.CutPrefix(kv, "sig="); ok {
			return v
		}
	}
	t.Fatal("token has no sig")
	return ""
}

func TestUnreachableIsUnavailableAndRedacted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	tok := "sv=2024-08-04&sr=c&sp=r&se=2099-01-01&sig=SECRETSIGNATURE%3D"
	s, err := New(context.Background(), Config{AccountURL: "http://" + addr + "/acct", Container: "c",
		SASToken: tok, MaxRetries: 1, TryTimeout: 2 * time.Second})
	require.NoError(t, err)
	_, err = s.Get(ctxT(t), "blob")
	require.ErrorIs(t, err, vault.ErrUnavailable)
	assert.NotContains(t, err.Error(), "SECRETSIGNATURE")
	assert.NotContains(t, err.Error(), "sig=")
	assert.Contains(t, err.Error(), "get blob")
}

func TestCanceledContext(t *testing.T) {
	s := newContainer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Get(ctx, "x")
	assert.ErrorIs(t, err, context.Canceled)
}

func TestConfigStringRedacts(t *testing.T) {
	c := Config{AccountURL: "https://a.blob.core.windows.net", Container: "v",
		SharedKey: &SharedKey{Account: "a", Key: "TOPSECRETKEY=="}}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprint(c.SharedKey)} {
		assert.NotContains(t, s, "TOPSECRETKEY")
	}
	c = Config{SASToken: "sv=1&sig=TOPSECRETSIG"}
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", c, c, c), "TOPSECRETSIG")
}

func TestExactlyOneAuth(t *testing.T) {
	_, err := New(context.Background(), Config{AccountURL: az.BlobEndpoint, Container: "c"})
	assert.Error(t, err)
	_, err = New(context.Background(), Config{AccountURL: az.BlobEndpoint, Container: "c",
		SASToken: "a=b", ConnectionString: az.ConnectionString})
	assert.Error(t, err)
}
