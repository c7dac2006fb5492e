package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"github.com/sqlvault/sqlvault/internal/control/policy"
	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// PutPolicy validates a policy document and stores it under its name, in one canonical
// form (indented JSON of the decoded policy), so that the same policy written twice is the
// same blob. Retrying is safe: content equal to what is stored is success without a write
// (PolicyUnchanged), so an attempt whose write succeeded but whose result was lost is not
// refused by the next one. Other content under that name is written only with Replace;
// otherwise it is refused with ErrPolicyExists. Writes of one name never race: the workflow
// ID is derived from the name (protocol.PutPolicyWorkflowID).
func (c *Control) PutPolicy(ctx context.Context, in protocol.PutPolicyInput) (protocol.PutPolicyResult, error) {
	res := protocol.PutPolicyResult{Name: in.Name}
	if err := vault.CheckPolicyName(in.Name); err != nil {
		return res, protocol.UserError(protocol.ErrInvalidPolicy, "%v", err)
	}
	doc, err := canonicalPolicy(in.Document)
	if err != nil {
		return res, protocol.UserError(protocol.ErrInvalidPolicy, "policy %s: %v", in.Name, err)
	}
	var p policy.Policy
	_ = json.Unmarshal(doc, &p) // canonicalPolicy decoded it already
	if p.Name != in.Name {
		return res, protocol.UserError(protocol.ErrInvalidPolicy, "the document names policy %q but the write is for %q: make them the same", p.Name, in.Name)
	}
	if err := p.Validate(); err != nil {
		return res, protocol.UserError(protocol.ErrInvalidPolicy, "policy %s is not valid:\n%v", in.Name, err)
	}
	// Unverified: the stored document is only compared with the new one. One that is not
	// authenticated and says the same is written again, which authenticates it.
	stored, auth, err := c.Vault.PolicyUnverified(ctx, in.Name)
	switch {
	case errors.Is(err, vault.ErrPolicyNotFound):
		res.Outcome = protocol.PolicyCreated
	case err != nil:
		return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "read policy %s: %v", in.Name, err)
	default:
		// A stored document that no longer decodes (written by hand, say) is other content.
		if same, err := canonicalPolicy(stored); err == nil && bytes.Equal(same, doc) && auth != nil {
			res.Outcome = protocol.PolicyUnchanged
			break
		}
		if same, err := canonicalPolicy(stored); err == nil && bytes.Equal(same, doc) {
			res.Outcome = protocol.PolicyUnchanged
			return res, nil
		}
		if !in.Replace {
			return res, protocol.UserError(protocol.ErrPolicyExists,
				"policy %s already exists with other content: replace it with `sqlvault policy edit` (or `policy create --replace`), or choose another name", in.Name)
		}
		res.Outcome = protocol.PolicyReplaced
	}
	if err := c.Vault.PutPolicy(ctx, in.Name, doc); err != nil {
		return res, protocol.RetryableError(protocol.ErrVaultUnavailable, err, "write policy %s: %v", in.Name, err)
	}
	return res, nil
}

// canonicalPolicy decodes a policy document strictly (an unknown field is a misspelling)
// and encodes it in the one form the vault stores.
func canonicalPolicy(doc []byte) ([]byte, error) {
	var p policy.Policy
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("data after the policy's JSON object")
	}
	return json.MarshalIndent(p, "", "  ")
}
