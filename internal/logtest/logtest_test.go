package logtest

import (
	"strings"
	"sync"
	"testing"
)

// TestBufferConcurrent: writes from several goroutines while another
// reads all arrive whole (run with -race).
func TestBufferConcurrent(t *testing.T) {
	t.Parallel()
	var b Buffer
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				_, _ = b.Write([]byte("line\n"))
				_ = b.String()
			}
		})
	}
	wg.Wait()
	if got := strings.Count(b.String(), "line\n"); got != 800 {
		t.Errorf("Buffer holds %d lines, want 800", got)
	}
}
