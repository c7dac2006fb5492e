package urlio_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		raw                          string
		host, containerURL, blobName string
	}{
		{"https://agent.sqlvault.test/backups/db1.bak", "agent.sqlvault.test", "https://agent.sqlvault.test/backups", "db1.bak"},
		{"https://acct.blob.core.windows.net/c/dir/x.bak", "acct.blob.core.windows.net", "https://acct.blob.core.windows.net/c/dir", "x.bak"},
		{"https://blob.sqlsim.test/devstoreaccount1/c/x_1.bak", "blob.sqlsim.test", "https://blob.sqlsim.test/devstoreaccount1/c", "x_1.bak"},
		{"HTTPS://Agent.SQLVault.test/Backups/A%20B.bak", "Agent.SQLVault.test", "https://Agent.SQLVault.test/Backups", "A B.bak"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			u, err := urlio.ParseURL(tt.raw)
			require.NoError(t, err)
			assert.Equal(t, tt.raw, u.Raw)
			assert.Equal(t, "https", u.Scheme)
			assert.Equal(t, tt.host, u.Host)
			assert.Equal(t, tt.containerURL, u.ContainerURL)
			assert.Equal(t, tt.blobName, u.BlobName)
		})
	}
}

// SQL Server refuses http, IP address hosts and explicit ports as device names, before it
// sends a request (error 3078; sources in FIDELITY.md, "Backup URL and endpoint address").
func TestParseURLRefusesDeviceNamesSQLServerRefuses(t *testing.T) {
	for raw, why := range map[string]string{
		"http://agent.sqlvault.test/backups/db1.bak":              "https only",
		"HTTP://agent.sqlvault.test/backups/db1.bak":              "https only",
		"http://127.0.0.1:20000/devstoreaccount1/baks/x.bak":      "https only", // Azurite #1089
		"https://127.0.0.1/devstoreaccount1/c/x.bak":              "not an IP address",
		"https://10.1.2.3/c/x.bak":                                "not an IP address",
		"https://[::1]/c/x.bak":                                   "not an IP address",
		"https://[::1]:10000/c/x.bak":                             "not an IP address",
		"https://agent.sqlvault.test:8443/backups/db1.bak":        "must not name a port",
		"https://agent.sqlvault.test:443/backups/db1.bak":         "must not name a port",
		"https://agent.sqlvault.test:/backups/db1.bak":            "must not name a port",
		"https://blob.sqlsim.test:10000/devstoreaccount1/c/x.bak": "must not name a port",
	} {
		_, err := urlio.ParseURL(raw)
		assert.ErrorIs(t, err, urlio.ErrDeviceName, raw)
		assert.NotErrorIs(t, err, urlio.ErrInvalidURL, raw)
		assert.ErrorContains(t, err, why, raw)
	}
}

func TestParseURLRefusesWhatSQLServerRefuses(t *testing.T) {
	for _, raw := range []string{
		"https://agent.sqlvault.test/db1.bak",            // no container
		"https://agent.sqlvault.test/backups/",           // no blob name
		"https://agent.sqlvault.test/backups",            // no blob name
		"https://agent.sqlvault.test",                    // nothing
		"https://agent.sqlvault.test/backups//x.bak",     // empty segment
		"https://agent.sqlvault.test/c/x.bak?sv=1&sig=s", // SAS in the URL
		"https://user@agent.sqlvault.test/c/x.bak",       // user info
		"https://agent_1.sqlvault.test/c/x.bak",          // not a DNS name
		"C:\\backups\\db1.bak",
		"",
	} {
		_, err := urlio.ParseURL(raw)
		assert.ErrorIs(t, err, urlio.ErrInvalidURL, raw)
	}
	_, err := urlio.ParseURL("https://agent.sqlvault.test/c/x.bak?sv=1&sig=SECRET")
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "SECRET", "the SAS never appears in an error")
}

func TestMatchCredential(t *testing.T) {
	u, err := urlio.ParseURL("https://Agent.sqlvault.test/backups/db1.bak")
	require.NoError(t, err)
	tests := []struct {
		name  string
		creds []string
		want  string
		ok    bool
	}{
		{"exact", []string{"https://Agent.sqlvault.test/backups"}, "https://Agent.sqlvault.test/backups", true},
		{"host and scheme ignore case", []string{"HTTPS://agent.SQLVAULT.test/backups"}, "HTTPS://agent.SQLVAULT.test/backups", true},
		{"picks the matching one", []string{"https://agent.sqlvault.test/other", "https://agent.sqlvault.test/backups"}, "https://agent.sqlvault.test/backups", true},
		{"container is case sensitive", []string{"https://agent.sqlvault.test/Backups"}, "", false},
		{"trailing slash does not match", []string{"https://agent.sqlvault.test/backups/"}, "", false},
		{"a name with a port is another name", []string{"https://agent.sqlvault.test:443/backups"}, "", false},
		{"blob URL is not a container URL", []string{"https://agent.sqlvault.test/backups/db1.bak"}, "", false},
		{"none", nil, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := urlio.MatchCredential(u, tt.creds)
			assert.Equal(t, tt.ok, ok)
			assert.Equal(t, tt.want, got)
		})
	}

	emu, err := urlio.ParseURL("https://blob.sqlsim.test/devstoreaccount1/c/x.bak")
	require.NoError(t, err)
	got, ok := urlio.MatchCredential(emu, []string{"https://blob.sqlsim.test/c", "https://blob.sqlsim.test/devstoreaccount1/c"})
	assert.True(t, ok)
	assert.Equal(t, "https://blob.sqlsim.test/devstoreaccount1/c", got, "path-style URLs include the account segment")
}
