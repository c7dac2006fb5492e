package payloadcodec

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
)

const testToken = "s3cret-token"

func testServer(t *testing.T, o ServerOptions) (*httptest.Server, *Codec) {
	t.Helper()
	c := testCodec(t, testKey(t, "codec-a", 1))
	h, err := NewServerHandler(c, o)
	require.NoError(t, err)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, c
}

func post(t *testing.T, url string, body string, headers map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

func encodedBody(t *testing.T, c *Codec) string {
	enc, err := c.Encode([]*commonpb.Payload{clearPayload(t)})
	require.NoError(t, err)
	b, err := json.Marshal(&commonpb.Payloads{Payloads: enc})
	require.NoError(t, err)
	return string(b)
}

func TestServerNeedsToken(t *testing.T) {
	_, err := NewServerHandler(testCodec(t, testKey(t, "codec-a", 1)), ServerOptions{})
	require.ErrorIs(t, err, ErrNoToken)
}

// Without the token, or with a wrong one, 401; with it, the payloads decode.
func TestServerAuth(t *testing.T) {
	srv, c := testServer(t, ServerOptions{Token: testToken})
	body := encodedBody(t, c)
	for name, h := range map[string]map[string]string{
		"none":         nil,
		"wrong":        {"Authorization": "Bearer nope"},
		"prefix":       {"Authorization": "Bearer " + testToken[:4]},
		"longer":       {"Authorization": "Bearer " + testToken + "x"},
		"no bearer":    {"Authorization": testToken},
		"other header": {"X-Token": testToken},
	} {
		resp := post(t, srv.URL+"/decode", body, h)
		assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, name)
		assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Bearer", name)
	}
	resp := post(t, srv.URL+"/decode", body, map[string]string{"Authorization": "Bearer " + testToken})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out commonpb.Payloads
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Len(t, out.Payloads, 1)
	assert.Contains(t, string(out.Payloads[0].Data), "Sales")
}

// Preflight: an allowed origin gets the CORS headers the Web UI needs, without a token; any
// other origin is refused. A real request from an allowed origin gets them too.
func TestServerCORS(t *testing.T) {
	srv, c := testServer(t, ServerOptions{Token: testToken, AllowedOrigins: []string{"http://localhost:8233"}})
	req, err := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	require.NoError(t, err)
	req.Header.Set("Origin", "http://localhost:8233")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace,authorization")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "http://localhost:8233", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Equal(t, "true", resp.Header.Get("Access-Control-Allow-Credentials"))
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"content-type", "x-namespace", "authorization"} {
		assert.Contains(t, allowed, h)
	}
	assert.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")

	req.Header.Set("Origin", "http://evil.example")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	_ = resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Access-Control-Allow-Origin"))

	ok := post(t, srv.URL+"/decode", encodedBody(t, c), map[string]string{"Origin": "http://localhost:8233", "Authorization": "Bearer " + testToken})
	assert.Equal(t, http.StatusOK, ok.StatusCode)
	assert.Equal(t, "http://localhost:8233", ok.Header.Get("Access-Control-Allow-Origin"))
}

// With namespaces configured, only those are served (X-Namespace).
func TestServerNamespaces(t *testing.T) {
	srv, c := testServer(t, ServerOptions{Token: testToken, Namespaces: []string{"prod"}})
	body := encodedBody(t, c)
	auth := "Bearer " + testToken
	assert.Equal(t, http.StatusForbidden, post(t, srv.URL+"/decode", body, map[string]string{"Authorization": auth, "X-Namespace": "dev"}).StatusCode)
	assert.Equal(t, http.StatusForbidden, post(t, srv.URL+"/decode", body, map[string]string{"Authorization": auth}).StatusCode)
	assert.Equal(t, http.StatusOK, post(t, srv.URL+"/decode", body, map[string]string{"Authorization": auth, "X-Namespace": "prod"}).StatusCode)
}

// Encode works too (the Web UI encodes signal and query inputs); a GET is refused.
func TestServerEncodeAndMethods(t *testing.T) {
	srv, c := testServer(t, ServerOptions{Token: testToken})
	b, err := json.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{clearPayload(t)}})
	require.NoError(t, err)
	resp := post(t, srv.URL+"/encode", string(b), map[string]string{"Authorization": "Bearer " + testToken})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var out commonpb.Payloads
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Len(t, out.Payloads, 1)
	assert.True(t, IsEncrypted(out.Payloads[0]))
	dec, err := c.Decode(out.Payloads)
	require.NoError(t, err)
	assert.Contains(t, string(dec[0].Data), "Sales")

	get, err := http.Get(srv.URL + "/decode")
	require.NoError(t, err)
	_ = get.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, get.StatusCode)
}
