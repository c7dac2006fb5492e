package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/zap"

	"github.com/sqlvault/sqlvault/internal/config"
	"github.com/sqlvault/sqlvault/internal/logging"
	"github.com/sqlvault/sqlvault/internal/payloadcodec"
)

// codecServerFlags are codec-server's own flags; set, they override codec.server.*.
type codecServerFlags struct {
	listen, tokenFile, tokenEnv, certFile, keyFile string
	origins, namespaces                            []string
	noAuth                                         bool
}

func newCodecServerCmd() *cobra.Command {
	var f codecServerFlags
	c := &cobra.Command{
		Use:   "codec-server",
		Short: "Serve Temporal's codec endpoints (/encode, /decode) so the Web UI and the CLI can read encrypted payloads",
		Long: `codec-server decrypts (and encrypts) Temporal payloads for the Web UI
(temporal server start-dev --ui-codec-endpoint URL, or the UI's Data Encoder setting) and the
CLI (temporal workflow show --codec-endpoint URL --codec-auth "Bearer <token>"). It loads the
codec key file (codec.keyFile) through the KEK of key.*, like the workers.

Every request needs Authorization: Bearer <token> (--token-file or --token-env; the token
is never given on the command line), compared in constant time, else 401. Browser origins
must be listed (--allow-origin) to get CORS headers. --namespace limits it to namespaces
(X-Namespace). --tls-cert-file/--tls-key-file serve HTTPS, which any non-loopback address
should use. --no-auth (loopback only) is for a dev Web UI, which sends no token.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load("", os.Getenv, cmd.Flags())
			if err != nil {
				return err
			}
			f.apply(cmd, &cfg.Codec.Server)
			log, err := logging.New(cfg.Log.Level, cfg.Log.Format)
			if err != nil {
				return err
			}
			defer func() { _ = log.Sync() }()
			srv, ln, err := newCodecServer(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return serveCodec(cmd.Context(), srv, ln, cfg.Codec.Server, log)
		},
	}
	config.BindFlags(c.Flags())
	fl := c.Flags()
	fl.StringVar(&f.listen, "listen", "", "ip:port to serve on (default "+config.DefaultCodecServerListen+"; codec.server.listen)")
	fl.StringVar(&f.tokenFile, "token-file", "", "file holding the bearer token callers must send (codec.server.token.file)")
	fl.StringVar(&f.tokenEnv, "token-env", "", "environment variable holding the bearer token (codec.server.token.env)")
	fl.StringSliceVar(&f.origins, "allow-origin", nil, "browser origin allowed by CORS, e.g. http://localhost:8233 (repeatable; codec.server.allowedOrigins)")
	fl.StringSliceVar(&f.namespaces, "serve-namespace", nil, "serve only this Temporal namespace (X-Namespace; repeatable; codec.server.namespaces)")
	fl.StringVar(&f.certFile, "tls-cert-file", "", "serve HTTPS with this certificate (codec.server.certFile)")
	fl.StringVar(&f.keyFile, "tls-key-file", "", "the certificate's private key (codec.server.keyFile)")
	fl.BoolVar(&f.noAuth, "no-auth", false, "serve without a token (loopback addresses only: a dev Web UI sends none)")
	return c
}

func (f codecServerFlags) apply(cmd *cobra.Command, s *config.CodecServer) {
	changed := cmd.Flags().Changed
	if changed("listen") {
		s.Listen = f.listen
	}
	if changed("token-file") {
		s.Token = config.Secret{File: f.tokenFile}
	}
	if changed("token-env") {
		s.Token = config.Secret{Env: f.tokenEnv}
	}
	if changed("allow-origin") {
		s.AllowedOrigins = f.origins
	}
	if changed("serve-namespace") {
		s.Namespaces = f.namespaces
	}
	if changed("tls-cert-file") {
		s.CertFile = f.certFile
	}
	if changed("tls-key-file") {
		s.KeyFile = f.keyFile
	}
	if changed("no-auth") {
		s.NoAuth = f.noAuth
	}
	if s.Listen == "" {
		s.Listen = config.DefaultCodecServerListen
	}
}

// Codec server errors.
var (
	ErrCodecServerNoKeyFile = errors.New("codec-server: codec.keyFile is not set: give --codec-key-file (the codec key file the workers use)")
	ErrCodecServerNoAuth    = errors.New("codec-server: --no-auth is for a loopback address only: anyone who reaches the server could decrypt every history")
)

// newCodecServer checks the settings, loads the codec and binds the address.
func newCodecServer(ctx context.Context, cfg *config.Config) (*http.Server, net.Listener, error) {
	s := cfg.Codec.Server
	if cfg.Codec.KeyFile == "" {
		return nil, nil, ErrCodecServerNoKeyFile
	}
	var token string
	switch {
	case s.NoAuth:
		if !loopbackListen(s.Listen) {
			return nil, nil, fmt.Errorf("%w (listen %s)", ErrCodecServerNoAuth, s.Listen)
		}
	case s.Token.IsZero():
		return nil, nil, payloadcodec.ErrNoToken
	default:
		t, err := s.Token.Resolve()
		if err != nil {
			return nil, nil, fmt.Errorf("codec-server token (%s): %w", s.Token, err)
		}
		token = t
	}
	if (s.CertFile == "") != (s.KeyFile == "") {
		return nil, nil, errors.New("codec-server: give both --tls-cert-file and --tls-key-file, or neither")
	}
	codec, err := payloadcodec.FromConfig(ctx, cfg.Codec, cfg.Key)
	if err != nil {
		return nil, nil, err
	}
	h, err := payloadcodec.NewServerHandler(codec, payloadcodec.ServerOptions{Token: token, NoAuth: s.NoAuth,
		AllowedOrigins: s.AllowedOrigins, Namespaces: s.Namespaces})
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: 64 << 10}
	if s.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, nil, fmt.Errorf("codec-server TLS certificate %s / key %s: %w", s.CertFile, s.KeyFile, err)
		}
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	}
	ln, err := net.Listen("tcp", s.Listen)
	if err != nil {
		return nil, nil, fmt.Errorf("codec-server: listen on %s: %w", s.Listen, err)
	}
	if srv.TLSConfig != nil {
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	return srv, ln, nil
}

func serveCodec(ctx context.Context, srv *http.Server, ln net.Listener, s config.CodecServer, log *zap.Logger) error {
	scheme := "http"
	if srv.TLSConfig != nil {
		scheme = "https"
	}
	log.Info("codec server running", zap.String("url", scheme+"://"+ln.Addr().String()),
		zap.Bool("auth", !s.NoAuth), zap.Strings("allowedOrigins", s.AllowedOrigins), zap.Strings("namespaces", s.Namespaces))
	if scheme == "http" && !loopbackListen(s.Listen) {
		log.Warn("the codec server speaks plain HTTP on a non-loopback address: the token and decrypted payloads cross the network in clear; give --tls-cert-file and --tls-key-file")
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		return nil
	}
}

func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
