package endpoint

import (
	"encoding/xml"
	"net/http"
	"time"
)

// apiError is an Azure Storage error response: status, x-ms-error-code and message. SQL
// Server's blob client decides what to do (fail, retry, "use WITH FORMAT") from the status
// and code, so they follow Azure's documented values.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

func newErr(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, message: msg}
}

// write sends the error as Azure does: the code in x-ms-error-code and, except for HEAD,
// an XML body whose message ends with the request id and time.
func (e *apiError) write(w http.ResponseWriter, r *http.Request, requestID string) {
	w.Header().Set("x-ms-error-code", e.code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return
	}
	body, _ := xml.Marshal(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: e.code, Message: e.message + "\nRequestId:" + requestID + "\nTime:" + time.Now().UTC().Format(time.RFC3339Nano)})
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

var (
	// errAuth is the one answer to every authentication failure (unknown session, bad or
	// expired signature, malformed token): the client learns nothing about which it was.
	errAuth                 = newErr(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.")
	errPermission           = newErr(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this operation using this permission.")
	errBlobNotFound         = newErr(404, "BlobNotFound", "The specified blob does not exist.")
	errBlobExists           = newErr(409, "BlobAlreadyExists", "The specified blob already exists.")
	errInvalidRange         = newErr(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
	errInvalidBlockID       = newErr(400, "InvalidBlockId", "The specified block ID is invalid. The block ID must be Base64-encoded.")
	errBlockIDLength        = newErr(400, "InvalidBlobOrBlock", "The specified blob or block content is invalid.")
	errInvalidBlockList     = newErr(400, "InvalidBlockList", "The specified block list is invalid.")
	errBlockListTooLong     = newErr(400, "BlockListTooLong", "The block list may not contain more than 50,000 blocks.")
	errBlockCountExceeded   = newErr(409, "BlockCountExceedsLimit", "The uncommitted block count cannot exceed the maximum limit of 100,000 blocks.")
	errBodyTooLarge         = newErr(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible limit.")
	errUnsupported          = newErr(400, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb or operation.")
	errInternal             = newErr(500, "InternalError", "The server encountered an internal error. Please retry the request.")
	errLeaseIDMissing       = newErr(412, "LeaseIdMissing", "There is currently a lease on the blob and no lease ID was specified in the request.")
	errLeaseIDMismatchBlob  = newErr(412, "LeaseIdMismatchWithBlobOperation", "The lease ID specified did not match the lease ID for the blob.")
	errLeaseNotPresentBlob  = newErr(412, "LeaseNotPresentWithBlobOperation", "There is currently no lease on the blob.")
	errLeaseLost            = newErr(412, "LeaseLost", "A lease ID was specified, but the lease for the blob has expired.")
	errLeaseAlreadyPresent  = newErr(409, "LeaseAlreadyPresent", "There is already a lease present.")
	errLeaseIsBreaking      = newErr(409, "LeaseIsBreakingAndCannotBeAcquired", "The lease ID matched, but the lease is currently in breaking state and cannot be acquired until it is broken.")
	errLeaseIsBroken        = newErr(409, "LeaseIsBrokenAndCannotBeRenewed", "The lease ID matched, but the lease has been broken explicitly and cannot be renewed.")
	errLeaseIDMismatchLease = newErr(409, "LeaseIdMismatchWithLeaseOperation", "The lease ID specified did not match the lease ID for the blob.")
	errLeaseNotPresentLease = newErr(409, "LeaseNotPresentWithLeaseOperation", "There is currently no lease on the blob.")
)

func errInvalidHeader(name string) *apiError {
	return newErr(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format: "+name+".")
}
