// Package endpoint is the agent's blob endpoint: an HTTPS server speaking the subset of the
// Azure Blob REST API that SQL Server's BACKUP TO URL and RESTORE FROM URL client uses, so
// that SQL Server streams a backup straight into the vault pipeline (and a restore straight
// out of it) with nothing staged on disk.
//
// Each backup or restore operation gets a session: a virtual container op-<id> with its
// own container-style SAS token, which the agent gives SQL Server as the SECRET of a
// credential named after the container URL. Every request is checked against that token
// and routed to the session's per-blob sink (backup) or source (restore). Memory is bounded
// by the blocks in flight: a Put Block body is handed to the sink and forgotten, a ranged
// GET is streamed from the source in chunks.
//
// The SAS token is a secret: it never appears in a log line or an error. Logs carry the
// request path only, never the query string.
package endpoint

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/sqlvault/sqlvault/internal/dnsname"
)

// DefaultMaxBlockSize is SQL Server's largest MAXTRANSFERSIZE for URL backups: no Put
// Block from SQL Server is bigger.
const DefaultMaxBlockSize = 4 << 20

// minVersion is the version named in answers to requests that fail authentication (an
// authenticated request is answered with its token's sv): the one SQL Server's block-blob
// client speaks.
const minVersion = "2014-02-14"

// DefaultListen is where the endpoint listens unless told otherwise: port 443, the only
// port SQL Server accepts in a backup URL, on a loopback address of its own, so that IIS,
// SSRS or anything else owning 0.0.0.0:443 on the VM is not disturbed, and nothing off the
// VM can reach it. The VM's hosts file maps Options.Host to this address.
const DefaultListen = "127.0.0.5:443"

// Options configure a Server.
type Options struct {
	// Host is the DNS name SQL Server uses in its URLs, https://<Host>/…, never with a
	// port (SQL Server accepts none); the certificate must cover it.
	Host string
	// Listen is the address the endpoint binds; default DefaultListen. SQL Server connects
	// to Host on port 443, so a port other than 443 works only behind a port forward.
	Listen       string
	CertFile     string // PEM server certificate (chain) for Host
	KeyFile      string // PEM private key
	Logger       *zap.Logger
	MaxBlockSize int // larger Put Block bodies get 413; default DefaultMaxBlockSize
}

// CheckHost refuses a host name SQL Server would refuse in a backup URL: anything but a
// DNS name (an IP address, a name with a port or a scheme). Sources: internal/sqlsim/FIDELITY.md,
// "Backup URL and endpoint address".
func CheckHost(host string) error {
	switch {
	case host == "":
		return errors.New("the endpoint host name is empty")
	case strings.Contains(host, "://"):
		return fmt.Errorf("%q is a URL: give the host name alone; the URL is always https://<host>/… (SQL Server refuses http)", host)
	case net.ParseIP(strings.Trim(host, "[]")) != nil:
		return fmt.Errorf("%q is an IP address: SQL Server refuses a backup URL whose host is not a DNS name; use a name and map it to the endpoint's address in the SQL Server host's hosts file", host)
	case strings.Contains(host, ":"):
		return fmt.Errorf("%q has a port: SQL Server refuses a backup URL with a port (only the default https port, 443, works); give the name alone and bind port 443 with the listen address", host)
	case !dnsname.Valid(host):
		return fmt.Errorf("%q is not a DNS name (letters, digits and hyphens in dot-separated labels)", host)
	}
	return nil
}

// Server is the blob endpoint. Its methods are safe for concurrent use.
type Server struct {
	opts Options
	log  *zap.Logger
	cert tls.Certificate
	key  []byte           // HMAC key for SAS signatures; random per server, never leaves memory
	now  func() time.Time // token and lease clock; tests replace it

	mu       sync.Mutex
	sessions map[string]*session // by container name
	http     *http.Server
	ln       net.Listener
	baseURL  string
	closed   bool
}

// New checks the options and loads the certificate; Start begins serving.
func New(o Options) (*Server, error) {
	if err := CheckHost(o.Host); err != nil {
		return nil, fmt.Errorf("endpoint: Host: %w", err)
	}
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	if o.MaxBlockSize == 0 {
		o.MaxBlockSize = DefaultMaxBlockSize
	}
	if o.MaxBlockSize < 0 {
		return nil, fmt.Errorf("endpoint: MaxBlockSize %d is negative", o.MaxBlockSize)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if err := checkKeyFileMode(o.KeyFile); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("endpoint: load certificate %s: %w", o.CertFile, err)
	}
	// Catch a certificate for the wrong name now rather than as SQL Server's opaque
	// "cannot open backup device" at the first backup.
	if err := cert.Leaf.VerifyHostname(o.Host); err != nil {
		return nil, fmt.Errorf("endpoint: certificate %s does not cover host %s: %w", o.CertFile, o.Host, err)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("endpoint: signing key: %w", err)
	}
	return &Server{
		opts:     o,
		log:      o.Logger,
		cert:     cert,
		key:      key,
		now:      time.Now,
		sessions: map[string]*session{},
	}, nil
}

// Start listens on Options.Listen and serves HTTPS in the background.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("endpoint: server closed")
	}
	if s.http != nil {
		return errors.New("endpoint: already started")
	}
	ln, err := net.Listen("tcp", s.opts.Listen)
	if err != nil {
		return listenError(s.opts.Listen, s.opts.Host, err)
	}
	s.ln = ln
	// No port, ever: SQL Server refuses a backup URL that names one.
	s.baseURL = "https://" + s.opts.Host
	if _, port, _ := net.SplitHostPort(ln.Addr().String()); port != "443" {
		s.log.Warn("blob endpoint is not on port 443: SQL Server connects to port 443 of its host, so this works only if something forwards it here",
			zap.String("host", s.opts.Host), zap.String("addr", ln.Addr().String()))
	}
	s.http = &http.Server{
		Handler: s,
		// No ReadTimeout: it would also cut long restore GETs. Bodies get a deadline of
		// their own in readBody.
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          zap.NewStdLog(s.log.Named("http").WithOptions(zap.IncreaseLevel(zapcore.InfoLevel))),
	}
	// HTTP/1.1 only, as SQL Server speaks it (a plain tls listener gets no h2 upgrade).
	tlsLn := tls.NewListener(ln, &tls.Config{
		Certificates: []tls.Certificate{s.cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	})
	go func(srv *http.Server) {
		if err := srv.Serve(tlsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("blob endpoint stopped", zap.Error(err))
		}
	}(s.http)
	s.log.Info("blob endpoint listening", zap.String("url", s.baseURL), zap.String("addr", ln.Addr().String()))
	return nil
}

// Sessions counts the sessions open now by kind, for the agent's metrics.
func (s *Server) Sessions() (backup, restore int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, sess := range s.sessions {
		if sess.kind == "backup" {
			backup++
		} else {
			restore++
		}
	}
	return backup, restore
}

// Close closes every session (cancelling their requests) and stops the server.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	sessions := make([]*session, 0, len(s.sessions))
	for _, sess := range s.sessions {
		sessions = append(sessions, sess)
	}
	srv := s.http
	s.mu.Unlock()
	for _, sess := range sessions {
		sess.Close()
	}
	if srv == nil {
		return nil
	}
	return srv.Close()
}

// Addr is the address the server listens on, once started.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// BaseURL is https://<Host>, once started: the URL has no port.
func (s *Server) BaseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.baseURL
}

// Progress is what a session has moved so far, for activity heartbeats.
type Progress struct {
	Bytes        int64     // backup: block bytes the sinks accepted; restore: bytes sent
	Blocks       int64     // backup: Put Blocks the sinks accepted; restore: GETs answered in full
	Committed    int       // backup: blobs whose block list is committed
	LastActivity time.Time // last time data moved; zero if none yet
}

// blobHandler serves the blob operations of one kind of session.
type blobHandler interface {
	serveBlob(ctx context.Context, w http.ResponseWriter, r *http.Request, op, name string) *apiError
}

// session is what backup and restore sessions share: identity, token, lifetime, counters.
type session struct {
	srv          *Server
	kind         string // "backup" or "restore", for logs
	id           string // the container name, op-<hex>
	containerURL string
	sas          string
	handler      blobHandler

	ctx    context.Context // cancelled by Close: in-flight sink/source calls stop
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	calls   sync.WaitGroup // sink/source calls in progress
	lastErr error

	bytes  atomic.Int64
	blocks atomic.Int64
	last   atomic.Int64 // unix nanoseconds of the last data movement
}

// ID is the session id: the container name op-<id>.
func (s *session) ID() string { return s.id }

// ContainerURL is https://<host>/op-<id>: the name of the credential to create.
func (s *session) ContainerURL() string { return s.containerURL }

// SAS is the token for the credential's SECRET, without a leading '?'. It is a secret:
// never log it.
func (s *session) SAS() string { return s.sas }

// URL is the URL of one of the session's blobs, for BACKUP TO URL / RESTORE FROM URL.
func (s *session) URL(blobName string) string { return s.containerURL + "/" + url.PathEscape(blobName) }

// String describes the session without its token, so printing one is safe.
func (s *session) String() string { return s.kind + " session " + s.id }

// Err is the last error a sink or source returned (a request's own cancellation never
// replaces an earlier one), nil if none: SQL Server only sees a 500, the agent reports this
// cause.
func (s *session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastErr
}

// Close forgets the session: its token stops working (later requests get 403) and
// in-flight requests are cancelled. When Close returns, no sink or source method is
// running for this session any more. Do not call it from inside a sink or source method.
func (s *session) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()

	s.srv.mu.Lock()
	delete(s.srv.sessions, s.id)
	s.srv.mu.Unlock()
	s.cancel()
	s.calls.Wait()
	s.srv.log.Info("blob endpoint session closed", zap.String("session", s.id), zap.String("kind", s.kind))
}

// errSessionClosed is what a sink or source call gets after Close.
var errSessionClosed = errors.New("endpoint: session closed")

// call runs f, a sink or source call, unless the session is closed, so that Close can wait
// for the calls in progress. A failure is kept for Err unless it is the session's own
// cancellation.
func (s *session) call(f func() error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errSessionClosed
	}
	s.calls.Add(1)
	s.mu.Unlock()
	defer s.calls.Done()
	err := f()
	if err != nil && s.ctx.Err() == nil {
		s.mu.Lock()
		// A call cut short by its request's context (SQL Server dropped the connection,
		// typically giving up after the failure recorded here) is no cause of its own: it
		// never hides a source's or sink's real error.
		if s.lastErr == nil || !isContextErr(err) {
			s.lastErr = err
		}
		s.mu.Unlock()
	}
	return err
}

func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// sinkFailed turns a sink or source failure into the response: 403 when the session was
// closed under the request (its token is dead), 500 otherwise, which makes SQL Server
// fail (after its retries) while Err keeps the real cause for the agent.
func (s *session) sinkFailed(call, name string, err error) *apiError {
	if s.cancelled() || errors.Is(err, errSessionClosed) {
		return errAuth
	}
	s.srv.log.Error("blob endpoint sink failed", zap.String("session", s.id), zap.String("blob", name),
		zap.String("call", call), zap.Error(err))
	return errInternal
}

// cancelled reports whether the session was closed, which turns a failed call into 403.
func (s *session) cancelled() bool { return s.ctx.Err() != nil }

func (s *session) moved(bytes int64, blocks int64) {
	s.bytes.Add(bytes)
	s.blocks.Add(blocks)
	s.last.Store(time.Now().UnixNano())
}

func (s *session) progress() Progress {
	p := Progress{Bytes: s.bytes.Load(), Blocks: s.blocks.Load()}
	if t := s.last.Load(); t != 0 {
		p.LastActivity = time.Unix(0, t)
	}
	return p
}

// openSession creates and registers a session; fill sets its handler before requests can
// reach it.
func (s *Server) openSession(kind, perms string, names []string, ttl time.Duration, fill func(*session) blobHandler) (*session, error) {
	if len(names) == 0 {
		return nil, errors.New("endpoint: a session needs at least one blob")
	}
	if ttl <= 0 {
		return nil, fmt.Errorf("endpoint: session ttl %v must be positive", ttl)
	}
	for _, n := range names {
		if err := validBlobName(n); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.http == nil {
		return nil, errors.New("endpoint: server not running")
	}
	var raw [16]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("endpoint: session id: %w", err)
	}
	id := "op-" + hex.EncodeToString(raw[:])
	ctx, cancel := context.WithCancel(context.Background())
	sess := &session{
		srv:          s,
		kind:         kind,
		id:           id,
		containerURL: s.baseURL + "/" + id,
		sas:          mintSAS(s.key, id, perms, s.now().Add(ttl)),
		ctx:          ctx,
		cancel:       cancel,
	}
	sess.handler = fill(sess)
	s.sessions[id] = sess
	s.log.Info("blob endpoint session opened", zap.String("session", id), zap.String("kind", kind),
		zap.Int("blobs", len(names)), zap.Duration("ttl", ttl))
	return sess, nil
}

// validBlobName refuses names SQL Server could not use: SQL Server takes everything up to
// the last '/' of the URL as the container (the credential name), so a '/' in a blob name
// would make it look for the wrong credential.
func validBlobName(n string) error {
	if n == "" || n == "." || n == ".." || len(n) > 1024 || strings.ContainsAny(n, "/\\") {
		return fmt.Errorf("endpoint: invalid blob name %q", n)
	}
	for _, r := range n {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("endpoint: invalid blob name %q", n)
		}
	}
	return nil
}

// Operation names, for routing, permissions and logs.
const (
	opPutBlob      = "PutBlob"
	opPutBlock     = "PutBlock"
	opPutBlockList = "PutBlockList"
	opGetBlockList = "GetBlockList"
	opGetBlob      = "GetBlob"
	opGetProps     = "GetBlobProperties"
	opDelete       = "DeleteBlob"
	opLease        = "LeaseBlob"
	opUnsupported  = "Unsupported"
)

func classify(method string, q url.Values) string {
	comp := q.Get("comp")
	switch {
	case method == http.MethodPut && comp == "":
		return opPutBlob
	case method == http.MethodPut && comp == "block":
		return opPutBlock
	case method == http.MethodPut && comp == "blocklist":
		return opPutBlockList
	case method == http.MethodPut && comp == "lease":
		return opLease
	case method == http.MethodGet && comp == "blocklist":
		return opGetBlockList
	case method == http.MethodGet && comp == "":
		return opGetBlob
	case method == http.MethodHead && comp == "":
		return opGetProps
	case method == http.MethodDelete && comp == "":
		return opDelete
	}
	return opUnsupported
}

// requiredPermission is the SAS permission an operation needs. Leases need only read: SQL
// Server takes its restore lease with a read-only credential, and a lease here guards
// nothing but the session's own state.
func requiredPermission(op string) byte {
	switch op {
	case opPutBlob, opPutBlock, opPutBlockList:
		return 'w'
	case opDelete:
		return 'd'
	}
	return 'r'
}

// errAborted tells ServeHTTP to cut the connection: the status line is already out, and
// only a truncated body tells the client that the rest will not come.
var errAborted = newErr(0, "Aborted", "response aborted")

// statusRecorder remembers the status and body size for the request log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	size   int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.size += int64(n)
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ServeHTTP answers one Blob REST request. Only r.URL.Path is ever logged: the query holds
// the SAS token.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	start := time.Now()
	requestID := newGUID()
	w := &statusRecorder{ResponseWriter: rw}
	h := w.Header()
	h.Set("x-ms-request-id", requestID)
	h.Set("x-ms-version", minVersion)
	if v := r.Header.Get("x-ms-client-request-id"); v != "" && len(v) <= 1024 {
		h.Set("x-ms-client-request-id", v)
	}
	q := r.URL.Query()
	op := classify(r.Method, q)
	container, blob, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")

	e := s.serve(w, r, op, container, blob, q)
	if e != nil && e != errAborted {
		e.write(w, r, requestID)
	}
	fields := []zap.Field{
		zap.String("request_id", requestID), zap.String("op", op), zap.String("method", r.Method),
		zap.String("session", container), zap.String("blob", blob), zap.Int("status", w.status),
		zap.Int64("bytes_out", w.size), zap.Duration("duration", time.Since(start)),
	}
	switch {
	case e == errAborted:
		s.log.Warn("blob request aborted mid-response", fields...)
		panic(http.ErrAbortHandler)
	case e != nil && e.status >= 500:
		s.log.Warn("blob request failed", append(fields, zap.String("code", e.code))...)
	case e != nil:
		s.log.Debug("blob request refused", append(fields, zap.String("code", e.code))...)
	default:
		s.log.Debug("blob request", fields...)
	}
}

// serve authenticates the request and hands it to its session.
func (s *Server) serve(w http.ResponseWriter, r *http.Request, op, container, blob string, q url.Values) *apiError {
	// The signature is checked before the session is looked up, so an unknown session and
	// a bad token look (and time) the same.
	tok, err := verifySAS(s.key, container, q, s.now())
	var sess *session
	if err == nil {
		s.mu.Lock()
		sess = s.sessions[container]
		s.mu.Unlock()
		if sess == nil {
			err = errors.New("unknown or closed session")
		}
	}
	if err != nil {
		s.log.Warn("blob request not authenticated", zap.String("reason", err.Error()),
			zap.String("session", container), zap.String("op", op), zap.String("remote", r.RemoteAddr))
		return errAuth
	}
	if !tok.allows(requiredPermission(op)) {
		s.log.Warn("blob request not authorized", zap.String("session", container), zap.String("op", op),
			zap.String("permissions", tok.perms))
		return errPermission
	}
	// Every request here carries a SAS, and on a SAS request Azure ignores x-ms-version: the
	// token's signed version (sv) alone decides how it is processed ("Previous Azure Storage
	// versions", Microsoft). So any x-ms-version, or none, is accepted, and the answer names sv.
	w.Header().Set("x-ms-version", tok.version)
	if blob == "" || op == opUnsupported {
		return errUnsupported // container and account operations are not part of the endpoint
	}

	// The request ends when either the client goes away or the session is closed.
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(sess.ctx, cancel)
	defer stop()
	return sess.handler.serveBlob(ctx, w, r, op, blob)
}

// drainLimit is how much of a refused body is read anyway, so that the client reliably
// sees the 413 instead of a connection reset while it is still sending.
const drainLimit = 8 << 20

// bodyTimeout bounds the time to receive one request body (up to a 4 MiB block).
const bodyTimeout = 2 * time.Minute

// readBody reads a request body of at most limit bytes.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *apiError) {
	return readBodyInto(w, r, limit, nil)
}

// blockBufs recycles Put Block bodies: a sink may use a body only during its call, so the
// buffer is free again when the call returns. At 4 MiB per block, a fresh buffer per request
// is most of the agent's garbage and, through the collector's headroom, of its peak memory.
var blockBufs = sync.Pool{New: func() any { return new([]byte) }}

// readBodyInto is readBody into buf when the body has a known length that fits it.
func readBodyInto(w http.ResponseWriter, r *http.Request, limit int64, buf []byte) ([]byte, *apiError) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(bodyTimeout))
	// Clear the deadline again: the server's background read after the body would
	// otherwise time out during a long sink call and cancel the request.
	defer func() { _ = rc.SetReadDeadline(time.Time{}) }()

	if r.ContentLength > limit {
		_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
		return nil, errBodyTooLarge
	}
	var body []byte
	var err error
	if r.ContentLength >= 0 {
		if int64(cap(buf)) >= r.ContentLength {
			body = buf[:r.ContentLength]
		} else {
			body = make([]byte, r.ContentLength)
		}
		_, err = io.ReadFull(r.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(r.Body, limit+1))
		if err == nil && int64(len(body)) > limit {
			_, _ = io.CopyN(io.Discard, r.Body, drainLimit)
			return nil, errBodyTooLarge
		}
	}
	if err != nil {
		return nil, newErr(400, "InvalidInput", "The request body could not be read.")
	}
	return body, nil
}

// setBlobHeaders sets what Get Blob Properties and Get Blob report about a blob.
func setBlobHeaders(h http.Header, etag string, modified time.Time, l *lease, now time.Time) {
	h.Set("x-ms-blob-type", "BlockBlob")
	h.Set("ETag", etag)
	h.Set("Last-Modified", modified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	l.setHeaders(h, now)
}

// etag formats a blob version the way Azure's ETags look.
func etag(version int) string { return fmt.Sprintf(`"0x8D%012X"`, version) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// newGUID returns a random RFC 4122 version 4 UUID string, the form of request and lease ids.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
