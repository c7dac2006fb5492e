package payloadcodec

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"slices"
	"strings"

	"go.temporal.io/sdk/converter"
)

// ServerOptions are the codec server's access rules.
type ServerOptions struct {
	// Token is the bearer token a caller must send (Authorization: Bearer <token>). Empty
	// only with NoAuth.
	Token string
	// NoAuth serves without a token: for a loopback-only codec server next to a dev Web UI
	// that sends none (the worker refuses it on any other address).
	NoAuth bool
	// AllowedOrigins are the browser origins (scheme://host:port of the Temporal Web UI)
	// that get CORS headers; none: no browser may call it.
	AllowedOrigins []string
	// Namespaces, when set, are the only namespaces (X-Namespace) served.
	Namespaces []string
}

// ErrNoToken: a codec server needs a bearer token (or NoAuth, explicitly).
var ErrNoToken = errors.New("payloadcodec: the codec server needs a bearer token: set codec.server.token (--token-file or --token-env)")

// corsHeaders are the request headers the Temporal Web UI sends to a codec endpoint.
const corsHeaders = "Content-Type, X-Namespace, Authorization, Authorization-Extras"

// NewServerHandler serves Temporal's remote codec endpoints (POST …/encode and …/decode,
// the SDK's converter.NewPayloadCodecHTTPHandler) behind CORS for the allowed origins, a
// bearer token compared in constant time (401 otherwise) and the namespace rule (403).
// Preflight requests (OPTIONS) carry no credentials by the CORS rules, so they are answered
// without the token, and only for an allowed origin.
func NewServerHandler(codec converter.PayloadCodec, o ServerOptions) (http.Handler, error) {
	if o.Token == "" && !o.NoAuth {
		return nil, ErrNoToken
	}
	want := sha256.Sum256([]byte("Bearer " + o.Token))
	inner := converter.NewPayloadCodecHTTPHandler(codec)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" {
			if !slices.Contains(o.AllowedOrigins, origin) {
				http.Error(w, "origin not allowed: add it to the codec server's allowed origins (--allow-origin)", http.StatusForbidden)
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Add("Vary", "Origin")
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			h.Set("Access-Control-Allow-Headers", corsHeaders)
			h.Set("Access-Control-Max-Age", "600")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST, OPTIONS")
			http.Error(w, "method not allowed: POST …/encode or …/decode", http.StatusMethodNotAllowed)
			return
		}
		if !o.NoAuth {
			got := sha256.Sum256([]byte(r.Header.Get("Authorization")))
			// Hashing both sides first makes the comparison's time independent of the token's
			// length as well as its content.
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Bearer realm="sqlvault codec"`)
				http.Error(w, "unauthorized: send Authorization: Bearer <the codec server's token>", http.StatusUnauthorized)
				return
			}
		}
		if len(o.Namespaces) > 0 && !slices.Contains(o.Namespaces, r.Header.Get("X-Namespace")) {
			http.Error(w, "namespace not served by this codec server (X-Namespace)", http.StatusForbidden)
			return
		}
		if !strings.HasSuffix(r.URL.Path, "/encode") && !strings.HasSuffix(r.URL.Path, "/decode") {
			http.NotFound(w, r)
			return
		}
		inner.ServeHTTP(w, r)
	}), nil
}
