package urlio

import (
	"errors"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// BlobURL is a parsed backup device URL.
type BlobURL struct {
	Raw          string
	Scheme       string // always "https"
	Host         string // host[:port], as written
	ContainerURL string // scheme://host[:port]/<path up to and including the container>, no trailing slash
	BlobName     string // the last path segment, unescaped
}

// String returns the blob's URL without any query.
func (u BlobURL) String() string { return u.ContainerURL + "/" + url.PathEscape(u.BlobName) }

// ParseURL validates a backup device URL as SQL Server does: https only, a DNS host name
// (an IP literal is an invalid device for SQL Server), at least a container and a blob
// name, and no query or fragment (the SAS belongs in the credential). The container is the
// segment before the blob name, so a path-style emulator URL
// https://host:10000/devstoreaccount1/c/x.bak has ContainerURL
// https://host:10000/devstoreaccount1/c.
func ParseURL(raw string) (BlobURL, error) {
	bad := func(why string) (BlobURL, error) {
		return BlobURL{}, &Error{Op: "parse URL", URL: redact(raw), Kind: ErrInvalidURL, Err: errors.New(why)}
	}
	u, err := url.Parse(raw)
	if err != nil {
		return bad("not a URL")
	}
	if !strings.EqualFold(u.Scheme, "https") {
		return bad("the scheme must be https")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return bad("user info, query and fragment are not allowed")
	}
	host := u.Hostname()
	if net.ParseIP(host) != nil {
		return bad("the host must be a DNS name, not an IP address")
	}
	if !validDNSName(host) {
		return bad("the host is not a valid DNS name")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad("invalid port")
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return bad("invalid port")
	}
	path := u.EscapedPath()
	cut := strings.LastIndex(path, "/")
	if cut <= 0 || cut == len(path)-1 {
		return bad("the URL must name a container and a blob")
	}
	for _, seg := range strings.Split(path[1:], "/") {
		if seg == "" {
			return bad("empty path segment")
		}
	}
	name, err := url.PathUnescape(path[cut+1:])
	if err != nil {
		return bad("invalid blob name")
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

// normalizeContainerURL lower-cases "scheme://host[:port]" and keeps the path as is.
func normalizeContainerURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return s
	}
	host, path, _ := strings.Cut(rest, "/")
	return strings.ToLower(scheme) + "://" + strings.ToLower(host) + "/" + path
}
