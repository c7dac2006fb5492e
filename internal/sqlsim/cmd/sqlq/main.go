// Command sqlq runs T-SQL against a SQL Server (or the simulator) through go-mssqldb and
// prints every result set and message, like a minimal sqlcmd. It exists because this
// project's machines have no sqlcmd; it is a developer convenience, not part of the product.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/golang-sql/sqlexp"
	_ "github.com/microsoft/go-mssqldb" // registers the sqlserver driver
	"github.com/spf13/cobra"
)

func main() {
	var dsn, batch string
	cmd := &cobra.Command{
		Use:   "sqlq -e 'SELECT …'",
		Short: "Run a T-SQL batch and print its result sets and messages",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if batch == "" {
				b, err := io.ReadAll(os.Stdin)
				if err != nil {
					return err
				}
				batch = string(b)
			}
			return run(cmd.Context(), dsn, batch, os.Stdout)
		},
		SilenceUsage: true,
	}
	def := os.Getenv("SQLQ_DSN")
	if def == "" {
		def = "sqlserver://sa:Sim-Passw0rd@127.0.0.1:14330?encrypt=disable"
	}
	cmd.Flags().StringVar(&dsn, "dsn", def, "go-mssqldb connection string (default $SQLQ_DSN or the local simulator)")
	cmd.Flags().StringVarP(&batch, "execute", "e", "", "batch to run (default: read standard input)")
	if err := cmd.Execute(); err != nil {
		os.Exit(1)
	}
}

func run(ctx context.Context, dsn, batch string, out io.Writer) error {
	db, err := sql.Open("sqlserver", dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	retmsg := &sqlexp.ReturnMessage{}
	rows, err := db.QueryContext(ctx, batch, retmsg)
	if err != nil {
		return err
	}
	defer rows.Close()
	var failed error
	for more := true; more; {
		switch m := retmsg.Message(ctx).(type) {
		case sqlexp.MsgNotice:
			fmt.Fprintln(out, m.Message.String())
		case sqlexp.MsgError:
			fmt.Fprintln(out, "error:", m.Error)
			failed = m.Error
		case sqlexp.MsgRowsAffected:
			fmt.Fprintf(out, "(%d rows affected)\n", m.Count)
		case sqlexp.MsgNextResultSet:
			more = rows.NextResultSet()
		case sqlexp.MsgNext:
			if err := printRows(rows, out); err != nil {
				return err
			}
		}
	}
	if failed != nil {
		return failed
	}
	return rows.Err()
}

func printRows(rows *sql.Rows, out io.Writer) error {
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(cols, "\t"))
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		cells := make([]string, len(vals))
		for i, v := range vals {
			switch t := v.(type) {
			case nil:
				cells[i] = "NULL"
			case []byte:
				cells[i] = string(t)
			default:
				cells[i] = fmt.Sprint(t)
			}
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}
