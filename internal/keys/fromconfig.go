package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"sort"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// OpenKEK builds the configured KEK provider (no call is made to Key Vault yet).
func OpenKEK(k config.Key) (KEK, error) {
	switch k.KeyProvider() {
	case config.KeyProviderFile:
		if k.File == "" {
			return nil, &KEKError{Provider: ProviderFile, KEK: "(none)", Op: "load the key file", Err: errors.New("key.file is not set"),
				Todo: "set key.file (--key-file or SQLVAULT_KEY_FILE) to the vault key file"}
		}
		return OpenFileKEK(k.File)
	case config.KeyProviderAzureKeyVault:
		kv := k.AzureKeyVault
		return NewAzureKEK(AzureOptions{VaultURL: kv.VaultURL, KeyName: kv.KeyName, KeyVersion: kv.KeyVersion})
	}
	return nil, fmt.Errorf("keys: key.provider %q: use %s or %s", k.Provider, config.KeyProviderFile, config.KeyProviderAzureKeyVault)
}

// FromConfig is the keyring of repo as the configuration describes it: the KEK of
// key.provider, and key.file as a local key (the file provider's KEK is that file; with Key
// Vault the file is optional, read if it exists, and serves the points it sealed before
// the keyring). LocalFiles of the result lists it, for `key rotate` to adopt.
func FromConfig(k config.Key, repo *vault.Repository) (*Ring, error) {
	if k.VMScoped() {
		// Taken as the fleet's, a VM's key file would pass for a data key and a KEK that
		// wraps nothing of the keyring's.
		return nil, fmt.Errorf("keys: key.scope is %s: these key settings are one VM's own KEK, which opens that VM's data keys only; the control worker and the sqlvault CLI need the fleet's KEK (key.scope %s, with each VM's KEK under key.vms)",
			config.KeyScopeVM, config.KeyScopeFleet)
	}
	kek, err := OpenKEK(k)
	if err != nil {
		return nil, err
	}
	if f, ok := kek.(*FileKEK); ok {
		r := NewRing(repo, kek, f.DataKey())
		r.files = []string{k.File}
		return r, nil
	}
	if k.File == "" {
		return NewRing(repo, kek), nil
	}
	local, err := blockcrypt.LoadKeyFile(k.File)
	if errors.Is(err, blockcrypt.ErrKeyFileMissing) || errors.Is(err, fs.ErrNotExist) {
		return NewRing(repo, kek), nil // the keyring holds every key; no key file needed
	}
	if err != nil {
		return nil, fmt.Errorf("key.file %s (read as the data key of points sealed before the keyring): %w", k.File, err)
	}
	r := NewRing(repo, kek, local)
	r.files = []string{k.File}
	return r, nil
}

// ForAgent is the keyring of the agent of VM vm: with key.scope vm, its VM's ring through
// the VM's own KEK (NewVMRing: no key file serves as a data key there, the file is the
// VM's KEK and nothing else; repo nil for an agent without a vault credential); otherwise
// the fleet's keyring, as FromConfig.
func ForAgent(k config.Key, vm string, repo *vault.Repository) (*Ring, error) {
	if !k.VMScoped() {
		return FromConfig(k, repo)
	}
	kek, err := OpenKEK(k)
	if err != nil {
		return nil, err
	}
	if !vault.ValidKeyScope(vault.KeyScope(vm)) {
		return nil, fmt.Errorf("keys: key.scope is %s, and agent.vm %q is not a VM name the keyring can scope keys to", config.KeyScopeVM, vm)
	}
	return NewVMRing(repo, vm, kek), nil
}

// OpenVMKEK is VM vm's own KEK as key.vms configures it (the name matched as agent task
// queues match it, case-insensitively); a VM without one is a named error.
func OpenVMKEK(k config.Key, vm string) (KEK, error) {
	scope := vault.KeyScope(vm)
	for name, vk := range k.VMs {
		if vault.KeyScope(name) == scope {
			kek, err := OpenKEK(vk.Key())
			if err != nil {
				return nil, fmt.Errorf("key.vms.%s: %w", name, err)
			}
			return kek, nil
		}
	}
	return nil, fmt.Errorf("keys: VM %s has no KEK of its own configured: add key.vms.%s (its key file, or its Key Vault key) to this configuration", scope, scope)
}

// VMs are the VM names key.vms configures, sorted, as key scopes.
func VMs(k config.Key) []string {
	out := make([]string, 0, len(k.VMs))
	for name := range k.VMs {
		out = append(out, vault.KeyScope(name))
	}
	sort.Strings(out)
	return out
}

// LocalFiles are the key files the ring serves as data keys (key.file), which `key rotate`
// adopts into the keyring.
func (r *Ring) LocalFiles() []string { return append([]string(nil), r.files...) }
