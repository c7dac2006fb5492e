// Package temporalx builds the Temporal client from the worker configuration and adapts
// the Temporal SDK's logger to zap.
package temporalx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sqlvault/sqlvault/internal/config"
)

// ClientOptions turns the temporal section of the configuration (config.Load has laid it
// over the Temporal SDK's environment configuration: a Temporal CLI profile and TEMPORAL_*
// variables) into SDK client options:
// address, namespace, TLS (custom CA, mutual TLS, server name), a Temporal Cloud API key,
// and the zap logger. TLS is used when the config asks for it (see config.TLS.InUse) and
// always with an API key, which must not cross the network in clear text. The API key is
// resolved here and lives only inside the SDK's credentials; it is never logged.
func ClientOptions(c config.Temporal, log *zap.Logger) (client.Options, error) {
	if log == nil {
		log = zap.NewNop()
	}
	opts := client.Options{
		HostPort:  c.Address,
		Namespace: c.Namespace,
		Logger:    NewZapLogger(log),
		// Plain JSON payloads: workflow inputs are a public interface that people start
		// from the Temporal CLI and Web UI, so there is no codec in the way.
		DataConverter: converter.GetDefaultDataConverter(),
	}
	if c.TLS.InUse() || !c.APIKey.IsZero() {
		tc, err := tlsConfig(c.TLS)
		if err != nil {
			return client.Options{}, err
		}
		opts.ConnectionOptions.TLS = tc
	}
	if !c.APIKey.IsZero() {
		key, err := c.APIKey.Resolve()
		if err != nil {
			return client.Options{}, fmt.Errorf("temporal.apiKey (%s): %w", c.APIKey, err)
		}
		opts.Credentials = client.NewAPIKeyStaticCredentials(key)
	}
	log.Debug("temporal client options",
		zap.String("address", c.Address),
		zap.String("namespace", c.Namespace),
		zap.Bool("tls", opts.ConnectionOptions.TLS != nil),
		zap.Bool("mtls", c.TLS.CertFile != ""),
		zap.Object("apiKey", c.APIKey),
		zap.Strings("fromTemporalEnvConfig", c.FromEnvConfig))
	return opts, nil
}

func tlsConfig(t config.TLS) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: t.ServerName}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls.caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("temporal.tls.caFile: %s holds no PEM certificate", t.CAFile)
		}
		tc.RootCAs = pool
	}
	if t.CertFile != "" || t.KeyFile != "" {
		// The client certificate goes into the TLS config rather than
		// client.NewMTLSCredentials, because Options has room for one Credentials and
		// that is taken by the API key when both are used.
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal.tls certFile %s / keyFile %s: %w", t.CertFile, t.KeyFile, err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// Dial connects to Temporal with ClientOptions. The SDK checks the connection while
// dialling (GetSystemInfo), so an unreachable server fails here, within ctx, with an error
// that says where it looked and what to do.
func Dial(ctx context.Context, c config.Temporal, log *zap.Logger) (client.Client, error) {
	return DialMetrics(ctx, c, log, nil)
}

// DialMetrics is Dial with the SDK's metrics going to metrics (nil: none), the handler of
// the worker's registry (metrics.NewTemporalHandler).
func DialMetrics(ctx context.Context, c config.Temporal, log *zap.Logger, metrics client.MetricsHandler) (client.Client, error) {
	opts, err := ClientOptions(c, log)
	if err != nil {
		return nil, err
	}
	if metrics != nil {
		opts.MetricsHandler = metrics
	}
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		// A server that answers but refuses us needs different advice than one that is down.
		var denied *serviceerror.PermissionDenied
		if status.Code(err) == codes.Unauthenticated || errors.As(err, &denied) {
			return nil, fmt.Errorf("the Temporal server at %s refused this client (namespace %s): check temporal.apiKey and temporal.tls: %w", c.Address, c.Namespace, err)
		}
		return nil, fmt.Errorf("cannot reach Temporal at %s: is the server running? (make run starts one): %w", c.Address, err)
	}
	return cl, nil
}
