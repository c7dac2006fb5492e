package setup

import (
	"context"
	"database/sql"

	_ "github.com/microsoft/go-mssqldb" // the sqlserver driver

	"github.com/sqlvault/sqlvault/internal/agent/host"
)

// SQLConn is host.SQLAdmin over a database/sql connection: the person running setup,
// with their own rights.
type SQLConn struct{ DB *sql.DB }

// OpenSQL connects with dsn (a go-mssqldb connection string).
func OpenSQL(dsn string) (*SQLConn, error) {
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return &SQLConn{DB: db}, nil
}

func (c *SQLConn) LoginState(ctx context.Context, login string) (host.LoginState, error) {
	var exists, member, caller int
	err := c.DB.QueryRowContext(ctx, host.LoginStateQuery, login).Scan(&exists, &member, &caller)
	return host.LoginState{Exists: exists == 1, IsSysadmin: member == 1, CallerMay: caller == 1}, err
}

func (c *SQLConn) Exec(ctx context.Context, batch string) error {
	_, err := c.DB.ExecContext(ctx, batch)
	return err
}

func (c *SQLConn) Close() error { return c.DB.Close() }
