package winvdi

import (
	"fmt"
	"sync"
	"time"

	"github.com/sqlvault/sqlvault/internal/agent/vdi"
)

// VDI is d as the transport-independent command loop's device: vdi.Pump runs it. The
// loop's vdi.Command carries this Command's code, buffer (the shared memory, not a copy) and
// position; completing it completes this one.
func (d *Device) VDI() vdi.Device {
	return &vdiDevice{d: d, pending: map[*vdi.Command]*Command{}}
}

type vdiDevice struct {
	d       *Device
	mu      sync.Mutex
	pending map[*vdi.Command]*Command // handed out, not yet completed
}

func (v *vdiDevice) GetCommand(timeout time.Duration) (*vdi.Command, error) {
	c, err := v.d.GetCommand(timeout)
	if err != nil {
		return nil, err // *Error matches vdi's Error values too (Error.Is)
	}
	vc := &vdi.Command{Code: vdi.CommandCode(c.Code()), Buffer: c.Buffer(), Position: int64(c.Position())}
	v.mu.Lock()
	v.pending[vc] = c
	v.mu.Unlock()
	return vc, nil
}

func (v *vdiDevice) CompleteCommand(cmd *vdi.Command, completionCode, bytesTransferred uint32, position int64) error {
	v.mu.Lock()
	c, ok := v.pending[cmd]
	delete(v.pending, cmd)
	v.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w: the command was not handed out by this device, or was completed already", ErrInvalid)
	}
	return v.d.CompleteCommand(c, CompletionCode(completionCode), bytesTransferred, uint64(position))
}

// Is makes an *Error match internal/agent/vdi's Error of the same HRESULT as well, so the
// command loop's errors.Is(err, vdi.ErrClose) holds for this client's errors.
func (e *Error) Is(target error) bool {
	t, ok := target.(vdi.Error)
	return ok && uint32(t) == uint32(e.HRESULT)
}

// Compile-time: the values this package and internal/agent/vdi share are the same (each pair
// overflows unless equal). Both packages read them from Microsoft's headers independently.
const (
	_ = uint32(hrVDClose) - uint32(vdi.ErrClose)
	_ = uint32(vdi.ErrClose) - uint32(hrVDClose)
	_ = uint32(hrVDTimeout) - uint32(vdi.ErrTimeout)
	_ = uint32(vdi.ErrTimeout) - uint32(hrVDTimeout)
	_ = uint32(hrVDAbort) - uint32(vdi.ErrAbort)
	_ = uint32(vdi.ErrAbort) - uint32(hrVDAbort)
	_ = uint32(hrVDInvalid) - uint32(vdi.ErrInvalid)
	_ = uint32(vdi.ErrInvalid) - uint32(hrVDInvalid)
	_ = uint32(hrVDProtocol) - uint32(vdi.ErrProtocol)
	_ = uint32(vdi.ErrProtocol) - uint32(hrVDProtocol)
	_ = uint32(hrVDOpen) - uint32(vdi.ErrOpen)
	_ = uint32(vdi.ErrOpen) - uint32(hrVDOpen)

	_ = uint32(CmdRead) - uint32(vdi.CmdRead)
	_ = uint32(vdi.CmdRead) - uint32(CmdRead)
	_ = uint32(CmdWrite) - uint32(vdi.CmdWrite)
	_ = uint32(vdi.CmdWrite) - uint32(CmdWrite)
	_ = uint32(CmdFlush) - uint32(vdi.CmdFlush)
	_ = uint32(vdi.CmdFlush) - uint32(CmdFlush)
	_ = uint32(CmdComplete) - uint32(vdi.CmdComplete)
	_ = uint32(vdi.CmdComplete) - uint32(CmdComplete)

	_ = uint32(CompletionSuccess) - vdi.ErrorSuccess
	_ = vdi.ErrorSuccess - uint32(CompletionSuccess)
	_ = uint32(CompletionHandleEOF) - vdi.ErrorHandleEOF
	_ = vdi.ErrorHandleEOF - uint32(CompletionHandleEOF)
	_ = uint32(CompletionNotSupported) - vdi.ErrorNotSupported
	_ = vdi.ErrorNotSupported - uint32(CompletionNotSupported)
	_ = uint32(CompletionOperationAborted) - vdi.ErrorOperationAborted
	_ = vdi.ErrorOperationAborted - uint32(CompletionOperationAborted)

	_ = uint32(FeatRequestComplete) - vdi.FeatureRequestComplete
	_ = vdi.FeatureRequestComplete - uint32(FeatRequestComplete)
)

// Config converts to vdi.Config as it is (same field names and types).
var _ = vdi.Config(Config{})
