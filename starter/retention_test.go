package starter

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// A paged retention run lists at most MaxListedDecisions points: the total comes from
// DeletedCount, and the output says how many are not listed.
func TestPrintRetentionCountsWhatItDoesNotList(t *testing.T) {
	var buf bytes.Buffer
	printRetention(&buf, protocol.RetentionResult{DeletedCount: 1500, Kept: 7,
		Deleted: []protocol.RetentionDecision{{ItemID: "i1", PointID: "p1", Reasons: []string{"expired"}}}})
	assert.Contains(t, buf.String(), "deleted i1/p1: expired")
	assert.Contains(t, buf.String(), "(1499 more not listed")
	assert.Contains(t, buf.String(), "1500 recovery point(s) deleted, 7 kept")

	// A result from before paging has no count: the list is the total.
	buf.Reset()
	printRetention(&buf, protocol.RetentionResult{DryRun: true, Deleted: []protocol.RetentionDecision{{ItemID: "i1", PointID: "p1"}, {ItemID: "i1", PointID: "p2"}}})
	assert.NotContains(t, buf.String(), "not listed")
	assert.Contains(t, buf.String(), "2 recovery point(s) would delete")
}
