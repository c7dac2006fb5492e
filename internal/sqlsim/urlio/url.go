package urlio

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// BlobURL is a parsed backup device URL.
type BlobURL struct {
	Raw          string
	Scheme       string // always "https"
	Host         string // the host name, as written (never a port: SQL Server accepts none)
	ContainerURL string // https://host/<path up to and including the container>, no trailing slash
	BlobName     string // the last path segment, unescaped
}

// String returns the blob's URL without any query.
func (u BlobURL) String() string { return u.ContainerURL + "/" + url.PathEscape(u.BlobName) }

// ErrDeviceName is the kind of the URLs SQL Server refuses as device names before it sends
// any request (error 3078): http instead of https, an IP address instead of a host name, an
// explicit port. Sources are in internal/sqlsim/FIDELITY.md ("Backup URL and endpoint
// address"): Azurite #1089 and mssql-docker #721 (http://127.0.0.1:20000/… refused with
// 3078's text), WAL-G's docs/SQLServer.md ("domain name required, no plain IP address",
// "default https port (443) required, no custom port supported").
var ErrDeviceName = errors.New("invalid as a backup device name")

// ParseURL validates a backup device URL as SQL Server does: https only, a DNS host name
// (not an IP address), the default port only (no ":port" at all), at least a container
// and a blob name, and no query or fragment (the SAS belongs in the credential). The first
// three are ErrDeviceName, the rest ErrInvalidURL. The container is the segment before the
// blob name, so a path-style emulator URL https://host/devstoreaccount1/c/x.bak has
// ContainerURL https://host/devstoreaccount1/c.
func ParseURL(raw string) (BlobURL, error) {
	bad := func(kind error, why string) (BlobURL, error) {
		return BlobURL{}, &Error{Op: "parse URL", URL: redact(raw), Kind: kind, Err: errors.New(why)}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad(ErrInvalidURL, "not a URL")
	}
	if strings.EqualFold(u.Scheme, "http") {
		return bad(ErrDeviceName, "SQL Server writes backups to URL over https only")
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return bad(ErrInvalidURL, "the scheme must be https")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return bad(ErrInvalidURL, "user info, query and fragment are not allowed")
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return bad(ErrDeviceName, "the host must be a DNS name, not an IP address")
	}
	if u.Port() != "" || strings.HasSuffix(u.Host, ":") {
		return bad(ErrDeviceName, "the URL must not name a port: SQL Server uses the default https port (443) only")
	}
	if !validDNSName(host) {
		return bad(ErrInvalidURL, "the host is not a valid DNS name")
	}
	path := u.EscapedPath()
	cut := strings.LastIndex(path, "/")
	if cut <= 0 || cut == len(path)-1 {
		return bad(ErrInvalidURL, "the URL must name a container and a blob")
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "" {
			return bad(ErrInvalidURL, "empty path segment")
		}
	}
	name, err := url.PathUnescape(path[cut+1:])
	if err != nil {
		return bad(ErrInvalidURL, "invalid blob name")
	}
	return BlobURL{
		Raw:          raw,
		Scheme:       "https",
		Host:         u.Host,
		ContainerURL: "https://" + u.Host + path[:cut],
		BlobName:     name,
	}, nil
}

// validDNSName accepts letters, digits and hyphens in dot-separated labels of 1..63
// characters that neither start nor end with a hyphen.
func validDNSName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return false
			}
		}
	}
	return true
}

// MatchCredential picks the credential SQL Server would use for u: the one whose name equals
// u's container URL, comparing scheme and host case-insensitively and the path exactly. A
// name with a trailing slash does not match: SQL Server wants the container URL without it.
func MatchCredential(u BlobURL, credentialNames []string) (string, bool) {
	want := normalizeContainerURL(u.ContainerURL)
	for _, name := range credentialNames {
		if normalizeContainerURL(name) == want {
			return name, true
		}
	}
	return "", false
}

// normalizeContainerURL lower-cases "scheme://host" and keeps the path as is.
func normalizeContainerURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	host, path, _ := strings.Cut(rest, "/")
	return strings.ToLower(scheme) + "://" + strings.ToLower(host) + "/" + path
}
