package protocol

import (
	"encoding/json"
	"errors"
)

// Policy writes (issue 12): the CLI does not write the vault; it starts sqlvault.PutPolicy,
// whose activity validates the document and stores it.
const (
	WorkflowPutPolicy = "sqlvault.PutPolicy"
	ActivityPutPolicy = "sqlvault.control.PutPolicy"

	// ErrPolicyExists: a policy of that name exists with other content and the write did
	// not ask to replace it (replace: true, `sqlvault policy edit` or `policy create --replace`).
	ErrPolicyExists = "PolicyExists"
)

// PutPolicyWorkflowID is the workflow ID of a write of the named policy. One ID per name
// makes two writes of the same policy run one after the other (Temporal refuses a second
// run of an ID while the first is open; the CLI waits for it and starts again), while
// writes of different policies run side by side. Policy names are case-sensitive blob names.
func PutPolicyWorkflowID(name string) string { return "sqlvault-policy-" + name }

// PutPolicyInput starts sqlvault.PutPolicy:
//
//	{"name": "daily-30d", "document": {"name": "daily-30d", "full": {...}, ...}, "replace": true}
type PutPolicyInput struct {
	Name string `json:"name"`
	// Document is the policy as JSON (the format of internal/control/policy.Policy); its
	// name must be Name. A policy holds no secret.
	Document json.RawMessage `json:"document"`
	// Replace allows overwriting a policy of that name with different content. Without it
	// the write is refused with ErrPolicyExists; a write of the content already stored
	// succeeds either way (PolicyUnchanged).
	Replace bool `json:"replace,omitempty"`
}

// ValidateNames checks what can be checked without the policy rules.
func (in PutPolicyInput) ValidateNames() error {
	if in.Name == "" || len(in.Document) == 0 {
		return errors.New(`"name" and "document" are required`)
	}
	return nil
}

// What a policy write did.
const (
	PolicyCreated   = "created"
	PolicyReplaced  = "replaced"
	PolicyUnchanged = "unchanged" // the same content was already stored: nothing written
)

// PutPolicyResult says what the write did.
type PutPolicyResult struct {
	Name    string `json:"name"`
	Outcome string `json:"outcome"` // PolicyCreated, PolicyReplaced or PolicyUnchanged
}
