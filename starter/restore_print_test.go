package starter

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sqlvault/sqlvault/internal/protocol"
)

// A restore to an instant with milliseconds shows them; one finer than SQL Server's
// datetime (1/300 s) says where STOPAT really stopped.
func TestPrintRestoreShowsTheInstantToTheMillisecond(t *testing.T) {
	at := time.Date(2026, 11, 26, 10, 15, 30, 250_000_000, time.UTC)
	res := func(at time.Time) *protocol.RestoreResult {
		return &protocol.RestoreResult{TargetDatabase: "S", TargetInstance: "VM", State: "ONLINE", Steps: []protocol.RestoreStepPlan{
			{Type: "full", PointID: "p1"}, {Type: "log", PointID: "p2", StopAt: &at}}}
	}
	var out bytes.Buffer
	printRestore(&out, res(at))
	assert.Contains(t, out.String(), "log p2 STOPAT 2026-11-26T10:15:30.250Z\n")
	assert.NotContains(t, out.String(), "note", ".250 is a datetime step (75/300 s): nothing to say")

	out.Reset()
	printRestore(&out, res(at.Truncate(time.Second)))
	assert.Contains(t, out.String(), "STOPAT 2026-11-26T10:15:30Z\n")

	out.Reset()
	printRestore(&out, res(at.Add(time.Millisecond)))
	assert.Contains(t, out.String(), "STOPAT 2026-11-26T10:15:30.251Z\n")
	assert.Contains(t, out.String(), "it stopped at the step nearest 2026-11-26T10:15:30.251Z, 2026-11-26T10:15:30.25Z")

	out.Reset()
	printRestore(&out, res(at.Add(3*time.Millisecond+333_333)))
	assert.Contains(t, out.String(), "STOPAT 2026-11-26T10:15:30.253333333Z\n")
	assert.NotContains(t, out.String(), "note", "76/300 s is a datetime step")
}
