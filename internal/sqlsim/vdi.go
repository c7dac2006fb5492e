package sqlsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/sqlvault/sqlvault/internal/sqlsim/media"
	"github.com/sqlvault/sqlvault/internal/sqlsim/tsql"
	"github.com/sqlvault/sqlvault/internal/sqlsim/vdistandin"
)

// BACKUP … TO VIRTUAL_DEVICE and RESTORE … FROM VIRTUAL_DEVICE (FIDELITY.md, "VDI (issue 14)").
// The client library is the project's stand-in libsqlvdi.so (package vdistandin): the
// statement opens the set the client created — its first VIRTUAL_DEVICE names it — with one
// device per VIRTUAL_DEVICE clause (the stripes), then moves the media through VDC_Write or
// VDC_Read commands of the statement's transfer size and closes the devices.

// VDI sizes when the statement names none (assumption: SQL Server's defaults for a virtual
// device are not documented; these are the URL path's and the largest documented block).
const (
	vdiDefaultTransfer = 1 << 20
	vdiDefaultBlock    = 65536
)

// Win32 messages of the completion codes a client may return (the system's message table,
// as SQL Server prints "<code>(<message>)").
var win32Messages = map[uint32]string{
	38:  "Reached the end of the file.",
	50:  "The request is not supported.",
	112: "There is not enough space on the disk.",
	995: "The I/O operation has been aborted because of either a thread exit or an application request.",
}

// vdiDeviceError is a failure of the client on one virtual device.
type vdiDeviceError struct {
	device string
	code   uint32 // the completion code: the client's, or 995 for an abort
}

func (e *vdiDeviceError) Error() string {
	return fmt.Sprintf("virtual device %s failed with %d", e.device, e.code)
}

func (e *vdiDeviceError) os() string {
	msg, ok := win32Messages[e.code]
	if !ok {
		msg = "failed to retrieve text for this error. Reason: 15105"
	}
	return fmt.Sprintf("%d(%s)", e.code, msg)
}

func vdiFailure(device string, err error) error {
	var ce *vdistandin.CompletionError
	if errors.As(err, &ce) {
		return &vdiDeviceError{device: device, code: ce.Code}
	}
	if errors.Is(err, vdistandin.ErrClientAborted) {
		return &vdiDeviceError{device: device, code: 995}
	}
	return err
}

// virtualDevices says whether the statement's devices are virtual devices; a statement may
// not mix them with other kinds (assumption: the error SQL Server gives is not gathered; the
// simulator refuses the mix as unsupported).
func virtualDevices(devs []device) (bool, error) {
	n := 0
	for _, d := range devs {
		if d.vdi != "" {
			n++
		}
	}
	if n > 0 && n < len(devs) {
		return false, &tsql.UnsupportedError{Statement: "VIRTUAL_DEVICE mixed with other backup devices"}
	}
	return n > 0, nil
}

// openVDISet opens the client's set for the statement. A set nobody created fails at once,
// as SQL Server fails opening its shared memory (FIDELITY.md).
func (x *executor) openVDISet(devs []device, blockSize, maxTransfer int) (*vdistandin.Set, error) {
	names := make([]string, len(devs))
	for i, d := range devs {
		names[i] = d.vdi
	}
	set, err := vdistandin.OpenSet(x.ctx, vdistandin.Dir(), names, uint32(blockSize), uint32(maxTransfer))
	switch {
	case err == nil:
		return set, nil
	case x.ctx.Err() != nil:
		return nil, errBatchAborted
	case errors.Is(err, vdistandin.ErrNoSet):
		return nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 0x80070002(The system cannot find the file specified.).", names[0])
	case errors.Is(err, vdistandin.ErrDeviceCount):
		return nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 0x80770006(failed to retrieve text for this error. Reason: 15105).", names[0])
	}
	return nil, sqlErr(3201, "Cannot open backup device '%s'. Operating system error 0x80770004(failed to retrieve text for this error. Reason: 15105).", names[0])
}

// vdiWriter is one virtual device of a BACKUP: the stream goes to the client in VDC_Write
// commands of maxTransfer bytes (the last one shorter).
type vdiWriter struct {
	ctx      context.Context
	set      *vdistandin.Set
	dev      *vdistandin.Device
	size     int
	buf      []byte
	n        int64
	complete bool // the client asked for VDC_Complete (VDF_RequestComplete)
}

func newVDIWriters(ctx context.Context, set *vdistandin.Set, maxTransfer int) []deviceWriter {
	out := make([]deviceWriter, len(set.Devices))
	for i, d := range set.Devices {
		out[i] = &vdiWriter{ctx: ctx, set: set, dev: d, size: maxTransfer, buf: make([]byte, 0, maxTransfer),
			complete: set.Config.Features&vdistandin.FeatureRequestComplete != 0}
	}
	return out
}

func (w *vdiWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(w.size-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == w.size {
			if err := w.send(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *vdiWriter) send() error {
	if err := w.dev.Write(w.ctx, w.buf); err != nil {
		return vdiFailure(w.dev.Name, err)
	}
	w.n += int64(len(w.buf))
	w.buf = w.buf[:0]
	return nil
}

// Close sends what is left, VDC_Complete if the client asked for it, and closes the device:
// the client's GetCommand returns VD_E_CLOSE.
func (w *vdiWriter) Close() error {
	if len(w.buf) > 0 {
		if err := w.send(); err != nil {
			return err
		}
	}
	if w.complete {
		if err := w.dev.Command(w.ctx, vdistandin.CmdComplete); err != nil {
			return vdiFailure(w.dev.Name, err)
		}
	}
	return w.dev.Close()
}

func (w *vdiWriter) Abort()         { w.set.Abort() }
func (w *vdiWriter) Written() int64 { return w.n }

// readVDIStripes reads every device of a RESTORE's set to its end (the client completes a
// VDC_Read with ERROR_HANDLE_EOF) into temporary files, then closes the devices; the media
// reader works on those files. A pipe-like device is strictly sequential, so reading it
// whole first changes only when the bytes are read, not which (simulator simplification).
func (x *executor) readVDIStripes(devs []device, maxTransfer int, fault *StreamFault) ([]media.Stripe, func(), error) {
	if maxTransfer <= 0 {
		maxTransfer = vdiDefaultTransfer
	}
	set, err := x.openVDISet(devs, vdiDefaultBlock, maxTransfer)
	if err != nil {
		return nil, nil, err
	}
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}
	counter := &faultCounter{}
	stripes := make([]media.Stripe, 0, len(devs))
	chunk := make([]byte, maxTransfer)
	for _, d := range set.Devices {
		f, err := os.CreateTemp("", "sqlsim-vdi-*")
		if err != nil {
			set.Abort()
			closeAll()
			return nil, nil, err
		}
		files = append(files, f)
		var size int64
		for {
			n, eof, err := d.Read(x.ctx, chunk)
			if err == nil {
				err = applyFault(x.ctx, fault, counter, int64(n), d.Name)
			}
			if err != nil {
				set.Abort()
				closeAll()
				if x.ctx.Err() != nil {
					return nil, nil, errBatchAborted
				}
				var fe *faultError
				if errors.As(err, &fe) {
					return nil, nil, sqlErr(3203, "Read on \"%s\" failed: 1117(The request could not be performed because of an I/O device error.)", d.Name)
				}
				if ve, ok := vdiFailure(d.Name, err).(*vdiDeviceError); ok {
					return nil, nil, sqlErr(3203, "Read on \"%s\" failed: %s", d.Name, ve.os())
				}
				return nil, nil, sqlErr(3203, "Read on \"%s\" failed: %v", d.Name, err)
			}
			if _, err := f.Write(chunk[:n]); err != nil {
				set.Abort()
				closeAll()
				return nil, nil, err
			}
			size += int64(n)
			if eof {
				break
			}
		}
		stripes = append(stripes, media.Stripe{R: f, Size: size, Name: d.Name})
	}
	_ = set.Close()
	return stripes, closeAll, nil
}

var _ io.ReaderAt = (*os.File)(nil)

// readVDIHead reads the media header from the first device of a RESTORE's virtual device
// set — only the bytes it takes — and closes every device (the client sees VD_E_CLOSE before
// its data ends, as after a HEADERONLY of a pipe).
func (x *executor) readVDIHead(devs []device) (media.Header, error) {
	set, err := x.openVDISet(devs, vdiDefaultBlock, vdiDefaultTransfer)
	if err != nil {
		return media.Header{}, err
	}
	d := set.Devices[0]
	var buf []byte
	need := int64(media.HeadFixed)
	chunk := make([]byte, vdiDefaultTransfer)
	for int64(len(buf)) < need {
		n, eof, err := d.Read(x.ctx, chunk)
		if err != nil {
			set.Abort()
			if x.ctx.Err() != nil {
				return media.Header{}, errBatchAborted
			}
			if ve, ok := vdiFailure(d.Name, err).(*vdiDeviceError); ok {
				return media.Header{}, sqlErr(3203, "Read on \"%s\" failed: %s", d.Name, ve.os())
			}
			return media.Header{}, sqlErr(3203, "Read on \"%s\" failed: %v", d.Name, err)
		}
		buf = append(buf, chunk[:n]...)
		if len(buf) >= media.HeadFixed && need == media.HeadFixed {
			if total, ok := media.HeadLen(buf[:media.HeadFixed]); ok {
				need = total
			} else {
				break // not a media head: ReadHeaderOnly says what it is
			}
		}
		if eof {
			break
		}
	}
	_ = set.Close()
	h, err := media.ReadHeaderOnly(media.Stripe{R: bytes.NewReader(buf), Size: int64(len(buf)), Name: d.Name})
	if err != nil {
		return media.Header{}, mediaError(err)
	}
	return h, nil
}
