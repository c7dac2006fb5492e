package doctor

import (
	"context"
	"errors"
	"fmt"

	"github.com/sqlvault/sqlvault/internal/vault/azstore"
)

// protection reports whether the vault is hardened (`sqlvault vault harden`): blob soft
// delete and version-level immutability on its container. Short of that is a warning, not a
// failure: backups work, they are only easier to destroy. An agent that may not read the
// account's settings (least privilege: a container SAS) is not checked here.
func (e Env) protection(ctx context.Context) Result {
	const name = "vault protection"
	if e.VaultProtection == nil {
		return Result{name, Skip, "not checked", ""}
	}
	p, err := e.VaultProtection(ctx)
	switch {
	case errors.Is(err, azstore.ErrAccountSettings):
		return Result{name, Skip, "this VM's vault credential may not read the storage account's settings (as an agent's need not); run `sqlvault vault harden --dry-run` with the account's credential to see them", ""}
	case err != nil:
		return Result{name, Skip, "cannot read the storage account's settings: " + err.Error(), ""}
	}
	var missing []string
	detail := "blob soft delete off"
	if p.SoftDelete {
		detail = fmt.Sprintf("blob soft delete %d days", p.SoftDeleteDays)
	} else {
		missing = append(missing, "blob soft delete")
	}
	if p.ImmutableVersions {
		detail += ", version-level immutability on"
	} else {
		detail += ", version-level immutability off"
		missing = append(missing, "version-level immutability (WORM)")
	}
	if len(missing) > 0 {
		return Result{name, Warn, detail, "run `sqlvault vault harden`: it turns on soft delete and prints the Azure commands for versioning and WORM"}
	}
	return Result{name, OK, detail, ""}
}
