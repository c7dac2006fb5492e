package dnsname

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestValid(t *testing.T) {
	for _, h := range []string{"sqlvault-agent.local", "a", "agent.sqlvault.test.", "x1-2.y", strings.Repeat("a", 63) + ".b"} {
		assert.True(t, Valid(h), h)
	}
	for _, h := range []string{"", "-a.b", "a-.b", "a..b", "a b", "a_b", "127.0.0.1:443", "host:443", "ünï.test",
		strings.Repeat("a", 64) + ".b", strings.Repeat("a.", 127) + "ab"} {
		assert.False(t, Valid(h), h)
	}
}
