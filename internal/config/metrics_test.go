package config

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Not set, /metrics is on loopback at a port per role, so a control and an agent process on
// one machine can both serve it; "off" turns it off; a file sets both settings.
func TestMetricsListenDefaultsByRole(t *testing.T) {
	for role, want := range map[Role]string{RoleControl: DefaultControlMetricsListen, RoleBoth: DefaultControlMetricsListen,
		RoleAgent: DefaultAgentMetricsListen} {
		c := Default()
		c.Role = role
		assert.Equal(t, want, c.MetricsListen(), role)
	}
	assert.NotEqual(t, DefaultControlMetricsListen, DefaultAgentMetricsListen)

	path := writeFile(t, "m.yaml", "role: agent\nmetrics:\n  listen: \"off\"\n  catalogRefresh: 30s\n")
	c, err := Load(path, envMap(), nil)
	require.NoError(t, err)
	assert.Equal(t, MetricsOff, c.MetricsListen())
	assert.Equal(t, 30*time.Second, c.Metrics.CatalogRefresh)
	c, err = Load(path, envMap("SQLVAULT_METRICS_LISTEN", "0.0.0.0:9100"), nil)
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:9100", c.MetricsListen(), "the environment beats the file")
}

// A bad address or refresh period is refused by name, saying what to write.
func TestMetricsValidation(t *testing.T) {
	c := Default()
	c.Role = RoleControl
	c.Vault.AccountURL = "https://acct.blob.core.windows.net"
	for _, ok := range []string{"", "off", "127.0.0.1:9741", "0.0.0.0:9741", "[::1]:9741", "localhost:9741", ":9741"} {
		c.Metrics.Listen = ok
		for _, l := range errorLines(c.Validate()) {
			assert.NotContains(t, l, "metrics.", "%q is valid", ok)
		}
	}
	for bad, msg := range map[string]string{
		"9741":              `metrics.listen: "9741" is not ip:port; use e.g. 127.0.0.1:9741 (this machine only), 0.0.0.0:9741 (every interface), or off to turn /metrics off`,
		"127.0.0.1:0":       `metrics.listen: "127.0.0.1:0": the port must be 1 to 65535, so Prometheus knows where to scrape`,
		"metrics.corp:9741": `metrics.listen: "metrics.corp:9741": give an IP address (or localhost), not a host name, so the address bound is the one meant`,
		"127.0.0.1:metrics": `metrics.listen: "127.0.0.1:metrics": the port must be 1 to 65535, so Prometheus knows where to scrape`,
	} {
		c.Metrics.Listen = bad
		assert.Contains(t, errorLines(c.Validate()), msg)
	}
	c.Metrics.Listen = ""
	c.Metrics.CatalogRefresh = 100 * time.Millisecond
	assert.Contains(t, errorLines(c.Validate()),
		"metrics.catalogRefresh: 100ms is too short; each refresh lists every protected item's points, so use at least 1s (default 2m0s)")
	c.Role = RoleAgent
	for _, l := range errorLines(c.Validate()) {
		assert.NotContains(t, l, "catalogRefresh", "an agent reads no catalog")
	}
}
