package payloadcodec

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
)

// KeyFileFormat is the codec key file's format tag.
const KeyFileFormat = "sqlvault.codec-keys/v1"

// keyIDPrefix keeps codec key ids apart from data key ids: the KEK binds the id into the
// wrapping, so a codec key's wrapping cannot be passed off as a data key's, or back.
const keyIDPrefix = "codec-"

// Key file errors.
var (
	// ErrKeyFileExists: `codec init` never overwrites a codec key file (losing one makes
	// every history it encrypted unreadable).
	ErrKeyFileExists = errors.New("payloadcodec: codec key file already exists")
	// ErrKeyFileTooOpen: the file is readable or writable by others than its owner.
	ErrKeyFileTooOpen = errors.New("payloadcodec: codec key file is readable by others")
	// ErrKeyFileFormat: the file is not a codec key file.
	ErrKeyFileFormat = errors.New("payloadcodec: not a codec key file")
)

// KeyFile is the codec key file: codec keys wrapped under the KEK, newest (active) first.
// It holds no key in clear: a copy of it is useless without the KEK (the vault key file,
// or the Key Vault key), and it can therefore sit on every worker, including agents that
// hold no storage credential and could not read a key from the vault.
type KeyFile struct {
	Format string       `json:"format"`
	Keys   []WrappedKey `json:"keys"`
}

// WrappedKey is one codec key wrapped under a KEK.
type WrappedKey struct {
	ID        string    `json:"id"`
	Created   time.Time `json:"created"`
	KEK       string    `json:"kek"`
	Algorithm string    `json:"algorithm"`
	Wrapped   []byte    `json:"wrapped"`
}

// Init writes a new codec key file at path with one new key wrapped under kek (mode 0600).
// It refuses to replace an existing file.
func Init(ctx context.Context, kek keys.KEK, path string, now time.Time) (string, error) {
	if _, err := os.Lstat(path); err == nil {
		return "", fmt.Errorf("%w: %s (to add a key, run `sqlvault codec rotate`; earlier keys must stay to read the histories they encrypted)", ErrKeyFileExists, path)
	}
	w, err := newWrapped(ctx, kek, now)
	if err != nil {
		return "", err
	}
	return w.ID, writeKeyFile(path, KeyFile{Format: KeyFileFormat, Keys: []WrappedKey{w}}, true)
}

// Rotate adds a new active key to the codec key file at path; the earlier keys stay, for
// decoding only. Every existing key must unwrap under kek first, so a rotation never writes
// a file the workers could not load.
func Rotate(ctx context.Context, kek keys.KEK, path string, now time.Time) (string, error) {
	kf, err := ReadKeyFile(path)
	if err != nil {
		return "", err
	}
	for _, w := range kf.Keys {
		raw, err := kek.Unwrap(ctx, w.ID, keys.Wrapped{KEK: w.KEK, Algorithm: w.Algorithm, Value: w.Wrapped})
		if err != nil {
			return "", fmt.Errorf("codec key %s in %s: %w", w.ID, path, err)
		}
		clear(raw)
	}
	w, err := newWrapped(ctx, kek, now)
	if err != nil {
		return "", err
	}
	kf.Keys = append([]WrappedKey{w}, kf.Keys...)
	return w.ID, writeKeyFile(path, kf, false)
}

// Rewrap wraps every key of the codec key file at path again under kek's current version,
// after a KEK rotation (`sqlvault key rotate --kek`): keys wrapped under previous (the KEK
// configured until now; nil when kek itself still unwraps them, as Key Vault does with older
// versions of its key) or kek are unwrapped and wrapped under kek. The file is replaced only
// when every key succeeded; it returns the ids rewrapped.
func Rewrap(ctx context.Context, kek, previous keys.KEK, path string) ([]string, error) {
	kf, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	cur, err := kek.Current(ctx)
	if err != nil {
		return nil, err
	}
	var prevRef string
	if previous != nil {
		if prevRef, err = previous.Current(ctx); err != nil {
			return nil, err
		}
	}
	var done []string
	for i, w := range kf.Keys {
		if w.KEK == cur {
			continue
		}
		src := kek
		if previous != nil && w.KEK == prevRef {
			src = previous
		}
		raw, err := src.Unwrap(ctx, w.ID, keys.Wrapped{KEK: w.KEK, Algorithm: w.Algorithm, Value: w.Wrapped})
		if err != nil {
			return nil, fmt.Errorf("codec key %s in %s: %w", w.ID, path, err)
		}
		nw, err := kek.Wrap(ctx, w.ID, raw)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: wrap codec key %s: %w", w.ID, err)
		}
		kf.Keys[i].KEK, kf.Keys[i].Algorithm, kf.Keys[i].Wrapped = nw.KEK, nw.Algorithm, nw.Value
		done = append(done, w.ID)
	}
	if len(done) == 0 {
		return nil, nil
	}
	return done, writeKeyFile(path, kf, false)
}

// Export writes at dst a copy of the codec key file at src whose keys are wrapped under to
// (a VM's own KEK, `sqlvault codec export --vm`), unwrapping them through from (the fleet
// KEK). A VM whose agent holds its own KEK (key.scope vm) has no fleet KEK to open the
// fleet's codec key file with; the copy gives it the same codec keys — it must decode what
// the control side encodes — under the one KEK it holds. The keys are unchanged, so a
// re-export after `codec rotate` replaces dst; it returns the ids exported.
func Export(ctx context.Context, from, to keys.KEK, src, dst string) ([]string, error) {
	if filepath.Clean(src) == filepath.Clean(dst) {
		return nil, fmt.Errorf("payloadcodec: export writes a copy for a VM: give --out a path other than the codec key file %s", src)
	}
	kf, err := ReadKeyFile(src)
	if err != nil {
		return nil, err
	}
	out := KeyFile{Format: KeyFileFormat, Keys: make([]WrappedKey, 0, len(kf.Keys))}
	ids := make([]string, 0, len(kf.Keys))
	for _, w := range kf.Keys {
		raw, err := from.Unwrap(ctx, w.ID, keys.Wrapped{KEK: w.KEK, Algorithm: w.Algorithm, Value: w.Wrapped})
		if err != nil {
			return nil, fmt.Errorf("codec key %s in %s: %w", w.ID, src, err)
		}
		nw, err := to.Wrap(ctx, w.ID, raw)
		clear(raw)
		if err != nil {
			return nil, fmt.Errorf("payloadcodec: wrap codec key %s for the VM: %w", w.ID, err)
		}
		out.Keys = append(out.Keys, WrappedKey{ID: w.ID, Created: w.Created, KEK: nw.KEK, Algorithm: nw.Algorithm, Wrapped: nw.Value})
		ids = append(ids, w.ID)
	}
	return ids, writeKeyFile(dst, out, false)
}

func newWrapped(ctx context.Context, kek keys.KEK, now time.Time) (WrappedKey, error) {
	idBytes := make([]byte, 8)
	raw := make([]byte, KeySize)
	defer clear(raw)
	if _, err := rand.Read(idBytes); err != nil {
		return WrappedKey{}, fmt.Errorf("payloadcodec: random key id: %w", err)
	}
	if _, err := rand.Read(raw); err != nil {
		return WrappedKey{}, fmt.Errorf("payloadcodec: random key: %w", err)
	}
	id := keyIDPrefix + hex.EncodeToString(idBytes)
	w, err := kek.Wrap(ctx, id, raw)
	if err != nil {
		return WrappedKey{}, fmt.Errorf("payloadcodec: wrap codec key %s: %w", id, err)
	}
	return WrappedKey{ID: id, Created: now.UTC(), KEK: w.KEK, Algorithm: w.Algorithm, Wrapped: w.Value}, nil
}

// writeKeyFile writes kf to path with mode 0600: a new file (excl) or, for a rotation, a
// temporary file renamed over the old one, so a crash leaves the old file or the new one.
func writeKeyFile(path string, kf KeyFile, excl bool) error {
	b, err := json.MarshalIndent(kf, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	if excl {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%w: %s", ErrKeyFileExists, path)
			}
			return fmt.Errorf("payloadcodec: create codec key file: %w", err)
		}
		_, werr := f.Write(b)
		if werr == nil {
			werr = f.Sync()
		}
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			_ = os.Remove(path)
			return fmt.Errorf("payloadcodec: write codec key file %s: %w", path, werr)
		}
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("payloadcodec: rotate codec key file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := tmp.Chmod(0o600); err != nil && !errors.Is(err, errors.ErrUnsupported) {
		_ = tmp.Close()
		return fmt.Errorf("payloadcodec: rotate codec key file: %w", err)
	}
	_, werr := tmp.Write(b)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("payloadcodec: write codec key file %s: %w", path, werr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("payloadcodec: replace codec key file %s: %w", path, err)
	}
	return nil
}

// ReadKeyFile reads and checks the codec key file at path (its permissions too) without
// unwrapping anything.
func ReadKeyFile(path string) (KeyFile, error) {
	st, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return KeyFile{}, fmt.Errorf("payloadcodec: codec key file %s does not exist: create it with `sqlvault codec init --codec-key-file %s` "+
				"(or copy the fleet's codec key file there, mode 0600): %w", path, path, err)
		}
		return KeyFile{}, fmt.Errorf("payloadcodec: codec key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return KeyFile{}, fmt.Errorf("%w: %s is not a regular file", ErrKeyFileFormat, path)
	}
	if err := checkPrivate(path, st); err != nil {
		return KeyFile{}, err
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return KeyFile{}, fmt.Errorf("payloadcodec: read codec key file: %w", err)
	}
	var kf KeyFile
	if err := json.Unmarshal(b, &kf); err != nil || kf.Format != KeyFileFormat {
		return KeyFile{}, fmt.Errorf("%w: %s (want format %s, as `sqlvault codec init` writes; is it the vault key file?)", ErrKeyFileFormat, path, KeyFileFormat)
	}
	if len(kf.Keys) == 0 {
		return KeyFile{}, fmt.Errorf("%w: %s holds no key", ErrNoKeys, path)
	}
	return kf, nil
}

// Load reads the codec key file at path and unwraps its keys through kek: the first is
// active. An error names the file and, for a KEK failure, the key and what to do.
func Load(ctx context.Context, kek keys.KEK, path string) (*Codec, error) {
	kf, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	ks := make([]Key, 0, len(kf.Keys))
	for _, w := range kf.Keys {
		raw, err := kek.Unwrap(ctx, w.ID, keys.Wrapped{KEK: w.KEK, Algorithm: w.Algorithm, Value: w.Wrapped})
		if err != nil {
			return nil, fmt.Errorf("codec key %s in %s: %w", w.ID, path, err)
		}
		k, err := NewKey(w.ID, raw)
		clear(raw)
		if err != nil {
			return nil, err
		}
		ks = append(ks, k)
	}
	return New("codec key file "+path, ks[0], ks[1:]...)
}

// FromConfig is the codec the configuration asks for: nil (no codec, payloads in clear as
// before) when codec.keyFile is unset, else the codec key file unwrapped through the KEK of
// key.* (the vault key file, or the Key Vault key).
func FromConfig(ctx context.Context, c config.Codec, k config.Key) (*Codec, error) {
	if c.KeyFile == "" {
		return nil, nil
	}
	kek, err := keys.OpenKEK(k)
	if err != nil {
		return nil, fmt.Errorf("codec.keyFile %s is wrapped under the KEK of key.*: %w", c.KeyFile, err)
	}
	return Load(ctx, kek, c.KeyFile)
}
