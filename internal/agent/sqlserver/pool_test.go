package sqlserver_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/agent/sqlserver"
	"github.com/sqlvault/sqlvault/internal/sqlsim"
)

// An agent running steps statements at once holds one session per statement for its whole
// length, and each step probes percent_complete beside it (the heartbeat, the stall watch).
// With the pool PoolSize gives, every probe gets a session while every step holds its
// own; with the pool of 8 the agent had whatever its concurrency, ten steps hold eight
// sessions and a probe times out — the stall watch then cancels a healthy restore.
func TestThePoolLeavesEveryStepASessionForItsProbes(t *testing.T) {
	sim := sqlsim.New(sqlsim.Config{})
	t.Cleanup(func() { _ = sim.Close() })
	in, err := sim.StartInstance(sqlsim.InstanceConfig{Machine: "VM1", Logins: []sqlsim.Login{{Name: "sqlvault", Password: "pw", Sysadmin: true}}})
	require.NoError(t, err)
	dsn := in.DSN("sqlvault", "pw", "")
	const steps = 10

	assert.Equal(t, sqlserver.DefaultMaxOpen, sqlserver.PoolSize(1))
	assert.Equal(t, sqlserver.DefaultMaxOpen, sqlserver.PoolSize(3), "below the default concurrency (4) the old pool stays")
	assert.Equal(t, 2*steps+2, sqlserver.PoolSize(steps))

	probeWhileStepsHoldSessions := func(conn *sqlserver.Conn) error {
		ctx := context.Background()
		var held []*sql.Conn
		defer func() {
			for _, c := range held {
				_ = c.Close()
			}
		}()
		for i := 0; i < min(steps, conn.DB().Stats().MaxOpenConnections); i++ {
			c, err := conn.DB().Conn(ctx) // a step's statement session
			require.NoError(t, err)
			held = append(held, c)
		}
		errs := make(chan error, steps)
		for i := 0; i < steps; i++ {
			go func() {
				pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
				defer cancel()
				_, _, err := conn.RequestPercent(pctx, 51)
				errs <- err
			}()
		}
		for i := 0; i < steps; i++ {
			if err := <-errs; err != nil {
				return err
			}
		}
		return nil
	}

	sized, err := sqlserver.OpenPool(dsn, sqlserver.PoolSize(steps))
	require.NoError(t, err)
	t.Cleanup(func() { _ = sized.Close() })
	assert.Equal(t, 2*steps+2, sized.DB().Stats().MaxOpenConnections)
	require.NoError(t, probeWhileStepsHoldSessions(sized), "every step's probe gets a session")

	fixed, err := sqlserver.Open(dsn)
	require.NoError(t, err)
	t.Cleanup(func() { _ = fixed.Close() })
	assert.Error(t, probeWhileStepsHoldSessions(fixed), "the old fixed pool starves the probes: the test would pass without the fix otherwise")
}
