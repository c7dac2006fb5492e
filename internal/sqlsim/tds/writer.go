package tds

import (
	"time"

	"errors"
	"fmt"
	"sync"

	"github.com/sqlvault/sqlvault/internal/sqlsim/sqltypes"
)

// ResultWriter is how Session.Exec answers a request. Its methods may be called from any
// goroutine (one at a time is enforced by a lock) until Exec returns; later calls fail.
type ResultWriter interface {
	// Columns starts a result set (COLMETADATA). A result set still open is ended first,
	// as if Done(rows written, true) had been called.
	Columns(cols []sqltypes.Column) error
	// Row sends one ROW; values per sqltypes representation (nil = NULL).
	Row(values []any) error
	// Done ends one statement (DONE in a batch, DONEINPROC inside RPC). The MORE, ERROR
	// and COUNT bits are handled here: the last DONE of a batch goes out without MORE.
	Done(rowCount int64, hasCount bool) error
	// Message sends an INFO or ERROR token and flushes it to the client at once, so that
	// progress messages arrive while a statement still runs. An ERROR sets the error bit
	// on the next Done.
	Message(m Message) error
	// DatabaseChanged sends ENVCHANGE type 1 (after USE). It does not send message 5701;
	// the engine sends that itself if it wants to.
	DatabaseChanged(oldDB, newDB string) error
}

var errResponseEnded = errors.New("tds: the response has already ended (ResultWriter used after Exec returned)")

// resultWriter turns ResultWriter calls into tokens for one request.
type resultWriter struct {
	mu         sync.Mutex
	c          *conn
	rpc        bool // inside an RPC: DONEINPROC per statement, then RETURNSTATUS and DONEPROC
	cols       []sqltypes.Column
	rows       int64
	hadCols    bool   // the current statement produced a result set (DONE CurCmd)
	pending    []byte // batch only: the last DONE, held back until we know whether more follows
	errPending bool   // an ERROR token since the last DONE
	anyError   bool
	ended      bool
	err        error // first write error; the connection is closed then
}

func newResultWriter(c *conn, rpc bool, prefix tokenBuf) *resultWriter {
	w := &resultWriter{c: c, rpc: rpc}
	if len(prefix) > 0 {
		w.send(prefix)
	}
	return w
}

// send hands tokens to the packet writer. A failed socket write closes the connection,
// which cancels Exec's context through the reader goroutine.
func (w *resultWriter) send(b tokenBuf) error {
	if w.err != nil {
		return w.err
	}
	if err := w.c.pw.write(b); err != nil {
		w.fail(err)
	}
	return w.err
}

func (w *resultWriter) fail(err error) {
	w.err = fmt.Errorf("tds: writing response: %w", err)
	w.c.nc.Close()
}

// releasePending writes the held-back DONE with MORE, because something follows it.
func (w *resultWriter) releasePending() error {
	if w.pending == nil {
		return nil
	}
	p := w.pending
	w.pending = nil
	p[1] |= doneMore // status is the little-endian USHORT right after the token byte
	return w.send(p)
}

func (w *resultWriter) check() error {
	if w.ended {
		return errResponseEnded
	}
	return w.err
}

func (w *resultWriter) Columns(cols []sqltypes.Column) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.check(); err != nil {
		return err
	}
	if len(cols) == 0 {
		return errors.New("tds: a result set needs at least one column")
	}
	cols = w.c.downLevel(cols)
	var b tokenBuf
	b.u8(tokColMetadata)
	b.u16(uint16(len(cols)))
	for _, c := range cols {
		if w.c.allHeaders() {
			b.u32(0) // user type: a ULONG since TDS 7.2
		} else {
			b.u16(0) // a USHORT for TDS 7.1 clients (MS-TDS COLMETADATA)
		}
		b.u16(0x0001) // flags: nullable
		if err := appendTypeInfo(&b, c); err != nil {
			return err
		}
		b.bVarChar(c.Name)
	}
	if w.cols != nil {
		if err := w.done(w.rows, true); err != nil {
			return err
		}
	}
	if err := w.releasePending(); err != nil {
		return err
	}
	w.cols = append([]sqltypes.Column(nil), cols...)
	w.rows = 0
	w.hadCols = true
	return w.send(b)
}

func (w *resultWriter) Row(values []any) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.check(); err != nil {
		return err
	}
	if w.cols == nil {
		return errors.New("tds: Row without Columns")
	}
	if len(values) != len(w.cols) {
		return fmt.Errorf("tds: row has %d values for %d columns", len(values), len(w.cols))
	}
	b := tokenBuf{tokRow}
	for i, v := range values {
		if t, ok := v.(time.Time); ok && w.cols[i].Type == sqltypes.NVarChar {
			v = t.Format(downLevelDateTime2) // a datetime2 column sent down-level
		}
		if err := appendValue(&b, w.cols[i], v); err != nil {
			return err
		}
	}
	w.rows++
	return w.send(b)
}

func (w *resultWriter) Done(rowCount int64, hasCount bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.check(); err != nil {
		return err
	}
	return w.done(rowCount, hasCount)
}

func (w *resultWriter) done(rowCount int64, hasCount bool) error {
	var status uint16
	if hasCount {
		status |= doneCount
	}
	if w.errPending {
		status |= doneError
	}
	var curCmd uint16
	if w.hadCols {
		curCmd = curCmdSelect
	}
	w.cols, w.hadCols, w.errPending = nil, false, false
	var b tokenBuf
	if w.rpc {
		// Inside an RPC every DONEINPROC has MORE: DONEPROC always follows.
		b.done(tokDoneInProc, status|doneMore, curCmd, uint64(max(rowCount, 0)), !w.c.allHeaders())
		return w.send(b)
	}
	if err := w.releasePending(); err != nil {
		return err
	}
	b.done(tokDone, status, curCmd, uint64(max(rowCount, 0)), !w.c.allHeaders())
	w.pending = b
	return nil
}

func (w *resultWriter) Message(m Message) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.check(); err != nil {
		return err
	}
	if m.Server == "" {
		m.Server = w.c.srv.opts.ServerName
	}
	if err := w.releasePending(); err != nil {
		return err
	}
	var b tokenBuf
	b.message(m, !w.c.allHeaders())
	if m.isError() {
		w.errPending, w.anyError = true, true
	}
	if err := w.send(b); err != nil {
		return err
	}
	if err := w.c.pw.flush(false); err != nil {
		w.fail(err)
	}
	return w.err
}

func (w *resultWriter) DatabaseChanged(oldDB, newDB string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.check(); err != nil {
		return err
	}
	if err := w.releasePending(); err != nil {
		return err
	}
	var b tokenBuf
	b.envChangeString(envDatabase, newDB, oldDB)
	return w.send(b)
}

// finish ends the response after Exec returned. After an attention the last token is a
// DONE with the ATTN bit, which is what the client waits for before it reuses the connection.
func (w *resultWriter) finish(attention bool) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	if w.err != nil {
		return w.err
	}
	if w.cols != nil {
		if err := w.done(w.rows, true); err != nil {
			return err
		}
	}
	var b tokenBuf
	switch {
	case attention:
		if err := w.releasePending(); err != nil {
			return err
		}
		b.done(tokDone, doneAttn, 0, 0, !w.c.allHeaders())
	case w.rpc:
		var status uint16
		if w.anyError {
			status = doneError
		}
		b.returnStatus(0)
		b.done(tokDoneProc, status, 0, 0, !w.c.allHeaders())
	case w.pending != nil:
		b, w.pending = w.pending, nil // the last statement's DONE, without MORE
	default:
		// Nothing ended the last statement, or a message came after it (which released
		// the held-back DONE): close the batch with a DONE of its own, carrying the error
		// bit if an error came since.
		var status uint16
		if w.errPending {
			status = doneError
		}
		b.done(tokDone, status, 0, 0, !w.c.allHeaders())
	}
	if err := w.send(b); err != nil {
		return err
	}
	if err := w.c.pw.flush(true); err != nil {
		w.fail(err)
	}
	return w.err
}

// downLevelDateTime2 is how SQL Server sends a datetime2 value to a client older than TDS
// 7.3: nvarchar(27), 'YYYY-MM-DD hh:mm:ss.nnnnnnn' (Microsoft's datetime2 page, "Backward
// compatibility for down-level clients").
const downLevelDateTime2 = "2006-01-02 15:04:05.0000000"

// downLevel returns the columns as a client of the agreed TDS version receives them.
func (c *conn) downLevel(cols []sqltypes.Column) []sqltypes.Column {
	if c.tdsVersion == 0 || c.tdsVersion >= tdsVersion73A {
		return cols
	}
	out := append([]sqltypes.Column(nil), cols...)
	for i := range out {
		if out[i].Type == sqltypes.DateTime2 {
			out[i] = sqltypes.Column{Name: out[i].Name, Type: sqltypes.NVarChar, Size: len(downLevelDateTime2)}
		}
	}
	return out
}
