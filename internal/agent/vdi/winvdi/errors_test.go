package winvdi

import (
	"errors"
	"strings"
	"testing"
)

// vdierror.h: VD_ERROR(code) is MAKE_HRESULT(SEVERITY_ERROR, 0x77, code).
func vdError(code uint32) HRESULT { return HRESULT(1<<31 | 0x77<<16 | code) }

func TestVDIErrorsMap(t *testing.T) {
	for _, c := range []struct {
		code uint32
		hr   HRESULT
		want error
	}{
		{2, hrVDNotOpen, ErrNotOpen},
		{3, hrVDTimeout, ErrTimeout},
		{4, hrVDAbort, ErrAbort},
		{5, hrVDSecurity, ErrSecurity},
		{6, hrVDInvalid, ErrInvalid},
		{7, hrVDInstanceName, ErrInstanceName},
		{9, hrVDNotSupported, ErrNotSupported},
		{10, hrVDMemory, ErrMemory},
		{11, hrVDUnexpected, ErrUnexpected},
		{12, hrVDProtocol, ErrProtocol},
		{13, hrVDOpen, ErrOpen},
		{14, hrVDClose, ErrClose},
		{15, hrVDBusy, ErrBusy},
	} {
		if vdError(c.code) != c.hr {
			t.Errorf("VD_ERROR(%d) = %#x, constant is %#x", c.code, uint32(vdError(c.code)), uint32(c.hr))
		}
		err := check("IClientVirtualDevice::GetCommand", c.hr)
		if !errors.Is(err, c.want) {
			t.Errorf("%#x maps to %v, want %v", uint32(c.hr), err, c.want)
		}
		var e *Error
		if !errors.As(err, &e) || e.HRESULT != c.hr || e.Op != "IClientVirtualDevice::GetCommand" {
			t.Errorf("%#x: %v does not keep the call and the HRESULT", uint32(c.hr), err)
		}
	}
}

func TestCOMErrorsMap(t *testing.T) {
	for hr, want := range map[HRESULT]error{
		0x80040154: ErrNotRegistered,
		0x80004002: ErrNoInterface,
		0x80070005: ErrAccessDenied,
		0x800401F0: ErrCOMUninitialized,
	} {
		if err := check("CoCreateInstance", hr); !errors.Is(err, want) {
			t.Errorf("%#x maps to %v, want %v", uint32(hr), err, want)
		}
	}
}

func TestSuccessIsNil(t *testing.T) {
	for _, hr := range []HRESULT{0, hrSFalse} {
		if err := check("CoInitializeEx", hr); err != nil {
			t.Errorf("%#x is a success, got %v", uint32(hr), err)
		}
	}
}

func TestUnknownFailureKeepsTheCode(t *testing.T) {
	err := check("IClientVirtualDeviceSet2::CreateEx", 0x80004005)
	if err == nil || errors.Unwrap(err) != nil {
		t.Fatalf("E_FAIL gave %v", err)
	}
	if !strings.Contains(err.Error(), "0x80004005") || !strings.Contains(err.Error(), "CreateEx") {
		t.Fatalf("message %q does not name the call and code", err)
	}
	for _, named := range hresultErrors {
		if errors.Is(err, named) {
			t.Fatalf("E_FAIL matched %v", named)
		}
	}
}

// The distinct outcomes a device loop branches on stay distinct.
func TestOutcomesAreDistinct(t *testing.T) {
	closed, timeout, abort := check("x", hrVDClose), check("x", hrVDTimeout), check("x", hrVDAbort)
	if errors.Is(closed, ErrTimeout) || errors.Is(closed, ErrAbort) || errors.Is(timeout, ErrClose) || errors.Is(abort, ErrClose) {
		t.Fatalf("close, timeout and abort are confused")
	}
}
