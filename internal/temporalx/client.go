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
	"go.temporal.io/sdk/temporal"
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
		// Plain JSON payloads unless a codec is configured (UseCodec): workflow inputs are a
		// public interface that people start from the Temporal CLI and Web UI.
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

// UseCodec makes the client (and every worker built on it) pass every payload through
// codec: DataConverter(codec) for inputs, results, heartbeat details, memos, schedule
// actions, queries and updates, and FailureConverter(codec) for failures. A nil codec
// leaves opts as they are.
func UseCodec(opts *client.Options, codec converter.PayloadCodec) {
	if codec == nil {
		return
	}
	opts.DataConverter = DataConverter(codec)
	opts.FailureConverter = FailureConverter(codec)
}

// DataConverter is the SDK's default JSON converter with codec in front: what the client
// and worker use for every payload. A nil codec is the plain default converter.
func DataConverter(codec converter.PayloadCodec) converter.DataConverter {
	if codec == nil {
		return converter.GetDefaultDataConverter()
	}
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), codec)
}

// FailureConverter is the SDK's default failure converter over DataConverter(codec), with
// EncodeCommonAttributes when there is a codec: failure messages and stack traces name
// databases and paths, so they move into an encoded payload too (the history shows
// "Encoded failure"). A nil codec is the SDK's default (messages in clear, as before).
func FailureConverter(codec converter.PayloadCodec) converter.FailureConverter {
	if codec == nil {
		return temporal.GetDefaultFailureConverter()
	}
	return temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter:          DataConverter(codec),
		EncodeCommonAttributes: true,
	})
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
	return DialWith(ctx, c, log, DialOptions{})
}

// DialOptions are what a dial may add to ClientOptions.
type DialOptions struct {
	// Metrics receives the SDK's metrics (nil: none).
	Metrics client.MetricsHandler
	// Codec encodes every payload (nil: clear JSON); see UseCodec.
	Codec converter.PayloadCodec
}

// DialMetrics is Dial with the SDK's metrics going to metrics (nil: none), the handler of
// the worker's registry (metrics.NewTemporalHandler).
func DialMetrics(ctx context.Context, c config.Temporal, log *zap.Logger, metrics client.MetricsHandler) (client.Client, error) {
	return DialWith(ctx, c, log, DialOptions{Metrics: metrics})
}

// DialWith is Dial with the SDK's metrics and a payload codec.
func DialWith(ctx context.Context, c config.Temporal, log *zap.Logger, o DialOptions) (client.Client, error) {
	opts, err := ClientOptions(c, log)
	if err != nil {
		return nil, err
	}
	if o.Metrics != nil {
		opts.MetricsHandler = o.Metrics
	}
	UseCodec(&opts, o.Codec)
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
