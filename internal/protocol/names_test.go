package protocol

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A name that ends a `--` comment line must never reach a script (issue 11, item 5).
func TestNameProblemRefusesControlCharactersAndLongNames(t *testing.T) {
	for _, bad := range []string{
		"Sales_copy\nDROP DATABASE Payroll;--", "a\rb", "tab\there", "nul\x00", "del\x7f", "c1\u0085", "ls\u2028", "ps\u2029",
		strings.Repeat("x", 129), strings.Repeat("𝔁", 65), // 130 UTF-16 code units
		"bad\xffutf8",
	} {
		assert.NotEmpty(t, NameProblem("targetDatabase", bad), "%q", bad)
	}
	for _, ok := range []string{"SalesDB", "Sales ]DB['", "Ünïcödé データ", strings.Repeat("x", 128), strings.Repeat("𝔁", 64), `SQLVM1\INST2`} {
		assert.Empty(t, NameProblem("targetDatabase", ok), "%q", ok)
	}
	assert.Contains(t, NameProblem("targetDatabase", "a\nb"), `"targetDatabase"`)
	assert.Contains(t, NameProblem("targetDatabase", "a\nb"), `a\u000Ab`, "the message shows the name escaped")
}

func TestSafeForCommentKeepsOneLine(t *testing.T) {
	s := SafeForComment("x\ny\r\u2028z\\u000A")
	assert.NotContains(t, s, "\n")
	assert.NotContains(t, s, "\r")
	assert.NotContains(t, s, "\u2028")
	assert.Equal(t, `x\u000Ay\u000D\u2028z\\u000A`, s, "a backslash is doubled so an escape cannot be forged")
}

func TestValidateNamesCoversEveryNameOfTheInputs(t *testing.T) {
	nl := "x\ny"
	assert.Error(t, BackupInput{Instance: "SQLVM1", Database: nl, Type: Full}.ValidateNames())
	assert.Error(t, BackupInput{Instance: nl, Database: "d", Type: Full}.ValidateNames())
	assert.Error(t, BackupInput{Instance: "SQLVM1", Database: "d", VM: nl}.ValidateNames())
	assert.NoError(t, BackupInput{Instance: "SQLVM1", Database: "d", Type: Full}.ValidateNames())
	base := RestoreInput{Instance: "SQLVM1", Database: "d", PointID: "p"}
	for _, mod := range []func(*RestoreInput){
		func(in *RestoreInput) { in.TargetDatabase = "Sales_copy\nDROP DATABASE Payroll;--" },
		func(in *RestoreInput) { in.TargetInstance = nl },
		func(in *RestoreInput) { in.TargetVM = nl },
		func(in *RestoreInput) { in.PointID = nl },
		func(in *RestoreInput) { in.AsFilesDir = "/var/backups/x\ny" },
		func(in *RestoreInput) { in.DataPath = "/d\n" },
		func(in *RestoreInput) { in.LogPath = "/l\r" },
	} {
		in := base
		mod(&in)
		assert.Error(t, in.ValidateNames(), "%+v", in)
	}
	assert.NoError(t, base.ValidateNames())
	assert.Error(t, ConfigureProtectionInput{VM: "v", Instance: "i", Databases: []string{"ok", nl}}.ValidateNames())
	assert.Error(t, StopProtectionInput{Instance: "i", Database: nl}.ValidateNames())
	assert.Error(t, ResumeProtectionInput{Instance: "i", Database: nl}.ValidateNames())
	assert.Error(t, InquiryInput{VM: nl}.ValidateNames())
}

// Issue 11, item 12: a typo is an error naming the field, a wrong JSON type names the
// field, and an explicit "stripes": 0 is refused as README says (1–64).
func TestDecodeStrict(t *testing.T) {
	var in BackupInput
	err := DecodeStrict([]byte(`{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "strpes": 4}`), &in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown field "strpes"`)
	assert.Contains(t, err.Error(), `did you mean "stripes"?`)

	in = BackupInput{}
	err = DecodeStrict([]byte(`{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "stripes": "4"}`), &in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field "stripes" must be a whole number, not a JSON string`)

	in = BackupInput{}
	err = DecodeStrict([]byte(`{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "compression": "yes"}`), &in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field "compression" must be true or false`)

	in = BackupInput{}
	err = DecodeStrict([]byte(`{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "stripes": 0}`), &in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `"stripes" must be between 1 and 64`)

	var rin RestoreInput
	err = DecodeStrict([]byte(`{"instance": "SQLVM1", "database": "SalesDB", "at": 5}`), &rin)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `field "at" must be a string with an RFC 3339 instant`)

	err = DecodeStrict([]byte(`["SQLVM1"]`), &in)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "must be a JSON object")
	err = DecodeStrict([]byte(`{"instance": "A"} {"instance": "B"}`), &in)
	require.Error(t, err)

	in = BackupInput{}
	require.NoError(t, DecodeStrict([]byte(`{"instance": "SQLVM1", "database": "SalesDB", "type": "full", "stripes": 4, "compression": false}`), &in))
	assert.Equal(t, 4, in.Stripes)
	require.NotNil(t, in.Compression)
	assert.False(t, *in.Compression)
	in = BackupInput{}
	require.NoError(t, DecodeStrict(nil, &in), "no input decodes as {} (Validate then says what is missing)")

	// What the starter, schedules and child workflows send decodes strictly too.
	b, err := json.Marshal(BackupInput{Instance: "SQLVM1", Database: "SalesDB", Type: Log, TailLog: true, RetainDays: 3})
	require.NoError(t, err)
	in = BackupInput{}
	require.NoError(t, DecodeStrict(b, &in))
	assert.True(t, in.TailLog)
}

func TestVerifyScratchName(t *testing.T) {
	name := VerifyScratchName("Check", "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	assert.Equal(t, "Check_sqlvault_verify_0193a1b2c3d4", name, "the name released workflows computed")
	assert.True(t, IsVerifyScratchName(name))
	long := VerifyScratchName(strings.Repeat("d", 128), "0193a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
	assert.Len(t, long, MaxNameLength)
	assert.Empty(t, NameProblem("scratch", long))
	assert.True(t, IsVerifyScratchName(long))
	for _, n := range []string{"Payroll", "Payroll_sqlvault_verify_", "Payroll_sqlvault_verify_0193a1b2c3dZ", "Payroll_sqlvault_verify_0193a1b2c3d4x", "x_sqlvault_verify_0193a1b2c3d"} {
		assert.False(t, IsVerifyScratchName(n), n)
	}
	assert.True(t, IsTailLogChild("restore-1-tail-log", "restore-1"))
	assert.False(t, IsTailLogChild("restore-1-tail-log", ""))
	assert.False(t, IsTailLogChild("my-backup", "restore-1"))
}
