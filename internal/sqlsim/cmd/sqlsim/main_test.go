package main

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	_ "github.com/microsoft/go-mssqldb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// TestCommandServesSampleDatabases starts the command as a person would and queries it with
// go-mssqldb, the way the README says.
func TestCommandServesSampleDatabases(t *testing.T) {
	port, err := testenv.FreePort()
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	cmd := newCommand()
	cmd.SetArgs([]string{"--listen", fmt.Sprintf("127.0.0.1:%d", port), "--password", "Demo-Passw0rd", "--workload", "5"})
	go func() { done <- cmd.ExecuteContext(ctx) }()

	db, err := sql.Open("sqlserver", fmt.Sprintf("sqlserver://sa:Demo-Passw0rd@127.0.0.1:%d?encrypt=disable", port))
	require.NoError(t, err)
	defer db.Close()
	require.Eventually(t, func() bool { return db.Ping() == nil }, 10*time.Second, 50*time.Millisecond)

	rows, err := db.Query("SELECT name FROM sys.databases WHERE database_id > 4 ORDER BY name")
	require.NoError(t, err)
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Close())
	var want []string
	for _, s := range SampleDatabases() {
		want = append(want, s.Name)
	}
	assert.ElementsMatch(t, want, names)

	// The workload moves the sample databases' log.
	var first, second string
	require.NoError(t, db.QueryRow("EXEC sp_sqlsim_digest @database = N'SalesDB'").Scan(new(string), &first))
	require.Eventually(t, func() bool {
		require.NoError(t, db.QueryRow("EXEC sp_sqlsim_digest @database = N'SalesDB'").Scan(new(string), &second))
		return second != first
	}, 5*time.Second, 100*time.Millisecond)

	cancel()
	select {
	case err := <-done:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("sqlsim did not stop")
	}
}
