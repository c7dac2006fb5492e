package host

import (
	"context"
	"fmt"
	"strings"
)

// QuoteName quotes a SQL Server identifier as QUOTENAME does: [name] with ] doubled.
func QuoteName(s string) string { return "[" + strings.ReplaceAll(s, "]", "]]") + "]" }

// quoteString is an N'…' literal with ' doubled.
func quoteString(s string) string { return "N'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Login is the SQL Server login the agent connects as: a Windows login for the service's
// virtual account (no password anywhere), or a SQL login whose password sits in a file
// only the service can read (SQL Server on Linux has no Windows logins for local users).
type Login struct {
	Name string
	// PasswordFile is set for a SQL login: the file holding its password.
	PasswordFile string
}

// Windows reports whether the login is a Windows login.
func (l Login) Windows() bool { return l.PasswordFile == "" }

// CreateTSQL is the batch that creates the login when missing. password is used for a SQL
// login; pass a placeholder when printing it for a person.
func (l Login) CreateTSQL(password string) string {
	if l.Windows() {
		return fmt.Sprintf("IF SUSER_ID(%s) IS NULL CREATE LOGIN %s FROM WINDOWS;", quoteString(l.Name), QuoteName(l.Name))
	}
	// CHECK_POLICY stays on: the generated password is long and random, and a DBA's policy applies.
	return fmt.Sprintf("IF SUSER_ID(%s) IS NULL CREATE LOGIN %s WITH PASSWORD = %s, CHECK_EXPIRATION = OFF;",
		quoteString(l.Name), QuoteName(l.Name), quoteString(password))
}

// GrantTSQL makes the login a member of sysadmin, which BACKUP, RESTORE and the
// instance-wide inquiries the agent makes need.
func (l Login) GrantTSQL() string {
	return fmt.Sprintf("ALTER SERVER ROLE [sysadmin] ADD MEMBER %s;", QuoteName(l.Name))
}

// RevokeTSQL and DropTSQL undo GrantTSQL and CreateTSQL.
func (l Login) RevokeTSQL() string {
	return fmt.Sprintf("ALTER SERVER ROLE [sysadmin] DROP MEMBER %s;", QuoteName(l.Name))
}

func (l Login) DropTSQL() string {
	return fmt.Sprintf("IF SUSER_ID(%s) IS NOT NULL DROP LOGIN %s;", quoteString(l.Name), QuoteName(l.Name))
}

// LoginState is what SQL Server says about the login and about the person running setup.
type LoginState struct {
	Exists     bool // the login exists
	IsSysadmin bool // the login is in sysadmin
	CallerMay  bool // the connection setup uses may create logins and grant sysadmin (it is sysadmin)
}

// SQLAdmin is the connection setup uses to create the login: the person running setup,
// with their own rights.
type SQLAdmin interface {
	LoginState(ctx context.Context, login string) (LoginState, error)
	Exec(ctx context.Context, batch string) error
}

// LoginStateQuery reads LoginState in one round trip: the login's existence, its
// membership, and whether the caller is sysadmin.
const LoginStateQuery = `SELECT CAST(CASE WHEN SUSER_ID(@p1) IS NULL THEN 0 ELSE 1 END AS int),
	ISNULL(IS_SRVROLEMEMBER('sysadmin', @p1), 0), ISNULL(IS_SRVROLEMEMBER('sysadmin'), 0)`
