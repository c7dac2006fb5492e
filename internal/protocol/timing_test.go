package protocol

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sweep's grace must outlast everything that can still adopt a stripe: the stream's
// ScheduleToClose and the commit's retries (issue 11, items 3 and 8).
func TestSweepGraceOutlastsStreamAndCommit(t *testing.T) {
	assert.Greater(t, MinSweepGrace, StreamScheduleToClose+CommitRetryWindow)
	assert.GreaterOrEqual(t, CommitRetryWindow, 2*time.Hour, "the commit is retried for hours")
	g, err := SweepGrace(0)
	require.NoError(t, err)
	assert.Equal(t, DefaultSweepGraceHours*time.Hour, g)
	assert.GreaterOrEqual(t, g, MinSweepGrace, "the default is allowed")
	for _, h := range []int{-1, 1, 24, MinSweepGraceHours() - 1} {
		_, err := SweepGrace(h)
		require.ErrorIs(t, err, ErrGraceTooShort, "%d hours", h)
		assert.Contains(t, err.Error(), "set sweepGraceHours to at least")
	}
	g, err = SweepGrace(MinSweepGraceHours())
	require.NoError(t, err)
	assert.GreaterOrEqual(t, g, MinSweepGrace)
}

// The README states the bound the code enforces.
func TestReadmeStatesTheSweepGraceBound(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	text := strings.Join(strings.Fields(string(readme)), " ")
	assert.Contains(t, text, fmt.Sprintf("default %d; anything under %d", DefaultSweepGraceHours, MinSweepGraceHours()))
	assert.Contains(t, text, fmt.Sprintf("retried for up to %d hours", int(CommitRetryWindow.Hours())))
}
