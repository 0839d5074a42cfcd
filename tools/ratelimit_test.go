package tools

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyveil/keyveil/config"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestRateLimitBurst fires 1000 calls at once at a service with rate: 5/s
// (burst 5) on a clock that stands still: the API sees 5, the other 995
// are refused at once with a retry_after a model can act on. A second
// later 5 more go through.
func TestRateLimitBurst(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	audit := &syncBuffer{}
	clock := newFakeClock()
	d := guardDeps(t, srv.URL, "    rate: 5/s\n", audit)
	d.Now = clock.Now
	h := handler(t, d.withDefaults(), "get_quote")

	burst := func(n int) (ok, refused int) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				res := callDirect(t, h, "get_quote", map[string]any{"id": "Q-" + string(rune('a'+i%26))})
				mu.Lock()
				defer mu.Unlock()
				if !res.IsError {
					ok++
					return
				}
				refused++
				s := structured(t, res)
				ra, _ := s["retry_after"].(float64)
				if s["status"] != float64(429) || ra <= 0 || ra > 1 {
					t.Errorf("refusal = %v, want status 429 and 0 < retry_after <= 1 s", s)
				}
				if body, _ := s["body"].(map[string]any); body["refused_by"] != "keyveil" {
					t.Errorf("refusal body = %v, want refused_by keyveil", s["body"])
				}
				if h, _ := s["headers"].(map[string]any); h["Retry-After"] != "1" {
					t.Errorf("refusal headers = %v, want Retry-After 1", s["headers"])
				}
				if !strings.Contains(text(res), "Retry after 0.2 seconds") || !strings.Contains(text(res), "the crm service allows 5/s burst 5") {
					t.Errorf("refusal text %q does not say the limit and when to retry", text(res))
				}
			})
		}
		wg.Wait()
		return ok, refused
	}
	if ok, refused := burst(1000); ok != 5 || refused != 995 {
		t.Errorf("1000 calls at 5/s: %d sent, %d refused; want 5 and 995", ok, refused)
	}
	if got := srv.n.Load(); got != 5 {
		t.Errorf("the API saw %d requests, want 5", got)
	}
	clock.Advance(time.Second)
	if ok, _ := burst(100); ok != 5 {
		t.Errorf("a second later %d calls went through, want 5", ok)
	}
	if got := srv.n.Load(); got != 10 {
		t.Errorf("the API saw %d requests, want 10", got)
	}
	n := 0
	for _, r := range audit.records(t) {
		if r["outcome"] == "refused:rate" {
			n++
			if r["retry_after"] != 0.2 {
				t.Errorf("audit retry_after = %v, want 0.2", r["retry_after"])
			}
		}
	}
	if n != 995+95 {
		t.Errorf("%d refused:rate audit lines, want %d", n, 995+95)
	}
}

// TestRateLimitToolAndService: a tool's own bucket refuses on its own, and
// a refusal by one bucket takes no token from the other.
func TestRateLimitToolAndService(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	clock := newFakeClock()
	d := guardDeps(t, srv.URL, "    rate: 2/s\n    burst: 2\n", nil)
	d.Now = clock.Now
	d = d.withDefaults()
	export, get := handler(t, d, "export_quotes"), handler(t, d, "get_quote")

	if res := callDirect(t, export, "export_quotes", nil); res.IsError {
		t.Fatalf("first export = %q, want it sent", text(res))
	}
	res := callDirect(t, export, "export_quotes", nil)
	if s := structured(t, res); !res.IsError || s["retry_after"] != float64(60) || !strings.Contains(text(res), "the tool export_quotes allows 1/min") {
		t.Errorf("second export = %q, want refused by the tool's 1/min with retry_after 60", text(res))
	}
	// The service bucket had 2: one went to the export, the refused
	// export took none, so one get goes through.
	if res := callDirect(t, get, "get_quote", map[string]any{"id": "1"}); res.IsError {
		t.Errorf("get after a refused export = %q, want it sent", text(res))
	}
	if res := callDirect(t, get, "get_quote", map[string]any{"id": "2"}); !res.IsError {
		t.Errorf("third call within the service's burst of 2 was sent")
	}
	if got := srv.n.Load(); got != 2 {
		t.Errorf("the API saw %d requests, want 2", got)
	}
}

// TestRateLimitBeforeConfirmation: a call the limit would refuse is
// refused before the user is asked.
func TestRateLimitBeforeConfirmation(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	clock := newFakeClock()
	d := guardDeps(t, srv.URL, "    rate: 1/h\n", nil)
	d.Now = clock.Now
	var mu sync.Mutex
	var asked []string
	cs := connectWith(t, d, protocolVersions[0], answering("accept", &asked, &mu))
	call(t, cs, "delete_quote", map[string]any{"id": "Q-1"})
	res := call(t, cs, "delete_quote", map[string]any{"id": "Q-2"})
	if !res.IsError || !strings.Contains(text(res), "Retry after 3600 seconds") {
		t.Errorf("second delete = %q, want a rate refusal", text(res))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 {
		t.Errorf("the user was asked %d times, want once (not for the refused call)", len(asked))
	}
}

// TestUpstreamRetryAfter passes an API's 429 Retry-After on in the shape
// of keyveil's own refusal.
func TestUpstreamRetryAfter(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	tests := []struct {
		name       string
		status     int
		retryAfter string
		want       any
	}{
		{"seconds", 429, "7", float64(7)},
		{"http date", 429, clock.Now().Add(90 * time.Second).Format(http.TimeFormat), float64(90)},
		{"503", 503, "30", float64(30)},
		{"past date", 429, clock.Now().Add(-time.Hour).Format(http.TimeFormat), float64(0)},
		{"garbage", 429, "soon", nil},
		{"not on 400", 400, "7", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Retry-After", tc.retryAfter)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, `{"error":"slow down"}`)
			})
			d := guardDeps(t, srv.URL, "", nil)
			d.Now = clock.Now
			cs := connectWith(t, d, protocolVersions[1], nil)
			res := call(t, cs, "get_quote", map[string]any{"id": "Q-1"})
			if got := structured(t, res)["retry_after"]; got != tc.want {
				t.Errorf("retry_after = %v, want %v", got, tc.want)
			}
			if tc.want != nil && !strings.Contains(text(res), "retry after") {
				t.Errorf("text %q does not say when to retry", text(res))
			}
		})
	}
}

func TestLimitersPeekTakesNothing(t *testing.T) {
	t.Parallel()
	var l limiters
	now := time.Now()
	bs := []bucket{{key: "s", what: "s", limit: config.Limit{Events: 1, Per: time.Second, Burst: 1}}}
	for range 3 {
		if w, _ := l.peek(now, bs); w != 0 {
			t.Fatalf("peek on a full bucket = %v, want 0", w)
		}
	}
	if w, _ := l.take(now, bs); w != 0 {
		t.Fatalf("take on a full bucket = %v, want 0", w)
	}
	if w, _ := l.peek(now, bs); w != time.Second {
		t.Errorf("peek on an empty bucket = %v, want 1s", w)
	}
	if w, _ := l.take(now.Add(500*time.Millisecond), bs); w != 500*time.Millisecond {
		t.Errorf("take half a second later = %v, want 500ms", w)
	}
}

// TestRateLimitOverMCP checks the refusal as a client sees it, at both
// versions (the result must satisfy the output schema).
func TestRateLimitOverMCP(t *testing.T) {
	t.Parallel()
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			srv := newCounter(t, nil)
			clock := newFakeClock()
			d := guardDeps(t, srv.URL, "    rate: 1/s\n", nil)
			d.Now = clock.Now
			cs := connectWith(t, d, version, nil)
			call(t, cs, "get_quote", map[string]any{"id": "1"})
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "get_quote", Arguments: map[string]any{"id": "2"}})
			if err != nil {
				t.Fatalf("CallTool: %v", err)
			}
			if s := structured(t, res); !res.IsError || s["retry_after"] != float64(1) {
				t.Errorf("over the limit: %v, want isError and retry_after 1", s)
			}
		})
	}
}
