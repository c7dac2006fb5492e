// Package urlio is the simulator's version of SQL Server's own blob client for BACKUP TO
// URL and RESTORE FROM URL with a SAS credential (block blobs, SQL Server 2016+): the same
// URL rules, the same sequence of Blob REST calls (Put Blob of 0 bytes, lease, Put Block per
// transfer buffer, Put Block List, release; HEAD, restore lease, ranged GETs) and typed
// errors the engine maps to SQL Server error numbers.
//
// The SAS token is a secret: it only ever travels in request query strings and never
// appears in an error or a log line.
package urlio

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"
)

// APIVersion is the x-ms-version sent with every request: the 2014-02-14 era that SQL
// Server's block-blob backup client speaks. Azure and Azurite (with --skipApiVersionCheck)
// both accept it.
const APIVersion = "2014-02-14"

// Config is the "SQL Server host" the client runs on.
type Config struct {
	RootCAs   *x509.CertPool // HTTPS roots the host trusts; nil means the system roots
	Timeout   time.Duration  // per request; 0 means 60 s
	UserAgent string         // e.g. "SQLBLOBSIM/16.0"

	// Resolve maps host names to IP addresses, like the host's hosts file (names not in it
	// go to the system resolver). URLs carry no port, so the client connects to port 443.
	Resolve map[string]string
	// Forward maps ip:port to another ip:port, like a port redirect on the host (an iptables
	// REDIRECT rule, netsh interface portproxy): for a development stack whose endpoint
	// cannot bind 443 as an ordinary user. Tests leave it empty.
	Forward map[string]string

	// BlockListEncoding is how Put Block List bodies are encoded. Empty: the environment
	// variable SQLSIM_BLOCKLIST_ENCODING, else one of SQLServerBlockListEncodings drawn from
	// Seed, so that every simulated instance is one of SQL Server's builds and a whole test
	// run exercises them all. The choice is logged.
	BlockListEncoding BlockListEncoding
	// Seed draws the random choices above; 0 draws a seed (logged, to rerun a failure).
	Seed uint64
	// BlocksInFlight is how many Put Blocks of one blob may be outstanding, as SQL Server
	// keeps several backup buffers in flight per device; 0 means DefaultBlocksInFlight.
	BlocksInFlight int
	// ReadAhead is how many ranged GETs of one blob may be outstanding once a restore reads
	// it sequentially; 0 means DefaultReadAhead, 1 turns read-ahead off.
	ReadAhead int
	// Logger receives the client's configuration once; nil discards it.
	Logger *zap.Logger
}

// Concurrency defaults. SQL Server keeps several transfers per device outstanding (its
// BUFFERCOUNT buffers of MAXTRANSFERSIZE; WAL-G's proxy serves them with 8 concurrent
// uploads and downloads by default). The exact number per device is not documented: 4 is
// an assumption (internal/sqlsim/FIDELITY.md).
const (
	DefaultBlocksInFlight = 4
	DefaultReadAhead      = 4
	// ReadSegment is the size of one read-ahead GET: the default MAXTRANSFERSIZE of URL
	// backups and restores.
	ReadSegment = 1 << 20
)

// Client sends Blob REST requests the way SQL Server does. It is safe for concurrent use.
type Client struct {
	http      *http.Client
	timeout   time.Duration
	userAgent string
	listEnc   BlockListEncoding
	inFlight  int
	readAhead int
	configErr error // returned by Create and Open: a bad Config is reported where it is used
}

// BlockListEncoding is the encoding this client sends Put Block List bodies in.
func (c *Client) BlockListEncoding() BlockListEncoding { return c.listEnc }

// NewClient returns a client for the given host configuration.
func NewClient(c Config) *Client {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 60 * time.Second
	}
	hosts := make(map[string]string, len(c.Resolve))
	for name, ip := range c.Resolve {
		hosts[strings.ToLower(name)] = ip
	}
	forward := maps.Clone(c.Forward)
	dialer := &net.Dialer{Timeout: timeout}
	transport := &http.Transport{
		// SQL Server does not go through the process's proxy settings.
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, port, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip, ok := hosts[strings.ToLower(host)]; ok {
				addr = net.JoinHostPort(ip, port)
			}
			if to, ok := forward[addr]; ok {
				addr = to
			}
			// Names not in the hosts map go to the system resolver, and fail like DNS.
			return dialer.DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: c.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout: timeout,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
	}
	ua := c.UserAgent
	if ua == "" {
		ua = "SQLBLOBSIM/16.0"
	}
	seed := c.Seed
	if seed == 0 {
		seed = newSeed()
	}
	enc, source, err := pickBlockListEncoding(c.BlockListEncoding, seed)
	inFlight, readAhead := c.BlocksInFlight, c.ReadAhead
	if inFlight == 0 {
		inFlight = DefaultBlocksInFlight
	}
	if readAhead == 0 {
		readAhead = DefaultReadAhead
	}
	if err == nil && (inFlight < 1 || inFlight > 64 || readAhead < 1 || readAhead > 64) {
		err = fmt.Errorf("urlio: BlocksInFlight %d and ReadAhead %d must be from 1 to 64", c.BlocksInFlight, c.ReadAhead)
	}
	log := c.Logger
	if log == nil {
		log = zap.NewNop()
	}
	log.Info("simulated SQL Server blob client", zap.String("block_list_encoding", string(enc)),
		zap.String("chosen_by", source), zap.Uint64("seed", seed), zap.Int("blocks_in_flight", inFlight),
		zap.Int("read_ahead", readAhead), zap.NamedError("config_error", err))
	return &Client{
		http: &http.Client{
			Transport: transport,
			// A redirect would carry the SAS to another URL: never follow one.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		timeout:   timeout,
		userAgent: ua,
		listEnc:   enc,
		inFlight:  inFlight,
		readAhead: readAhead,
		configErr: err,
	}
}

// call is one Blob REST request.
type call struct {
	op     string
	method string
	u      BlobURL
	sas    string
	query  string // operation parameters, already encoded, e.g. "comp=lease"
	header http.Header
	body   []byte
	want   int // the success status
}

// do sends a call, and on the expected status hands the response to handle while the
// request's deadline still holds (so handle can read the body). Any other outcome becomes
// an *Error with the SAS scrubbed out.
func (c *Client) do(ctx context.Context, k call, handle func(*http.Response) error) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()

	target := k.u.String()
	q := k.sas
	if k.query != "" {
		if q != "" {
			q += "&"
		}
		q += k.query
	}
	if q != "" {
		target += "?" + q
	}
	var body io.Reader
	if k.body != nil {
		body = bytes.NewReader(k.body)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, target, body)
	if err != nil {
		return c.fail(k, 0, "", ErrInvalidURL, err)
	}
	for name, v := range k.header {
		req.Header[name] = v
	}
	req.Header.Set("x-ms-version", APIVersion)
	req.Header.Set("x-ms-date", time.Now().UTC().Format(http.TimeFormat))
	req.Header.Set("x-ms-client-request-id", newGUID())
	req.Header.Set("User-Agent", c.userAgent)

	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error repeats the full URL, SAS included: keep only its cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return c.fail(k, 0, "", kindForTransport(err), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != k.want {
		code, msg := readAzureError(resp)
		return c.fail(k, resp.StatusCode, code, kindForStatus(resp.StatusCode, code), msgErr(msg))
	}
	if handle != nil {
		if err := handle(resp); err != nil {
			var e *Error
			if errors.As(err, &e) {
				return e
			}
			return c.fail(k, resp.StatusCode, "", kindForTransport(err), err)
		}
	}
	return nil
}

func (c *Client) fail(k call, status int, code string, kind, cause error) *Error {
	return &Error{Op: k.op, URL: k.u.String(), Status: status, Code: code, Kind: kind, Err: scrub(cause, k.sas)}
}

// readAzureError takes the error code from x-ms-error-code (the only place HEAD has it)
// or the XML body, and the service's message from the body.
func readAzureError(resp *http.Response) (code, message string) {
	var body struct {
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = xml.Unmarshal(raw, &body)
	code = resp.Header.Get("x-ms-error-code")
	if code == "" {
		code = body.Code
	}
	// Azure's message ends with RequestId/Time lines: the first line is the message.
	msg, _, _ := strings.Cut(strings.TrimSpace(body.Message), "\n")
	return code, strings.TrimSpace(msg)
}

func msgErr(msg string) error {
	if msg == "" {
		return nil
	}
	return errors.New(msg)
}

// scrub replaces any trace of the SAS (whole, or its signature, raw or escaped) in an
// error's text. Causes normally never contain it; this is the belt to the braces.
func scrub(err error, sas string) error {
	if err == nil || sas == "" {
		return err
	}
	msg := err.Error()
	secrets := []string{sas}
	if v, perr := url.ParseQuery(sas); perr == nil && v.Get("sig") != "" {
		secrets = append(secrets, v.Get("sig"), url.QueryEscape(v.Get("sig")))
	}
	clean := msg
	for _, s := range secrets {
		clean = strings.ReplaceAll(clean, s, "REDACTED")
	}
	if clean == msg {
		return err
	}
	return errors.New(clean)
}

// newGUID returns a random RFC 4122 version 4 UUID string, the form of lease and client
// request ids.
func newGUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Delete deletes the blob (SQL Server does this to clean up after a failed backup when
// asked to). A leased blob gives ErrLeaseHeld.
func (c *Client) Delete(ctx context.Context, u BlobURL, sas string) error {
	return c.do(ctx, call{op: "Delete Blob", method: http.MethodDelete, u: u, sas: sas, want: http.StatusAccepted}, nil)
}

// Lease actions as SQL Server sends them: capitalised (the form WAL-G's proxy, which real
// SQL Server works with, matches; Azure takes any letter case).
const (
	actionAcquire = "Acquire"
	actionRelease = "Release"
)

// lease sends a Lease Blob action.
func (c *Client) lease(ctx context.Context, u BlobURL, sas, action string, h http.Header, want int) error {
	if h == nil {
		h = http.Header{}
	}
	h.Set("x-ms-lease-action", action)
	return c.do(ctx, call{op: "Lease Blob (" + action + ")", method: http.MethodPut, u: u, sas: sas,
		query: "comp=lease", header: h, want: want}, nil)
}
