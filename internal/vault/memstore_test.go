package vault_test

import (
	"testing"

	"github.com/sqlvault/sqlvault/internal/vault"
	"github.com/sqlvault/sqlvault/internal/vault/storetest"
)

func TestMemStoreContract(t *testing.T) {
	storetest.Run(t, func(*testing.T) vault.Store { return vault.NewMemStore() }, storetest.Options{})
}
