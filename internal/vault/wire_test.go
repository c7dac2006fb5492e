package vault

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// TestItemWireIsTheRecordLessSchema pins the wire item to the stored record: histories
// recorded when ListItems returned the record itself must decode into protocol.ProtectedItem,
// and the wire item must carry every field of the record but its schema stamp.
func TestItemWireIsTheRecordLessSchema(t *testing.T) {
	at := time.Date(2026, 3, 1, 2, 3, 4, 0, time.UTC)
	rec := &ProtectedItem{Schema: ItemSchema, ItemID: ItemID("VM1", "Sales"), VM: "VM1", Instance: "VM1", Database: "Sales",
		Policy: "gold", State: ItemStoppedRetain, BackupTypes: []string{"full", "log"}, AutoProtected: true,
		CreatedAt: at, UpdatedAt: at.Add(time.Hour)}
	stored, err := json.Marshal(rec)
	require.NoError(t, err)

	var decoded protocol.ProtectedItem
	require.NoError(t, json.Unmarshal(stored, &decoded))
	assert.Equal(t, rec.Wire(), decoded)

	var want, got map[string]any
	require.NoError(t, json.Unmarshal(stored, &want))
	delete(want, "schema")
	wire, err := json.Marshal(rec.Wire())
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(wire, &got))
	assert.Equal(t, want, got)
	assert.Equal(t, protocol.ItemID("VM1", "Sales"), rec.ItemID)
}
