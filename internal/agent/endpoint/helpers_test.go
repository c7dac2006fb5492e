package endpoint

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

const (
	testHost = "agent.sqlvault.test"
	kib      = 1 << 10
	mib      = 1 << 20
)

// env is an endpoint served over HTTPS under testHost on port 443 of a loopback address of
// its own, with a test CA, a urlio client (SQL Server's blob client) on a host that trusts
// the CA and resolves testHost to that address, and a plain HTTP client for requests urlio
// never sends.
type env struct {
	srv    *Server
	ca     *testenv.CA
	client *urlio.Client
	raw    *http.Client
	logs   *observer.ObservedLogs
	offset atomic.Int64 // added to the server's clock

	mu      sync.Mutex
	secrets []string // every token handed out, searched for in the logs at the end
}

func newEnv(t *testing.T, mod func(*Options)) *env {
	t.Helper()
	ca, err := testenv.NewCA()
	require.NoError(t, err)
	certFile, keyFile, err := ca.Issue(t.TempDir(), testHost)
	require.NoError(t, err)
	core, logs := observer.New(zapcore.DebugLevel)
	listen, err := testenv.Loopback443()
	require.NoError(t, err)
	o := Options{Host: testHost, Listen: listen, CertFile: certFile, KeyFile: keyFile, Logger: zap.New(core)}
	if mod != nil {
		mod(&o)
	}
	srv, err := New(o)
	require.NoError(t, err)
	e := &env{srv: srv, ca: ca, logs: logs}
	srv.now = func() time.Time { return time.Now().Add(time.Duration(e.offset.Load())) }
	require.NoError(t, srv.Start())

	// Registered first, so it runs last: after every request of the test.
	t.Cleanup(func() { e.assertNoSecretsLogged(t) })
	t.Cleanup(func() { _ = srv.Close() })

	e.client = urlio.NewClient(urlio.Config{
		RootCAs: ca.Pool(),
		Resolve: map[string]string{testHost: testenv.LoopbackIP(srv.Addr())},
		Timeout: 20 * time.Second,
	})
	addr := srv.Addr()
	e.raw = &http.Client{
		Timeout: 20 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: ca.Pool()},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		},
	}
	return e
}

func (e *env) remember(sas string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.secrets = append(e.secrets, sas)
	if v, err := url.ParseQuery(sas); err == nil {
		e.secrets = append(e.secrets, v.Get("sig"), url.QueryEscape(v.Get("sig")))
	}
}

func (e *env) openBackup(t *testing.T, sinks map[string]BackupSink) *BackupSession {
	t.Helper()
	bs, err := e.srv.OpenBackup(sinks, time.Hour)
	require.NoError(t, err)
	e.remember(bs.SAS())
	t.Cleanup(bs.Close)
	return bs
}

func (e *env) openRestore(t *testing.T, srcs map[string]RestoreSource) *RestoreSession {
	t.Helper()
	rs, err := e.srv.OpenRestore(srcs, time.Hour)
	require.NoError(t, err)
	e.remember(rs.SAS())
	t.Cleanup(rs.Close)
	return rs
}

// assertNoSecretsLogged searches every log entry, message and fields, for any token or
// signature handed out during the test.
func (e *env) assertNoSecretsLogged(t *testing.T) {
	e.mu.Lock()
	defer e.mu.Unlock()
	require.NotZero(t, e.logs.Len(), "the endpoint logs its requests at debug level")
	for _, entry := range e.logs.All() {
		line := entry.Message + " " + fmt.Sprint(entry.ContextMap())
		for _, s := range e.secrets {
			if s != "" {
				assert.NotContains(t, line, s, "a secret leaked into a log line")
			}
		}
		assert.NotContains(t, line, "sig=", "a query string leaked into a log line")
	}
}

func blobURL(t *testing.T, s interface{ URL(string) string }, name string) urlio.BlobURL {
	t.Helper()
	u, err := urlio.ParseURL(s.URL(name))
	require.NoError(t, err)
	return u
}

// response is a raw request's outcome.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) code() string { return r.header.Get("x-ms-error-code") }

// do sends one Blob REST request with the given SAS and operation query, as SQL Server
// would, and reads the whole response.
func (e *env) do(t *testing.T, method, blobURL, sas, query string, h map[string]string, body []byte) response {
	t.Helper()
	target := blobURL + "?" + sas
	if query != "" {
		target += "&" + query
	}
	req, err := http.NewRequest(method, target, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("x-ms-version", urlio.APIVersion)
	for k, v := range h {
		req.Header.Set(k, v)
	}
	resp, err := e.raw.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

// backup writes data like one BACKUP TO URL stream, in uneven writes.
func backup(ctx context.Context, c *urlio.Client, u urlio.BlobURL, sas string, o urlio.WriteOptions, data []byte) error {
	w, err := c.Create(ctx, u, sas, o)
	if err != nil {
		return err
	}
	for rest := data; len(rest) > 0; {
		k := min(len(rest), 10000)
		if _, err := w.Write(rest[:k]); err != nil {
			w.Abort()
			return err
		}
		rest = rest[k:]
	}
	return w.Close()
}

// fakeSink keeps blocks in memory, like the vault's stripe writer would put them.
type fakeSink struct {
	mu      sync.Mutex
	blocks  map[string][]byte
	puts    []string   // block ids in PutBlock order
	commits [][]string // every Commit's list

	failPut int   // fail the nth PutBlock (1-based); 0 never
	putErr  error // what it fails with
	stallAt int   // from the nth PutBlock on, wait for ctx to end; 0 never
	stalled chan struct{}
	// hold, when set, makes every PutBlock signal entered and wait for hold to close
	// before it stores the block.
	hold    chan struct{}
	entered chan struct{}
}

func newSink() *fakeSink {
	return &fakeSink{blocks: map[string][]byte{}, stalled: make(chan struct{}, 1)}
}

func (s *fakeSink) PutBlock(ctx context.Context, id string, data []byte) error {
	s.mu.Lock()
	n := len(s.puts) + 1
	s.puts = append(s.puts, id)
	s.mu.Unlock()
	if s.failPut == n {
		return s.putErr
	}
	if s.hold != nil {
		s.entered <- struct{}{}
		<-s.hold
	}
	if s.stallAt != 0 && n >= s.stallAt {
		select {
		case s.stalled <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return ctx.Err()
	}
	s.mu.Lock()
	s.blocks[id] = bytes.Clone(data) // data is only valid during the call
	s.mu.Unlock()
	return nil
}

func (s *fakeSink) Commit(_ context.Context, ids []string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if _, ok := s.blocks[id]; !ok {
			return errors.New("fakeSink: commit of a block never put: " + id)
		}
	}
	s.commits = append(s.commits, ids)
	return nil
}

// content is the last committed blob, as the vault would hold it.
func (s *fakeSink) content() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.commits) == 0 {
		return nil
	}
	var b []byte
	for _, id := range s.commits[len(s.commits)-1] {
		b = append(b, s.blocks[id]...)
	}
	return b
}

func (s *fakeSink) putIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.puts...)
}

// sizes is the size of every block the sink accepted, by id.
func (s *fakeSink) sizes() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.blocks))
	for id, b := range s.blocks {
		out[id] = len(b)
	}
	return out
}

func (s *fakeSink) commitLists() [][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]string(nil), s.commits...)
}

// memSource serves bytes from memory; it can fail or stall from its nth read on.
type memSource struct {
	data    []byte
	reads   atomic.Int64
	failAt  int64
	failErr error
	stallAt int64
	stalled chan struct{}
}

func newSource(data []byte) *memSource {
	return &memSource{data: data, stalled: make(chan struct{}, 1)}
}

func (m *memSource) Size() int64 { return int64(len(m.data)) }

func (m *memSource) ReadAt(ctx context.Context, p []byte, off int64) (int, error) {
	n := m.reads.Add(1)
	if m.failAt != 0 && n >= m.failAt {
		return 0, m.failErr
	}
	if m.stallAt != 0 && n >= m.stallAt {
		select {
		case m.stalled <- struct{}{}:
		default:
		}
		<-ctx.Done()
		return 0, ctx.Err()
	}
	if off >= int64(len(m.data)) {
		return 0, io.EOF
	}
	k := copy(p, m.data[off:])
	if k < len(p) {
		return k, io.EOF
	}
	return k, nil
}

// urlioErr extracts the client's error details.
func urlioErr(t *testing.T, err error) *urlio.Error {
	t.Helper()
	var ue *urlio.Error
	require.True(t, errors.As(err, &ue), "want a *urlio.Error, got %v", err)
	return ue
}

// within fails the test if f does not return within d: the "no hang" check.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(d):
		require.FailNow(t, "timed out", "still running after %v", d)
	}
}

// hasLog reports whether some entry's message contains msg and its fields contain field.
func hasLog(logs *observer.ObservedLogs, msg, field string) bool {
	for _, e := range logs.All() {
		if strings.Contains(e.Message, msg) && strings.Contains(fmt.Sprint(e.ContextMap()), field) {
			return true
		}
	}
	return false
}
