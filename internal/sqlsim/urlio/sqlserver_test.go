package urlio_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sqlvault/sqlvault/internal/sqlsim/blobfake"
	"github.com/sqlvault/sqlvault/internal/sqlsim/urlio"
)

func clientWith(e *fakeEnv, c urlio.Config) *urlio.Client {
	c.RootCAs = e.ca.Pool()
	c.Resolve = map[string]string{agentHost: e.ip}
	c.Timeout = 5 * time.Second
	return urlio.NewClient(c)
}

// The Put Block List body is in the client's encoding, byte for byte what each SQL Server
// build sends, and the fake Azure commits it.
func TestBlockListBodyEncodings(t *testing.T) {
	env := newFakeEnv(t)
	decl := `<?xml version="1.0" encoding="utf-16"?>`
	for _, enc := range append(urlio.SQLServerBlockListEncodings, urlio.UTF8) {
		t.Run(string(enc), func(t *testing.T) {
			c := clientWith(env, urlio.Config{BlockListEncoding: enc})
			assert.Equal(t, enc, c.BlockListEncoding())
			name := "enc-" + string(enc) + ".bak"
			data := randomBytes(t, 150*kib)
			require.NoError(t, backup(t, c, env.url(t, name), goodSAS, urlio.WriteOptions{BlockSize: 64 * kib}, data))
			got, ok := env.fake.Blob(containerName, name)
			require.True(t, ok)
			assert.True(t, bytes.Equal(data, got.Content))

			var body []byte
			for _, r := range env.fake.Requests() {
				if r.Kind == blobfake.KindPutBlockList && r.Blob == name {
					body = r.Body
				}
			}
			require.NotEmpty(t, body)
			text := decl + "<BlockList>"
			for _, id := range got.BlockIDs {
				text += "<Latest>" + id + "</Latest>"
			}
			text += "</BlockList>"
			var want []byte
			switch enc {
			case urlio.UTF8DeclaredUTF16:
				want = []byte(text)
			case urlio.UTF16LEWithBOM, urlio.UTF16LE:
				if enc == urlio.UTF16LEWithBOM {
					want = []byte{0xFF, 0xFE}
				}
				for _, u := range utf16.Encode([]rune(text)) {
					want = binary.LittleEndian.AppendUint16(want, u)
				}
			case urlio.UTF8:
				want = []byte(`<?xml version="1.0" encoding="utf-8"?>` + text[len(decl):])
			}
			assert.Equal(t, want, body)
		})
	}
}

// Without a configured encoding a client picks one of SQL Server's from its seed, logs the
// choice, and the environment variable overrides the pick; a bad name is a clear error.
func TestBlockListEncodingChoice(t *testing.T) {
	env := newFakeEnv(t)
	seen := map[urlio.BlockListEncoding]bool{}
	for seed := uint64(1); seed <= 64; seed++ {
		c := clientWith(env, urlio.Config{Seed: seed})
		assert.Equal(t, c.BlockListEncoding(), clientWith(env, urlio.Config{Seed: seed}).BlockListEncoding(), "a seed decides")
		seen[c.BlockListEncoding()] = true
	}
	assert.Len(t, seen, len(urlio.SQLServerBlockListEncodings), "every SQL Server encoding is picked by some seed")
	assert.False(t, seen[urlio.UTF8], "UTF-8 is never picked: no SQL Server build is known to send it")

	core, logs := observer.New(zapcore.InfoLevel)
	c := clientWith(env, urlio.Config{Seed: 7, Logger: zap.New(core)})
	require.Equal(t, 1, logs.Len())
	fields := logs.All()[0].ContextMap()
	assert.Equal(t, string(c.BlockListEncoding()), fields["block_list_encoding"])
	assert.EqualValues(t, 7, fields["seed"])

	t.Setenv(urlio.BlockListEncodingEnv, string(urlio.UTF16LE))
	for seed := uint64(1); seed <= 8; seed++ {
		assert.Equal(t, urlio.UTF16LE, clientWith(env, urlio.Config{Seed: seed}).BlockListEncoding())
	}
	assert.Equal(t, urlio.UTF8, clientWith(env, urlio.Config{BlockListEncoding: urlio.UTF8}).BlockListEncoding(), "the config wins")

	t.Setenv(urlio.BlockListEncodingEnv, "utf-32")
	_, err := clientWith(env, urlio.Config{}).Create(context.Background(), env.url(t, "x.bak"), goodSAS, urlio.WriteOptions{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), urlio.BlockListEncodingEnv)
	_, err = clientWith(env, urlio.Config{BlockListEncoding: "latin1"}).Open(context.Background(), env.url(t, "x.bak"), goodSAS)
	assert.ErrorContains(t, err, `unknown block-list encoding "latin1"`)
	assert.Empty(t, env.fake.Requests(), "a bad configuration sends nothing")
}

// A backup keeps several Put Blocks of one blob in flight, never more than configured, and
// still commits the blocks in the stream's order.
func TestPutBlocksInFlight(t *testing.T) {
	env := newFakeEnv(t)
	env.fake.SetDelay(100 * time.Millisecond)
	c := clientWith(env, urlio.Config{BlocksInFlight: 3})
	data := randomBytes(t, 12*64*kib+100)
	require.NoError(t, backup(t, c, env.url(t, "par.bak"), goodSAS, urlio.WriteOptions{BlockSize: 64 * kib}, data))
	got, _ := env.fake.Blob(containerName, "par.bak")
	assert.True(t, bytes.Equal(data, got.Content), "committed in the stream's order")
	// How many overlap depends on scheduling; several do, and never more than three.
	assert.GreaterOrEqual(t, env.peakInFlight(http.MethodPut, "block"), 2, "several Put Blocks at once")
	assert.LessOrEqual(t, env.peakInFlight(http.MethodPut, "block"), 3, "no more than configured")
}

// A restore streaming a blob keeps several ranged GETs in flight; a HEADERONLY-like reader
// (a head, the header after it, the tail) sends one GET per read and reads nothing ahead.
func TestRangedGetsInFlight(t *testing.T) {
	env := newFakeEnv(t)
	data := randomBytes(t, 10*urlio.ReadSegment+12345)
	require.NoError(t, backup(t, env.client, env.url(t, "big.bak"), goodSAS, urlio.WriteOptions{BlockSize: 4 << 20}, data))

	c := clientWith(env, urlio.Config{ReadAhead: 4})
	r, err := c.Open(context.Background(), env.url(t, "big.bak"), goodSAS)
	require.NoError(t, err)
	before := env.fake.Count(blobfake.KindGetBlob)
	head := make([]byte, 100)
	_, err = r.ReadAt(head, 0)
	require.NoError(t, err)
	_, err = r.ReadAt(head, 100)
	require.NoError(t, err)
	_, err = r.ReadAt(head, int64(len(data)-100))
	require.NoError(t, err)
	assert.Equal(t, 3, env.fake.Count(blobfake.KindGetBlob)-before, "no read-ahead for a few scattered reads")

	env.fake.SetDelay(100 * time.Millisecond)
	all, err := io.ReadAll(io.NewSectionReader(r, 0, r.Size()))
	require.NoError(t, err)
	assert.True(t, bytes.Equal(data, all))
	assert.GreaterOrEqual(t, env.peakInFlight(http.MethodGet, ""), 2, "several ranged GETs at once")
	assert.LessOrEqual(t, env.peakInFlight(http.MethodGet, ""), 4, "no more than configured")
	require.NoError(t, r.Close())
	got, _ := env.fake.Blob(containerName, "big.bak")
	assert.Equal(t, blobfake.LeaseAvailable, got.LeaseState)
}
