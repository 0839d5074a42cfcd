package tools

import (
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyveil/keyveil/state"
	"github.com/keyveil/keyveil/state/statetest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// replicas serves the guard tools from n processes' worth of Deps, each
// with its own Redis client on srv, and returns one client session per
// replica speaking version.
func replicas(t *testing.T, srv *statetest.Server, base, serviceExtra, version string, n int, opts *mcp.ClientOptions) []*mcp.ClientSession {
	t.Helper()
	var out []*mcp.ClientSession
	for range n {
		s, err := state.Open(&state.Options{URL: srv.URL()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		d := guardDeps(t, base, serviceExtra, nil)
		d.Guards = NewSharedGuards(s)
		out = append(out, connectWith(t, d, version, opts))
	}
	return out
}

// TestSharedRateLimit: calls spread over three replicas are admitted
// exactly at the service's rate, not three times it.
func TestSharedRateLimit(t *testing.T) {
	redis := statetest.Start(t)
	api := newCounter(t, nil)
	rs := replicas(t, redis, api.URL, "    rate: 5/h\n    burst: 5\n", protocolVersions[0], 3, nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := 0
	for i := range 15 {
		wg.Go(func() {
			res := call(t, rs[i%3], "get_quote", map[string]any{"id": "Q"})
			if res.IsError {
				mu.Lock()
				refused++
				mu.Unlock()
				if s := structured(t, res); s["status"] != float64(429) {
					t.Errorf("refusal %v, want status 429", s)
				}
			}
		})
	}
	wg.Wait()
	if got := api.n.Load(); got != 5 || refused != 10 {
		t.Errorf("15 calls over 3 replicas with 5/h burst 5: %d reached the API, %d refused; want 5 and 10", got, refused)
	}
}

// TestSharedIdempotency: identical writes made at once through three
// replicas send one request; the rest replay its result.
func TestSharedIdempotency(t *testing.T) {
	redis := statetest.Start(t)
	release := make(chan struct{})
	api := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		<-release
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		_, _ = io.WriteString(w, `{"payment":"p-1","cents":12345678901234567890}`)
	})
	rs := replicas(t, redis, api.URL, "", protocolVersions[0], 3, nil)
	const n = 9
	results := make([]*mcp.CallToolResult, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = call(t, rs[i%3], "send_payment", payment(10)) })
	}
	for api.n.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the others queue behind the leader
	close(release)
	wg.Wait()
	if got := api.n.Load(); got != 1 {
		t.Errorf("%d identical calls over 3 replicas reached the API %d times, want once", n, got)
	}
	replayed := 0
	for i, res := range results {
		if res.IsError || structured(t, res)["status"] != float64(201) {
			t.Errorf("call %d = %q, want the 201", i, text(res))
		}
		if !strings.Contains(firstText(t, res), "12345678901234567890") {
			t.Errorf("call %d lost the number as written: %s", i, firstText(t, res))
		}
		if isReplayed(t, res) {
			replayed++
		}
	}
	if replayed != n-1 {
		t.Errorf("%d results replayed, want %d", replayed, n-1)
	}
	// Later, on any replica, the same call replays; other arguments under
	// the same idempotency_key are refused fleet-wide.
	if res := call(t, rs[2], "send_payment", payment(10)); !isReplayed(t, res) || api.n.Load() != 1 {
		t.Errorf("later identical call: %q, API saw %d; want replayed and 1", text(res), api.n.Load())
	}
	k := payment(11)
	k[idempotencyArg] = "op-1"
	call(t, rs[0], "send_payment", k)
	k["amount"] = 12
	if res := call(t, rs[1], "send_payment", k); !res.IsError || !strings.Contains(text(res), "already used") {
		t.Errorf("reused idempotency_key with other arguments on another replica = %q, want refused", text(res))
	}
}

// TestSharedConfirmNonce: a 2026-07-28 request state issued by one replica
// is accepted by another, once; replaying it on a third asks again.
func TestSharedConfirmNonce(t *testing.T) {
	redis := statetest.Start(t)
	api := newCounter(t, nil)
	rs := replicas(t, redis, api.URL, "", protocolVersions[1], 3, &mcp.ClientOptions{
		MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
	})
	args := map[string]any{"id": "Q-1"}
	accept := mcp.InputResponseMap{confirmID: &mcp.ElicitResult{Action: "accept"}}
	raw := func(cs *mcp.ClientSession, state string) *mcp.CallToolResult {
		t.Helper()
		var responses mcp.InputResponseMap
		if state != "" {
			responses = accept
		}
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "delete_quote_every_time", Arguments: args, InputResponses: responses, RequestState: state})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	q := raw(rs[0], "")
	if !q.NeedsInput() || q.RequestState == "" {
		t.Fatalf("first call = %q, want a question", text(q))
	}
	if res := raw(rs[1], q.RequestState); res.IsError || res.NeedsInput() || api.n.Load() != 1 {
		t.Fatalf("answer on another replica = %q (needs input %v), API saw %d; want sent once", text(res), res.NeedsInput(), api.n.Load())
	}
	if res := raw(rs[2], q.RequestState); !res.NeedsInput() || api.n.Load() != 1 {
		t.Errorf("replayed state on a third replica: needs input %v, API saw %d; want asked again and 1 request", res.NeedsInput(), api.n.Load())
	}
}

// TestSharedUnavailable: with Redis gone, calls that need a shared
// decision are refused with a retry hint and nothing is sent; a call that
// needs none goes on; when Redis is back, everything works again.
func TestSharedUnavailable(t *testing.T) {
	redis := statetest.Start(t)
	api := newCounter(t, nil)
	cs := replicas(t, redis, api.URL, "", protocolVersions[0], 1, nil)[0]
	redis.Stop()
	tests := []struct {
		name    string
		tool    string
		args    map[string]any
		refused bool
	}{
		{"tool with its own rate", "export_quotes", map[string]any{}, true},
		{"idempotent write", "send_payment", payment(5), true},
		{"read without a limit", "get_quote", map[string]any{"id": "Q"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := api.n.Load()
			res := call(t, cs, tc.tool, tc.args)
			sent := api.n.Load() - before
			if !tc.refused {
				if res.IsError || sent != 1 {
					t.Errorf("%s with Redis down = %q, sent %d; want it sent", tc.tool, text(res), sent)
				}
				return
			}
			if !res.IsError || sent != 0 || !strings.Contains(text(res), "shared state (Redis)") || !strings.Contains(text(res), "Retry after 5 seconds") {
				t.Errorf("%s with Redis down = %q, sent %d; want refused with a retry hint, nothing sent", tc.tool, text(res), sent)
			}
			if strings.Contains(text(res), redis.Addr()) {
				t.Errorf("refusal %q names the Redis address", text(res))
			}
		})
	}
	redis.Restart()
	if res := call(t, cs, "send_payment", payment(5)); res.IsError {
		t.Errorf("after Redis returned: %q, want sent", text(res))
	}
}
