package keys

import (
	"errors"
	"fmt"
	"io/fs"

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

// LocalFiles are the key files the ring serves as data keys (key.file), which `key rotate`
// adopts into the keyring.
func (r *Ring) LocalFiles() []string { return append([]string(nil), r.files...) }
