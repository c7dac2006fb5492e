package bench

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sqlvault/sqlvault/internal/testworld/testenv"
)

// Slow-to-start services, one of each per test binary, stopped by TestMain.
var services struct {
	mu       sync.Mutex
	azurite  *testenv.Azurite
	temporal *testenv.Temporal
	stops    []func()
}

func TestMain(m *testing.M) {
	code := m.Run()
	services.mu.Lock()
	for i := len(services.stops) - 1; i >= 0; i-- {
		services.stops[i]()
	}
	services.mu.Unlock()
	if certOnce.dir != "" {
		_ = os.RemoveAll(certOnce.dir)
	}
	if agentBin.path != "" {
		_ = os.RemoveAll(filepath.Dir(agentBin.path))
	}
	os.Exit(code)
}

func sharedAzurite(tb testing.TB) *testenv.Azurite {
	services.mu.Lock()
	defer services.mu.Unlock()
	if services.azurite == nil {
		az, stop, err := testenv.StartAzurite(testenv.AzuriteOptions{})
		require.NoError(tb, err)
		services.azurite = az
		services.stops = append(services.stops, stop)
	}
	return services.azurite
}

func sharedTemporal(tb testing.TB) *testenv.Temporal {
	services.mu.Lock()
	defer services.mu.Unlock()
	if services.temporal == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		tp, stop, err := testenv.StartTemporal(ctx)
		require.NoError(tb, err)
		services.temporal = tp
		services.stops = append(services.stops, stop)
	}
	return services.temporal
}
