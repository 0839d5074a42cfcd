package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// payment is a valid send_payment call.
func payment(amount int) map[string]any {
	return map[string]any{"to": "ann@example.com", "amount": amount, "currency": "EUR"}
}

// isReplayed reports whether res is marked replayed in structuredContent
// and in its JSON text.
func isReplayed(t *testing.T, res *mcp.CallToolResult) bool {
	t.Helper()
	s, _ := structured(t, res)["replayed"].(bool)
	txt := strings.Contains(firstText(t, res), `"replayed":true`)
	if s != txt {
		t.Errorf("replayed in structuredContent %v, in text %v; want them to agree:\n%s", s, txt, text(res))
	}
	return s
}

// TestConcurrentIdenticalCalls sends 20 identical calls at once while the
// API is slow: exactly one request reaches it, and the other 19 get its
// result, marked replayed.
func TestConcurrentIdenticalCalls(t *testing.T) {
	t.Parallel()
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			release := make(chan struct{})
			srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
				<-release
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, `{"payment":"p-1"}`)
			})
			cs := connectWith(t, guardDeps(t, srv.URL, "", nil), version, nil)
			const n = 20
			results := make([]*mcp.CallToolResult, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { results[i] = call(t, cs, "send_payment", payment(10)) })
			}
			// Let the calls pile up behind the first before the API answers.
			for srv.n.Load() == 0 {
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond)
			close(release)
			wg.Wait()
			if got := srv.n.Load(); got != 1 {
				t.Errorf("%d identical concurrent calls reached the API %d times, want once", n, got)
			}
			replayed := 0
			for i, res := range results {
				if res.IsError || structured(t, res)["status"] != float64(201) {
					t.Errorf("call %d = %q, want the 201", i, text(res))
				}
				if isReplayed(t, res) {
					replayed++
				}
			}
			if replayed != n-1 {
				t.Errorf("%d results replayed, want %d", replayed, n-1)
			}
		})
	}
}

// TestIdempotencySemantics walks the documented rules one call at a time.
func TestIdempotencySemantics(t *testing.T) {
	t.Parallel()
	var status atomic.Int64
	status.Store(http.StatusOK)
	srv := newCounter(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(int(status.Load()))
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	clock := newFakeClock()
	d := guardDeps(t, srv.URL, "", nil)
	d.Now = clock.Now
	cs := connectWith(t, d, protocolVersions[1], nil)
	headerOf := func(i int) string {
		t.Helper()
		reqs := srv.requests()
		if i >= len(reqs) {
			t.Fatalf("request %d was not sent (%d sent)", i, len(reqs))
		}
		return reqs[i].Header.Get("Idempotency-Key")
	}
	withKey := func(amount int, key string) map[string]any {
		a := payment(amount)
		a["idempotency_key"] = key
		return a
	}

	steps := []struct {
		name         string
		args         map[string]any
		status       int // what the API answers, when asked
		advance      time.Duration
		wantSent     int64 // requests so far
		wantReplayed bool
		wantRefusal  string
	}{
		{"first call is sent", payment(1), 200, 0, 1, false, ""},
		{"identical call is replayed", payment(1), 200, 0, 1, true, ""},
		{"same call, keys reordered, is replayed", map[string]any{"currency": "EUR", "amount": 1, "to": "ann@example.com"}, 200, 0, 1, true, ""},
		{"other arguments are sent", payment(2), 200, 0, 2, false, ""},
		{"a new idempotency_key is a new operation", withKey(1, "again"), 200, 0, 3, false, ""},
		{"the same key and arguments replay", withKey(1, "again"), 200, 0, 3, true, ""},
		{"the same key with other arguments is refused", withKey(9, "again"), 200, 0, 3, false, "already used for a call with other arguments"},
		{"a 5xx is not kept", payment(3), 503, 0, 4, false, ""},
		{"so the retry is sent", payment(3), 200, 0, 5, false, ""},
		{"and its success is kept", payment(3), 200, 0, 5, true, ""},
		{"a 4xx is kept", payment(4), 400, 0, 6, false, ""},
		{"and replayed", payment(4), 200, 0, 6, true, ""},
		{"after the window the call is sent again", payment(1), 200, 10*time.Minute + time.Second, 7, false, ""},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		status.Store(int64(s.status))
		res := call(t, cs, "send_payment", s.args)
		if got := srv.n.Load(); got != s.wantSent {
			t.Fatalf("%s: the API saw %d requests, want %d", s.name, got, s.wantSent)
		}
		if s.wantRefusal != "" {
			if !res.IsError || !strings.Contains(text(res), s.wantRefusal) {
				t.Errorf("%s: %q, want a refusal %q", s.name, text(res), s.wantRefusal)
			}
			continue
		}
		if got := isReplayed(t, res); got != s.wantReplayed {
			t.Errorf("%s: replayed = %v, want %v", s.name, got, s.wantReplayed)
		}
		if s.wantReplayed && !strings.Contains(text(res), "nothing was sent again") {
			t.Errorf("%s: the replay does not say so: %q", s.name, text(res))
		}
	}

	// Header values: kv- and 32 hex digits; the retry after a 5xx carries
	// the failed attempt's value; a model key gives a stable value; the
	// call after the window a new one.
	for i := range 7 {
		if h := headerOf(i); len(h) != 35 || !strings.HasPrefix(h, "kv-") {
			t.Errorf("request %d Idempotency-Key = %q, want kv- and 32 hex digits", i, h)
		}
	}
	if headerOf(3) != headerOf(4) {
		t.Errorf("retry after a 5xx sent key %q, want the failed attempt's %q", headerOf(4), headerOf(3))
	}
	if headerOf(0) == headerOf(1) || headerOf(0) == headerOf(6) {
		t.Errorf("different operations share a key: %q, %q, %q", headerOf(0), headerOf(1), headerOf(6))
	}
	if want := headerKey("crm", "send_payment", "again"); headerOf(2) != want {
		t.Errorf("key for idempotency_key \"again\" = %q, want the stable %q", headerOf(2), want)
	}
	if reqs := srv.requests(); reqs[2].Body != `{"amount":1,"currency":"EUR","to":"ann@example.com"}` {
		t.Errorf("idempotency_key leaked into the body: %s", reqs[2].Body)
	}
}

// TestIdempotencyOnlyForWrites: GET is never keyed or replayed, and
// idempotency: false turns both off.
func TestIdempotencyOnlyForWrites(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		extra string
		tool  string
		args  map[string]any
		want  bool // keyed and replayed
	}{
		{"declared POST", "", "send_payment", payment(1), true},
		{"declared GET", "", "get_quote", map[string]any{"id": "Q-1"}, false},
		{"call_api POST", "", "call_api", map[string]any{"method": "POST", "path": "/quotes", "body": map[string]any{"a": 1}}, true},
		{"call_api GET", "", "call_api", map[string]any{"method": "GET", "path": "/quotes", "idempotency_key": "ignored"}, false},
		{"service switched off", "    idempotency: false\n", "send_payment", payment(1), false},
		{"tool switched off", "", "delete_quote_every_time", map[string]any{"id": "Q-1"}, false},
		{"other header", "    idempotency_header: X-Request-Key\n", "send_payment", payment(1), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newCounter(t, nil)
			d := guardDeps(t, srv.URL, tc.extra+"    confirm_methods: []\n", nil)
			var mu sync.Mutex
			var asked []string
			cs := connectWith(t, d, protocolVersions[0], answering("accept", &asked, &mu))
			call(t, cs, tc.tool, tc.args)
			res := call(t, cs, tc.tool, tc.args)
			header := "Idempotency-Key"
			if strings.Contains(tc.extra, "X-Request-Key") {
				header = "X-Request-Key"
			}
			reqs := srv.requests()
			keyed := reqs[0].Header.Get(header) != ""
			replayed := len(reqs) == 1
			if keyed != tc.want || replayed != tc.want || isReplayed(t, res) != tc.want {
				t.Errorf("%s: keyed %v, replayed %v (%d requests, marked %v), want %v", tc.name, keyed, replayed, len(reqs), isReplayed(t, res), tc.want)
			}
		})
	}
}

// TestIdempotencyHeaderFromCall: a header the call sets itself is sent as
// it is.
func TestIdempotencyHeaderFromCall(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	cs := connectWith(t, guardDeps(t, srv.URL, "", nil), protocolVersions[0], nil)
	call(t, cs, "call_api", map[string]any{"method": "POST", "path": "/quotes", "headers": map[string]any{"Idempotency-Key": "mine-1"}})
	if got := srv.requests()[0].Header.Get("Idempotency-Key"); got != "mine-1" {
		t.Errorf("Idempotency-Key = %q, want the call's own mine-1", got)
	}
}

func TestIdempotencyKeyArgument(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     string
		wantRest string
		wantKey  string
		wantErr  bool
	}{
		{`{"a":1}`, `{"a":1}`, "", false},
		{`{"a":1,"idempotency_key":"k"}`, `{"a":1}`, "k", false},
		{`{"idempotency_key":null}`, `{}`, "", false},
		{`{"idempotency_key":""}`, "", "", true},
		{`{"idempotency_key":7}`, "", "", true},
		{`{"idempotency_key":"` + strings.Repeat("k", 256) + `"}`, "", "", true},
		{`[1]`, `[1]`, "", false},
	}
	for _, tc := range tests {
		// Arguments that are not an object pass as they are, for the
		// schema check to refuse.
		args := argObject(json.RawMessage(tc.args))
		key, r := takeIdempotencyKey(args)
		rest := tc.args
		if args != nil {
			b, _ := json.Marshal(args)
			rest = string(b)
		}
		if (r != nil) != tc.wantErr || key != tc.wantKey || (!tc.wantErr && string(rest) != tc.wantRest) {
			t.Errorf("takeIdempotencyKey(%s) = %s, %q, %v; want %s, %q, error %v", tc.args, rest, key, r, tc.wantRest, tc.wantKey, tc.wantErr)
		}
	}
}

func TestCanonicalBinding(t *testing.T) {
	t.Parallel()
	a := map[string]json.RawMessage{"x": json.RawMessage(`{"b": 1, "a": [1, 2]}`), "y": json.RawMessage(`"s"`)}
	b := map[string]json.RawMessage{"y": json.RawMessage(`"s"`), "x": json.RawMessage(`{"a":[1,2],"b":1}`)}
	if binding("t", a, "") != binding("t", b, "") {
		t.Errorf("binding differs for the same arguments spaced and ordered differently: %s vs %s", canonicalJSON(a), canonicalJSON(b))
	}
	for _, other := range []struct {
		tool, key string
		args      map[string]json.RawMessage
	}{
		{"u", "", a},
		{"t", "k", a},
		{"t", "", map[string]json.RawMessage{"x": json.RawMessage(`{"a":[2,1],"b":1}`), "y": json.RawMessage(`"s"`)}},
	} {
		if binding(other.tool, other.args, other.key) == binding("t", a, "") {
			t.Errorf("binding(%s, %s, %q) equals another call's", other.tool, canonicalJSON(other.args), other.key)
		}
	}
}

// TestResultsBounded keeps at most the limit of finished operations, least
// recently used out first, and never drops one still running.
func TestResultsBounded(t *testing.T) {
	t.Parallel()
	r := newResults(3)
	now := time.Now
	ctx := context.Background()
	res := &mcp.CallToolResult{StructuredContent: map[string]any{"status": 200}}
	lead := func(id string) *flight {
		t.Helper()
		f, _, _, err := r.acquire(ctx, id, [32]byte{}, func() string { return "kv-" + id }, now)
		if f == nil || err != nil {
			t.Fatalf("acquire(%s) did not lead", id)
		}
		return f
	}
	running := lead("running")
	for i := range 5 {
		r.finish(lead(fmt.Sprint(i)), res, 200, true, true, now(), time.Hour)
	}
	if n := r.len(); n != 3 {
		t.Errorf("%d operations kept, want 3", n)
	}
	var kept []string
	for e := r.lru.Front(); e != nil; e = e.Next() {
		kept = append(kept, e.Value.(*flight).id)
	}
	if diff := cmp.Diff([]string{"4", "3", "running"}, kept); diff != "" {
		t.Errorf("kept (-want +got):\n%s", diff)
	}
	r.finish(running, nil, 0, false, false, now(), time.Hour)
	if n := r.len(); n != 2 {
		t.Errorf("after a call that sent nothing finished, %d kept, want 2", n)
	}
}

// TestResultsWaitCancelled: a caller waiting for a running operation gives
// up with its context.
func TestResultsWaitCancelled(t *testing.T) {
	t.Parallel()
	r := newResults(10)
	f, _, _, _ := r.acquire(context.Background(), "op", [32]byte{}, func() string { return "kv-1" }, time.Now)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, _, err := r.acquire(ctx, "op", [32]byte{}, func() string { return "kv-2" }, time.Now); err == nil {
		t.Errorf("acquire while running returned without error after its context ended")
	}
	r.finish(f, nil, 0, false, false, time.Now(), time.Minute)
}
