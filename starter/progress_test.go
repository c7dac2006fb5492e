package starter

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func backupObservation(phase string, pct int) progress {
	return progress{State: phase + "/1", Percent: pct, Line: phase + " " + strings.Repeat("#", pct/10)}
}

// In a pipe: no carriage return, one line per change of state or 10% step, nothing for
// repeated observations.
func TestProgressInAPipePrintsLines(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	assert.False(t, isTerminal(w), "a pipe is not a terminal")
	assert.False(t, isTerminal(&bytes.Buffer{}), "a buffer is not a terminal")
	require.NoError(t, w.Close())

	var out bytes.Buffer
	p := newProgressPrinter(&out)
	for _, o := range []progress{{}, backupObservation("prepare", 0), backupObservation("stream", 0), backupObservation("stream", 3),
		backupObservation("stream", 9), backupObservation("stream", 10), backupObservation("stream", 10), backupObservation("stream", 47),
		backupObservation("commit", 100), backupObservation("commit", 100)} {
		p.show(o)
	}
	p.done()
	assert.NotContains(t, out.String(), "\r")
	assert.Equal(t, "prepare \nstream \nstream #\nstream ####\ncommit ##########\n", out.String())
}

// On a terminal: one line redrawn in place, ended by a newline when the wait ends.
func TestProgressOnATerminalRedraws(t *testing.T) {
	var out bytes.Buffer
	p := &progressPrinter{w: &out, redraw: true}
	p.show(backupObservation("stream", 0))
	p.show(backupObservation("stream", 3)) // same text: not redrawn
	p.show(backupObservation("stream", 20))
	p.done()
	assert.Equal(t, 2, strings.Count(out.String(), "\r"))
	assert.True(t, strings.HasSuffix(out.String(), "stream ##"+strings.Repeat(" ", 78-len("stream ##"))+"\n"), "%q", out.String())
}
