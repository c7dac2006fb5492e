package host

import "testing"

func TestLoginTSQLQuotesIdentifiersAndStrings(t *testing.T) {
	w := Login{Name: `NT SERVICE\sqlvault-agent`}
	if got, want := w.CreateTSQL(""), `IF SUSER_ID(N'NT SERVICE\sqlvault-agent') IS NULL CREATE LOGIN [NT SERVICE\sqlvault-agent] FROM WINDOWS;`; got != want {
		t.Errorf("create:\n%s\nwant\n%s", got, want)
	}
	if got, want := w.GrantTSQL(), `ALTER SERVER ROLE [sysadmin] ADD MEMBER [NT SERVICE\sqlvault-agent];`; got != want {
		t.Errorf("grant: %s", got)
	}
	odd := Login{Name: `a]b'c`, PasswordFile: "/etc/sqlvault/sql-password"}
	if got, want := odd.CreateTSQL(`p'w]`), `IF SUSER_ID(N'a]b''c') IS NULL CREATE LOGIN [a]]b'c] WITH PASSWORD = N'p''w]', CHECK_EXPIRATION = OFF;`; got != want {
		t.Errorf("create:\n%s\nwant\n%s", got, want)
	}
	if got, want := odd.RevokeTSQL(), `ALTER SERVER ROLE [sysadmin] DROP MEMBER [a]]b'c];`; got != want {
		t.Errorf("revoke: %s", got)
	}
	if got, want := odd.DropTSQL(), `IF SUSER_ID(N'a]b''c') IS NOT NULL DROP LOGIN [a]]b'c];`; got != want {
		t.Errorf("drop: %s", got)
	}
}
