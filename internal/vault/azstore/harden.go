package azstore

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
)

// Protection is what the storage account and the vault's container do against deletion and
// overwrite, as far as the blob data plane shows it.
type Protection struct {
	// SoftDelete: a deleted or overwritten blob is kept SoftDeleteDays days and can be
	// undeleted (the Blob service's DeleteRetentionPolicy).
	SoftDelete     bool  `json:"softDelete"`
	SoftDeleteDays int32 `json:"softDeleteDays,omitempty"`
	// ImmutableVersions: the container has version-level immutability (WORM) enabled (Get
	// Container Properties, x-ms-immutable-storage-with-versioning-enabled). Its default
	// retention period, blob versioning and container soft delete are settings of the
	// storage account's resource, which only Azure Resource Manager reads and writes.
	ImmutableVersions bool `json:"immutableVersions"`
}

// MaxSoftDeleteDays is Azure's upper bound for blob soft delete.
const MaxSoftDeleteDays = 365

// ErrAccountSettings means the credential may use the container but not read or change the
// storage account's blob service settings (a container SAS never can).
var ErrAccountSettings = errors.New("the vault credential cannot read or change the storage account's blob service settings")

// Account is the storage account of a vault container, for its protection settings.
type Account struct {
	svc       *service.Client
	container string
	secrets   []string
}

// NewAccount connects to the account of cfg's container with cfg's credential.
func NewAccount(cfg Config) (*Account, error) {
	opts := &service.ClientOptions{}
	a := &Account{container: cfg.Container}
	accountURL := strings.TrimSuffix(cfg.AccountURL, "/")
	var err error
	switch {
	case cfg.ConnectionString != "":
		a.secrets = append(a.secrets, cfg.ConnectionString)
		if k := connStringKey(cfg.ConnectionString); k != "" {
			a.secrets = append(a.secrets, k)
		}
		a.svc, err = service.NewClientFromConnectionString(cfg.ConnectionString, opts)
		err = hideErr(err, "connection string is not valid")
	case cfg.SharedKey != nil:
		a.secrets = append(a.secrets, cfg.SharedKey.Key)
		var cred *service.SharedKeyCredential
		cred, err = service.NewSharedKeyCredential(cfg.SharedKey.Account, cfg.SharedKey.Key)
		if err == nil {
			a.svc, err = service.NewClientWithSharedKeyCredential(accountURL, cred, opts)
		}
		err = hideErr(err, "shared key is not valid (want the base64 account key)")
	case cfg.SASToken != "":
		tok := strings.TrimPrefix(cfg.SASToken, "?")
		a.secrets = append(a.secrets, tok)
		a.svc, err = service.NewClientWithNoCredential(accountURL+"?"+tok, opts)
		err = hideErr(err, "account URL with SAS is not valid")
	case cfg.Credential != nil:
		a.svc, err = service.NewClient(accountURL, cfg.Credential, opts)
		err = hideErr(err, "account URL is not valid")
	default:
		err = errors.New("azstore: no credential configured")
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// Protection reads the account's soft delete and the container's immutability support.
func (a *Account) Protection(ctx context.Context) (Protection, error) {
	var p Protection
	props, err := a.svc.GetProperties(ctx, nil)
	if err != nil {
		return p, a.mapErr("read the blob service properties", err)
	}
	if r := props.DeleteRetentionPolicy; r != nil && r.Enabled != nil && *r.Enabled {
		p.SoftDelete = true
		if r.Days != nil {
			p.SoftDeleteDays = *r.Days
		}
	}
	cp, err := a.svc.NewContainerClient(a.container).GetProperties(ctx, nil)
	if err != nil {
		return p, a.mapErr("read the container's properties", err)
	}
	p.ImmutableVersions = cp.IsImmutableStorageWithVersioningEnabled != nil && *cp.IsImmutableStorageWithVersioningEnabled
	return p, nil
}

// SetSoftDelete turns blob soft delete on for days days. Set Blob Service Properties leaves
// every setting the request does not name as it was.
func (a *Account) SetSoftDelete(ctx context.Context, days int32) error {
	if days < 1 || days > MaxSoftDeleteDays {
		return fmt.Errorf("soft delete days %d: Azure allows 1 to %d", days, MaxSoftDeleteDays)
	}
	_, err := a.svc.SetProperties(ctx, &service.SetPropertiesOptions{
		DeleteRetentionPolicy: &service.RetentionPolicy{Enabled: to.Ptr(true), Days: to.Ptr(days)},
	})
	return a.mapErr("set blob soft delete", err)
}

func (a *Account) mapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var re *azcore.ResponseError
	if errors.As(err, &re) && (re.StatusCode == http.StatusForbidden || re.StatusCode == http.StatusUnauthorized) {
		return fmt.Errorf("%s: %w (HTTP %d %s): use the account key (vault.auth sharedKey or connectionString) or an identity with a role that may manage the account's blob service (Storage Account Contributor); a container SAS cannot",
			op, ErrAccountSettings, re.StatusCode, re.ErrorCode)
	}
	msg := err.Error()
	for _, s := range a.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return fmt.Errorf("%s: %s", op, msg)
}
