package protocol

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// MaxNameLength is SQL Server's limit on an identifier (sysname is nvarchar(128)): "Both
// regular and delimited identifiers must contain from 1 through 128 characters"
// (https://learn.microsoft.com/en-us/sql/relational-databases/databases/database-identifiers).
// Characters there are UTF-16 code units, as nvarchar counts them.
const MaxNameLength = 128

// NameProblem says what is wrong with a database (or instance, VM, point) name that
// sqlvault is asked to act on, or "" when it is acceptable. A name may hold any character
// SQL Server allows in a delimited identifier except control characters (a newline ends a
// T-SQL `--` comment and starts a statement in any script a name is written into) and the
// Unicode line and paragraph separators; it is 1 to 128 UTF-16 code units long.
func NameProblem(field, name string) string {
	if name == "" {
		return fmt.Sprintf("%q is empty", field)
	}
	if !utf8.ValidString(name) {
		return fmt.Sprintf("%q is not valid UTF-8", field)
	}
	if n := len(utf16.Encode([]rune(name))); n > MaxNameLength {
		return fmt.Sprintf("%q is %d characters long; SQL Server names are at most %d", field, n, MaxNameLength)
	}
	for i, r := range name {
		if isLineOrControl(r) {
			return fmt.Sprintf("%q holds the control character %U at byte %d (%s); SQL Server names used with sqlvault cannot contain control characters or line breaks",
				field, r, i, SafeForComment(name))
		}
	}
	return ""
}

// SafeForComment renders s so that it can stand in a T-SQL `--` comment or a log line
// without ending it: control characters and line separators become \uXXXX escapes (and a
// backslash is doubled so the escape cannot be forged).
func SafeForComment(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == utf8.RuneError || isLineOrControl(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// nameProblems checks each named field that is set (required ones are checked by the
// caller) and returns the problems.
func nameProblems(fields ...string) []string {
	var out []string
	for i := 0; i+1 < len(fields); i += 2 {
		if fields[i+1] == "" {
			continue
		}
		if p := NameProblem(fields[i], fields[i+1]); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func isLineOrControl(r rune) bool { return unicode.IsControl(r) || r == '\u2028' || r == '\u2029' }

// ValidateNames checks the VM name (see BackupInput.ValidateNames).
func (in InquiryInput) ValidateNames() error { return namesError("inquiry", nameProblems("vm", in.VM)) }

// ValidateNames checks the VM, instance and every database name.
func (in ConfigureProtectionInput) ValidateNames() error {
	problems := nameProblems("vm", in.VM, "instance", in.Instance)
	for i, d := range in.Databases {
		problems = append(problems, nameProblems(fmt.Sprintf("databases[%d]", i), d)...)
		if d == "" {
			problems = append(problems, fmt.Sprintf(`"databases[%d]" is empty`, i))
		}
	}
	return namesError("configure-protection", problems)
}

// ValidateNames checks the instance and database names.
func (in StopProtectionInput) ValidateNames() error {
	return namesError("stop-protection", nameProblems("instance", in.Instance, "database", in.Database))
}

// ValidateNames checks the instance and database names.
func (in ResumeProtectionInput) ValidateNames() error {
	return namesError("resume-protection", nameProblems("instance", in.Instance, "database", in.Database))
}

func namesError(what string, problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	return fmt.Errorf("invalid %s input: %s", what, strings.Join(problems, "; "))
}
