package starter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 11, items 5 and 12: the starter refuses, before contacting anything, database
// names that would end a comment line in a script, names over 128 characters, and an
// explicit --stripes 0 (README: 1–64). The Temporal address points nowhere: a command that
// got past validation would fail dialing instead, with another message.
func TestStarterRefusesUnsafeNamesAndZeroStripes(t *testing.T) {
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'x'
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"backup", "--instance", "SQLVM1", "--database", "Sales\nDROP DATABASE Payroll;--"}, "control character"},
		{[]string{"backup", "--instance", "SQLVM1", "--database", string(long)}, "at most 128"},
		{[]string{"backup", "--instance", "SQLVM1", "--database", "Sales", "--stripes", "0"}, "--stripes must be between 1 and 64"},
		{[]string{"restore", "--instance", "SQLVM1", "--database", "Sales", "--point", "p", "--as-name", "Sales_copy\nDROP DATABASE Payroll;--", "--as-files", "/var/backups/x"}, `"targetDatabase"`},
		{[]string{"restore", "--instance", "SQLVM1\r", "--database", "Sales", "--point", "p"}, `"instance"`},
		{[]string{"protect", "--instance", "SQLVM1", "--policy", "p", "ok", "bad\nname"}, `"databases[1]"`},
		{[]string{"unprotect", "--instance", "SQLVM1", "--database", "a\nb"}, `"database"`},
		{[]string{"resume", "--instance", "SQLVM1", "--database", "a\nb"}, `"database"`},
		{[]string{"discover", "--vm", "VM\n1"}, `"vm"`},
	} {
		root := NewRoot()
		root.SetArgs(append(c.args, "--temporal-address", "127.0.0.1:1"))
		err := root.ExecuteContext(context.Background())
		require.Error(t, err, "%q", c.args)
		assert.Contains(t, err.Error(), c.want, "%q", c.args)
	}
}
