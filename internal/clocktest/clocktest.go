// Package clocktest is a clock that tests move by hand, for code that
// takes its time from a func (tools' Deps.Now, the key registry's expiry,
// remote's rate limits): a test advances it instead of sleeping, so
// nothing depends on how fast the machine is.
//
// Only tests import it.
package clocktest

import (
	"sync"
	"time"
)

// Clock reads the time it was last set to. It is safe for concurrent use:
// servers under test read it from their own goroutines.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock that reads start until it is advanced.
func New(start time.Time) *Clock { return &Clock{t: start} }

// Now returns the clock's time; pass the method value as a now func.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
