package blockcrypt

import (
	"bytes"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testKey(t testing.TB, seed byte) *Key {
	t.Helper()
	raw := bytes.Repeat([]byte{seed}, KeySize)
	k, err := NewKey(raw)
	require.NoError(t, err)
	return k
}

// compressible is SQL-page-like data: runs of text with some variation.
func compressible(n int) []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "row %08d | customer-name-%d | 2026-11-26 | status=ACTIVE      \n", i, i%97)
	}
	return b.Bytes()[:n]
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func TestKeyIDIsDocumentedHash(t *testing.T) {
	// Pinned value: the id is recorded in manifests, so changing its derivation would orphan
	// every existing vault. sha256("sqlvault key id v1" || 32×0x01)[:8].
	k := testKey(t, 1)
	assert.Equal(t, "1e52d02dc5a128b3", k.ID())
	assert.NotEqual(t, k.ID(), testKey(t, 2).ID())
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v %s", k, k, k, k), "AQEBAQ") // base64 of 0x01…
}

func TestNewKeyRejectsWrongSize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		_, err := NewKey(make([]byte, n))
		assert.ErrorIs(t, err, ErrKeySize, "len %d", n)
	}
}

func TestRoundTrip(t *testing.T) {
	k := testKey(t, 7)
	aad := []byte("v1/items/x/data/p/a1-s0.bak\x00blockid")
	cases := map[string][]byte{
		"empty":               {},
		"one byte":            {42},
		"random 4MiB":         random(4 << 20),
		"compressible 4MiB":   compressible(4 << 20),
		"compressible 100KiB": compressible(100 << 10),
		"random odd":          random(65537),
	}
	for name, plain := range cases {
		for _, compress := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/compress=%v", name, compress), func(t *testing.T) {
				prefix := []byte("prefix")
				frame, err := k.Seal(append([]byte(nil), prefix...), plain, aad, compress)
				require.NoError(t, err)
				require.True(t, bytes.HasPrefix(frame, prefix), "Seal appends to dst")
				frame = frame[len(prefix):]
				assert.LessOrEqual(t, len(frame), len(plain)+MaxOverhead)
				n, err := PlainLen(frame)
				require.NoError(t, err)
				assert.Equal(t, len(plain), n)

				out, err := k.Open([]byte("x"), frame, aad)
				require.NoError(t, err)
				assert.Equal(t, byte('x'), out[0], "Open appends to dst")
				assert.True(t, bytes.Equal(plain, out[1:]), "plaintext round-trips")
			})
		}
	}
}

func TestCompressOnlyWhenItHelps(t *testing.T) {
	k := testKey(t, 7)
	text := compressible(1 << 20)
	frame, err := k.Seal(nil, text, nil, true)
	require.NoError(t, err)
	assert.Equal(t, byte(flagCompressed), frame[5])
	assert.Less(t, len(frame), len(text)/3, "SQL-like text shrinks a lot")

	noise := random(1 << 20)
	frame, err = k.Seal(nil, noise, nil, true)
	require.NoError(t, err)
	assert.Equal(t, byte(0), frame[5], "incompressible data is stored raw")
	assert.Equal(t, len(noise)+MaxOverhead, len(frame))

	frame, err = k.Seal(nil, text, nil, false)
	require.NoError(t, err)
	assert.Equal(t, byte(0), frame[5], "compress=false never compresses")
}

func TestCiphertextHidesPlaintext(t *testing.T) {
	k := testKey(t, 7)
	plain := bytes.Repeat([]byte("TOP-SECRET-PAYROLL-"), 1000)
	for _, c := range []bool{false, true} {
		frame, err := k.Seal(nil, plain, nil, c)
		require.NoError(t, err)
		assert.False(t, bytes.Contains(frame, []byte("TOP-SECRET")))
	}
	// Fresh nonce per seal: the same block never encrypts the same way twice.
	a, _ := k.Seal(nil, plain, nil, false)
	b, _ := k.Seal(nil, plain, nil, false)
	assert.NotEqual(t, a, b)
}

func TestTamperEveryRegionFailsAuth(t *testing.T) {
	k := testKey(t, 7)
	aad := []byte("blob\x00id")
	for _, compress := range []bool{false, true} {
		frame, err := k.Seal(nil, compressible(10000), aad, compress)
		require.NoError(t, err)
		// Flip one bit in every byte position in turn: header fields, nonce, body, tag.
		for i := range frame {
			bad := bytes.Clone(frame)
			bad[i] ^= 0x10
			_, err := k.Open(nil, bad, aad)
			require.ErrorIs(t, err, ErrAuth, "compress=%v byte %d", compress, i)
		}
		// Truncation and extension.
		for _, bad := range [][]byte{frame[:len(frame)-1], frame[:HeaderSize+TagSize-1], append(bytes.Clone(frame), 0)} {
			_, err := k.Open(nil, bad, aad)
			assert.ErrorIs(t, err, ErrAuth)
		}
	}
}

func TestMalformedIsErrFrame(t *testing.T) {
	k := testKey(t, 7)
	frame, err := k.Seal(nil, []byte("hello world"), nil, false)
	require.NoError(t, err)
	for name, mut := range map[string]func([]byte){
		"magic":    func(b []byte) { b[0] = 'X' },
		"version":  func(b []byte) { b[4] = 2 },
		"flags":    func(b []byte) { b[5] = 0x80 },
		"reserved": func(b []byte) { b[7] = 1 },
		"length":   func(b []byte) { b[11]++ },
	} {
		bad := bytes.Clone(frame)
		mut(bad)
		_, err := k.Open(nil, bad, nil)
		assert.ErrorIs(t, err, ErrFrame, name)
		assert.ErrorIs(t, err, ErrAuth, name+": every ErrFrame is also ErrAuth")
	}
	_, err = k.Open(nil, []byte("short"), nil)
	assert.ErrorIs(t, err, ErrFrame)
	// A body-byte flip parses fine: that is ErrAuth and not ErrFrame.
	bad := bytes.Clone(frame)
	bad[HeaderSize] ^= 1
	_, err = k.Open(nil, bad, nil)
	assert.ErrorIs(t, err, ErrAuth)
	assert.NotErrorIs(t, err, ErrFrame)
}

func TestWrongKeyOrAADFailsAuth(t *testing.T) {
	k := testKey(t, 7)
	for _, compress := range []bool{false, true} {
		frame, err := k.Seal(nil, compressible(5000), []byte("blob-a\x00block-1"), compress)
		require.NoError(t, err)
		_, err = testKey(t, 8).Open(nil, frame, []byte("blob-a\x00block-1"))
		assert.ErrorIs(t, err, ErrAuth)
		_, err = k.Open(nil, frame, []byte("blob-a\x00block-2"))
		assert.ErrorIs(t, err, ErrAuth)
		_, err = k.Open(nil, frame, nil)
		assert.ErrorIs(t, err, ErrAuth)
		_, err = k.Open(nil, frame, []byte("blob-a\x00block-1"))
		assert.NoError(t, err)
	}
}

func TestConcurrentSealOpen(t *testing.T) {
	k := testKey(t, 3)
	done := make(chan error, 8)
	for g := 0; g < 8; g++ {
		go func(g int) {
			r := mrand.New(mrand.NewPCG(uint64(g), 1))
			for i := 0; i < 20; i++ {
				plain := compressible(1000 + r.IntN(200000))
				aad := []byte(fmt.Sprint(g, i))
				f, err := k.Seal(nil, plain, aad, i%2 == 0)
				if err != nil {
					done <- err
					return
				}
				out, err := k.Open(nil, f, aad)
				if err != nil {
					done <- err
					return
				}
				if !bytes.Equal(out, plain) {
					done <- fmt.Errorf("goroutine %d iteration %d: mismatch", g, i)
					return
				}
			}
			done <- nil
		}(g)
	}
	for g := 0; g < 8; g++ {
		require.NoError(t, <-done)
	}
}

func TestGenerateAndLoadKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vault.key")
	k, err := GenerateKeyFile(path)
	require.NoError(t, err)

	st, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	text, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Len(t, text, 45, "44 base64 chars + newline")
	assert.Equal(t, byte('\n'), text[44])

	loaded, err := LoadKeyFile(path)
	require.NoError(t, err)
	assert.Equal(t, k.ID(), loaded.ID())
	frame, err := k.Seal(nil, []byte("data"), nil, false)
	require.NoError(t, err)
	out, err := loaded.Open(nil, frame, nil)
	require.NoError(t, err)
	assert.Equal(t, "data", string(out))

	_, err = GenerateKeyFile(path)
	assert.ErrorIs(t, err, ErrKeyFileExists)
	again, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, text, again, "refusing to overwrite leaves the key untouched")
}

func TestLoadKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	secret := base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xAB}, 32))
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), mode))
		require.NoError(t, os.Chmod(p, mode))
		return p
	}
	_, err := LoadKeyFile(filepath.Join(dir, "nope.key"))
	assert.ErrorIs(t, err, ErrKeyFileMissing)
	assert.Contains(t, err.Error(), "nope.key")

	_, err = LoadKeyFile(write("short.key", base64.StdEncoding.EncodeToString(make([]byte, 16))+"\n", 0o600))
	assert.ErrorIs(t, err, ErrKeySize)

	_, err = LoadKeyFile(write("bad.key", "not base64 at all!!\n", 0o600))
	assert.ErrorIs(t, err, ErrKeyEncoding)

	_, err = LoadKeyFile(write("twolines.key", secret[:20]+"\n"+secret[20:]+"\n", 0o600))
	assert.ErrorIs(t, err, ErrKeyEncoding)

	p := write("open.key", secret+"\n", 0o644)
	_, err = LoadKeyFile(p)
	require.ErrorIs(t, err, ErrKeyFileTooOpen)
	assert.Contains(t, err.Error(), "0644")
	assert.NotContains(t, err.Error(), secret)

	k, err := LoadKeyFile(write("ok.key", "  "+secret+"\r\n", 0o400))
	require.NoError(t, err, "surrounding whitespace and CRLF are fine; 0400 is fine")
	assert.Len(t, k.ID(), 16)

	_, err = LoadKeyFile(write("big.key", strings.Repeat("A", 5000), 0o600))
	assert.ErrorIs(t, err, ErrKeyEncoding)
}

func benchSealOpen(b *testing.B, open, compress bool, plain []byte) {
	k := testKey(b, 9)
	aad := []byte("v1/items/i0/data/p/a1-s0.bak\x00AAAAAAAAAAAAAAAAAAAAAA==")
	frame, err := k.Seal(nil, plain, aad, compress)
	require.NoError(b, err)
	b.SetBytes(int64(len(plain)))
	dst := make([]byte, 0, len(plain)+MaxOverhead)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if open {
			_, err = k.Open(dst[:0], frame, aad)
		} else {
			_, err = k.Seal(dst[:0], plain, aad, compress)
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(frame))/float64(len(plain)), "stored/plain")
}

// Data sets: "text" is SQL-page-like and compresses ~10x; "random" models already-compressed
// or TDE-encrypted databases, where zstd is tried and discarded.
func BenchmarkSeal(b *testing.B) {
	text, noise := compressible(4<<20), random(4<<20)
	b.Run("4MiB/text/zstd", func(b *testing.B) { benchSealOpen(b, false, true, text) })
	b.Run("4MiB/text/none", func(b *testing.B) { benchSealOpen(b, false, false, text) })
	b.Run("4MiB/random/zstd", func(b *testing.B) { benchSealOpen(b, false, true, noise) })
	b.Run("4MiB/random/none", func(b *testing.B) { benchSealOpen(b, false, false, noise) })
}

func BenchmarkOpen(b *testing.B) {
	text, noise := compressible(4<<20), random(4<<20)
	b.Run("4MiB/text/zstd", func(b *testing.B) { benchSealOpen(b, true, true, text) })
	b.Run("4MiB/text/none", func(b *testing.B) { benchSealOpen(b, true, false, text) })
	b.Run("4MiB/random/zstd", func(b *testing.B) { benchSealOpen(b, true, true, noise) })
}

func TestMACIsDocumentedConstruction(t *testing.T) {
	// The construction, recomputed here from its documentation: HKDF-SHA256(key, no salt,
	// info "sqlvault manifest mac v1") gives the MAC key; the MAC is HMAC-SHA256 of the
	// label's length (8 bytes, big-endian), the label and the message. Every authenticated
	// manifest and index in a vault depends on it, so it is pinned too.
	k := testKey(t, 1)
	raw := bytes.Repeat([]byte{1}, KeySize)
	sub, err := hkdf.Key(sha256.New, raw, nil, "sqlvault manifest mac v1", 32)
	require.NoError(t, err)
	h := hmac.New(sha256.New, sub)
	h.Write([]byte{0, 0, 0, 0, 0, 0, 0, 17})
	h.Write([]byte("sqlvault index v2"))
	h.Write([]byte("message"))
	want := h.Sum(nil)
	got := k.MAC("sqlvault index v2", []byte("message"))
	assert.Equal(t, want, got)
	assert.Equal(t, "806a52c40784f81f", hex.EncodeToString(got[:8]), "pinned")
	assert.True(t, k.VerifyMAC("sqlvault index v2", []byte("message"), got))

	// The subkey is not the key: a MAC under the raw key itself does not verify.
	h = hmac.New(sha256.New, raw)
	h.Write([]byte{0, 0, 0, 0, 0, 0, 0, 17})
	h.Write([]byte("sqlvault index v2"))
	h.Write([]byte("message"))
	assert.False(t, k.VerifyMAC("sqlvault index v2", []byte("message"), h.Sum(nil)))
}

func TestMACSeparatesLabelsMessagesAndKeys(t *testing.T) {
	k := testKey(t, 1)
	tag := k.MAC("sqlvault manifest v3", []byte("point"))
	assert.False(t, k.VerifyMAC("sqlvault index v2", []byte("point"), tag), "another label")
	assert.False(t, k.VerifyMAC("sqlvault manifest v", []byte("3point"), tag), "label and message shifted")
	assert.False(t, k.VerifyMAC("sqlvault manifest v3", []byte("poinT"), tag), "another message")
	assert.False(t, testKey(t, 2).VerifyMAC("sqlvault manifest v3", []byte("point"), tag), "another key")
	assert.False(t, k.VerifyMAC("sqlvault manifest v3", []byte("point"), tag[:MACSize-1]), "cut tag")
	bad := bytes.Clone(tag)
	bad[5] ^= 1
	assert.False(t, k.VerifyMAC("sqlvault manifest v3", []byte("point"), bad), "flipped tag")
	assert.NotContains(t, fmt.Sprintf("%v %+v %#v", k, k, k), hex.EncodeToString(tag[:4]))
}
