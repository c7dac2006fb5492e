package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	commonpb "go.temporal.io/api/common/v1"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/sqlvault/sqlvault/internal/agent/host/doctor"
	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
	"github.com/sqlvault/sqlvault/internal/temporalx"
)

// codecConfig is a configuration with a vault key file and a codec key file wrapped under it.
func codecConfig(t *testing.T) *config.Config {
	t.Helper()
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Key.File = filepath.Join(dir, "vault.key")
	k, err := blockcrypt.GenerateKeyFile(cfg.Key.File)
	require.NoError(t, err)
	cfg.Codec.KeyFile = filepath.Join(dir, "codec.keys")
	_, err = payloadcodec.Init(context.Background(), keys.NewFileKEK(k, cfg.Key.File), cfg.Codec.KeyFile, time.Now())
	require.NoError(t, err)
	return cfg
}

// The codec server as the subcommand builds it: the token from the environment, 401 without
// it, payloads decoded with it; the token never in the log.
func TestCodecServerServes(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cfg := codecConfig(t)
	t.Setenv("TEST_CODEC_TOKEN", "tok-123456")
	cfg.Codec.Server = config.CodecServer{Listen: "127.0.0.1:0", Token: config.Secret{Env: "TEST_CODEC_TOKEN"}}
	srv, ln, err := newCodecServer(ctx, cfg)
	require.NoError(t, err)
	core, logs := observer.New(zapcore.DebugLevel)
	done := make(chan error, 1)
	go func() { done <- serveCodec(ctx, srv, ln, cfg.Codec.Server, zap.New(core)) }()

	codec, err := payloadcodec.FromConfig(ctx, cfg.Codec, cfg.Key)
	require.NoError(t, err)
	p, err := temporalx.DataConverter(codec).ToPayload("restore Sales")
	require.NoError(t, err)
	body, err := json.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{p}})
	require.NoError(t, err)
	call := func(auth string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/decode", strings.NewReader(string(body)))
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}
	assert.Equal(t, http.StatusUnauthorized, call("").StatusCode)
	assert.Equal(t, http.StatusUnauthorized, call("Bearer tok-12345").StatusCode)
	ok := call("Bearer tok-123456")
	require.Equal(t, http.StatusOK, ok.StatusCode)
	var out commonpb.Payloads
	require.NoError(t, json.NewDecoder(ok.Body).Decode(&out))
	assert.Contains(t, string(out.Payloads[0].Data), "restore Sales")

	cancel()
	require.NoError(t, <-done)
	require.NotZero(t, logs.FilterMessage("codec server running").Len())
	for _, e := range logs.All() {
		assert.NotContains(t, e.Message, "tok-123456")
		for _, f := range e.Context {
			assert.NotContains(t, f.String, "tok-123456")
		}
	}
}

func TestCodecServerRefusesUnsafeSettings(t *testing.T) {
	ctx := context.Background()
	cfg := codecConfig(t)
	cfg.Codec.Server = config.CodecServer{Listen: "127.0.0.1:0"}
	_, _, err := newCodecServer(ctx, cfg)
	require.ErrorIs(t, err, payloadcodec.ErrNoToken)

	cfg.Codec.Server = config.CodecServer{Listen: "0.0.0.0:0", NoAuth: true}
	_, _, err = newCodecServer(ctx, cfg)
	require.ErrorIs(t, err, ErrCodecServerNoAuth)

	cfg.Codec.Server = config.CodecServer{Listen: "127.0.0.1:0", Token: config.Secret{Env: "TEST_CODEC_TOKEN_UNSET"}}
	_, _, err = newCodecServer(ctx, cfg)
	require.ErrorIs(t, err, config.ErrSecretMissing)

	cfg.Codec.KeyFile = ""
	_, _, err = newCodecServer(ctx, cfg)
	require.ErrorIs(t, err, ErrCodecServerNoKeyFile)
}

func TestDoctorCodecCheck(t *testing.T) {
	ctx := context.Background()
	cfg := codecConfig(t)
	r := codecCheck(ctx, cfg)
	assert.Equal(t, doctor.OK, r.Status, r.Detail)
	assert.Contains(t, r.Detail, "codec-")

	cfg.Key.File = filepath.Join(t.TempDir(), "other.key")
	_, err := blockcrypt.GenerateKeyFile(cfg.Key.File)
	require.NoError(t, err)
	r = codecCheck(ctx, cfg)
	assert.Equal(t, doctor.Fail, r.Status)
	assert.Contains(t, r.Detail, "KEK")

	cfg.Codec.KeyFile = ""
	assert.Equal(t, doctor.Warn, codecCheck(ctx, cfg).Status)
}
