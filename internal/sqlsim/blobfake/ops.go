package blobfake

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// handle runs one blob operation with s.mu held. It writes the success response itself and
// returns an error to be written otherwise.
func (s *Server) handle(w http.ResponseWriter, r *http.Request, kind string, c *container, name string, q url.Values, body []byte) *apiError {
	if c == nil {
		return errContainerNotFound
	}
	if !s.authorized(c, q) {
		return errAuth
	}
	if name == "" {
		return errUnsupported // container and service operations are not part of the fake
	}
	b := c.blobs[name]
	now := s.now()
	leaseID := r.Header.Get("x-ms-lease-id")

	switch kind {
	case KindPutBlob:
		if bt := r.Header.Get("x-ms-blob-type"); bt != "BlockBlob" {
			return errInvalidHeader("x-ms-blob-type")
		}
		if b == nil {
			b = &blob{}
			c.blobs[name] = b
		}
		if e := checkWriteAccess(b, r, now); e != nil {
			return e
		}
		b.exists, b.content, b.committed, b.uncommitted = true, body, nil, nil
		b.touch(now)
		writeCreated(w, b)
		return nil

	case KindPutBlock:
		id := q.Get("blockid")
		if e := validBlockID(b, id); e != nil {
			return e
		}
		if b == nil {
			b = &blob{} // staged blocks exist before the blob does
			c.blobs[name] = b
		}
		if b.exists {
			if e := b.lease.checkWrite(now, leaseID); e != nil {
				return e
			}
		}
		if i := indexOf(b.uncommitted, id); i >= 0 {
			b.uncommitted[i].data = body // a block put again replaces the staged one
		} else {
			if len(b.uncommitted) >= maxUncommittedBlocks {
				return errBlockCountExceeded
			}
			b.uncommitted = append(b.uncommitted, block{id: id, data: body})
		}
		w.WriteHeader(http.StatusCreated)
		return nil

	case KindPutBlockList:
		if b == nil {
			b = &blob{}
			c.blobs[name] = b
		}
		if e := checkWriteAccess(b, r, now); e != nil {
			return e
		}
		blocks, e := b.resolveBlockList(body)
		if e != nil {
			return e
		}
		var content bytes.Buffer
		for _, bl := range blocks {
			content.Write(bl.data)
		}
		b.exists, b.content, b.committed, b.uncommitted = true, content.Bytes(), blocks, nil
		b.touch(now)
		writeCreated(w, b)
		return nil
	}

	// The remaining operations need a committed blob.
	if b == nil || !b.exists {
		if kind == KindGetBlockList && b != nil {
			return s.getBlockList(w, b, q, now, leaseID)
		}
		return errBlobNotFound
	}
	switch kind {
	case KindGetBlockList:
		return s.getBlockList(w, b, q, now, leaseID)
	case KindGetProperties, KindGetBlob:
		if e := b.lease.checkRead(now, leaseID); e != nil {
			return e
		}
		return serveBlob(w, r, b, now)
	case KindDeleteBlob:
		if e := checkWriteAccess(b, r, now); e != nil {
			return e
		}
		delete(c.blobs, name)
		w.WriteHeader(http.StatusAccepted)
		return nil
	case KindLeaseAcquire, KindLeaseRenew, KindLeaseChange, KindLeaseRelease, KindLeaseBreak:
		status, h, e := b.lease.apply(now, r.Header, newLeaseID)
		if e != nil {
			return e
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("ETag", b.etagString())
		w.WriteHeader(status)
		return nil
	}
	return errUnsupported
}

func (b *blob) touch(now time.Time) {
	b.modified = now
	b.etag++
}

func (b *blob) etagString() string { return fmt.Sprintf("\"0x8D%014X\"", b.etag) }

func writeCreated(w http.ResponseWriter, b *blob) {
	w.Header().Set("ETag", b.etagString())
	w.Header().Set("Last-Modified", b.modified.UTC().Format(http.TimeFormat))
	w.WriteHeader(http.StatusCreated)
}

// checkWriteAccess applies the conditional headers SQL Server uses (If-None-Match: * to
// refuse overwriting; If-Match for completeness) and then the lease rules. The order is
// Azurite's: Put Blob with If-None-Match: * on a leased blob answers 409 BlobAlreadyExists.
func checkWriteAccess(b *blob, r *http.Request, now time.Time) *apiError {
	switch inm := r.Header.Get("If-None-Match"); {
	case inm == "*" && b.exists:
		return errBlobExists
	case inm != "" && inm != "*" && b.exists && inm == b.etagString():
		return errConditionNotMet
	}
	if im := r.Header.Get("If-Match"); im != "" && (!b.exists || (im != "*" && im != b.etagString())) {
		return errConditionNotMet
	}
	if b.exists {
		return b.lease.checkWrite(now, r.Header.Get("x-ms-lease-id"))
	}
	if r.Header.Get("x-ms-lease-id") != "" {
		return errLeaseNotPresentBlob
	}
	return nil
}

// validBlockID checks that id is base64 of at most 64 bytes and, as Azure requires, has
// the same length as every other block id of the blob.
func validBlockID(b *blob, id string) *apiError {
	raw, err := base64.StdEncoding.DecodeString(id)
	if id == "" || err != nil || len(raw) > maxBlockIDBytes {
		return errInvalidBlockID
	}
	if b == nil {
		return nil
	}
	for _, list := range [][]block{b.uncommitted, b.committed} {
		if len(list) > 0 && len(list[0].id) != len(id) {
			return errBlockIDLength
		}
	}
	return nil
}

func indexOf(bs []block, id string) int {
	for i, b := range bs {
		if b.id == id {
			return i
		}
	}
	return -1
}

// resolveBlockList reads a Put Block List body (in any encoding SQL Server sends: see
// parseBlockList): <Latest> looks among the uncommitted blocks first, <Committed> and
// <Uncommitted> only in their own list.
func (b *blob) resolveBlockList(body []byte) ([]block, *apiError) {
	list, perr := parseBlockList(body, maxCommittedBlocks)
	if perr != nil {
		return nil, perr
	}
	out := make([]block, 0, len(list))
	for _, e := range list {
		found := -1
		var from []block
		switch e.list {
		case "Latest":
			if found = indexOf(b.uncommitted, e.id); found >= 0 {
				from = b.uncommitted
			} else if found = indexOf(b.committed, e.id); found >= 0 {
				from = b.committed
			}
		case "Uncommitted":
			from, found = b.uncommitted, indexOf(b.uncommitted, e.id)
		case "Committed":
			from, found = b.committed, indexOf(b.committed, e.id)
		}
		if found < 0 {
			return nil, errInvalidBlockList
		}
		out = append(out, from[found])
	}
	return out, nil
}

type xmlBlock struct {
	Name string
	Size int
}

func toXMLBlocks(bs []block) []xmlBlock {
	out := make([]xmlBlock, 0, len(bs))
	for _, b := range bs {
		out = append(out, xmlBlock{Name: b.id, Size: len(b.data)})
	}
	return out
}

func (s *Server) getBlockList(w http.ResponseWriter, b *blob, q url.Values, now time.Time, leaseID string) *apiError {
	if e := b.lease.checkRead(now, leaseID); e != nil {
		return e
	}
	var list struct {
		XMLName     xml.Name   `xml:"BlockList"`
		Committed   []xmlBlock `xml:"CommittedBlocks>Block"`
		Uncommitted []xmlBlock `xml:"UncommittedBlocks>Block"`
	}
	// Any letter case: Azure's reference spells the values in lower case, WAL-G's proxy
	// matches them case-insensitively.
	switch t := strings.ToLower(q.Get("blocklisttype")); t {
	case "", "committed":
		list.Committed = toXMLBlocks(b.committed)
	case "uncommitted":
		list.Uncommitted = toXMLBlocks(b.uncommitted)
	case "all":
		list.Committed, list.Uncommitted = toXMLBlocks(b.committed), toXMLBlocks(b.uncommitted)
	default:
		return newErr(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request URI is invalid: blocklisttype.")
	}
	out, _ := xml.Marshal(list)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append([]byte(xml.Header), out...))
	return nil
}

// serveBlob answers HEAD and GET, the latter with x-ms-range (preferred, as in Azure) or
// Range: "bytes=a-b" or "bytes=a-".
func serveBlob(w http.ResponseWriter, r *http.Request, b *blob, now time.Time) *apiError {
	h := w.Header()
	h.Set("x-ms-blob-type", "BlockBlob")
	h.Set("ETag", b.etagString())
	h.Set("Last-Modified", b.modified.UTC().Format(http.TimeFormat))
	h.Set("Accept-Ranges", "bytes")
	h.Set("Content-Type", "application/octet-stream")
	state := b.lease.stateAt(now)
	h.Set("x-ms-lease-state", state)
	if state == LeaseLeased || state == LeaseBreaking {
		h.Set("x-ms-lease-status", "locked")
	} else {
		h.Set("x-ms-lease-status", "unlocked")
	}
	if state == LeaseLeased {
		if b.lease.infinite {
			h.Set("x-ms-lease-duration", "infinite")
		} else {
			h.Set("x-ms-lease-duration", "fixed")
		}
	}
	size := int64(len(b.content))
	if r.Method == http.MethodHead {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	spec := r.Header.Get("x-ms-range")
	if spec == "" {
		spec = r.Header.Get("Range")
	}
	if spec == "" {
		h.Set("Content-Length", strconv.FormatInt(size, 10))
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(b.content)
		return nil
	}
	start, end, ok := parseRange(spec)
	if !ok {
		return errInvalidHeader("x-ms-range")
	}
	if start >= size {
		return errInvalidRange
	}
	if end < 0 || end >= size {
		end = size - 1
	}
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
	h.Set("Content-Length", strconv.FormatInt(end-start+1, 10))
	w.WriteHeader(http.StatusPartialContent)
	_, _ = w.Write(b.content[start : end+1])
	return nil
}

// parseRange parses "bytes=a-b" or "bytes=a-" (end -1).
func parseRange(spec string) (start, end int64, ok bool) {
	v, found := strings.CutPrefix(spec, "bytes=")
	if !found {
		return 0, 0, false
	}
	a, bs, found := strings.Cut(v, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	if bs == "" {
		return start, -1, true
	}
	end, err = strconv.ParseInt(bs, 10, 64)
	if err != nil || end < start {
		return 0, 0, false
	}
	return start, end, true
}
