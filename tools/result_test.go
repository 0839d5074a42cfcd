package tools

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestResultsSatisfyOutputSchema takes call_api and declared tools down
// every path a result can come from and checks each result's
// structuredContent against the output schema the tool declares, as the
// TypeScript SDK client does (the Go client does not). A replayed result
// used to carry none, and TS SDK 1.32.2 failed the call with -32600.
func TestResultsSatisfyOutputSchema(t *testing.T) {
	t.Parallel()
	ok := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true,"note":"a body longer than the cap"}`)
	}
	tests := []struct {
		name    string
		tool    string
		args    map[string]any
		extra   string // service keys
		answer  string // the user's answer to a confirmation; "": the client cannot ask
		handler http.HandlerFunc
		calls   int // the last one is checked
		outcome string
		check   func(t *testing.T, sc map[string]any)
	}{
		{name: "fresh", tool: "get_quote", args: map[string]any{"id": "1"}, handler: ok, calls: 1, outcome: "ok"},
		{name: "http error", tool: "get_quote", args: map[string]any{"id": "1"}, handler: func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, calls: 1, outcome: "http_error"},
		{name: "truncated", tool: "get_quote", args: map[string]any{"id": "1"}, extra: "    max_response_bytes: 8\n", handler: ok, calls: 1, outcome: "ok",
			check: func(t *testing.T, sc map[string]any) {
				if sc["truncated"] != true {
					t.Errorf("truncated = %v, want true", sc["truncated"])
				}
			}},
		{name: "replayed declared tool", tool: "send_payment", args: map[string]any{"to": "a@example.com", "amount": 5, "currency": "EUR"}, handler: ok, calls: 2, outcome: "replayed",
			check: func(t *testing.T, sc map[string]any) {
				if sc["replayed"] != true || sc["status"] != float64(200) {
					t.Errorf("replayed result = %v, want status 200 and replayed true", sc)
				}
			}},
		{name: "replayed call_api", tool: "call_api", args: map[string]any{"method": "POST", "path": "/quotes", "body": map[string]any{"n": 1}}, handler: ok, calls: 2, outcome: "replayed"},
		{name: "rate limited", tool: "export_quotes", handler: ok, calls: 2, outcome: "refused:rate",
			check: func(t *testing.T, sc map[string]any) {
				if sc["status"] != float64(429) {
					t.Errorf("status = %v, want 429", sc["status"])
				}
			}},
		{name: "refused input", tool: "send_payment", args: map[string]any{"to": "a@example.com", "amount": 5000, "currency": "EUR"}, handler: ok, calls: 1, outcome: "refused:input",
			check: wantNoResponse},
		{name: "refused call_api path", tool: "call_api", args: map[string]any{"method": "GET", "path": "/../admin"}, handler: ok, calls: 1, outcome: "refused:path", check: wantNoResponse},
		{name: "network error", tool: "get_quote", args: map[string]any{"id": "1"}, handler: hangUp, calls: 1, outcome: "network_error", check: wantNoResponse},
		{name: "confirmation unavailable", tool: "delete_quote", args: map[string]any{"id": "1"}, handler: ok, calls: 1, outcome: "refused:confirmation_unavailable", check: wantNoResponse},
		{name: "confirmation declined", tool: "delete_quote", args: map[string]any{"id": "1"}, answer: "decline", handler: ok, calls: 1, outcome: "refused:confirmation_declined", check: wantNoResponse},
		{name: "confirmation cancelled", tool: "delete_quote", args: map[string]any{"id": "1"}, answer: "cancel", handler: ok, calls: 1, outcome: "refused:confirmation_cancelled", check: wantNoResponse},
		{name: "confirmation accepted", tool: "delete_quote", args: map[string]any{"id": "1"}, answer: "accept", handler: ok, calls: 1, outcome: "ok"},
	}
	for _, version := range protocolVersions {
		for _, tc := range tests {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				srv := newCounter(t, tc.handler)
				audit := &syncBuffer{}
				d := guardDeps(t, srv.URL, tc.extra, audit)
				d.Redact = redactInPlace
				var opts *mcp.ClientOptions
				if tc.answer != "" {
					var mu sync.Mutex
					var asked []string
					opts = answering(tc.answer, &asked, &mu)
				}
				cs := connectWith(t, d, version, opts)
				var res *mcp.CallToolResult
				for range tc.calls {
					res = call(t, cs, tc.tool, tc.args)
				}
				checkOutputSchema(t, cs, tc.tool, res)
				recs := audit.records(t)
				if got := recs[len(recs)-1]["outcome"]; got != tc.outcome {
					t.Errorf("%s outcome = %v, want %s; text: %s", tc.tool, got, tc.outcome, text(res))
				}
				if tc.check != nil && res.StructuredContent != nil {
					tc.check(t, structured(t, res))
				}
			})
		}
	}
}

// TestInputRequiredLeftAlone: in the 2026-07-28 era a confirmation is
// asked with an input-required result. It is a question to the client,
// not the tool's result, so it carries no structuredContent for the
// output schema to govern; its answer's result does (above).
func TestInputRequiredLeftAlone(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	cs := connectWith(t, guardDeps(t, srv.URL, "", nil), protocolVersions[1], &mcp.ClientOptions{
		MultiRoundTrip:     &mcp.MultiRoundTripOptions{Disabled: true},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) { return nil, nil },
	})
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "delete_quote", Arguments: map[string]any{"id": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.NeedsInput() || res.StructuredContent != nil {
		t.Errorf("delete_quote at %s = needs input %v, structuredContent %v; want a question without structuredContent", protocolVersions[1], res.NeedsInput(), res.StructuredContent)
	}
}

// wantNoResponse checks the structuredContent of a call that got no HTTP
// response: status 0 and the reason in body.error.
func wantNoResponse(t *testing.T, sc map[string]any) {
	t.Helper()
	body, _ := sc["body"].(map[string]any)
	if msg, _ := body["error"].(string); sc["status"] != float64(0) || msg == "" || strings.Contains(msg, fakeKey) {
		t.Errorf("structuredContent = %v, want status 0 and a redacted body.error", sc)
	}
}

// redactInPlace redacts like credentials.Redactor: it returns its
// argument itself when there is nothing to redact, which is what the
// replay of a result depended on by accident.
func redactInPlace(p []byte) []byte {
	if !bytes.Contains(p, []byte(fakeKey)) {
		return p
	}
	return redactFake(p)
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}
