package vault

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AgentsPrefix holds one small record per VM: when its agent was last seen polling. Temporal
// forgets a poller five minutes after its last poll (temporalio/cli docs/task-queue/describe.md:
// "Workers are removed if 5 minutes have passed since the last poll request"), so this record
// is what lets a known agent that is down for longer still get its grace period.
const AgentsPrefix = layoutPrefix + "agents/"

// AgentRecord is a VM's agent as last seen.
type AgentRecord struct {
	Schema   string    `json:"schema"`
	VM       string    `json:"vm"`
	LastSeen time.Time `json:"lastSeen"`
	Identity string    `json:"identity,omitempty"`
}

// AgentBlob names a VM's agent record (hashed: VM names are not restricted to blob-safe text).
func AgentBlob(vm string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(vm)))
	return AgentsPrefix + "a" + hex.EncodeToString(sum[:12]) + ".json"
}

// PutAgentSeen records that vm's agent was seen at seen.
func (r *Repository) PutAgentSeen(ctx context.Context, rec *AgentRecord) error {
	rec.Schema = "sqlvault.agent/v1"
	rec.LastSeen = rec.LastSeen.UTC()
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return r.store.Put(ctx, AgentBlob(rec.VM), data, PutOptions{})
}

// AgentSeen returns vm's agent record, or nil if its agent was never seen.
func (r *Repository) AgentSeen(ctx context.Context, vm string) (*AgentRecord, error) {
	data, err := r.store.Get(ctx, AgentBlob(vm))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var rec AgentRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("%w: agent record of %s: %v", ErrInvalidManifest, vm, err)
	}
	return &rec, nil
}
