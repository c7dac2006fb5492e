// Package fakekeyvault is a local stand-in for Azure Key Vault, which has no emulator: an
// HTTPS server on loopback that answers the REST calls azkeys makes for a KEK — get key,
// wrap key, unwrap key, and sign (RS256 over a SHA-256 digest, for the keyring's record
// signatures) (api-version 2025-07-01 request and response shapes, from azkeys
// v1.5.0's generated client and models_serde.go) — behind Key Vault's bearer challenge
// (401 with WWW-Authenticate naming the authority and resource, as
// keyvault/internal's challenge policy expects), with a credential that hands out the token
// it accepts. It can refuse like Key Vault does: 403 Forbidden (ForbiddenByRbac), 403 for a
// disabled key (innererror KeyDisabled), 404 KeyNotFound. Keys are RSA (RSA-OAEP-256) or
// oct-HSM (A256KW, RFC 3394), in versions: NewVersion is Key Vault's key rotation.
package fakekeyvault

import (
	"context"
	"crypto"
	"crypto/aes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// Resource is the token audience Key Vault's challenge names.
const Resource = "https://vault.azure.net"

// Server is the fake Key Vault.
type Server struct {
	srv   *httptest.Server
	token string

	mu        sync.Mutex
	keys      map[string]*key // by name
	forbidden bool
	calls     map[string]int // by operation: get, wrapkey, unwrapkey, sign
}

type key struct {
	kty      string // "RSA" or "oct-HSM"
	disabled bool
	versions []*version // oldest first; the last is current
}

type version struct {
	id  string
	rsa *rsa.PrivateKey
	aes []byte
}

// Start starts a fake on a loopback port. Close it when done.
func Start() *Server {
	s := &Server{keys: map[string]*key{}, calls: map[string]int{}, token: "fake-kv-token-" + randHex(8)}
	s.srv = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	return s
}

// URL is the vault URL (https://127.0.0.1:port).
func (s *Server) URL() string { return s.srv.URL }

// Close stops the server; calls after it fail as a network error would.
func (s *Server) Close() { s.srv.Close() }

// Credential is an azcore.TokenCredential that returns the token this fake accepts.
func (s *Server) Credential() *Credential { return &Credential{Token: s.token} }

// ClientOptions make azkeys trust the fake's certificate, skip the challenge resource
// check (the fake's host is an IP address, not *.vault.azure.net) and not retry, so a
// refusal is seen at once.
func (s *Server) ClientOptions() *azkeys.ClientOptions {
	return &azkeys.ClientOptions{
		ClientOptions:                        azcore.ClientOptions{Transport: s.srv.Client(), Retry: policy.RetryOptions{MaxRetries: -1}},
		DisableChallengeResourceVerification: true,
	}
}

// CreateRSAKey creates an RSA key (2048 bits) with one version.
func (s *Server) CreateRSAKey(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = &key{kty: "RSA"}
	s.addVersion(name)
}

// CreateOctKey creates a symmetric oct-HSM key (as a Managed HSM holds) with one version.
func (s *Server) CreateOctKey(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name] = &key{kty: "oct-HSM"}
	s.addVersion(name)
}

// NewVersion adds a version, which becomes current (Key Vault's "rotate").
func (s *Server) NewVersion(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addVersion(name)
}

func (s *Server) addVersion(name string) string {
	k := s.keys[name]
	v := &version{id: randHex(16)}
	if k.kty == "RSA" {
		priv, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		v.rsa = priv
	} else {
		v.aes = make([]byte, 32)
		_, _ = rand.Read(v.aes)
	}
	k.versions = append(k.versions, v)
	return v.id
}

// SetEnabled enables or disables a key (every version).
func (s *Server) SetEnabled(name string, enabled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[name].disabled = !enabled
}

// Delete removes a key (a later call gets 404 KeyNotFound).
func (s *Server) Delete(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.keys, name)
}

// Forbid makes every authenticated call answer 403 ForbiddenByRbac (the identity lost its
// role) until Forbid(false).
func (s *Server) Forbid(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.forbidden = on
}

// Calls is how many calls of an operation ("get", "wrapkey", "unwrapkey") were answered
// with success.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *Server) kid(name, ver string) string { return s.srv.URL + "/keys/" + name + "/" + ver }

type kvError struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError *struct {
			Code string `json:"code"`
		} `json:"innererror,omitempty"`
	} `json:"error"`
}

func writeError(w http.ResponseWriter, status int, code, inner, msg string) {
	var e kvError
	e.Error.Code, e.Error.Message = code, msg
	if inner != "" {
		e.Error.InnerError = &struct {
			Code string `json:"code"`
		}{inner}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("api-version") == "" {
		writeError(w, http.StatusBadRequest, "BadParameter", "", "The 'api-version' query parameter is missing.")
		return
	}
	auth := r.Header.Get("Authorization")
	if auth == "" {
		// Key Vault's challenge: the client learns the tenant and the resource to ask a token for.
		w.Header().Set("WWW-Authenticate", `Bearer authorization="https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000", resource="`+Resource+`"`)
		writeError(w, http.StatusUnauthorized, "Unauthorized", "", "AKV10000: Request is missing a Bearer or PoP token.")
		return
	}
	if auth != "Bearer "+s.token {
		writeError(w, http.StatusUnauthorized, "Unauthorized", "", "AKV10032: Invalid issuer.")
		return
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) < 2 || parts[0] != "keys" {
		writeError(w, http.StatusNotFound, "NotFound", "", "no such route in the fake")
		return
	}
	name, ver, op := parts[1], "", "get"
	switch {
	case len(parts) == 2 && r.Method == http.MethodGet:
	case len(parts) == 3 && r.Method == http.MethodGet:
		ver = parts[2]
	case len(parts) == 4 && r.Method == http.MethodPost && (parts[3] == "wrapkey" || parts[3] == "unwrapkey" || parts[3] == "sign"):
		ver, op = parts[2], parts[3]
	default:
		writeError(w, http.StatusNotFound, "NotFound", "", "no such route in the fake")
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forbidden {
		writeError(w, http.StatusForbidden, "Forbidden", "ForbiddenByRbac",
			fmt.Sprintf("Caller is not authorized to perform action on resource. Action: 'Microsoft.KeyVault/vaults/keys/%s/action'", op))
		return
	}
	k := s.keys[name]
	if k == nil {
		writeError(w, http.StatusNotFound, "KeyNotFound", "", fmt.Sprintf("A key with (name/id) %s was not found in this key vault.", name))
		return
	}
	v := k.versions[len(k.versions)-1]
	if ver != "" {
		v = nil
		for _, c := range k.versions {
			if c.id == ver {
				v = c
			}
		}
		if v == nil {
			writeError(w, http.StatusNotFound, "KeyNotFound", "", fmt.Sprintf("A key with (name/id) %s/%s was not found in this key vault.", name, ver))
			return
		}
	}
	if k.disabled {
		writeError(w, http.StatusForbidden, "Forbidden", "KeyDisabled", fmt.Sprintf("Operation %s is not allowed on a disabled key.", op))
		return
	}
	kid := s.kid(name, v.id)
	if op == "get" {
		s.calls[op]++
		writeJSON(w, s.bundle(k, v, kid))
		return
	}
	var p struct {
		Alg   string `json:"alg"`
		Value string `json:"value"`
	}
	body, _ := io.ReadAll(r.Body)
	if err := json.Unmarshal(body, &p); err != nil {
		writeError(w, http.StatusBadRequest, "BadParameter", "", "Request body is not valid JSON.")
		return
	}
	in, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(p.Value, "="))
	if err != nil || len(in) == 0 {
		writeError(w, http.StatusBadRequest, "BadParameter", "", "Property 'value' is not base64url.")
		return
	}
	var out []byte
	if op == "sign" {
		out, err = sign(k.kty, v, p.Alg, in)
	} else {
		out, err = crypt(k.kty, v, p.Alg, op == "wrapkey", in)
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, "BadParameter", "", err.Error())
		return
	}
	s.calls[op]++
	writeJSON(w, map[string]string{"kid": kid, "value": base64.RawURLEncoding.EncodeToString(out)})
}

func (s *Server) bundle(k *key, v *version, kid string) map[string]any {
	now := time.Now().Unix()
	jwk := map[string]any{"kid": kid, "kty": k.kty, "key_ops": []string{"wrapKey", "unwrapKey", "sign", "verify"}}
	if v.rsa != nil {
		e := make([]byte, 4)
		binary.BigEndian.PutUint32(e, uint32(v.rsa.E))
		jwk["n"] = base64.RawURLEncoding.EncodeToString(v.rsa.N.Bytes())
		jwk["e"] = base64.RawURLEncoding.EncodeToString(trimZeros(e))
	}
	return map[string]any{"key": jwk, "attributes": map[string]any{"enabled": !k.disabled, "created": now, "updated": now,
		"recoveryLevel": "Recoverable+Purgeable", "recoverableDays": 90}}
}

func trimZeros(b []byte) []byte {
	for len(b) > 1 && b[0] == 0 {
		b = b[1:]
	}
	return b
}

func crypt(kty string, v *version, alg string, wrap bool, in []byte) ([]byte, error) {
	switch {
	case kty == "RSA" && alg == "RSA-OAEP-256":
		if wrap {
			return rsa.EncryptOAEP(sha256.New(), rand.Reader, &v.rsa.PublicKey, in, nil)
		}
		return rsa.DecryptOAEP(sha256.New(), nil, v.rsa, in, nil)
	case kty == "oct-HSM" && alg == "A256KW":
		if wrap {
			return aesKeyWrap(v.aes, in)
		}
		return aesKeyUnwrap(v.aes, in)
	}
	return nil, fmt.Errorf("Algorithm %q is not supported for a key of type %s.", alg, kty)
}

// sign is Key Vault's sign: RS256 is RSASSA-PKCS1-v1_5 over a SHA-256 digest the caller
// computed (Key Vault signs digests, not messages).
func sign(kty string, v *version, alg string, digest []byte) ([]byte, error) {
	if kty != "RSA" || alg != "RS256" {
		return nil, fmt.Errorf("Algorithm %q is not supported for signing with a key of type %s.", alg, kty)
	}
	if len(digest) != sha256.Size {
		return nil, fmt.Errorf("Invalid length of 'value': %d bytes, RS256 signs a 32-byte digest.", len(digest))
	}
	return rsa.SignPKCS1v15(rand.Reader, v.rsa, crypto.SHA256, digest)
}

// PublicKey is the RSA public key of a key's current version: what anyone who can read the
// key (get) has, and all an attacker needs to wrap a data key under it.
func (s *Server) PublicKey(name string) (kid string, pub *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.keys[name]
	v := k.versions[len(k.versions)-1]
	return s.kid(name, v.id), &v.rsa.PublicKey
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(v)
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// aesKeyWrap is RFC 3394 key wrap with the default IV.
func aesKeyWrap(kek, plain []byte) ([]byte, error) {
	if len(plain)%8 != 0 || len(plain) < 16 {
		return nil, errors.New("A256KW wraps a multiple of 8 bytes, at least 16")
	}
	c, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(plain) / 8
	a := []byte{0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6, 0xA6}
	r := make([]byte, len(plain))
	copy(r, plain)
	b := make([]byte, 16)
	for j := 0; j < 6; j++ {
		for i := 0; i < n; i++ {
			copy(b, a)
			copy(b[8:], r[i*8:i*8+8])
			c.Encrypt(b, b)
			t := uint64(n*j + i + 1)
			binary.BigEndian.PutUint64(a, binary.BigEndian.Uint64(b[:8])^t)
			copy(r[i*8:], b[8:])
		}
	}
	return append(a, r...), nil
}

// aesKeyUnwrap reverses aesKeyWrap and checks the IV.
func aesKeyUnwrap(kek, wrapped []byte) ([]byte, error) {
	if len(wrapped)%8 != 0 || len(wrapped) < 24 {
		return nil, errors.New("A256KW unwraps a multiple of 8 bytes, at least 24")
	}
	c, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(wrapped)/8 - 1
	a := append([]byte(nil), wrapped[:8]...)
	r := append([]byte(nil), wrapped[8:]...)
	b := make([]byte, 16)
	for j := 5; j >= 0; j-- {
		for i := n - 1; i >= 0; i-- {
			t := uint64(n*j + i + 1)
			binary.BigEndian.PutUint64(b, binary.BigEndian.Uint64(a)^t)
			copy(b[8:], r[i*8:i*8+8])
			c.Decrypt(b, b)
			copy(a, b[:8])
			copy(r[i*8:], b[8:])
		}
	}
	for _, x := range a {
		if x != 0xA6 {
			return nil, errors.New("A256KW integrity check failed")
		}
	}
	return r, nil
}

// Credential is a TokenCredential that returns a fixed token and records the scopes asked.
type Credential struct {
	Token string

	mu     sync.Mutex
	scopes []string
}

// GetToken implements azcore.TokenCredential.
func (c *Credential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.scopes = append(c.scopes, o.Scopes...)
	c.mu.Unlock()
	return azcore.AccessToken{Token: c.Token, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

// Scopes are the scopes tokens were asked for.
func (c *Credential) Scopes() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.scopes...)
}
