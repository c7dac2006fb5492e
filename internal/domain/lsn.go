package domain

import "strings"

// LSN is a log sequence number as a decimal string: msdb stores them as numeric(25,0),
// which does not fit in int64 (nor exactly in a JSON number read as float64). "" stands for
// msdb's NULL.
type LSN string

// Valid reports whether l is a decimal numeric(25,0) without sign or leading zeros
// (^(0|[1-9][0-9]{0,24})$, without a regular expression: listings and plans check
// thousands, and the expression cost more than the rest of a plan over a month of logs).
func (l LSN) Valid() bool {
	if len(l) == 0 || len(l) > 25 || (l[0] == '0' && len(l) > 1) {
		return false
	}
	for i := 0; i < len(l); i++ {
		if l[i] < '0' || l[i] > '9' {
			return false
		}
	}
	return true
}

// Compare orders two valid LSNs numerically (-1, 0, +1): without leading zeros, the longer
// number is the greater, and numbers of one length compare as text.
func (l LSN) Compare(o LSN) int {
	if len(l) != len(o) {
		if len(l) < len(o) {
			return -1
		}
		return 1
	}
	return strings.Compare(string(l), string(o))
}
