package urlio

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
)

// Kinds of failure the engine maps to SQL Server errors. Test with errors.Is; the *Error
// that carries them has the HTTP status and x-ms-error-code.
var (
	ErrInvalidURL    = errors.New("invalid backup device URL")
	ErrBlobExists    = errors.New("the blob already exists on Microsoft Azure Storage; use WITH FORMAT to overwrite it")
	ErrLeaseHeld     = errors.New("the blob has an active lease (a previous backup or restore may still hold it)")
	ErrAuth          = errors.New("authentication failed: the SAS token is invalid, expired or lacks a permission")
	ErrNotFound      = errors.New("the container or blob was not found")
	ErrTooManyBlocks = errors.New("the backup needs more blocks than a blob may have")
	ErrTLS           = errors.New("the server's TLS certificate is not trusted")
	ErrUnreachable   = errors.New("cannot connect to the storage endpoint")
	ErrNetwork       = errors.New("the connection to the storage endpoint failed")
	ErrStorage       = errors.New("the storage service returned an error")
	ErrClosed        = errors.New("the blob writer or reader is closed")
)

// Error is a failed blob operation. It never contains the SAS token: URL has no query.
type Error struct {
	Op     string // e.g. "Put Block", "Lease Blob (acquire)"
	URL    string // the blob URL without its query
	Status int    // HTTP status, 0 if there was no response
	Code   string // x-ms-error-code, if any
	Kind   error  // one of the Err* values above
	Err    error  // the underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s: %v", e.Op, e.URL, e.Kind)
	if e.Status != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.Status)
		if e.Code != "" {
			fmt.Fprintf(&b, " %s", e.Code)
		}
		b.WriteString(")")
	}
	if e.Err != nil {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

// Unwrap lets errors.Is see both the kind and the cause.
func (e *Error) Unwrap() []error {
	var errs []error
	if e.Kind != nil {
		errs = append(errs, e.Kind)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// kindForStatus maps an Azure error response to a kind. 409 and 412 depend on the code:
// the lease codes mean another writer (or a failed backup) holds the blob, except those
// saying there is no lease (any more), which are plain failures.
func kindForStatus(status int, code string) error {
	switch {
	case code == "BlobAlreadyExists":
		return ErrBlobExists
	case strings.HasPrefix(code, "LeaseNotPresent"), code == "LeaseLost":
		return ErrStorage
	case strings.HasPrefix(code, "Lease"):
		return ErrLeaseHeld
	case status == 403:
		return ErrAuth
	case status == 404:
		return ErrNotFound
	case status == 412:
		return ErrLeaseHeld
	}
	return ErrStorage
}

// kindForTransport classifies an error without an HTTP response.
func kindForTransport(err error) error {
	var verr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &verr), errors.As(err, &unknownCA), errors.As(err, &hostErr),
		errors.As(err, &invalid), errors.As(err, &recErr):
		return ErrTLS
	case errors.As(err, &dnsErr):
		return ErrUnreachable
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return ErrUnreachable
	}
	return ErrNetwork
}

// redact drops the query string (where the SAS lives) from a URL-like string.
func redact(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return s[:i]
	}
	return s
}
