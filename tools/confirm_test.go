package tools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestConfirm answers the confirmation of a DELETE tool with accept,
// decline and cancel, with the go-sdk client at 2025-11-25 (the server
// sends elicitation/create) and at 2026-07-28 (input-required result and
// a retried call). Only accept reaches the API; each answer has its audit
// outcome.
func TestConfirm(t *testing.T) {
	t.Parallel()
	tests := []struct {
		action      string
		wantSent    int64
		wantOutcome string
		wantText    string
	}{
		{"accept", 1, "ok", `"status":200`},
		{"decline", 0, "refused:confirmation_declined", "the user declined DELETE /quotes/Q-7 on crm, so nothing was sent"},
		{"cancel", 0, "refused:confirmation_cancelled", "the user dismissed the confirmation of DELETE /quotes/Q-7 on crm without answering"},
	}
	for _, version := range protocolVersions {
		for _, tc := range tests {
			t.Run(version+"/"+tc.action, func(t *testing.T) {
				t.Parallel()
				srv := newCounter(t, nil)
				audit := &syncBuffer{}
				var mu sync.Mutex
				var asked []string
				cs := connectWith(t, guardDeps(t, srv.URL, "", audit), version, answering(tc.action, &asked, &mu))
				res := call(t, cs, "delete_quote", map[string]any{"id": "Q-7", "note": "old " + fakeKey})
				if res.IsError != (tc.action != "accept") || !strings.Contains(text(res), tc.wantText) {
					t.Errorf("delete_quote after %s = %q (error %v), want %q", tc.action, text(res), res.IsError, tc.wantText)
				}
				if got := srv.n.Load(); got != tc.wantSent {
					t.Errorf("after %s the API saw %d requests, want %d", tc.action, got, tc.wantSent)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(asked) != 1 {
					t.Fatalf("the user was asked %d times, want once", len(asked))
				}
				for _, want := range []string{"Tool: delete_quote", "Service: crm (" + srv.URL + "/api)", "Request: DELETE /quotes/Q-7",
					`id="Q-7"`, `note="old [REDACTED:CRM_TOKEN]"`} {
					if !strings.Contains(asked[0], want) {
						t.Errorf("question %q does not show %q", asked[0], want)
					}
				}
				if strings.Contains(asked[0], fakeKey) {
					t.Errorf("question shows the key: %q", asked[0])
				}
				recs := audit.records(t)
				last := recs[len(recs)-1]
				if last["outcome"] != tc.wantOutcome {
					t.Errorf("audit outcome = %v, want %s", last["outcome"], tc.wantOutcome)
				}
				wantLines := 1
				if version >= statelessEra {
					// The question round is a line of its own.
					wantLines = 2
					if recs[0]["outcome"] != outcomeAsked || recs[0]["confirmation"] != confirmRequested {
						t.Errorf("first audit line = %v, want outcome %s, confirmation %s", recs[0], outcomeAsked, confirmRequested)
					}
				}
				if len(recs) != wantLines {
					t.Errorf("%d audit lines, want %d:\n%s", len(recs), wantLines, audit.String())
				}
			})
		}
	}
}

// TestConfirmUnavailable: a client without elicitation cannot confirm,
// so the call is refused naming confirm_fallback, at both versions; with
// confirm_fallback: allow it goes through.
func TestConfirmUnavailable(t *testing.T) {
	t.Parallel()
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			srv := newCounter(t, nil)
			cs := connectWith(t, guardDeps(t, srv.URL, "", nil), version, nil)
			res := call(t, cs, "delete_quote", map[string]any{"id": "Q-1"})
			if !res.IsError || !strings.Contains(text(res), "confirm_fallback: allow on the tool delete_quote") {
				t.Errorf("delete_quote without elicitation = %q, want a refusal naming confirm_fallback", text(res))
			}
			if res := call(t, cs, "archive_quote", map[string]any{"id": "Q-1"}); res.IsError {
				t.Errorf("archive_quote (confirm_fallback: allow) = %q, want it sent", text(res))
			}
			if got := srv.n.Load(); got != 1 {
				t.Errorf("the API saw %d requests, want 1 (the archive)", got)
			}
		})
	}
}

// TestConfirmCallAPI: call_api asks before a DELETE (confirm_methods
// defaults to DELETE) and not before a POST; confirm_methods widens it.
func TestConfirmCallAPI(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		extra     string
		method    string
		wantAsked int
	}{
		{"delete asks", "", "DELETE", 1},
		{"post does not", "", "POST", 0},
		{"post asks when listed", "    confirm_methods: [POST, DELETE]\n", "POST", 1},
		{"delete does not when none listed", "    confirm_methods: []\n", "DELETE", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newCounter(t, nil)
			var mu sync.Mutex
			var asked []string
			cs := connectWith(t, guardDeps(t, srv.URL, tc.extra, nil), protocolVersions[1], answering("accept", &asked, &mu))
			res := call(t, cs, "call_api", map[string]any{"method": tc.method, "path": "/quotes/1"})
			if res.IsError {
				t.Errorf("call_api %s = %q, want it sent", tc.method, text(res))
			}
			mu.Lock()
			defer mu.Unlock()
			if len(asked) != tc.wantAsked {
				t.Errorf("call_api %s asked %d times, want %d", tc.method, len(asked), tc.wantAsked)
			}
			if tc.wantAsked > 0 && !strings.Contains(asked[0], "Request: "+tc.method+" /quotes/1") {
				t.Errorf("question %q does not show the request", asked[0])
			}
		})
	}
}

// TestConfirmElicitationFails refuses when a 2025 client cannot complete
// the question (its handler fails): no answer is not an accept.
func TestConfirmElicitationFails(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	audit := &syncBuffer{}
	opts := &mcp.ClientOptions{ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		return nil, errors.New("the host has no UI")
	}}
	cs := connectWith(t, guardDeps(t, srv.URL, "", audit), protocolVersions[0], opts)
	res := call(t, cs, "delete_quote", map[string]any{"id": "Q-1"})
	if !res.IsError || !strings.Contains(text(res), "asking the user failed") {
		t.Errorf("delete_quote with a failing elicitation = %q, want a refusal", text(res))
	}
	if got := srv.n.Load(); got != 0 {
		t.Errorf("the API saw %d requests, want 0", got)
	}
	if r := audit.records(t)[0]; r["outcome"] != "refused:confirmation_unavailable" {
		t.Errorf("audit outcome = %v, want refused:confirmation_unavailable", r["outcome"])
	}
}

// TestConfirmPrefilledAnswer is the bypass attempt: a 2026-07-28 client
// (retrying by hand) sends "accept" with its first call, with no request
// state, a made-up one, a real one for other arguments, a used one or an
// expired one. None is an answer: each time keyveil asks again and sends
// nothing. Only the answer to the question it issued, for this very call,
// goes through, once.
func TestConfirmPrefilledAnswer(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	audit := &syncBuffer{}
	clock := newFakeClock()
	d := guardDeps(t, srv.URL, "", audit)
	d.Now = clock.Now
	// The client declares elicitation but answers by hand: its handler is
	// never called, since it does not retry on its own.
	cs := connectWith(t, d, protocolVersions[1], &mcp.ClientOptions{
		MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true},
		ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
			t.Error("the elicitation handler was called; the test answers by hand")
			return &mcp.ElicitResult{Action: "decline"}, nil
		},
	})
	accept := mcp.InputResponseMap{confirmID: &mcp.ElicitResult{Action: "accept"}}
	args := map[string]any{"id": "Q-1"}
	raw := func(name string, args map[string]any, responses mcp.InputResponseMap, state string) *mcp.CallToolResult {
		t.Helper()
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args, InputResponses: responses, RequestState: state})
		if err != nil {
			t.Fatalf("CallTool(%s, %v, state %q): %v", name, args, state, err)
		}
		return res
	}
	mustAsk := func(what string, res *mcp.CallToolResult) string {
		t.Helper()
		if !res.NeedsInput() {
			t.Fatalf("%s: result %q, want a confirmation question", what, text(res))
		}
		if _, ok := res.InputRequests[confirmID].(*mcp.ElicitParams); !ok || res.RequestState == "" {
			t.Fatalf("%s: input requests %v, state %q; want an elicitation and a state", what, res.InputRequests, res.RequestState)
		}
		if got := srv.n.Load(); got != 0 {
			t.Fatalf("%s: the API saw %d requests, want 0", what, got)
		}
		return res.RequestState
	}

	tool := "delete_quote_every_time" // not replayed, so a reused state would send again
	mustAsk("answer without state", raw(tool, args, accept, ""))
	forged := base64.RawURLEncoding.EncodeToString(make([]byte, stateLen))
	mustAsk("made-up state", raw(tool, args, accept, forged))
	mustAsk("garbage state", raw(tool, args, accept, "trust-me"))
	state := mustAsk("first call", raw(tool, args, nil, ""))
	mustAsk("state for other arguments", raw(tool, map[string]any{"id": "Q-2"}, accept, state))
	mustAsk("state for another tool", raw("delete_quote", args, accept, state))
	mustAsk("state without an answer", raw(tool, args, nil, state))

	// A fresh question, answered properly, goes through once.
	state = mustAsk("second question", raw(tool, args, nil, ""))
	if res := raw(tool, args, accept, state); res.IsError || res.NeedsInput() {
		t.Fatalf("answered call = %q (needs input %v), want it sent", text(res), res.NeedsInput())
	}
	if got := srv.n.Load(); got != 1 {
		t.Fatalf("the API saw %d requests, want 1", got)
	}
	res := raw(tool, args, accept, state)
	if !res.NeedsInput() || srv.n.Load() != 1 {
		t.Errorf("reused state: needs input %v, API saw %d; want asked again and 1 request", res.NeedsInput(), srv.n.Load())
	}

	// An answer after the question expired asks again.
	state = res.RequestState
	clock.Advance(confirmTTL + time.Second)
	if res := raw(tool, args, accept, state); !res.NeedsInput() || srv.n.Load() != 1 {
		t.Errorf("expired state: needs input %v, API saw %d; want asked again and 1 request", res.NeedsInput(), srv.n.Load())
	}

	for _, r := range audit.records(t) {
		switch r["outcome"] {
		case outcomeAsked, "ok":
		default:
			t.Errorf("audit line %v, want only questions and the one sent call", r)
		}
	}
	if !strings.Contains(audit.String(), "asked again") {
		t.Errorf("the audit does not record answers that were not accepted:\n%s", audit.String())
	}
}

// TestConfirmPrefilledAnswer2025: a 2025 client that puts an answer in its
// call is still asked with elicitation/create, and its real answer counts.
func TestConfirmPrefilledAnswer2025(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	var mu sync.Mutex
	var asked []string
	cs := connectWith(t, guardDeps(t, srv.URL, "", nil), protocolVersions[0], answering("decline", &asked, &mu))
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{
		Name: "delete_quote", Arguments: map[string]any{"id": "Q-1"},
		InputResponses: mcp.InputResponseMap{confirmID: &mcp.ElicitResult{Action: "accept"}},
		RequestState:   "trust-me",
	})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || srv.n.Load() != 0 || len(asked) != 1 {
		t.Errorf("pre-filled accept then declined: error %v, API saw %d, asked %d times; want refused, 0, 1", res.IsError, srv.n.Load(), len(asked))
	}
}

// TestQuestions unit-tests request states: bound to one call, single use,
// expiring, unforgeable, and bounded in number.
func TestQuestions(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b1 := binding("t", nil, "")
	b2 := binding("t", nil, "other")
	q := newQuestions()
	ctx := context.Background()
	issue := func(q *questions, b [32]byte, now time.Time) string {
		t.Helper()
		s, err := q.issue(ctx, b, now)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := issue(q, b1, now)
	if err := q.redeem(ctx, s, b2, now); !errors.Is(err, errStateOtherCall) {
		t.Errorf("redeem for another call = %v, want %v", err, errStateOtherCall)
	}
	if err := q.redeem(ctx, s, b1, now.Add(confirmTTL+time.Nanosecond)); !errors.Is(err, errStateExpired) {
		t.Errorf("redeem after expiry = %v, want %v", err, errStateExpired)
	}
	if err := q.redeem(ctx, s, b1, now); err != nil {
		t.Errorf("redeem = %v, want nil", err)
	}
	if err := q.redeem(ctx, s, b1, now); !errors.Is(err, errStateUsed) {
		t.Errorf("second redeem = %v, want %v", err, errStateUsed)
	}
	if err := newQuestions().redeem(ctx, issue(q, b1, now), b1, now); !errors.Is(err, errStateOtherCall) {
		t.Errorf("redeem by another process's key = %v, want %v", err, errStateOtherCall)
	}
	for _, bad := range []string{"", "x", "!!!!", base64.RawURLEncoding.EncodeToString(make([]byte, stateLen+1))} {
		if err := q.redeem(ctx, bad, b1, now); !errors.Is(err, errStateMalformed) {
			t.Errorf("redeem(%q) = %v, want %v", bad, err, errStateMalformed)
		}
	}
	first := issue(q, b1, now)
	for range maxOpenQuestions {
		issue(q, b1, now.Add(time.Second))
	}
	if n := len(q.open); n > maxOpenQuestions {
		t.Errorf("%d open questions, want at most %d", n, maxOpenQuestions)
	}
	if err := q.redeem(ctx, first, b1, now); !errors.Is(err, errStateUsed) {
		t.Errorf("redeem of the oldest question after the bound = %v, want %v (dropped)", err, errStateUsed)
	}
}

func TestArgSummary(t *testing.T) {
	t.Parallel()
	in := map[string]json.RawMessage{
		"to":   json.RawMessage(`"ann@example.com"`),
		"body": json.RawMessage(`{"text": "` + strings.Repeat("x", 500) + `"}`),
		"n":    json.RawMessage(`3`),
	}
	got := argSummary(in)
	if !strings.HasPrefix(got, `body={"text":"xxxx`) || !strings.Contains(got, `…"}, n=3, to="ann@example.com"`) || len(got) > 420 {
		t.Errorf("argSummary(%v) = %q, want sorted names, long values cut", in, got)
	}
}
