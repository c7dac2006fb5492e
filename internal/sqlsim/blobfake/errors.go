package blobfake

import (
	"encoding/xml"
	"net/http"
)

// apiError is an Azure Storage error: an HTTP status, the x-ms-error-code and a message,
// sent both as the header and as the XML body real Azure sends.
type apiError struct {
	status  int
	code    string
	message string
}

func (e *apiError) write(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("x-ms-error-code", e.code)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(e.status)
	if r.Method == http.MethodHead {
		return // HEAD responses carry the code in the header only, as in Azure
	}
	body, _ := xml.Marshal(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string
		Message string
	}{Code: e.code, Message: e.message})
	_, _ = w.Write(append([]byte(xml.Header), body...))
}

func newErr(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, message: msg}
}

var (
	errAuth                 = newErr(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of Authorization header is formed correctly including the signature.")
	errContainerNotFound    = newErr(404, "ContainerNotFound", "The specified container does not exist.")
	errBlobNotFound         = newErr(404, "BlobNotFound", "The specified blob does not exist.")
	errBlobExists           = newErr(409, "BlobAlreadyExists", "The specified blob already exists.")
	errConditionNotMet      = newErr(412, "ConditionNotMet", "The condition specified using HTTP conditional header(s) is not met.")
	errInvalidRange         = newErr(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
	errInvalidBlockID       = newErr(400, "InvalidBlockId", "The specified block ID is invalid. The block ID must be Base64-encoded.")
	errInvalidBlockList     = newErr(400, "InvalidBlockList", "The specified block list is invalid.")
	errBlockIDLength        = newErr(400, "InvalidBlobOrBlock", "The specified blob or block content is invalid.")
	errBlockListTooLong     = newErr(400, "BlockListTooLong", "The block list may not contain more than 50,000 blocks.")
	errBlockCountExceeded   = newErr(409, "BlockCountExceedsLimit", "The uncommitted block count cannot exceed the maximum limit of 100,000 blocks.")
	errUnsupported          = newErr(400, "UnsupportedHttpVerb", "The resource doesn't support the specified HTTP verb or operation.")
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

func errMissingHeader(name string) *apiError {
	return newErr(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not specified: "+name+".")
}

func errInvalidHeader(name string) *apiError {
	return newErr(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format: "+name+".")
}
