// Package dnsname says whether a string is a host name SQL Server's BACKUP … TO URL can be
// given: the config check and the endpoint share this one rule (the simulator keeps its
// own, as it imports no product package).
package dnsname

import "strings"

// Valid accepts letters, digits and hyphens in dot-separated labels of 1..63 characters
// that neither start nor end with a hyphen, 253 characters at most (RFC 1123 host names).
func Valid(h string) bool {
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
