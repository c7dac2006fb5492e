package payloadcodec

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"

	"github.com/sqlvault/sqlvault/internal/temporalx"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
)

func testKey(t testing.TB, id string, fill byte) Key {
	t.Helper()
	k, err := NewKey(id, bytes.Repeat([]byte{fill}, KeySize))
	require.NoError(t, err)
	return k
}

func testCodec(t testing.TB, ks ...Key) *Codec {
	t.Helper()
	c, err := New("test", ks[0], ks[1:]...)
	require.NoError(t, err)
	return c
}

const secretish = `{"instance":"SQL01","database":"Sales","path":"D:\\backups\\sales.bak","lsn":"42000000012300001"}`

func clearPayload(t testing.TB) *commonpb.Payload {
	p, err := converter.GetDefaultDataConverter().ToPayload(map[string]string{"x": secretish})
	require.NoError(t, err)
	return p
}

// Round trip: the encoded payload shows nothing of the clear one but the key id, and decodes
// to exactly the original (metadata included).
func TestRoundTrip(t *testing.T) {
	c := testCodec(t, testKey(t, "codec-a", 1))
	orig := clearPayload(t)
	enc, err := c.Encode([]*commonpb.Payload{orig})
	require.NoError(t, err)
	require.Len(t, enc, 1)
	assert.Equal(t, Encoding, string(enc[0].Metadata["encoding"]))
	assert.Equal(t, "codec-a", string(enc[0].Metadata[MetadataKeyID]))
	assert.NotContains(t, string(enc[0].Data), "Sales")
	assert.NotContains(t, enc[0].String(), "json/plain")
	dec, err := c.Decode(enc)
	require.NoError(t, err)
	assert.True(t, protoEqual(orig, dec[0]))

	// Two encodings of one payload differ (random nonce).
	enc2, err := c.Encode([]*commonpb.Payload{orig})
	require.NoError(t, err)
	assert.NotEqual(t, enc[0].Data, enc2[0].Data)
}

// Through the SDK's data converter, as client and worker use it.
func TestDataConverterRoundTrip(t *testing.T) {
	dc := temporalx.DataConverter(testCodec(t, testKey(t, "codec-a", 1)))
	p, err := dc.ToPayload(secretish)
	require.NoError(t, err)
	assert.NotContains(t, string(p.Data), "Sales")
	var back string
	require.NoError(t, dc.FromPayload(p, &back))
	assert.Equal(t, secretish, back)
}

// Failure messages go into the encoded attributes: the failure's message is not in clear.
func TestFailureConverterEncodesMessages(t *testing.T) {
	codec := testCodec(t, testKey(t, "codec-a", 1))
	fc := temporalx.FailureConverter(codec)
	f := fc.ErrorToFailure(assertErr("restore of Sales to D:\\data failed"))
	assert.NotContains(t, f.GetMessage(), "Sales")
	assert.NotContains(t, f.String(), "Sales")
	back := fc.FailureToError(f)
	assert.Contains(t, back.Error(), "Sales")
	// Without a codec, the SDK's default: message in clear, as before.
	assert.Contains(t, temporalx.FailureConverter(nil).ErrorToFailure(assertErr("Sales")).GetMessage(), "Sales")
}

type assertErr string

func (e assertErr) Error() string { return string(e) }

// Clear payloads (histories from before the codec) pass through Decode untouched.
func TestDecodePassesClearPayloadsThrough(t *testing.T) {
	c := testCodec(t, testKey(t, "codec-a", 1))
	orig := clearPayload(t)
	nilPayload, err := converter.GetDefaultDataConverter().ToPayload(nil)
	require.NoError(t, err)
	dec, err := c.Decode([]*commonpb.Payload{orig, nilPayload})
	require.NoError(t, err)
	assert.Same(t, orig, dec[0])
	assert.Same(t, nilPayload, dec[1])
}

// After a rotation the old key still decodes; an unknown key id is refused by name, saying
// which key and what to configure.
func TestUnknownKeyNamed(t *testing.T) {
	old := testCodec(t, testKey(t, "codec-old", 1))
	enc, err := old.Encode([]*commonpb.Payload{clearPayload(t)})
	require.NoError(t, err)

	rotated := testCodec(t, testKey(t, "codec-new", 2), testKey(t, "codec-old", 1))
	_, err = rotated.Decode(enc)
	require.NoError(t, err)
	assert.Equal(t, "codec-new", rotated.ActiveKeyID())

	other := testCodec(t, testKey(t, "codec-new", 2))
	_, err = other.Decode(enc)
	require.ErrorIs(t, err, ErrUnknownKey)
	assert.Contains(t, err.Error(), `"codec-old"`)
	assert.Contains(t, err.Error(), "codec.keyFile")
	assert.Contains(t, err.Error(), "SQLVAULT_CODEC_KEY_FILE")
}

// A different key under the same id does not open the payload.
func TestWrongKeySameIDRefused(t *testing.T) {
	enc, err := testCodec(t, testKey(t, "codec-a", 1)).Encode([]*commonpb.Payload{clearPayload(t)})
	require.NoError(t, err)
	_, err = testCodec(t, testKey(t, "codec-a", 9)).Decode(enc)
	require.ErrorIs(t, err, ErrUnauthenticated)
	assert.Contains(t, err.Error(), "codec-a")
}

// Tampering is refused: a flipped bit, a cut tail, a re-labelled key id.
func TestTamperedRefused(t *testing.T) {
	c := testCodec(t, testKey(t, "codec-a", 1), testKey(t, "codec-b", 1)) // same bytes, other id
	for name, tamper := range map[string]func(p *commonpb.Payload){
		"flipped bit": func(p *commonpb.Payload) { p.Data[len(p.Data)/2] ^= 0x01 },
		"cut tail":    func(p *commonpb.Payload) { p.Data = p.Data[:len(p.Data)-1] },
		"too short":   func(p *commonpb.Payload) { p.Data = p.Data[:5] },
		"relabelled":  func(p *commonpb.Payload) { p.Metadata[MetadataKeyID] = []byte("codec-b") },
	} {
		t.Run(name, func(t *testing.T) {
			enc, err := c.Encode([]*commonpb.Payload{clearPayload(t)})
			require.NoError(t, err)
			tamper(enc[0])
			_, err = c.Decode(enc)
			require.ErrorIs(t, err, ErrUnauthenticated)
		})
	}
}

func TestKeyNeverPrinted(t *testing.T) {
	k := testKey(t, "codec-a", 0x41)
	for _, s := range []string{k.String(), k.GoString()} {
		assert.NotContains(t, s, "AAAA")
		assert.Contains(t, s, "codec-a")
	}
}

func fileKEK(t *testing.T, dir string) keys.KEK {
	t.Helper()
	path := filepath.Join(dir, "vault.key")
	k, err := blockcrypt.GenerateKeyFile(path)
	require.NoError(t, err)
	return keys.NewFileKEK(k, path)
}

// init writes a 0600 file with the key wrapped (not in clear) under the KEK; rotate adds an
// active key and keeps the old one; a payload of the old key still decodes after rotation.
func TestKeyFileInitRotateLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek := fileKEK(t, dir)
	path := filepath.Join(dir, "codec.keys")
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)

	id1, err := Init(ctx, kek, path, now)
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(id1, "codec-"))
	st, err := os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	_, err = Init(ctx, kek, path, now)
	require.ErrorIs(t, err, ErrKeyFileExists)

	c1, err := Load(ctx, kek, path)
	require.NoError(t, err)
	assert.Equal(t, id1, c1.ActiveKeyID())
	enc, err := c1.Encode([]*commonpb.Payload{clearPayload(t)})
	require.NoError(t, err)

	id2, err := Rotate(ctx, kek, path, now.Add(time.Hour))
	require.NoError(t, err)
	assert.NotEqual(t, id1, id2)
	st, err = os.Stat(path)
	require.NoError(t, err)
	if runtime.GOOS != "windows" {
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}
	c2, err := Load(ctx, kek, path)
	require.NoError(t, err)
	assert.Equal(t, id2, c2.ActiveKeyID())
	assert.ElementsMatch(t, []string{id1, id2}, c2.KeyIDs())
	_, err = c2.Decode(enc)
	require.NoError(t, err)

	kf, err := ReadKeyFile(path)
	require.NoError(t, err)
	assert.Equal(t, []string{id2, id1}, []string{kf.Keys[0].ID, kf.Keys[1].ID})
}

// Another KEK cannot unwrap the file: the KEK error names what to configure.
func TestKeyFileOtherKEK(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "codec.keys")
	_, err := Init(ctx, fileKEK(t, dir), path, time.Now())
	require.NoError(t, err)
	other := fileKEK(t, t.TempDir())
	_, err = Load(ctx, other, path)
	require.ErrorIs(t, err, keys.ErrKEKUnavailable)
	assert.Contains(t, err.Error(), path)
	_, err = Rotate(ctx, other, path, time.Now())
	require.ErrorIs(t, err, keys.ErrKEKUnavailable)
}

// After a KEK rotation, Rewrap moves every codec key under the new KEK: the file then loads
// with the new KEK alone and decodes what the old keys encoded; a second run changes nothing.
func TestKeyFileRewrapAfterKEKRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	oldKEK := fileKEK(t, dir)
	path := filepath.Join(dir, "codec.keys")
	_, err := Init(ctx, oldKEK, path, time.Now())
	require.NoError(t, err)
	_, err = Rotate(ctx, oldKEK, path, time.Now())
	require.NoError(t, err)
	before, err := Load(ctx, oldKEK, path)
	require.NoError(t, err)
	enc, err := before.Encode([]*commonpb.Payload{clearPayload(t)})
	require.NoError(t, err)

	newKEK := fileKEK(t, t.TempDir())
	_, err = Load(ctx, newKEK, path)
	require.ErrorIs(t, err, keys.ErrKEKUnavailable, "before the rewrap the new KEK cannot open it")
	_, err = Rewrap(ctx, newKEK, nil, path)
	require.ErrorIs(t, err, keys.ErrKEKUnavailable, "without the previous KEK nothing is rewrapped")
	ids, err := Rewrap(ctx, newKEK, oldKEK, path)
	require.NoError(t, err)
	assert.ElementsMatch(t, before.KeyIDs(), ids)

	after, err := Load(ctx, newKEK, path)
	require.NoError(t, err)
	assert.Equal(t, before.ActiveKeyID(), after.ActiveKeyID())
	_, err = after.Decode(enc)
	require.NoError(t, err)
	ids, err = Rewrap(ctx, newKEK, oldKEK, path)
	require.NoError(t, err)
	assert.Empty(t, ids)
}

// A wrapped key moved to another id does not unwrap (the KEK binds the id).
func TestKeyFileIDBound(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	kek := fileKEK(t, dir)
	path := filepath.Join(dir, "codec.keys")
	_, err := Init(ctx, kek, path, time.Now())
	require.NoError(t, err)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	kf, err := ReadKeyFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, []byte(strings.ReplaceAll(string(b), kf.Keys[0].ID, "codec-0000000000000000")), 0o600))
	_, err = Load(ctx, kek, path)
	require.ErrorIs(t, err, keys.ErrDataKeyMismatch)
}

func protoEqual(a, b *commonpb.Payload) bool {
	if !bytes.Equal(a.Data, b.Data) || len(a.Metadata) != len(b.Metadata) {
		return false
	}
	for k, v := range a.Metadata {
		if !bytes.Equal(v, b.Metadata[k]) {
			return false
		}
	}
	return true
}

// A VM with its own KEK gets the fleet's codec keys wrapped under that KEK: its copy loads
// with the VM's KEK alone (not with the fleet's), decodes what the fleet's file encodes and
// encodes with the same active key; the fleet's file is left as it was, and an export onto
// the fleet's own file is refused.
func TestKeyFileExportForAVM(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	fleet := fileKEK(t, dir)
	vmKEK := fileKEK(t, t.TempDir())
	path := filepath.Join(dir, "codec.keys")
	_, err := Init(ctx, fleet, path, time.Now())
	require.NoError(t, err)
	_, err = Rotate(ctx, fleet, path, time.Now())
	require.NoError(t, err)
	before, err := os.ReadFile(path)
	require.NoError(t, err)
	fleetCodec, err := Load(ctx, fleet, path)
	require.NoError(t, err)
	enc, err := fleetCodec.Encode([]*commonpb.Payload{clearPayload(t)})
	require.NoError(t, err)

	vmPath := filepath.Join(t.TempDir(), "codec-vm.keys")
	ids, err := Export(ctx, fleet, vmKEK, path, vmPath)
	require.NoError(t, err)
	assert.ElementsMatch(t, fleetCodec.KeyIDs(), ids)
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, before, after, "the fleet's codec key file is not touched")
	if runtime.GOOS != "windows" {
		st, err := os.Stat(vmPath)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	}

	_, err = Load(ctx, fleet, vmPath)
	require.ErrorIs(t, err, keys.ErrKEKUnavailable, "the VM's copy is wrapped under the VM's KEK only")
	vmCodec, err := Load(ctx, vmKEK, vmPath)
	require.NoError(t, err)
	assert.Equal(t, fleetCodec.ActiveKeyID(), vmCodec.ActiveKeyID())
	dec, err := vmCodec.Decode(enc)
	require.NoError(t, err)
	assert.Equal(t, clearPayload(t).GetData(), dec[0].GetData())
	back, err := vmCodec.Encode([]*commonpb.Payload{clearPayload(t)})
	require.NoError(t, err)
	_, err = fleetCodec.Decode(back)
	require.NoError(t, err, "the control side reads what the VM encodes")

	_, err = Export(ctx, fleet, vmKEK, path, path)
	require.Error(t, err)
	_, err = Export(ctx, vmKEK, fleet, path, filepath.Join(t.TempDir(), "x.keys"))
	require.ErrorIs(t, err, keys.ErrKEKUnavailable, "a KEK that does not wrap the file exports nothing")
}
