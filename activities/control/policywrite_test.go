package control

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/vaulttest"
)

const dailyDoc = `{"name": "daily-30d", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 60}, "retention": {"daily": {"days": 30}, "logDays": 15}, "compression": true}`

func putPolicy(t *testing.T, c *Control, doc string, replace bool) (protocol.PutPolicyResult, error) {
	t.Helper()
	return c.PutPolicy(context.Background(), protocol.PutPolicyInput{Name: "daily-30d", Document: json.RawMessage(doc), Replace: replace})
}

func TestPutPolicyCreatesThenIsIdempotent(t *testing.T) {
	cs := &vault.CountingStore{Store: vault.NewMemStore()}
	c := &Control{Vault: vault.NewRepository(cs, nil).WithKeys(vaulttest.Keys())}
	res, err := putPolicy(t, c, dailyDoc, false)
	require.NoError(t, err)
	assert.Equal(t, protocol.PutPolicyResult{Name: "daily-30d", Outcome: protocol.PolicyCreated}, res)
	stored, err := c.Vault.Policy(context.Background(), "daily-30d")
	require.NoError(t, err)
	assert.JSONEq(t, dailyDoc, string(stored))
	puts := cs.Snapshot().Puts

	// The same policy again, written differently (one line, other key order): a retry
	// whose first write succeeded. Success, nothing written, with or without replace.
	same := `{"compression": true, "retention": {"logDays": 15, "daily": {"days": 30}}, "log": {"everyMinutes": 60},
		"full": {"timeZone": "UTC", "timeOfDay": "02:00", "frequency": "daily"}, "name": "daily-30d"}`
	for _, replace := range []bool{false, true} {
		res, err = putPolicy(t, c, same, replace)
		require.NoError(t, err)
		assert.Equal(t, protocol.PolicyUnchanged, res.Outcome)
	}
	assert.Equal(t, puts, cs.Snapshot().Puts, "an unchanged policy is not rewritten")
}

func TestPutPolicyOtherContentNeedsReplace(t *testing.T) {
	c := &Control{Vault: vault.NewRepository(vault.NewMemStore(), nil).WithKeys(vaulttest.Keys())}
	_, err := putPolicy(t, c, dailyDoc, false)
	require.NoError(t, err)
	edited := `{"name": "daily-30d", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"},
 "log": {"everyMinutes": 240}, "retention": {"daily": {"days": 30}, "logDays": 15}, "compression": true}`
	_, err = putPolicy(t, c, edited, false)
	require.Error(t, err)
	assert.Equal(t, protocol.ErrPolicyExists, protocol.ErrorType(err))
	assert.Contains(t, err.Error(), "policy edit")
	stored, err := c.Vault.Policy(context.Background(), "daily-30d")
	require.NoError(t, err)
	assert.JSONEq(t, dailyDoc, string(stored), "a refused write leaves the stored policy")

	res, err := putPolicy(t, c, edited, true)
	require.NoError(t, err)
	assert.Equal(t, protocol.PolicyReplaced, res.Outcome)
	stored, err = c.Vault.Policy(context.Background(), "daily-30d")
	require.NoError(t, err)
	assert.JSONEq(t, edited, string(stored))
}

func TestPutPolicyRefusesInvalidDocuments(t *testing.T) {
	c := &Control{Vault: vault.NewRepository(vault.NewMemStore(), nil).WithKeys(vaulttest.Keys())}
	for _, tc := range []struct{ name, doc, want string }{
		{"daily-30d", `{"name": "daily-30d", "full": {"frequency": "daily", "timeOfDay": "02:00", "timeZone": "UTC"}, "log": {"everyMinutes": 5}, "retention": {"daily": {"days": 30}}}`, "log.everyMinutes"},
		{"daily-30d", `{"name": "daily-30d", "fulll": {}}`, "fulll"},
		{"daily-30d", `{"name": "other"}`, `names policy "other"`},
		{"bad/name", `{"name": "bad/name"}`, "policy name"},
		{"daily-30d", `not json`, "policy daily-30d"},
	} {
		_, err := c.PutPolicy(context.Background(), protocol.PutPolicyInput{Name: tc.name, Document: json.RawMessage(tc.doc)})
		require.Error(t, err, tc.doc)
		assert.Equal(t, protocol.ErrInvalidPolicy, protocol.ErrorType(err), tc.doc)
		assert.Contains(t, err.Error(), tc.want, tc.doc)
	}
	names, err := c.Vault.Policies(context.Background())
	require.NoError(t, err)
	assert.Empty(t, names, "nothing written")
}
