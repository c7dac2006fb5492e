package keys

import (
	"context"
	"crypto"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azkeys"
)

// Key Vault wrapping algorithms, per key type: RSA keys wrap with RSA-OAEP-256; symmetric
// keys (oct-HSM, in a Managed HSM) with AES key wrap.
const (
	AlgRSAOAEP256 = string(azkeys.EncryptionAlgorithmRSAOAEP256)
	AlgA256KW     = string(azkeys.EncryptionAlgorithmA256KW)
)

// AzureOptions configure the azurekeyvault provider.
type AzureOptions struct {
	// VaultURL is the Key Vault (or Managed HSM), e.g. https://myvault.vault.azure.net/.
	VaultURL string
	// KeyName is the KEK's name; KeyVersion pins a version ("": the latest, so that a new
	// version made in Key Vault is what `key rotate --kek` re-wraps under).
	KeyName, KeyVersion string
	// Credential defaults to azidentity's default chain (the VM's managed identity, workload
	// identity, environment, Azure CLI …).
	Credential azcore.TokenCredential
	// ClientOptions are azkeys' (tests: the fake's TLS roots, no challenge resource check).
	ClientOptions *azkeys.ClientOptions
}

// AzureKEK is the azurekeyvault provider: the KEK is a Key Vault key and never leaves Key
// Vault; wrap and unwrap are Key Vault calls (wrapKey, unwrapKey, and get to learn the
// latest version and type), so a process needs those permissions on the key and nothing
// else — no private key material, ever.
type AzureKEK struct {
	client  *azkeys.Client
	host    string
	name    string
	version string
	display string // the key's URL without a version, for messages

	mu   sync.Mutex
	pubs map[string]*rsa.PublicKey // by key id with version: what VerifyRecord checks with
}

// NewAzureKEK builds the provider; it makes no call (the first wrap or unwrap does).
func NewAzureKEK(o AzureOptions) (*AzureKEK, error) {
	u, err := url.Parse(o.VaultURL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("keys: key.azureKeyVault.vaultUrl %q must be an https URL like https://myvault.vault.azure.net/", o.VaultURL)
	}
	if o.KeyName == "" {
		return nil, errors.New("keys: key.azureKeyVault.keyName is required: the name of the Key Vault key that wraps the data keys")
	}
	cred := o.Credential
	if cred == nil {
		c, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return nil, &KEKError{Provider: ProviderAzureKeyVault, KEK: o.VaultURL, Op: "find an Azure credential", Err: err,
				Todo: "give the VM a managed identity (or set AZURE_CLIENT_ID for a user-assigned one) with the Key Vault Crypto Service Encryption User role on the key"}
		}
		cred = c
	}
	client, err := azkeys.NewClient(strings.TrimSuffix(o.VaultURL, "/"), cred, o.ClientOptions)
	if err != nil {
		return nil, fmt.Errorf("keys: Key Vault client: %w", err)
	}
	return &AzureKEK{client: client, host: u.Host, name: o.KeyName, version: o.KeyVersion,
		display: "https://" + u.Host + "/keys/" + o.KeyName, pubs: map[string]*rsa.PublicKey{}}, nil
}

// Provider is ProviderAzureKeyVault.
func (a *AzureKEK) Provider() string { return ProviderAzureKeyVault }

// current asks Key Vault for the key (its latest version unless one is pinned): its id with
// version and the algorithm its type wraps with.
func (a *AzureKEK) current(ctx context.Context) (kid, alg string, err error) {
	resp, err := a.client.GetKey(ctx, a.name, a.version, nil)
	if err != nil {
		return "", "", a.fail("read the key (get)", a.display, err)
	}
	k := resp.Key
	if k == nil || k.KID == nil || k.Kty == nil {
		return "", "", a.fail("read the key (get)", a.display, errors.New("Key Vault answered without a key id or type"))
	}
	if at := resp.Attributes; at != nil && at.Enabled != nil && !*at.Enabled {
		return "", "", &KEKError{Provider: ProviderAzureKeyVault, KEK: string(*k.KID), Op: "read the key (get)",
			Err: errors.New("the key is disabled"), Todo: todoDisabled}
	}
	switch *k.Kty {
	case azkeys.KeyTypeRSA, azkeys.KeyTypeRSAHSM:
		alg = AlgRSAOAEP256
	case azkeys.KeyTypeOctHSM, azkeys.KeyTypeOct:
		alg = AlgA256KW
	default:
		return "", "", fmt.Errorf("keys: Key Vault key %s is of type %s, which cannot wrap keys: use an RSA key (RSA-OAEP-256) or a Managed HSM oct-HSM key (AES key wrap)", *k.KID, *k.Kty)
	}
	return string(*k.KID), alg, nil
}

// Current is the key id, with version, that Wrap uses now.
func (a *AzureKEK) Current(ctx context.Context) (string, error) {
	kid, _, err := a.current(ctx)
	return kid, err
}

// Wrap has Key Vault wrap raw under the key's current version.
func (a *AzureKEK) Wrap(ctx context.Context, dataKeyID string, raw []byte) (Wrapped, error) {
	kid, alg, err := a.current(ctx)
	if err != nil {
		return Wrapped{}, err
	}
	id := azkeys.ID(kid)
	ea := azkeys.EncryptionAlgorithm(alg)
	resp, err := a.client.WrapKey(ctx, id.Name(), id.Version(), azkeys.KeyOperationParameters{Algorithm: &ea, Value: raw}, nil)
	if err != nil {
		return Wrapped{}, a.fail("wrap data key "+dataKeyID, kid, err)
	}
	if len(resp.Result) == 0 {
		return Wrapped{}, a.fail("wrap data key "+dataKeyID, kid, errors.New("Key Vault answered without a wrapped key"))
	}
	if resp.KID != nil {
		kid = string(*resp.KID) // what Key Vault says it used
	}
	return Wrapped{KEK: kid, Algorithm: alg, Value: resp.Result}, nil
}

// Unwrap has Key Vault unwrap a key with the key version that wrapped it.
func (a *AzureKEK) Unwrap(ctx context.Context, dataKeyID string, w Wrapped) ([]byte, error) {
	op := "unwrap data key " + dataKeyID
	u, err := url.Parse(w.KEK)
	if err != nil || u.Host != a.host || !strings.HasPrefix(u.Path, "/keys/") {
		return nil, &KEKError{Provider: ProviderAzureKeyVault, KEK: a.display, Op: op,
			Err:  fmt.Errorf("it is wrapped under %s, not a key of this Key Vault (%s)", w.KEK, a.host),
			Todo: "configure key.provider and key.azureKeyVault for the KEK that wrapped it"}
	}
	id := azkeys.ID(w.KEK)
	if w.Algorithm != AlgRSAOAEP256 && w.Algorithm != AlgA256KW {
		return nil, fmt.Errorf("%w: data key %s: algorithm %q is not one Key Vault unwraps for sqlvault", ErrDataKeyMismatch, dataKeyID, w.Algorithm)
	}
	ea := azkeys.EncryptionAlgorithm(w.Algorithm)
	resp, err := a.client.UnwrapKey(ctx, id.Name(), id.Version(), azkeys.KeyOperationParameters{Algorithm: &ea, Value: w.Value}, nil)
	if err != nil {
		return nil, a.fail(op, w.KEK, err)
	}
	return resp.Result, nil
}

// Describe reads the key from Key Vault.
func (a *AzureKEK) Describe(ctx context.Context) Description {
	d := Description{Provider: ProviderAzureKeyVault}
	kid, alg, err := a.current(ctx)
	if err != nil {
		d.KEK, d.Error = a.display, err.Error()
		return d
	}
	d.KEK, d.Detail = kid, "Key Vault key, wraps with "+alg
	if a.version != "" {
		d.Detail += " (version pinned by key.azureKeyVault.keyVersion)"
	}
	return d
}

const todoDisabled = "enable the key (az keyvault key set-attributes --enabled true, or the portal): until then no data key it wraps can be unwrapped, so no backup or restore can run"

// fail turns a Key Vault or transport error into a *KEKError that says what to do; a
// cancelled context stays what it is.
func (a *AzureKEK) fail(op, kek string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	e := &KEKError{Provider: ProviderAzureKeyVault, KEK: kek, Op: op}
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		e.Err = err
		var af *azidentity.AuthenticationFailedError
		if errors.As(err, &af) || strings.Contains(err.Error(), "credential") {
			e.Todo = "no token for Key Vault: give the VM a managed identity (or set AZURE_CLIENT_ID for a user-assigned one) and check it can sign in"
		} else {
			e.Todo = "Key Vault cannot be reached: check the network path to " + a.host + " (DNS, firewall, private endpoint) and retry"
		}
		return e
	}
	code, inner, msg := keyVaultError(re)
	e.Err = fmt.Errorf("Key Vault answered %d %s%s: %s", re.StatusCode, code, inner, msg)
	switch {
	case re.StatusCode == http.StatusForbidden && (inner == "/KeyDisabled" || strings.Contains(strings.ToLower(msg), "disabled")):
		e.Todo = todoDisabled
	case re.StatusCode == http.StatusForbidden:
		e.Todo = "this identity may not use the key: grant it the Key Vault Crypto Service Encryption User role (get, wrapKey, unwrapKey) on the key, or the same permissions in the vault's access policy"
	case re.StatusCode == http.StatusUnauthorized:
		e.Todo = "Key Vault refused the identity's token: check the managed identity and the vault's tenant"
	case re.StatusCode == http.StatusNotFound:
		e.Todo = "the key or this version of it does not exist: if it was deleted, recover it (az keyvault key recover) within the soft-delete period; data keys wrapped only under it cannot be unwrapped otherwise"
	case re.StatusCode == http.StatusTooManyRequests || re.StatusCode >= 500:
		e.Todo = "Key Vault is throttling or failing: retry later"
	default:
		e.Todo = "see Key Vault's answer above"
	}
	return e
}

// keyVaultError reads Key Vault's error body: {"error":{"code","message","innererror":{"code"}}}.
// The body names the operation and the key, never key material.
func keyVaultError(re *azcore.ResponseError) (code, inner, msg string) {
	code = re.ErrorCode
	if re.RawResponse == nil {
		return code, "", ""
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return code, "", ""
	}
	var doc struct {
		Error struct {
			Code       string `json:"code"`
			Message    string `json:"message"`
			InnerError *struct {
				Code string `json:"code"`
			} `json:"innererror"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &doc) != nil {
		return code, "", ""
	}
	if doc.Error.Code != "" {
		code = doc.Error.Code
	}
	if doc.Error.InnerError != nil && doc.Error.InnerError.Code != "" {
		inner = "/" + doc.Error.InnerError.Code
	}
	return code, inner, strings.TrimRight(doc.Error.Message, ". ")
}

// AlgRS256 is how keyring records wrapped with an RSA key are signed (RecordSigner).
const AlgRS256 = string(azkeys.SignatureAlgorithmRS256)

// SignRecord has Key Vault sign a record's digest (RS256) with the key version that wrapped
// it: the identity needs the sign permission on the key (Key Vault Crypto User, or
// keys/sign in an access policy) — the one running `key rotate`, not the agents.
func (a *AzureKEK) SignRecord(ctx context.Context, kek string, digest []byte) ([]byte, string, string, error) {
	id, err := a.ownKey(kek, "sign a data key record")
	if err != nil {
		return nil, "", "", err
	}
	alg := azkeys.SignatureAlgorithmRS256
	resp, err := a.client.Sign(ctx, id.Name(), id.Version(), azkeys.SignParameters{Algorithm: &alg, Value: digest}, nil)
	if err != nil {
		return nil, "", "", a.fail("sign a data key record", kek, err)
	}
	if len(resp.Result) == 0 {
		return nil, "", "", a.fail("sign a data key record", kek, errors.New("Key Vault answered without a signature"))
	}
	by := kek
	if resp.KID != nil {
		by = string(*resp.KID)
	}
	return resp.Result, AlgRS256, by, nil
}

// VerifyRecord checks an RS256 signature locally with the public key of the key version
// that wrapped the record (read once with get). signedBy must be that version: a signature
// by another key, or another version, vouches for nothing here.
func (a *AzureKEK) VerifyRecord(ctx context.Context, kek, signedBy, alg string, digest, sig []byte) error {
	if alg != AlgRS256 {
		return fmt.Errorf("signature algorithm %q, want %s", alg, AlgRS256)
	}
	if signedBy != kek {
		return fmt.Errorf("signed by %s, not by the key that wrapped it (%s)", signedBy, kek)
	}
	// A record naming a key elsewhere, or a version that does not exist, is refused as
	// unsigned — not as the KEK being out of reach, which would stop every backup on the
	// word of one planted record.
	id, err := a.ownKey(kek, "check a data key record's signature")
	if err != nil {
		return errors.New(err.Error())
	}
	pub, err := a.publicKey(ctx, id)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		if _, _, cerr := a.current(ctx); cerr != nil {
			return cerr // the KEK itself is gone (deleted, disabled…): say so, by name
		}
		return fmt.Errorf("no version %s of the KEK exists", id.Version())
	}
	if err != nil {
		return err
	}
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest, sig); err != nil {
		return errors.New("the signature does not verify with the key's public key")
	}
	return nil
}

// ownKey parses a key id with version that must be a key of this Key Vault.
func (a *AzureKEK) ownKey(kek, op string) (azkeys.ID, error) {
	u, err := url.Parse(kek)
	id := azkeys.ID(kek)
	if err != nil || u.Host != a.host || !strings.HasPrefix(u.Path, "/keys/") || id.Version() == "" {
		return "", &KEKError{Provider: ProviderAzureKeyVault, KEK: a.display, Op: op,
			Err:  fmt.Errorf("%s is not a key version of this Key Vault (%s)", kek, a.host),
			Todo: "configure key.provider and key.azureKeyVault for the KEK that wrapped the keyring"}
	}
	return id, nil
}

// publicKey is the RSA public key of a key version, from Key Vault's get (cached: a version
// never changes).
func (a *AzureKEK) publicKey(ctx context.Context, id azkeys.ID) (*rsa.PublicKey, error) {
	a.mu.Lock()
	pub := a.pubs[string(id)]
	a.mu.Unlock()
	if pub != nil {
		return pub, nil
	}
	resp, err := a.client.GetKey(ctx, id.Name(), id.Version(), nil)
	var re *azcore.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusNotFound {
		return nil, err // VerifyRecord: no such version, so no signature of it
	}
	if err != nil {
		return nil, a.fail("read the key (get)", string(id), err)
	}
	k := resp.Key
	if k == nil || k.Kty == nil || (*k.Kty != azkeys.KeyTypeRSA && *k.Kty != azkeys.KeyTypeRSAHSM) || len(k.N) == 0 || len(k.E) == 0 {
		return nil, fmt.Errorf("key %s has no RSA public key", id)
	}
	e := new(big.Int).SetBytes(k.E)
	if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
		return nil, fmt.Errorf("key %s: RSA exponent out of range", id)
	}
	pub = &rsa.PublicKey{N: new(big.Int).SetBytes(k.N), E: int(e.Int64())}
	a.mu.Lock()
	a.pubs[string(id)] = pub
	a.mu.Unlock()
	return pub, nil
}
