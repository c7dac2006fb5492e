package keys

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
)

// AlgFileGCM is the file provider's wrapping: the data key sealed as a blockcrypt frame
// (AES-256-GCM, random nonce) under the KEK, with the data key's id in the associated data,
// so a wrapped key moved to another record does not open.
const AlgFileGCM = "A256GCM-SQVB"

// wrapAADContext domain-separates wrapped keys from blocks sealed under the same key (the
// file KEK of an existing vault is also its first data key).
const wrapAADContext = "sqlvault data key wrap v1\x00"

// FileKEK is the file provider: the KEK is a local key file in today's format (one line of
// base64, 32 bytes, mode 0600; blockcrypt.LoadKeyFile). Every process that unwraps holds it.
type FileKEK struct {
	path string
	key  *blockcrypt.Key
}

// OpenFileKEK loads the key file at path. A missing or unreadable file is a *KEKError.
func OpenFileKEK(path string) (*FileKEK, error) {
	k, err := blockcrypt.LoadKeyFile(path)
	if err != nil {
		return nil, &KEKError{Provider: ProviderFile, KEK: path, Op: "load the key file", Err: err, Todo: fileTodo(err, path)}
	}
	return &FileKEK{path: path, key: k}, nil
}

// NewFileKEK is a file KEK from a key already loaded (tests; path is only for messages).
func NewFileKEK(k *blockcrypt.Key, path string) *FileKEK { return &FileKEK{path: path, key: k} }

func fileTodo(err error, path string) string {
	switch {
	case errors.Is(err, blockcrypt.ErrKeyFileMissing), errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("put the vault key file back at %s from your escrow copy (or point key.file at it); without it no data key it wraps, and no point sealed with it, can be read", path)
	case errors.Is(err, blockcrypt.ErrKeyFileTooOpen):
		return fmt.Sprintf("chmod 600 %s", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("let the service account read %s (and nobody else)", path)
	}
	return fmt.Sprintf("check %s: it must be the vault key file (one line of base64, 32 bytes)", path)
}

// Provider is ProviderFile.
func (f *FileKEK) Provider() string { return ProviderFile }

// Ref is "file:" + the KEK's key id (public, as every key id is).
func (f *FileKEK) Ref() string { return "file:" + f.key.ID() }

// DataKey is the key file's key as a data key: before the keyring it sealed points itself.
func (f *FileKEK) DataKey() *blockcrypt.Key { return f.key }

// Current is Ref.
func (f *FileKEK) Current(context.Context) (string, error) { return f.Ref(), nil }

// Wrap seals raw under the KEK.
func (f *FileKEK) Wrap(_ context.Context, dataKeyID string, raw []byte) (Wrapped, error) {
	frame, err := f.key.Seal(nil, raw, []byte(wrapAADContext+dataKeyID), false)
	if err != nil {
		return Wrapped{}, fmt.Errorf("keys: wrap data key %s: %w", dataKeyID, err)
	}
	return Wrapped{KEK: f.Ref(), Algorithm: AlgFileGCM, Value: frame}, nil
}

// Unwrap opens a key this file wrapped. A key wrapped under another KEK is a *KEKError that
// names the KEK it needs.
func (f *FileKEK) Unwrap(_ context.Context, dataKeyID string, w Wrapped) ([]byte, error) {
	if w.KEK != f.Ref() {
		return nil, &KEKError{Provider: ProviderFile, KEK: f.path, Op: fmt.Sprintf("unwrap data key %s", dataKeyID),
			Err:  fmt.Errorf("it is wrapped under %s, and this key file is %s", w.KEK, f.Ref()),
			Todo: "configure the KEK that wrapped it (key.file, or key.provider for a Key Vault key); after a KEK rotation, install the new key file on this machine"}
	}
	if w.Algorithm != AlgFileGCM {
		return nil, fmt.Errorf("%w: data key %s: algorithm %q, the file provider wraps with %s", ErrDataKeyMismatch, dataKeyID, w.Algorithm, AlgFileGCM)
	}
	raw, err := f.key.Open(nil, w.Value, []byte(wrapAADContext+dataKeyID))
	if err != nil {
		return nil, fmt.Errorf("%w: data key %s does not open under %s (record altered): %v", ErrDataKeyMismatch, dataKeyID, f.Ref(), err)
	}
	return raw, nil
}

// Describe names the file and its KEK reference.
func (f *FileKEK) Describe(context.Context) Description {
	return Description{Provider: ProviderFile, KEK: f.Ref(), Detail: "key file " + f.path}
}
