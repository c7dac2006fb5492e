// Package blobfake is a small in-process Azure Blob Storage server for tests: the subset of
// the Blob REST API that SQL Server's BACKUP TO URL / RESTORE FROM URL and the agent use
// (Put Blob, Put Block, Put Block List, Get Block List, Get Blob with ranges, Get Blob
// Properties, Delete Blob, Lease Blob), over path-style URLs /<container>/<blob> or
// /<account>/<container>/<blob>, with SAS checks per container, content in memory, a
// request log for assertions and fault hooks.
//
// It follows Azure's documented status codes and x-ms-error-code values; it is not a
// replacement for Azurite, which tests use to prove real REST compatibility.
package blobfake

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request kinds, as counted by Count and recorded in Request.Kind.
const (
	KindPutBlob       = "PutBlob"
	KindPutBlock      = "PutBlock"
	KindPutBlockList  = "PutBlockList"
	KindGetBlockList  = "GetBlockList"
	KindGetBlob       = "GetBlob"
	KindGetProperties = "GetBlobProperties"
	KindDeleteBlob    = "DeleteBlob"
	KindLeaseAcquire  = "Lease:acquire"
	KindLeaseRenew    = "Lease:renew"
	KindLeaseChange   = "Lease:change"
	KindLeaseRelease  = "Lease:release"
	KindLeaseBreak    = "Lease:break"
	KindUnsupported   = "Unsupported"
)

// Azure's limits on blocks.
const (
	maxCommittedBlocks   = 50000
	maxUncommittedBlocks = 100000
	maxBlockIDBytes      = 64
)

// Server is the fake blob service. It is an http.Handler; use NewTLSServer to serve it
// over HTTPS. All methods are safe for concurrent use.
type Server struct {
	mu          sync.Mutex
	now         func() time.Time
	containers  map[string]*container
	requests    []Request
	faults      []*fault
	delay       time.Duration
	unreachable bool
	seq         int
}

type container struct {
	sigs   map[string]bool // accepted sig values
	tokens []url.Values    // accepted whole SAS tokens
	blobs  map[string]*blob
}

type blob struct {
	exists      bool // committed; a blob with only uncommitted blocks is invisible
	content     []byte
	committed   []block
	uncommitted []block
	lease       lease
	modified    time.Time
	etag        int
}

type block struct {
	id   string
	data []byte
}

type fault struct {
	kind   string
	n      int // the nth matching request from now fails
	status int
}

// Request is one request the server received, for assertions.
type Request struct {
	Kind      string
	Method    string
	Container string
	Blob      string
	Query     url.Values
	Header    http.Header
	Status    int
	Body      []byte // a Put Block List's body, as received (other bodies are not kept)
}

// BlobInfo is a committed blob as tests see it.
type BlobInfo struct {
	Container, Name string
	Size            int64
	Content         []byte
	BlockIDs        []string // committed block ids, in order (empty for a Put Blob body)
	LeaseState      string
	LeaseID         string
}

// BlockInfo is a block in a block list.
type BlockInfo struct {
	ID   string
	Size int
}

// New returns an empty server: add containers with AddContainer.
func New() *Server {
	return &Server{now: time.Now, containers: map[string]*container{}}
}

// SetClock replaces the clock used for lease expiry and SAS expiry.
func (s *Server) SetClock(now func() time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.now = now
}

// AddContainer creates a container (if needed) and accepts the given SAS tokens for it
// (whole query strings, no leading '?'). A request is authorized when its query, less the
// operation parameters comp, blockid, blocklisttype and restype, equals an accepted token.
func (s *Server) AddContainer(name string, sasTokens ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.container(name)
	for _, t := range sasTokens {
		v, err := url.ParseQuery(t)
		if err != nil {
			panic(fmt.Sprintf("blobfake: bad SAS token for %s: %v", name, err))
		}
		c.tokens = append(c.tokens, v)
	}
}

// AllowSig makes the container accept any request whose sig parameter equals sig, whatever
// its other SAS parameters.
func (s *Server) AllowSig(containerName, sig string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.container(containerName).sigs[sig] = true
}

func (s *Server) container(name string) *container {
	c := s.containers[name]
	if c == nil {
		c = &container{sigs: map[string]bool{}, blobs: map[string]*blob{}}
		s.containers[name] = c
	}
	return c
}

// FailNth makes the nth request of kind (counting from this call, 1-based) fail with the
// given status (e.g. 500 or 503) before it has any effect.
func (s *Server) FailNth(kind string, n int, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &fault{kind: kind, n: n, status: status})
}

// SetDelay delays every following request by d (0 turns it off).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// SetUnreachable makes the server drop every request's connection without a response, as
// a network failure would look to the client.
func (s *Server) SetUnreachable(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.unreachable = on
}

// Requests returns a copy of the request log.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Count returns how many requests of kind were received.
func (s *Server) Count(kind string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, r := range s.requests {
		if r.Kind == kind {
			n++
		}
	}
	return n
}

// Blob returns a committed blob.
func (s *Server) Blob(containerName, name string) (BlobInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[containerName]
	if c == nil || c.blobs[name] == nil || !c.blobs[name].exists {
		return BlobInfo{}, false
	}
	return s.info(containerName, name, c.blobs[name]), true
}

// Blobs returns every committed blob of every container.
func (s *Server) Blobs() []BlobInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []BlobInfo
	for cn, c := range s.containers {
		for n, b := range c.blobs {
			if b.exists {
				out = append(out, s.info(cn, n, b))
			}
		}
	}
	return out
}

func (s *Server) info(containerName, name string, b *blob) BlobInfo {
	bi := BlobInfo{
		Container:  containerName,
		Name:       name,
		Size:       int64(len(b.content)),
		Content:    append([]byte(nil), b.content...),
		LeaseState: b.lease.stateAt(s.now()),
		LeaseID:    b.lease.id,
	}
	for _, bl := range b.committed {
		bi.BlockIDs = append(bi.BlockIDs, bl.id)
	}
	return bi
}

// UncommittedBlocks returns the blob's uncommitted blocks (those staged by Put Block and
// not yet in a Put Block List).
func (s *Server) UncommittedBlocks(containerName, name string) []BlockInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.containers[containerName]
	if c == nil || c.blobs[name] == nil {
		return nil
	}
	return blockInfos(c.blobs[name].uncommitted)
}

func blockInfos(bs []block) []BlockInfo {
	out := make([]BlockInfo, 0, len(bs))
	for _, b := range bs {
		out = append(out, BlockInfo{ID: b.id, Size: len(b.data)})
	}
	return out
}

// NewTLSServer serves h over HTTPS (HTTP/1.1, as SQL Server's client speaks) on ln with the
// given PEM certificate and key, e.g. from testenv.CA.Issue. SQL Server, and so the
// simulator's blob client, accepts no port in a backup URL: ln is normally port 443 of a
// loopback address of the test's own (testenv.ListenLoopback443), which the simulator's
// hosts map (sqlsim.Config.Resolve) names. The server owns ln from here on.
func NewTLSServer(ln net.Listener, h http.Handler, certFile, keyFile string) (*httptest.Server, error) {
	if ln == nil {
		return nil, errors.New("blobfake: NewTLSServer needs a listener")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("blobfake: %w", err)
	}
	ts := httptest.NewUnstartedServer(h)
	_ = ts.Listener.Close()
	ts.Listener = ln
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	// Handshake failures are expected in tests of untrusted certificates: keep them quiet.
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.StartTLS()
	return ts, nil
}

// statusWriter remembers the status for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	kind := requestKind(r.Method, q, r.Header)
	cname, bname, c := s.route(r.URL.Path)

	s.mu.Lock()
	delay, unreachable := s.delay, s.unreachable
	idx := len(s.requests)
	s.requests = append(s.requests, Request{Kind: kind, Method: r.Method, Container: cname, Blob: bname,
		Query: maps.Clone(q), Header: r.Header.Clone()})
	injected := s.takeFault(kind)
	s.seq++
	reqID := s.seq
	s.mu.Unlock()

	w := &statusWriter{ResponseWriter: rw}
	defer func() {
		s.mu.Lock()
		s.requests[idx].Status = w.status
		s.mu.Unlock()
	}()

	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if unreachable {
		panic(http.ErrAbortHandler) // closes the connection without a response
	}
	w.Header().Set("x-ms-request-id", strconv.Itoa(reqID))
	// A SAS request is processed with the token's version, x-ms-version is ignored (Azure,
	// "Previous Azure Storage versions"); the answer names the version used.
	if sv := q.Get("sv"); sv != "" {
		w.Header().Set("x-ms-version", sv)
	} else {
		w.Header().Set("x-ms-version", r.Header.Get("x-ms-version"))
	}
	w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if injected != 0 {
		code := "InternalError"
		if injected == http.StatusServiceUnavailable {
			code = "ServerBusy"
		}
		newErr(injected, code, "Injected fault.").write(w, r)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // client went away
	}
	if kind == KindPutBlockList {
		s.mu.Lock()
		s.requests[idx].Body = body
		s.mu.Unlock()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.handle(w, r, kind, c, bname, q, body); e != nil {
		e.write(w, r)
	}
}

// takeFault counts down the faults for kind and returns the status of one that fires now.
func (s *Server) takeFault(kind string) int {
	for i, f := range s.faults {
		if f.kind != kind {
			continue
		}
		f.n--
		if f.n == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
			return f.status
		}
	}
	return 0
}

// route splits the path into container and blob name. The first segment is the container
// if it is one; otherwise it is taken as the account name of a path-style emulator URL.
func (s *Server) route(path string) (cname, bname string, c *container) {
	segs := strings.SplitN(strings.TrimPrefix(path, "/"), "/", 3)
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.containers[segs[0]]; c != nil || len(segs) < 3 {
		rest := ""
		if len(segs) > 1 {
			rest = strings.Join(segs[1:], "/")
		}
		return segs[0], rest, c
	}
	return segs[1], segs[2], s.containers[segs[1]]
}

func requestKind(method string, q url.Values, h http.Header) string {
	comp := q.Get("comp")
	switch {
	case method == http.MethodPut && comp == "":
		return KindPutBlob
	case method == http.MethodPut && comp == "block":
		return KindPutBlock
	case method == http.MethodPut && comp == "blocklist":
		return KindPutBlockList
	case method == http.MethodPut && comp == "lease":
		// One kind per action whatever its letter case (SQL Server capitalises it).
		return "Lease:" + strings.ToLower(strings.TrimSpace(h.Get("x-ms-lease-action")))
	case method == http.MethodGet && comp == "blocklist":
		return KindGetBlockList
	case method == http.MethodGet && comp == "":
		return KindGetBlob
	case method == http.MethodHead && comp == "":
		return KindGetProperties
	case method == http.MethodDelete && comp == "":
		return KindDeleteBlob
	}
	return KindUnsupported
}

// authorized checks the request's SAS against the container's accepted tokens and the
// token's expiry (se) against the server clock.
func (s *Server) authorized(c *container, q url.Values) bool {
	if se := q.Get("se"); se != "" {
		if t, err := time.Parse(time.RFC3339, se); err != nil || !s.now().Before(t) {
			return false
		}
	}
	if sig := q.Get("sig"); sig != "" && c.sigs[sig] {
		return true
	}
	rest := maps.Clone(q)
	for _, k := range []string{"comp", "blockid", "blocklisttype", "restype"} {
		delete(rest, k)
	}
	for _, t := range c.tokens {
		if reflect.DeepEqual(map[string][]string(rest), map[string][]string(t)) {
			return true
		}
	}
	return false
}

func newLeaseID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
