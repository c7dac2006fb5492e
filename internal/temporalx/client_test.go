package temporalx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sqlvault/sqlvault/internal/config"
)

// fakeFrontend is just enough of Temporal's frontend for client.Dial: it answers
// GetSystemInfo and records the authorization header and client certificate it saw.
type fakeFrontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	requireBearer string // when set, any other authorization is refused

	mu            sync.Mutex
	authorization []string
	calls         int
}

func (f *fakeFrontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	f.mu.Lock()
	f.calls++
	f.authorization = md.Get("authorization")
	f.mu.Unlock()
	if f.requireBearer != "" && (len(md.Get("authorization")) != 1 || md.Get("authorization")[0] != "Bearer "+f.requireBearer) {
		return nil, status.Error(codes.Unauthenticated, "invalid API key")
	}
	return &workflowservice.GetSystemInfoResponse{ServerVersion: "fake"}, nil
}

// serve starts f on a loopback port, with TLS when tc is set, and returns its address.
func serve(t *testing.T, f *fakeFrontend, tc *tls.Config) string {
	t.Helper()
	var opts []grpc.ServerOption
	if tc != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	s := grpc.NewServer(opts...)
	workflowservice.RegisterWorkflowServiceServer(s, f)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = s.Serve(lis) }()
	t.Cleanup(s.Stop)
	return lis.Addr().String()
}

func dialCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestClientOptionsPlain(t *testing.T) {
	opts, err := ClientOptions(config.Temporal{Address: "127.0.0.1:7233", Namespace: "ns1"}, zap.NewNop())
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:7233", opts.HostPort)
	assert.Equal(t, "ns1", opts.Namespace)
	assert.Nil(t, opts.ConnectionOptions.TLS, "plain connection")
	assert.Nil(t, opts.Credentials)
	assert.Equal(t, converter.GetDefaultDataConverter(), opts.DataConverter)
	assert.IsType(t, zapLogger{}, opts.Logger)
}

func TestDialPlain(t *testing.T) {
	f := &fakeFrontend{}
	addr := serve(t, f, nil)
	cl, err := Dial(dialCtx(t), config.Temporal{Address: addr, Namespace: "default"}, zap.NewNop())
	require.NoError(t, err)
	cl.Close()
	assert.Equal(t, 1, f.calls)
	assert.Empty(t, f.authorization)
}

func TestClientOptionsTLSWithCA(t *testing.T) {
	ca := newTestCA(t)
	cfg := config.Temporal{Address: "", Namespace: "default",
		TLS: config.TLS{CAFile: ca.file, ServerName: "temporal.sqlvault.test"}}
	opts, err := ClientOptions(cfg, nil)
	require.NoError(t, err)
	tc := opts.ConnectionOptions.TLS
	require.NotNil(t, tc, "a CA file turns TLS on")
	assert.Equal(t, "temporal.sqlvault.test", tc.ServerName)
	assert.True(t, tc.RootCAs.Equal(ca.pool()), "trusts exactly the configured CA")
	assert.Empty(t, tc.Certificates)

	// And it works against a server with a certificate from that CA, by name.
	f := &fakeFrontend{}
	cfg.Address = serve(t, f, ca.serverTLS(t, "temporal.sqlvault.test", nil))
	cl, err := Dial(dialCtx(t), cfg, nil)
	require.NoError(t, err)
	cl.Close()

	// The name checked is serverName: a certificate for another name is refused.
	cfg.TLS.ServerName = "other.sqlvault.test"
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = Dial(ctx, cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot reach Temporal at "+cfg.Address)
	assert.Contains(t, err.Error(), "certificate")
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := ca.issue(t, "sqlvault-worker", x509.ExtKeyUsageClientAuth)
	cfg := config.Temporal{Namespace: "default",
		TLS: config.TLS{CAFile: ca.file, CertFile: certFile, KeyFile: keyFile}}

	opts, err := ClientOptions(cfg, nil)
	require.NoError(t, err)
	require.NotNil(t, opts.ConnectionOptions.TLS)
	require.Len(t, opts.ConnectionOptions.TLS.Certificates, 1)
	leaf, err := x509.ParseCertificate(opts.ConnectionOptions.TLS.Certificates[0].Certificate[0])
	require.NoError(t, err)
	assert.Equal(t, "sqlvault-worker", leaf.Subject.CommonName)

	// A server that demands a client certificate from the CA accepts this client…
	f := &fakeFrontend{}
	cfg.Address = serve(t, f, ca.serverTLS(t, "127.0.0.1", ca.pool()))
	cl, err := Dial(dialCtx(t), cfg, nil)
	require.NoError(t, err)
	cl.Close()
	assert.Equal(t, 1, f.calls)

	// …and refuses one without a certificate.
	noCert := cfg
	noCert.TLS.CertFile, noCert.TLS.KeyFile = "", ""
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err = Dial(ctx, noCert, nil)
	require.Error(t, err)
	assert.Equal(t, 1, f.calls, "the call without a client certificate never reached the server")
}

func TestClientOptionsTLSErrors(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(notPEM, []byte("hello"), 0o600))

	_, err := ClientOptions(config.Temporal{TLS: config.TLS{CAFile: filepath.Join(dir, "missing.pem")}}, nil)
	assert.ErrorContains(t, err, "temporal.tls.caFile: open "+filepath.Join(dir, "missing.pem")+": no such file or directory")

	_, err = ClientOptions(config.Temporal{TLS: config.TLS{CAFile: notPEM}}, nil)
	assert.EqualError(t, err, "temporal.tls.caFile: "+notPEM+" holds no PEM certificate")

	_, err = ClientOptions(config.Temporal{TLS: config.TLS{CertFile: notPEM, KeyFile: notPEM}}, nil)
	assert.ErrorContains(t, err, "temporal.tls certFile "+notPEM+" / keyFile "+notPEM+":")
}

func TestAPIKey(t *testing.T) {
	const apiKey = "tcld-api-key-0123456789-SECRET"
	t.Setenv("TEST_TEMPORAL_API_KEY", apiKey)
	ca := newTestCA(t)
	cfg := config.Temporal{Namespace: "ns.acct", TLS: config.TLS{CAFile: ca.file},
		APIKey: config.Secret{Env: "TEST_TEMPORAL_API_KEY"}}

	core, logs := observer.New(zapcore.DebugLevel)
	log := zap.New(core)
	opts, err := ClientOptions(cfg, log)
	require.NoError(t, err)
	assert.NotNil(t, opts.Credentials)
	assert.NotNil(t, opts.ConnectionOptions.TLS)

	// The key reaches the server as a bearer token over TLS…
	f := &fakeFrontend{requireBearer: apiKey}
	cfg.Address = serve(t, f, ca.serverTLS(t, "127.0.0.1", nil))
	cl, err := Dial(dialCtx(t), cfg, log)
	require.NoError(t, err)
	cl.Close()
	assert.Equal(t, []string{"Bearer " + apiKey}, f.authorization)

	// …and never into the logs, which name only the reference.
	require.NotZero(t, logs.Len())
	for _, e := range logs.All() {
		assert.NotContains(t, e.Message, apiKey)
		for k, v := range e.ContextMap() {
			assert.NotContains(t, k, apiKey)
			assert.NotContains(t, fmt.Sprint(v), apiKey)
		}
	}
	assert.Equal(t, map[string]any{"env": "TEST_TEMPORAL_API_KEY"},
		logs.FilterMessage("temporal client options").All()[0].ContextMap()["apiKey"])
}

func TestAPIKeyImpliesTLS(t *testing.T) {
	t.Setenv("TEST_TEMPORAL_API_KEY", "k")
	opts, err := ClientOptions(config.Temporal{APIKey: config.Secret{Env: "TEST_TEMPORAL_API_KEY"}}, nil)
	require.NoError(t, err)
	require.NotNil(t, opts.ConnectionOptions.TLS, "an API key is never sent in clear text")
	assert.Nil(t, opts.ConnectionOptions.TLS.RootCAs, "system roots")
}

func TestAPIKeyUnresolvable(t *testing.T) {
	_, err := ClientOptions(config.Temporal{APIKey: config.Secret{Env: "TEST_TEMPORAL_API_KEY_UNSET"}}, nil)
	assert.EqualError(t, err, "temporal.apiKey (env:TEST_TEMPORAL_API_KEY_UNSET): secret not available: environment variable TEST_TEMPORAL_API_KEY_UNSET is unset or empty")
}

func TestDialWrongAPIKeySaysRefused(t *testing.T) {
	t.Setenv("TEST_TEMPORAL_API_KEY", "wrong-key-SECRET")
	ca := newTestCA(t)
	f := &fakeFrontend{requireBearer: "right-key"}
	cfg := config.Temporal{Namespace: "ns", TLS: config.TLS{CAFile: ca.file},
		APIKey: config.Secret{Env: "TEST_TEMPORAL_API_KEY"}}
	cfg.Address = serve(t, f, ca.serverTLS(t, "127.0.0.1", nil))
	_, err := Dial(dialCtx(t), cfg, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the Temporal server at "+cfg.Address+" refused this client (namespace ns): check temporal.apiKey and temporal.tls")
	assert.NotContains(t, err.Error(), "wrong-key-SECRET")
}

func TestDialClosedPortFailsFast(t *testing.T) {
	// Take a free port and close it again: nothing listens there.
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := lis.Addr().String()
	require.NoError(t, lis.Close())

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	start := time.Now()
	_, err = Dial(ctx, config.Temporal{Address: addr, Namespace: "default"}, nil)
	require.Error(t, err)
	assert.Less(t, time.Since(start), 5*time.Second, "bounded by the context")
	assert.Contains(t, err.Error(), "cannot reach Temporal at "+addr+": is the server running? (make run starts one): ")
}
