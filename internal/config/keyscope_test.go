package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// key.scope vm is an agent's own KEK: an agent-only worker that reads the keyring; key.vms
// names each VM's KEK for `sqlvault key rotate --vm`.
func TestKeyScopeAndVMKeys(t *testing.T) {
	c := validAgent(t)
	c.Role = RoleAgent
	c.Key.Scope = KeyScopeVM
	assert.NoError(t, c.Validate())
	assert.True(t, c.Key.VMScoped())

	c.Agent.VaultAccess = VaultAccessGrant
	assert.NoError(t, c.Validate(), "a grant-only agent gets its VM's keys with each step's grant")
	c.Agent.VaultAccess = ""
	c.Role = RoleBoth
	assert.Equal(t, []string{`key.scope: vm is for an agent-only worker (role agent): the control side needs the fleet KEK, which opens every data key`},
		errorLines(c.Validate()))
	c.Key.Scope = "vms"
	assert.Equal(t, []string{`key.scope: "vms" is not a key scope; use fleet (the fleet's KEK) or vm (this VM's own KEK)`}, errorLines(c.Validate()))

	c = validAgent(t)
	c.Role = RoleControl
	c.Agent = Agent{}
	c.Key.VMs = map[string]VMKey{"sqlvm-a": {File: c.Key.File}, "SQLVM-B": {Provider: KeyProviderAzureKeyVault}}
	assert.Equal(t, []string{
		`key.vms: "SQLVM-B" is not a VM name: use the agent's agent.vm, lower-case`,
		`key.vms.SQLVM-B.azureKeyVault: set vaultUrl and keyName of VM SQLVM-B's own Key Vault key`,
	}, errorLines(c.Validate()))
}

func TestKeyVMsLoadFromTheFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
key:
  file: /etc/sqlvault/fleet.key
  vms:
    sqlvm-a: {file: /etc/sqlvault/vms/sqlvm-a.key}
    sqlvm-b:
      provider: azurekeyvault
      azureKeyVault: {vaultUrl: "https://kv.vault.azure.net/", keyName: sqlvm-b}
`), 0o600))
	c, err := Load(path, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "/etc/sqlvault/vms/sqlvm-a.key", c.Key.VMs["sqlvm-a"].Key().File)
	assert.Equal(t, KeyProviderAzureKeyVault, c.Key.VMs["sqlvm-b"].Key().KeyProvider())
	assert.Equal(t, "sqlvm-b", c.Key.VMs["sqlvm-b"].AzureKeyVault.KeyName)
}

// key.crossVMRestores is allow (the default, also when unset) or refuse; anything else is named.
func TestKeyCrossVMRestores(t *testing.T) {
	c := validAgent(t)
	assert.False(t, c.Key.RefusesCrossVMRestores())
	c.Key.CrossVMRestores = CrossVMAllow
	assert.NoError(t, c.Validate())
	assert.False(t, c.Key.RefusesCrossVMRestores())
	c.Key.CrossVMRestores = CrossVMRefuse
	assert.NoError(t, c.Validate())
	assert.True(t, c.Key.RefusesCrossVMRestores())
	c.Key.CrossVMRestores = "deny"
	assert.Equal(t, []string{`key.crossVMRestores: "deny": use allow (deliver a VM's keys for restores onto other VMs) or refuse`}, errorLines(c.Validate()))
	assert.False(t, c.Key.RefusesCrossVMRestores())
}
