package sqlsim_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// FreeTDS's tsql is a second TDS client, written independently of go-mssqldb, so that the
// simulator's TDS server is not shaped to one client's habits. `make tools` installs it
// (Debian package freetds-bin); without it these tests fail, they never skip.

func tsqlPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("tsql")
	require.NoError(t, err, "FreeTDS tsql not found: run `make tools` (it installs the Debian package freetds-bin)")
	return p
}

// runTSQL runs script (batches ended by "go") through tsql at TDS version tdsver and
// returns what it printed: result sets on stdout, server messages on stderr.
func runTSQL(t *testing.T, in *sqlsim.Instance, login, password, tdsver, script string, env ...string) (stdout, stderr string) {
	t.Helper()
	host, port, err := net.SplitHostPort(in.Addr())
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, tsqlPath(t), "-H", host, "-p", port, "-U", login, "-P", password)
	home := t.TempDir() // no ~/.freetds.conf of the person running the tests
	cmd.Env = append(os.Environ(), "TDSVER="+tdsver, "HOME="+home, "FREETDSCONF="+home+"/none.conf", "LC_ALL=C.UTF-8")
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdin = strings.NewReader(script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	_ = cmd.Run() // tsql's exit status does not reflect server errors; the output does
	require.NoError(t, ctx.Err(), "tsql did not finish: stdout %q stderr %q", out.String(), errb.String())
	return out.String(), errb.String()
}

// msgNumbers lists the "Msg N (severity S" lines FreeTDS prints for INFO and ERROR tokens.
func msgNumbers(stderr string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`Msg (\d+) \(severity (\d+)`).FindAllStringSubmatch(stderr, -1) {
		out = append(out, m[1]+"/"+m[2])
	}
	return out
}

func TestFreeTDSLoginResultSetsAndMessages(t *testing.T) {
	e := newEnv(t)
	e.createDB(sqlsim.DatabaseSpec{Name: "Fts", DataPages: 256})
	e.createDB(sqlsim.DatabaseSpec{Name: "FtsSimple", DataPages: 16, Recovery: "SIMPLE"})
	script := strings.Join([]string{
		"SELECT name, database_id, state_desc FROM sys.databases WHERE database_id <= 4 ORDER BY database_id",
		"go",
		// Several result sets in one batch, with NULL, Unicode, numeric(25,0), bit and GUID.
		"SELECT N'Ünï ]''q' AS u, CAST(NULL AS int) AS n, CAST(37000000000000000123 AS numeric(25,0)) AS lsn, CAST(1 AS bit) AS b",
		"SELECT CAST('6F9619FF-8B86-D011-B42D-00C04FC964FF' AS uniqueidentifier) AS g",
		"go",
		"PRINT N'hello from the simulator'",
		"go",
		"BACKUP DATABASE Fts TO URL = '" + e.url("fts.bak") + "' WITH STATS = 25",
		"go",
		"BACKUP LOG FtsSimple TO URL = '" + e.url("fts_simple.trn") + "'",
		"go",
		// The connection is still usable after an error.
		"SELECT COUNT(*) AS sets FROM msdb.dbo.backupset WHERE database_name = 'Fts'",
		"go",
		"",
	}, "\n")
	out, errs := runTSQL(t, e.in, "sa", saPass, "7.4", script)

	assert.Contains(t, out, "name\tdatabase_id\tstate_desc\nmaster\t1\tONLINE\ntempdb\t2\tONLINE\nmodel\t3\tONLINE\nmsdb\t4\tONLINE\n(4 rows affected)")
	assert.Contains(t, out, "u\tn\tlsn\tb\nÜnï ]'q\tNULL\t37000000000000000123\t1\n(1 row affected)")
	assert.Contains(t, out, "g\n6F9619FF-8B86-D011-B42D-00C04FC964FF\n(1 row affected)")
	assert.Contains(t, out, "sets\n1\n(1 row affected)")
	assert.Contains(t, errs, "hello from the simulator")

	// BACKUP … WITH STATS = 25: four 3211 progress messages, 4035 per file, then 3014, all
	// severity 10; the SIMPLE database's log backup: 4208 then 3013, severity 16.
	assert.Equal(t, []string{"3211/10", "3211/10", "3211/10", "3211/10", "4035/10", "4035/10", "3014/10", "4208/16", "3013/16"}, msgNumbers(errs), errs)
	for _, p := range []string{"25", "50", "75", "100"} {
		assert.Contains(t, errs, "\""+p+" percent processed.\"")
	}
	assert.Regexp(t, `"Processed \d+ pages for database 'Fts', file 'Fts' on file 1\."`, errs)
	assert.Regexp(t, `"BACKUP DATABASE successfully processed \d+ pages in \d+\.\d{3} seconds \(\d+\.\d{3} MB/sec\)\."`, errs)
	assert.Contains(t, errs, "\"BACKUP LOG is terminating abnormally.\"")
}

func TestFreeTDSLoginFailure(t *testing.T) {
	e := newEnv(t)
	_, errs := runTSQL(t, e.in, "sa", "wrong-password", "7.4", "SELECT 1\ngo\n")
	assert.Equal(t, []string{"18456/14"}, msgNumbers(errs), errs)
	assert.Contains(t, errs, "Login failed for user 'sa'.")
}

// SQL Server 2022 still accepts TDS 7.1, 7.2 and 7.3 clients: LOGINACK answers with the
// client's version (MS-TDS LOGINACK), a 7.1 client sends no ALL_HEADERS and reads 2-byte
// line numbers, 4-byte DONE row counts and 2-byte column user types, and a client older than
// 7.3 gets datetime2 as nvarchar 'YYYY-MM-DD hh:mm:ss.nnnnnnn' (Microsoft's datetime2 page,
// "Backward compatibility for down-level clients").
func TestFreeTDSDownLevelClients(t *testing.T) {
	e := newEnv(t)
	e.createDB(sqlsim.DatabaseSpec{Name: "Old", DataPages: 64})
	e.clock.Set(time.Date(2026, 11, 26, 8, 30, 15, 123456700, time.UTC))
	script := "SELECT SYSDATETIME() AS t, 7 AS n\ngo\nPRINT 'still here'\ngo\nSELECT 1/0\ngo\n" +
		"BACKUP DATABASE Old TO URL = '" + e.url("old.bak") + "' WITH STATS = 50\ngo\n"
	for _, c := range []struct {
		tdsver, reports string
		downLevel       bool
	}{{"7.1", "71.0.0.1", true}, {"7.2", "72.9.0.2", true}, {"7.3", "73.b.0.3", false}, {"7.4", "74.0.0.4", false}} {
		dump := t.TempDir() + "/tds.log"
		out, errs := runTSQL(t, e.in, "sa", saPass, c.tdsver, strings.Replace(script, "old.bak", "old_"+c.tdsver+".bak", 1), "TDSDUMP="+dump)
		b, err := os.ReadFile(dump)
		require.NoError(t, err)
		assert.Contains(t, string(b), "server reports TDS version "+c.reports, "TDS %s", c.tdsver)
		if c.downLevel {
			assert.Contains(t, out, "t\tn\n2026-11-26 08:30:15.1234567\t7\n(1 row affected)", "TDS %s", c.tdsver)
		} else {
			assert.Contains(t, out, "t\tn\nNov 26 2026 08:30AM\t7\n(1 row affected)", "TDS %s", c.tdsver)
		}
		assert.Contains(t, errs, "still here", "TDS %s", c.tdsver)
		assert.Equal(t, []string{"8134/16", "3211/10", "3211/10", "4035/10", "4035/10", "3014/10"}, msgNumbers(errs), "TDS %s: %s", c.tdsver, errs)
	}
}
