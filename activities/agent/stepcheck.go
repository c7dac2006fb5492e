package agent

import (
	"strings"

	"github.com/sqlvault/sqlvault/internal/protocol"
	"github.com/sqlvault/sqlvault/internal/vault"
)

// checkStepManifest refuses step index (0-based) of a plan when the manifest it restores from
// does not say what the plan was made from: another backup type or other LSNs than the step,
// or (when the plan carries one) another summary digest, which covers every field the
// planner used. The plan comes from manifest blob metadata, which nothing but a bug or a
// hand in the storage account can make disagree with the manifest; either way the chain
// cannot be trusted, and restoring it could reach another instant than the one asked for.
func checkStepManifest(index int, step protocol.RestoreStepPlan, m *vault.Manifest) error {
	diffs := m.DiffersFromPlan(step.Type, step.FirstLSN, step.LastLSN, step.SummaryDigest)
	if len(diffs) == 0 {
		return nil
	}
	return protocol.UserError(protocol.ErrPlanMismatch,
		"step %d (%s %s) refused, nothing of it applied: its manifest says %s. The plan was made from the point's summary in the vault listing (metadata %q of its manifest blob), which disagrees with the manifest; the manifest is the record (see it with `sqlvault show %s`): the summary was changed in storage or written wrongly",
		index+1, step.Type, step.PointID, strings.Join(diffs, "; "), vault.SummaryMetadataKey, step.PointID)
}
