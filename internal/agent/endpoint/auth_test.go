package endpoint

import (
	"context"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

// withParam returns sas with one parameter replaced.
func withParam(t *testing.T, sas, key, value string) string {
	t.Helper()
	v, err := url.ParseQuery(sas)
	require.NoError(t, err)
	v.Set(key, value)
	return v.Encode()
}

// firstMessageLine is the Azure error message without its RequestId/Time lines.
func firstMessageLine(t *testing.T, body []byte) string {
	t.Helper()
	var e struct{ Code, Message string }
	require.NoError(t, xml.Unmarshal(body, &e))
	line, _, _ := strings.Cut(e.Message, "\n")
	return e.Code + ": " + line
}

func TestTokenLooksLikeAzureContainerSAS(t *testing.T) {
	e := newEnv(t, nil)
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": newSink()})
	rs := e.openRestore(t, map[string]RestoreSource{"db.bak": newSource([]byte("x"))})
	for _, c := range []struct {
		sas, perms string
	}{{bs.SAS(), "rwdl"}, {rs.SAS(), "rl"}} {
		assert.False(t, strings.HasPrefix(c.sas, "?"))
		assert.Regexp(t, `^sv=\d{4}-\d\d-\d\d&sr=c&sp=[a-z]+&se=[^&]+&sig=[^&]+$`, c.sas)
		v, err := url.ParseQuery(c.sas)
		require.NoError(t, err)
		assert.Equal(t, c.perms, v.Get("sp"))
		se, err := time.Parse(time.RFC3339, v.Get("se"))
		require.NoError(t, err)
		assert.WithinDuration(t, time.Now().Add(time.Hour), se, 2*time.Second)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	e := newEnv(t, nil)
	a := e.openBackup(t, map[string]BackupSink{"db.bak": newSink()})
	b := e.openBackup(t, map[string]BackupSink{"db.bak": newSink()})
	u := a.URL("db.bak")

	// The reference: the right token works.
	r := e.do(t, http.MethodPut, u, a.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob"}, nil)
	require.Equal(t, http.StatusCreated, r.status)

	wrongSig := withParam(t, a.SAS(), "sig", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	widened := withParam(t, a.SAS(), "se", "2099-01-01T00:00:00Z") // a longer life is not signed
	unsigned := withParam(t, a.SAS(), "sig", "")
	e.remember(wrongSig)
	e.remember(widened)
	cases := map[string]struct{ url, sas string }{
		"wrong signature":       {u, wrongSig},
		"tampered expiry":       {u, widened},
		"no signature":          {u, unsigned},
		"no token":              {u, ""},
		"other session's token": {u, b.SAS()},
		"unknown session":       {e.srv.BaseURL() + "/op-0123456789abcdef0123456789abcdef/db.bak", a.SAS()},
	}
	var messages []string
	for name, c := range cases {
		r := e.do(t, http.MethodHead, c.url, c.sas, "", nil, nil)
		assert.Equal(t, http.StatusForbidden, r.status, name)
		assert.Equal(t, "AuthenticationFailed", r.code(), name)
		r = e.do(t, http.MethodGet, c.url, c.sas, "comp=blocklist", nil, nil)
		assert.Equal(t, http.StatusForbidden, r.status, name)
		messages = append(messages, firstMessageLine(t, r.body))
	}
	for _, m := range messages {
		assert.Equal(t, messages[0], m, "every failure looks the same to the client")
	}

	// SQL Server's client sees an authentication error.
	_, err := e.client.Create(context.Background(), blobURL(t, a, "db.bak"), wrongSig, urlio.WriteOptions{Format: true})
	assert.ErrorIs(t, err, urlio.ErrAuth)

	// Expiry follows the server clock.
	e.offset.Store(int64(2 * time.Hour))
	r = e.do(t, http.MethodHead, u, a.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusForbidden, r.status, "expired token")
	assert.Equal(t, "AuthenticationFailed", r.code())
	e.offset.Store(0)
	r = e.do(t, http.MethodHead, u, a.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusOK, r.status)

	// A closed session's token is dead.
	b.Close()
	r = e.do(t, http.MethodHead, b.URL("db.bak"), b.SAS(), "", nil, nil)
	assert.Equal(t, http.StatusForbidden, r.status)

	// The reasons are in the server log, the tokens are not (checked for every test at
	// cleanup).
	assert.True(t, hasLog(e.logs, "not authenticated", "signature does not match"))
	assert.True(t, hasLog(e.logs, "not authenticated", "expired"))
	assert.True(t, hasLog(e.logs, "not authenticated", "unknown or closed session"))
	assert.True(t, hasLog(e.logs, "not authenticated", "malformed"))
}

func TestReadOnlyTokenCannotWrite(t *testing.T) {
	e := newEnv(t, nil)
	rs := e.openRestore(t, map[string]RestoreSource{"db.bak": newSource(randomBytes(t, 1000))})
	u := rs.URL("db.bak")
	block := "comp=block&blockid=YWJjZA=="
	writes := []struct {
		method, query string
		h             map[string]string
	}{
		{http.MethodPut, "", map[string]string{"x-ms-blob-type": "BlockBlob"}},
		{http.MethodPut, block, nil},
		{http.MethodPut, "comp=blocklist", nil},
		{http.MethodDelete, "", nil},
	}
	for _, wr := range writes {
		r := e.do(t, wr.method, u, rs.SAS(), wr.query, wr.h, []byte{})
		assert.Equal(t, http.StatusForbidden, r.status, "%s %s", wr.method, wr.query)
		assert.Equal(t, "AuthorizationPermissionMismatch", r.code())
	}
	// Widening the permissions breaks the signature.
	widened := withParam(t, rs.SAS(), "sp", "rwdl")
	e.remember(widened)
	r := e.do(t, http.MethodPut, u, widened, block, nil, []byte("x"))
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Equal(t, "AuthenticationFailed", r.code())

	_, err := e.client.Create(context.Background(), blobURL(t, rs, "db.bak"), rs.SAS(), urlio.WriteOptions{Format: true})
	assert.ErrorIs(t, err, urlio.ErrAuth)
}

// On a SAS request Azure ignores x-ms-version and processes the request with the token's
// signed version ("Previous Azure Storage versions"): any header, or none, is accepted, and
// the answer names the token's version.
func TestVersionHeaderIsIgnoredOnSASRequests(t *testing.T) {
	e := newEnv(t, nil)
	bs := e.openBackup(t, map[string]BackupSink{"db.bak": newSink()})
	u := bs.URL("db.bak")
	r := e.do(t, http.MethodPut, u, bs.SAS(), "", map[string]string{"x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-08-06"}, nil)
	assert.Equal(t, http.StatusCreated, r.status, "newer versions are accepted")
	assert.Equal(t, sasVersion, r.header.Get("x-ms-version"))
	for _, v := range []string{"2013-08-15", "2009-09-19", "", "not-a-date"} {
		r = e.do(t, http.MethodHead, u, bs.SAS(), "", map[string]string{"x-ms-version": v}, nil)
		assert.Equal(t, http.StatusOK, r.status, "x-ms-version %q", v)
		assert.Equal(t, sasVersion, r.header.Get("x-ms-version"))
	}

	// An anonymous probe learns nothing but 403, whatever it sends.
	r = e.do(t, http.MethodGet, e.srv.BaseURL()+"/", "", "", map[string]string{"x-ms-version": ""}, nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	// Container operations are not part of the endpoint.
	r = e.do(t, http.MethodGet, bs.ContainerURL(), bs.SAS(), "restype=container&comp=list", nil, nil)
	assert.Equal(t, http.StatusBadRequest, r.status)
}
