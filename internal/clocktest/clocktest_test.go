package clocktest

import (
	"sync"
	"testing"
	"time"
)

// TestClock: Now reads what New and Advance set, and concurrent Advances
// all count (run with -race).
func TestClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	c := New(start)
	if got := c.Now(); !got.Equal(start) {
		t.Fatalf("New(%v).Now() = %v", start, got)
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() { c.Advance(time.Minute); _ = c.Now() })
	}
	wg.Wait()
	if got, want := c.Now(), start.Add(10*time.Minute); !got.Equal(want) {
		t.Errorf("Now() after ten Advance(1m) = %v, want %v", got, want)
	}
}
