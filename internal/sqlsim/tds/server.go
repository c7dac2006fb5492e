// Package tds is the server side of TDS 7.4 for the SQL Server simulator: enough of the
// protocol for go-mssqldb (unmodified, encrypt=disable) to log in, run SQL batches and
// sp_executesql RPCs, read result sets and messages, cancel with ATTENTION and use
// transactions. What the requests mean is up to a Handler; this package only speaks
// the protocol.
//
// Not supported: TLS (PRELOGIN answers ENCRYPT_NOT_SUP, so encrypt=true/strict clients
// refuse to go on), MARS, SSPI/federated authentication, OUTPUT parameter values
// (RETURNVALUE), several RPCs in one request, bulk load.
package tds

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Handler authenticates logins.
type Handler interface {
	// Login authenticates. A returned error (*Message or *sqltypes.Error; anything else
	// becomes message 50000) is sent as an ERROR token (e.g. 18456 class 14 "Login failed
	// for user '%s'.") followed by DONE with the error bit, then the connection is closed.
	Login(ctx context.Context, req LoginRequest) (Session, error)
}

// Session is one logged-in connection. Its methods are called from the connection's
// goroutine, one request at a time.
type Session interface {
	ID() uint16       // SPID, written in packet headers
	Database() string // current database, sent in the login ENVCHANGE
	// Exec runs one request. sql is the batch text (for a SQL batch) or sp_executesql's
	// @stmt (for RPC; other procedures arrive as "EXEC name"); params are the RPC's
	// parameters (nil for a SQL batch, non-nil for RPC). ctx is cancelled when the client
	// sends ATTENTION or the connection drops; Exec must then return soon, or the server's
	// Close waits for it. Exec writes everything through w and returns when done; the
	// server then ends the response (final DONE / DONEPROC with RETURNSTATUS for RPC,
	// DONE with the ATTN bit after an attention).
	Exec(ctx context.Context, sql string, params []Param, w ResultWriter)
	Reset() // the client set RESETCONNECTION (status 0x08) on a request
	Close() // once, when the connection ends
}

// Options configure a Server.
type Options struct {
	Logger     *zap.Logger // nil → zap.NewNop()
	ServerName string      // e.g. "SQLSIM01\\INST1"; the server name of INFO/ERROR tokens
	// Version reported in LOGINACK and PRELOGIN, e.g. 16.0.4135 (SQL Server 2022).
	// All zero → 16.0.4135.
	VersionMajor, VersionMinor uint8
	VersionBuild               uint16
	// Location is the zone given to datetime, datetime2 and date parameters, which carry
	// none on the wire (datetimeoffset parameters arrive in UTC). nil → time.UTC.
	Location *time.Location
}

// Server accepts TDS connections and serves each in its own goroutine.
type Server struct {
	h    Handler
	opts Options
	log  *zap.Logger

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	conns     map[*conn]struct{}
	wg        sync.WaitGroup // connection goroutines
}

// NewServer returns a server that authenticates through h.
func NewServer(h Handler, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	if opts.VersionMajor == 0 && opts.VersionMinor == 0 && opts.VersionBuild == 0 {
		opts.VersionMajor, opts.VersionBuild = 16, 4135
	}
	if opts.Location == nil {
		opts.Location = time.UTC
	}
	return &Server{
		h:         h,
		opts:      opts,
		log:       opts.Logger,
		listeners: map[net.Listener]struct{}{},
		conns:     map[*conn]struct{}{},
	}
}

// Serve accepts connections on l until Close; it returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, l)
		s.mu.Unlock()
	}()
	for {
		nc, err := l.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		c := newConn(s, nc)
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
			s.mu.Lock()
			delete(s.conns, c)
			s.mu.Unlock()
		}()
	}
}

// Close closes the listeners and every connection, and waits for the connection
// goroutines (so for every running Exec to return).
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	for l := range s.listeners {
		l.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// DropConnections abruptly closes every open client connection (fault injection); the
// listeners stay open. It returns how many connections it closed.
func (s *Server) DropConnections() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.nc.Close()
	}
	return len(s.conns)
}

// CloseSession abruptly closes the connection of session spid (KILL, SINGLE_USER WITH
// ROLLBACK IMMEDIATE). It reports whether such a session was connected.
func (s *Server) CloseSession(spid uint16) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.spid.Load() == uint32(spid) {
			c.nc.Close()
			return true
		}
	}
	return false
}

// ConnectionCount is the number of open client connections.
func (s *Server) ConnectionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// conn is one client connection.
type conn struct {
	srv    *Server
	nc     net.Conn
	log    *zap.Logger
	pw     *packetWriter
	ctx    context.Context // cancelled when the connection ends
	cancel context.CancelFunc
	sess   Session
	spid   atomic.Uint32 // the session's SPID once logged in (read by CloseSession)
	tranID uint64        // current transaction descriptor, 0 outside a transaction
	nextTx uint64
	// tdsVersion is the version agreed at login: below 7.3 the date and time types of TDS
	// 7.3 travel as nvarchar, as SQL Server sends them to down-level clients.
	tdsVersion uint32
}

func newConn(s *Server, nc net.Conn) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	return &conn{
		srv:    s,
		nc:     nc,
		log:    s.log.With(zap.Stringer("remote", nc.RemoteAddr())),
		pw:     &packetWriter{w: nc, size: defaultPktSize},
		ctx:    ctx,
		cancel: cancel,
	}
}

func (c *conn) serve() {
	defer c.cancel()
	defer c.nc.Close()
	sess, err := c.handshake()
	if err != nil {
		c.log.Debug("tds: login did not complete", zap.Error(err))
		return
	}
	c.sess = sess
	c.spid.Store(uint32(sess.ID()))
	c.log = c.log.With(zap.Uint16("spid", sess.ID()))
	c.log.Debug("tds: session started")

	// The reader goroutine owns reads from here on, so that an ATTENTION can be seen
	// while Exec runs.
	in := make(chan message)
	readerDone := make(chan struct{})
	go c.readLoop(in, readerDone)

	for {
		m, ok := <-in
		if !ok {
			break
		}
		if err := c.handle(m, in); err != nil {
			c.log.Debug("tds: closing connection", zap.Error(err))
			break
		}
	}
	c.cancel()
	c.nc.Close()
	<-readerDone
	sess.Close()
	c.log.Debug("tds: session ended")
}

// readLoop reads client messages until the connection fails, then cancels the
// connection's context (and so any running Exec) and closes in.
func (c *conn) readLoop(in chan<- message, done chan<- struct{}) {
	defer close(done)
	defer close(in)
	defer c.cancel()
	for {
		m, err := readMessage(c.nc)
		if err != nil {
			return
		}
		select {
		case in <- m:
		case <-c.ctx.Done():
			return
		}
	}
}

// handshake answers PRELOGIN and LOGIN7.
func (c *conn) handshake() (Session, error) {
	m, err := readMessage(c.nc)
	if err != nil {
		return nil, err
	}
	if m.typ != pktPrelogin {
		return nil, fmt.Errorf("tds: expected PRELOGIN, got packet type %#x", m.typ)
	}
	opts, err := parsePrelogin(m.data)
	if err != nil {
		return nil, err
	}
	if enc := opts[preEncryption]; len(enc) == 1 && (enc[0] == encryptOn || enc[0] == encryptReq) {
		c.log.Info("tds: client requires encryption, which the simulator does not support; use encrypt=disable")
	}
	if err := c.reply(preloginReply(c.srv.opts)); err != nil {
		return nil, err
	}

	m, err = readMessage(c.nc)
	if err != nil {
		return nil, err
	}
	if m.typ != pktLogin7 {
		return nil, fmt.Errorf("tds: expected LOGIN7, got packet type %#x", m.typ)
	}
	req, err := parseLogin7(m.data)
	if err != nil {
		return nil, err
	}
	// Honour the client's packet size; it expects packets of that size from the login
	// response on and we confirm it with an ENVCHANGE.
	size := clampPacketSize(req.PacketSize)
	c.pw.size = size

	sess, err := c.srv.h.Login(c.ctx, req)
	if err != nil {
		msg := FromError(err)
		if msg.Server == "" {
			msg.Server = c.srv.opts.ServerName
		}
		c.tdsVersion = negotiateTDS(req.TDSVersion)
		var b tokenBuf
		b.message(msg, !c.allHeaders())
		b.done(tokDone, doneError, 0, 0, !c.allHeaders())
		if werr := c.reply(b); werr != nil {
			return nil, werr
		}
		return nil, fmt.Errorf("login refused: %w", err)
	}
	c.pw.spid = sess.ID()
	db := sess.Database()
	c.tdsVersion = negotiateTDS(req.TDSVersion)
	var b tokenBuf
	b.envChangeString(envDatabase, db, "master")
	b.message(c.info(5701, 2, fmt.Sprintf("Changed database context to '%s'.", db)), !c.allHeaders())
	b.envChangeString(envLanguage, "us_english", "")
	b.message(c.info(5703, 1, "Changed language setting to us_english."), !c.allHeaders())
	b.envChangeBytes(envSQLCollation, collationLatin1CIAS, nil)
	b.loginAck(c.srv.opts, c.tdsVersion)
	b.packetSizeChange(size)
	b.done(tokDone, doneFinal, 0, 0, !c.allHeaders())
	if err := c.reply(b); err != nil {
		sess.Close()
		return nil, err
	}
	return sess, nil
}

// allHeaders reports whether the client's requests start with ALL_HEADERS: TDS 7.2 and
// later (MS-TDS 2.2.5.3); a 7.1 client sends the SQL text or RPC at once.
func (c *conn) allHeaders() bool { return c.tdsVersion == 0 || c.tdsVersion >= tdsVersion72 }

func (c *conn) info(number int32, state uint8, text string) Message {
	return Message{Number: number, State: state, Class: 0, Text: text, Server: c.srv.opts.ServerName, Line: 1}
}

// reply sends a complete response message.
func (c *conn) reply(b []byte) error {
	if err := c.pw.write(b); err != nil {
		return err
	}
	return c.pw.flush(true)
}

// handle answers one client message. An error closes the connection.
func (c *conn) handle(m message, in <-chan message) error {
	switch m.typ {
	case pktAttention:
		// The request it meant to cancel had already ended; the client still waits for
		// the acknowledgement, as a response of its own.
		var b tokenBuf
		b.done(tokDone, doneAttn, 0, 0, !c.allHeaders())
		return c.reply(b)
	case pktSQLBatch:
		prefix := c.resetIfAsked(m)
		r := &byteReader{b: m.data}
		if c.allHeaders() {
			r.skipAllHeaders()
		}
		if r.err != nil {
			return r.err
		}
		return c.run(prefix, decodeUCS2(m.data[r.off:]), nil, false, in)
	case pktRPC:
		prefix := c.resetIfAsked(m)
		call, err := parseRPC(m.data, c.srv.opts.Location, c.allHeaders())
		if err != nil {
			return c.replyError(prefix, err, true)
		}
		return c.run(prefix, call.sql, call.params, true, in)
	case pktTransMgr:
		return c.transaction(m)
	}
	return fmt.Errorf("tds: unexpected packet type %#x", m.typ)
}

// resetIfAsked resets the session when the request carries RESETCONNECTION (go-mssqldb
// sets it on the first request after a pooled connection is reused) and returns the
// tokens that acknowledge it.
func (c *conn) resetIfAsked(m message) tokenBuf {
	if m.status&(statusResetConn|statusResetConnNoTran) == 0 {
		return nil
	}
	before := c.sess.Database()
	c.sess.Reset()
	var b tokenBuf
	b.envChangeBytes(envResetConnAck, nil, nil)
	if after := c.sess.Database(); after != before {
		b.envChangeString(envDatabase, after, before)
	}
	return b
}

// run executes one request through Session.Exec while a watcher goroutine takes the
// next client message: only an ATTENTION may come while a request runs.
func (c *conn) run(prefix tokenBuf, sql string, params []Param, rpc bool, in <-chan message) error {
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	w := newResultWriter(c, rpc, prefix)

	var attention bool
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		select {
		case m, ok := <-in:
			switch {
			case !ok: // connection gone; c.ctx is cancelled already
			case m.typ == pktAttention:
				attention = true
			default:
				c.log.Warn("tds: client sent a request while another one was running", zap.Uint8("type", m.typ))
				c.nc.Close()
			}
			cancel()
		case <-stop:
		}
	}()

	c.sess.Exec(ctx, sql, params, w)
	close(stop)
	<-watched
	return w.finish(attention)
}

// replyError answers a request that could not be decoded with an ERROR token.
func (c *conn) replyError(prefix tokenBuf, err error, rpc bool) error {
	w := newResultWriter(c, rpc, prefix)
	if werr := w.Message(FromError(err)); werr != nil {
		return werr
	}
	return w.finish(false)
}

// Transaction manager request types (MS-TDS 2.2.6.9).
const (
	tmBegin    = 5
	tmCommit   = 7
	tmRollback = 8
)

// transaction answers a transaction manager request (database/sql's BeginTx, Commit,
// Rollback) with the ENVCHANGE tokens go-mssqldb tracks its transaction descriptor by.
// The engine is not told: the simulator has no transactional state to commit or undo.
func (c *conn) transaction(m message) error {
	prefix := c.resetIfAsked(m)
	r := &byteReader{b: m.data}
	if c.allHeaders() {
		r.skipAllHeaders()
	}
	kind := r.u16()
	b := prefix
	switch kind {
	case tmBegin:
		r.u8()       // isolation level
		r.bVarChar() // transaction name
		c.begin(&b)
	case tmCommit, tmRollback:
		r.bVarChar() // transaction name
		flags := r.u8()
		typ := byte(envCommitTran)
		if kind == tmRollback {
			typ = envRollbackTran
		}
		b.envChangeBytes(typ, nil, c.descriptor())
		c.tranID = 0
		if flags&0x01 != 0 { // fBeginXact: start a new transaction right away
			r.u8()
			r.bVarChar()
			c.begin(&b)
		}
	default:
		b.message(Message{Number: 50000, State: 1, Class: 16, Server: c.srv.opts.ServerName,
			Text: fmt.Sprintf("Transaction manager request %d is not supported by the simulator.", kind)}, !c.allHeaders())
		b.done(tokDone, doneError, 0, 0, !c.allHeaders())
		return c.reply(b)
	}
	if r.err != nil {
		return r.err
	}
	b.done(tokDone, doneFinal, 0, 0, !c.allHeaders())
	return c.reply(b)
}

func (c *conn) begin(b *tokenBuf) {
	c.nextTx++
	c.tranID = c.nextTx
	b.envChangeBytes(envBeginTran, c.descriptor(), nil)
}

// descriptor is the 8-byte transaction descriptor the client echoes in ALL_HEADERS.
func (c *conn) descriptor() []byte {
	return binary.LittleEndian.AppendUint64(nil, c.tranID)
}
