package workflows

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.temporal.io/sdk/workflow"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// Two UUIDv7 run IDs started in the same millisecond share their leading 12 hex digits
// (the timestamp) and differ in their random tail.
const (
	runA = "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
	runB = "0193a1b2-c3d4-7a01-9c3e-77aa01bb02cc"
)

func TestShortRunIDTakesTheRandomTailFromVersion1(t *testing.T) {
	// Before the change: the timestamp, so the two runs collide (kept for old histories).
	assert.Equal(t, "0193a1b2c3d4", shortRunID(runA, workflow.DefaultVersion))
	assert.Equal(t, shortRunID(runA, workflow.DefaultVersion), shortRunID(runB, workflow.DefaultVersion))

	// From version 1: the random tail, so they do not.
	assert.Equal(t, "0c1d2e3f4a5b", shortRunID(runA, 1))
	assert.Equal(t, "77aa01bb02cc", shortRunID(runB, 1))

	// What the tags name differs too: the verify-restore's scratch database and the
	// first-full child's workflow ID.
	a, b := protocol.VerifyScratchName("Sales", shortRunID(runA, 1)), protocol.VerifyScratchName("Sales", shortRunID(runB, 1))
	assert.NotEqual(t, a, b)
	assert.True(t, protocol.IsVerifyScratchNameOf("Sales", a))
	assert.True(t, protocol.IsVerifyScratchNameOf("Sales", b))
	assert.Equal(t, protocol.VerifyScratchName("Sales", runA), protocol.VerifyScratchName("Sales", shortRunID(runA, workflow.DefaultVersion)),
		"old histories name the scratch database as before")
}
