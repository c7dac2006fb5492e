package azstore

import (
	"context"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/sqlvault/sqlvault/internal/config"
)

// FromConfig opens the vault container with the configured authentication: Entra ID via
// azidentity's default credential chain, a SAS, a shared key, or a connection string.
func FromConfig(ctx context.Context, v config.Vault) (*Store, error) {
	sc, err := configOf(v)
	if err != nil {
		return nil, err
	}
	return New(ctx, sc)
}

// AccountFromConfig opens the storage account of the vault container with the configured
// authentication, for its protection settings (`sqlvault vault harden`, doctor).
func AccountFromConfig(v config.Vault) (*Account, error) {
	sc, err := configOf(v)
	if err != nil {
		return nil, err
	}
	return NewAccount(sc)
}

func configOf(v config.Vault) (Config, error) {
	sc := Config{AccountURL: v.AccountURL, Container: v.Container, CreateContainer: v.CreateContainer}
	switch v.Auth {
	case config.AuthSAS:
		sas, err := v.SAS.Resolve()
		if err != nil {
			return sc, fmt.Errorf("vault.sas: %w", err)
		}
		sc.SASToken = sas
	case config.AuthSharedKey:
		key, err := v.SharedKey.Key.Resolve()
		if err != nil {
			return sc, fmt.Errorf("vault.sharedKey.key: %w", err)
		}
		sc.SharedKey = &SharedKey{Account: v.AccountName(), Key: key}
	case config.AuthConnectionString:
		cs, err := v.ConnectionString.Resolve()
		if err != nil {
			return sc, fmt.Errorf("vault.connectionString: %w", err)
		}
		sc.ConnectionString = cs
	default:
		cred, err := azidentity.NewDefaultAzureCredential(nil)
		if err != nil {
			return sc, fmt.Errorf("vault: no Azure credential available (managed identity, workload identity, Azure CLI …): %w", err)
		}
		sc.Credential = cred
	}
	return sc, nil
}
