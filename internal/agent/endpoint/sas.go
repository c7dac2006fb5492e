package endpoint

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"
)

// The SAS parameters the endpoint mints. They look like an Azure container SAS because SQL
// Server stores the token as a credential SECRET and sends it verbatim in every request's
// query string; only this server can check the signature.
const (
	sasVersion   = "2020-08-04"
	permsBackup  = "rwdl" // what Microsoft documents for a BACKUP TO URL credential
	permsRestore = "rl"   // read-only: a restore session never accepts a write
)

// Reasons a token is refused. They go to the server log only; the client always gets the
// same AuthenticationFailed.
var (
	errTokenMalformed = errors.New("malformed or missing SAS parameters")
	errTokenSignature = errors.New("SAS signature does not match")
	errTokenExpired   = errors.New("SAS token expired")
)

// sasToken is a token's signed fields.
type sasToken struct {
	version string // sv: the service version the request is processed with
	perms   string
	expiry  time.Time
}

// signature is base64(HMAC-SHA256(key, string-to-sign)). The string binds the container
// (so one session's token is useless for another), the permissions (so a read-only token
// cannot be widened) and the expiry. The version prefix lets the format change later.
func signature(key []byte, container, sv, sr, sp, se string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(strings.Join([]string{"sqlvault-sas-1", container, sv, sr, sp, se}, "\n")))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// mintSAS returns a container SAS token, without a leading '?'. The expiry is rounded up
// to the second, the precision of Azure's se parameter.
func mintSAS(key []byte, container, perms string, expiry time.Time) string {
	se := expiry.UTC().Add(time.Second - 1).Truncate(time.Second).Format(time.RFC3339)
	v := url.Values{}
	v.Set("sv", sasVersion)
	v.Set("sr", "c")
	v.Set("sp", perms)
	v.Set("se", se)
	v.Set("sig", signature(key, container, sasVersion, "c", perms, se))
	// Azure's own order (sv, sr, sp, se, sig) rather than url.Values' sorted one: some
	// tools compare tokens as strings.
	var b strings.Builder
	for i, k := range []string{"sv", "sr", "sp", "se", "sig"} {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(k + "=" + url.QueryEscape(v.Get(k)))
	}
	return b.String()
}

// verifySAS checks the request's SAS parameters for container: a well-formed container
// token, a matching signature (constant-time) and an expiry in the future.
func verifySAS(key []byte, container string, q url.Values, now time.Time) (sasToken, error) {
	sv, sr, sp, se, sig := q.Get("sv"), q.Get("sr"), q.Get("sp"), q.Get("se"), q.Get("sig")
	if sv == "" || sr != "c" || sp == "" || se == "" || sig == "" {
		return sasToken{}, errTokenMalformed
	}
	got, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return sasToken{}, errTokenMalformed
	}
	want, _ := base64.StdEncoding.DecodeString(signature(key, container, sv, sr, sp, se))
	if !hmac.Equal(got, want) {
		return sasToken{}, errTokenSignature
	}
	expiry, err := time.Parse(time.RFC3339, se)
	if err != nil {
		return sasToken{}, errTokenMalformed
	}
	if !now.Before(expiry) {
		return sasToken{}, errTokenExpired
	}
	return sasToken{version: sv, perms: sp, expiry: expiry}, nil
}

// allows reports whether the token grants permission p ('r', 'w', 'd', …).
func (t sasToken) allows(p byte) bool { return strings.IndexByte(t.perms, p) >= 0 }
