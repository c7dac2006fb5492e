package agent

import (
	"context"
	"errors"
	"fmt"

	"github.com/sqlvault/sqlvault/internal/blockcrypt"
	"github.com/sqlvault/sqlvault/internal/keys"
	"github.com/sqlvault/sqlvault/internal/protocol"
)

// keyError names a failure to get a data key for the workflow: the KEK out of reach
// (protocol.ErrKEKUnavailable, retried: access may come back, and the message says what to
// do meanwhile), a data key the vault does not hold or a keyring record that does not
// verify (protocol.ErrDataKeyUnavailable, not retried: an operator must act), or the vault
// itself (protocol.ErrVaultUnavailable).
func keyError(err error, what string) error {
	switch {
	case errors.Is(err, keys.ErrKEKUnavailable):
		return protocol.RetryableError(protocol.ErrKEKUnavailable, err, "%s: %v", what, err)
	case errors.Is(err, keys.ErrNoDataKey), errors.Is(err, keys.ErrUnknownDataKey), errors.Is(err, keys.ErrDataKeyMismatch):
		return protocol.UserError(protocol.ErrDataKeyUnavailable, "%s: %v", what, err)
	}
	return protocol.RetryableError(protocol.ErrVaultUnavailable, err, "%s: read the vault's keyring: %v", what, err)
}

// keyFailure reports an error of the keyring (keyError names it).
func keyFailure(err error) bool {
	return errors.Is(err, keys.ErrKEKUnavailable) || errors.Is(err, keys.ErrNoDataKey) ||
		errors.Is(err, keys.ErrUnknownDataKey) || errors.Is(err, keys.ErrDataKeyMismatch)
}

// noKeys is the key source of an agent built without one.
type noKeys struct{}

func (noKeys) Active(context.Context) (*blockcrypt.Key, error) {
	return nil, fmt.Errorf("%w: this agent was built without a key source", keys.ErrNoDataKey)
}

func (noKeys) Key(_ context.Context, id string) (*blockcrypt.Key, error) {
	return nil, fmt.Errorf("%w: %s: this agent was built without a key source", keys.ErrUnknownDataKey, id)
}
