package starter

import (
	"fmt"
	"io"

	"golang.org/x/term"
)

// progress is one observation of a running workflow, for the progress display.
type progress struct {
	// State is what is happening (phase, restore step, attempt): in a pipe, a change of it
	// prints a line.
	State   string
	Percent int
	Line    string // the text shown; "" shows nothing
}

// pipeStep is the percentage step at which a pipe gets a new line within one state.
const pipeStep = 10

// progressPrinter shows progress on w. On a terminal it redraws one line in place (\r); in a
// pipe or a file, where \r redraws pile up as one unreadable line, it writes one line per
// change of state or pipeStep of percentage.
type progressPrinter struct {
	w       io.Writer
	redraw  bool
	printed bool
	last    progress
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	return &progressPrinter{w: w, redraw: isTerminal(w)}
}

// isTerminal reports whether w is a file descriptor attached to a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progressPrinter) show(s progress) {
	if s.Line == "" {
		return
	}
	if p.redraw {
		if !p.printed || s.Line != p.last.Line {
			fmt.Fprintf(p.w, "\r%-78s", s.Line)
			p.printed, p.last = true, s
		}
		return
	}
	if !p.printed || s.State != p.last.State || s.Percent/pipeStep != p.last.Percent/pipeStep {
		fmt.Fprintln(p.w, s.Line)
		p.printed, p.last = true, s
	}
}

// done ends the redrawn line, so what follows starts on a line of its own.
func (p *progressPrinter) done() {
	if p.redraw && p.printed {
		fmt.Fprintln(p.w)
	}
}
