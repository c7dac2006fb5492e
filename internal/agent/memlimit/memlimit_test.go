package memlimit

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBudgetFollowsTheStripesHeld(t *testing.T) {
	var got []int64
	b := newBudget(128, 32, func(n int64) int64 { got = append(got, n); return 0 })
	const mib = 1 << 20
	assert.Equal(t, []int64{128 * mib}, got, "the base is set at once")

	r1 := b.Hold(3) // a 20 GiB backup: 3 stripes
	assert.Equal(t, int64((128+64)*mib), b.Limit())
	r2 := b.Hold(8) // another, larger stream at the same time
	assert.Equal(t, int64((128+32*10)*mib), b.Limit())
	r1()
	r1() // a second release changes nothing
	assert.Equal(t, int64((128+32*7)*mib), b.Limit())
	r2()
	assert.Equal(t, int64(128*mib), b.Limit())
	assert.Equal(t, int64(128*mib), got[len(got)-1], "the runtime got every change")
	assert.Len(t, got, 5)

	var none *Budget
	none.Hold(4)() // nil: no limit configured, nothing happens
	assert.Zero(t, none.Limit())
}
