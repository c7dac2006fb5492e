package agent

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

func TestDropScratchDatabaseRefusesOtherNames(t *testing.T) {
	a := &Agent{VM: "SQLVM1"}
	for _, name := range []string{"Sales", "Payroll", "Sales_sqlvault_verify_", "Sales_sqlvault_verify_abc;DROP", "Other_sqlvault_verify_0190abcd1234",
		"Sales_sqlvault_verify_0190abcd12345"} {
		err := a.DropScratchDatabase(context.Background(), protocol.DropScratchInput{TargetInstance: "SQLVM1", Database: "Sales", Scratch: name})
		require.Error(t, err, name)
		assert.Equal(t, protocol.ErrNotScratchDatabase, protocol.ErrorType(err), name)
	}
}
