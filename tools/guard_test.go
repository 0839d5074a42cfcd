package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/internal/clocktest"
)

// guardConfig declares the tools the guardrail tests call, on one service
// at base (below /api) that allows every method for call_api.
func guardConfig(base string, serviceExtra string) string {
	return `
services:
  crm:
    base_url: ` + base + `/api
    auth: { type: bearer, env: CRM_TOKEN }
    allow: ["GET /**", "POST /**", "DELETE /**"]
` + serviceExtra + `
tools:
  - name: delete_quote
    description: Delete a quote.
    service: crm
    method: DELETE
    path: /quotes/{id}
    input:
      type: object
      properties: { id: { type: string }, note: { type: string } }
      required: [id]
  - name: delete_quote_every_time
    description: Delete a quote, never replayed.
    service: crm
    method: DELETE
    path: /quotes/{id}
    idempotency: false
    input:
      type: object
      properties: { id: { type: string } }
      required: [id]
  - name: archive_quote
    description: Archive a quote; the operator allows it without confirmation when the client cannot ask.
    service: crm
    method: POST
    path: /quotes/{id}/archive
    confirm: true
    confirm_fallback: allow
    input:
      type: object
      properties: { id: { type: string } }
      required: [id]
  - name: send_payment
    description: Send a payment to a colleague.
    service: crm
    method: POST
    path: /payments
    input:
      type: object
      properties:
        to: { type: string, format: email, pattern: "@example\\.com$" }
        amount: { type: number, exclusiveMinimum: 0, maximum: 1000 }
        currency: { type: string, enum: [EUR, USD] }
        due: { type: string, format: date }
      required: [to, amount, currency]
  - name: get_quote
    description: Read a quote.
    service: crm
    method: GET
    path: /quotes/{id}
    input:
      type: object
      properties: { id: { type: string } }
      required: [id]
  - name: export_quotes
    description: Export every quote; slow and expensive, so rate limited on its own.
    service: crm
    method: GET
    path: /export
    rate: 1/min
  - name: hidden_tool
    description: Needs a scope nobody has.
    service: crm
    method: GET
    path: /secret
    scope: secret:read
`
}

// counter is a downstream that counts requests and records them; answer
// (nil: 200 {"ok":true}) writes the response.
type counter struct {
	*recorder
	n atomic.Int64
}

func newCounter(t *testing.T, answer http.HandlerFunc) *counter {
	t.Helper()
	c := &counter{}
	c.recorder = newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		c.n.Add(1)
		if answer != nil {
			answer(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	})
	return c
}

// newFakeClock is a Deps.Now that moves only when told.
func newFakeClock() *clocktest.Clock {
	return clocktest.New(time.Date(2026, 7, 28, 9, 0, 0, 0, time.UTC))
}

// redactFake replaces fakeKey, as the real redactor would.
func redactFake(p []byte) []byte {
	return bytes.ReplaceAll(p, []byte(fakeKey), []byte("[REDACTED:CRM_TOKEN]"))
}

// guardDeps is Deps for guardConfig at srv, auditing into audit.
func guardDeps(t *testing.T, base, serviceExtra string, audit *syncBuffer) Deps {
	t.Helper()
	d := Deps{
		Config: loadConfig(t, guardConfig(base, serviceExtra)),
		Client: testClient(t),
		Redact: redactFake,
		Guards: NewGuards(),
	}
	if audit != nil {
		d.Audit = NewAuditor(audit)
	}
	return d
}

// connectWith is connect with client options (an elicitation handler, the
// multi-round-trip switch).
func connectWith(t *testing.T, d Deps, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	ctx := context.Background()
	server := mcp.NewServer(&mcp.Implementation{Name: "keyveil-test", Version: "0"}, nil)
	Register(server, d)
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.Connect(ctx, st, nil)
	if err != nil {
		t.Fatalf("server.Connect: %v", err)
	}
	t.Cleanup(func() { _ = ss.Close() })
	client := mcp.NewClient(&mcp.Implementation{Name: "keyveil-test-client", Version: "0"}, opts)
	cs, err := client.Connect(ctx, ct, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("client.Connect(%s): %v", version, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	if got := cs.InitializeResult().ProtocolVersion; got != version {
		t.Fatalf("negotiated protocol %q, want %q", got, version)
	}
	return cs
}

// answering returns client options whose elicitation handler answers
// action and records every question asked.
func answering(action string, asked *[]string, mu *sync.Mutex) *mcp.ClientOptions {
	return &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		mu.Lock()
		*asked = append(*asked, req.Params.Message)
		mu.Unlock()
		return &mcp.ElicitResult{Action: action}, nil
	}}
}

// handler returns the handler of the tool named name, for tests that call
// it directly (no session: no client to confirm with).
func handler(t *testing.T, d Deps, name string) mcp.ToolHandler {
	t.Helper()
	for _, tl := range All(d) {
		if tl.Tool.Name == name {
			return tl.Handler
		}
	}
	t.Fatalf("no tool %s", name)
	return nil
}

// callDirect calls a tool handler without a session.
func callDirect(t *testing.T, h mcp.ToolHandler, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	raw, err := json.Marshal(args)
	if err != nil {
		t.Fatal(err)
	}
	res, err := h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: name, Arguments: raw}})
	if err != nil {
		t.Fatalf("%s(%v): %v", name, args, err)
	}
	return res
}

// TestGuardAuditLines runs one call down each path a guardrail decides and
// checks that each left exactly one audit line with its outcome, its
// idempotency key and its confirmation.
func TestGuardAuditLines(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	audit := &syncBuffer{}
	clock := newFakeClock()
	d := guardDeps(t, srv.URL, "    rate: 100/s\n", audit)
	d.Now = clock.Now
	var mu sync.Mutex
	var asked []string
	action := "accept"
	opts := &mcp.ClientOptions{ElicitationHandler: func(_ context.Context, req *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, req.Params.Message)
		return &mcp.ElicitResult{Action: action}, nil
	}}
	answer := func(a string) {
		mu.Lock()
		action = a
		mu.Unlock()
	}
	cs := connectWith(t, d, protocolVersions[0], opts)
	plain := connectWith(t, d, protocolVersions[0], nil) // cannot elicit
	ro := d
	ro.ReadOnly = true
	roCS := connectWith(t, ro, protocolVersions[0], nil)

	type step struct {
		name string
		cs   *mcp.ClientSession
		tool string
		args map[string]any
		want map[string]any // fields the audit line must have
	}
	steps := []step{
		{"allowed", cs, "send_payment", map[string]any{"to": "ann@example.com", "amount": 10, "currency": "EUR"},
			map[string]any{"outcome": "ok", "status": float64(200), "idempotency_key": "*"}},
		{"replayed", cs, "send_payment", map[string]any{"to": "ann@example.com", "amount": 10, "currency": "EUR"},
			map[string]any{"outcome": "replayed", "status": float64(200), "idempotency_key": "*"}},
		{"confirmed", cs, "delete_quote", map[string]any{"id": "Q-1"},
			map[string]any{"outcome": "ok", "confirmation": "accepted", "idempotency_key": "*"}},
		{"declined", cs, "delete_quote", map[string]any{"id": "Q-2"},
			map[string]any{"outcome": "refused:confirmation_declined", "confirmation": "declined"}},
		{"cancelled", cs, "delete_quote", map[string]any{"id": "Q-3"},
			map[string]any{"outcome": "refused:confirmation_cancelled", "confirmation": "cancelled"}},
		{"unavailable", plain, "delete_quote", map[string]any{"id": "Q-4"},
			map[string]any{"outcome": "refused:confirmation_unavailable", "confirmation": "unavailable"}},
		{"fallback", plain, "archive_quote", map[string]any{"id": "Q-5"},
			map[string]any{"outcome": "ok", "confirmation": "fallback_allowed", "idempotency_key": "*"}},
		{"validation", cs, "send_payment", map[string]any{"to": "eve@evil.example", "amount": 10, "currency": "EUR"},
			map[string]any{"outcome": "refused:input"}},
		{"idempotency key reused", cs, "send_payment", map[string]any{"to": "bob@example.com", "amount": 5, "currency": "EUR", "idempotency_key": "k1"},
			map[string]any{"outcome": "ok", "idempotency_key": "*"}},
		{"idempotency key conflict", cs, "send_payment", map[string]any{"to": "bob@example.com", "amount": 6, "currency": "EUR", "idempotency_key": "k1"},
			map[string]any{"outcome": "refused:idempotency"}},
		{"rate", cs, "export_quotes", nil, map[string]any{"outcome": "ok"}},
		{"rate refused", cs, "export_quotes", nil, map[string]any{"outcome": "refused:rate", "retry_after": float64(60)}},
		{"scope", cs, "hidden_tool", nil, map[string]any{"outcome": "refused:scope"}},
		{"read-only", roCS, "call_api", map[string]any{"method": "POST", "path": "/quotes"}, map[string]any{"outcome": "refused:read_only"}},
		{"allow rule", cs, "call_api", map[string]any{"method": "PATCH", "path": "/quotes/1"}, map[string]any{"outcome": "refused:allow_rule"}},
	}
	for i, s := range steps {
		switch s.name {
		case "declined":
			answer("decline")
		case "cancelled":
			answer("cancel")
		default:
			answer("accept")
		}
		call(t, s.cs, s.tool, s.args)
		recs := audit.records(t)
		if len(recs) != i+1 {
			t.Fatalf("after %s: %d audit lines, want %d:\n%s", s.name, len(recs), i+1, audit.String())
		}
		got := recs[i]
		if got["tool"] != s.tool {
			t.Errorf("%s: audit tool = %v, want %s", s.name, got["tool"], s.tool)
		}
		for k, want := range s.want {
			if want == "*" {
				if v, _ := got[k].(string); !strings.HasPrefix(v, "kv-") {
					t.Errorf("%s: audit %s = %v, want a kv- key", s.name, k, got[k])
				}
				continue
			}
			if diff := cmp.Diff(want, got[k]); diff != "" {
				t.Errorf("%s: audit %s (-want +got):\n%s\nline: %v", s.name, k, diff, got)
			}
		}
		for _, k := range []string{"confirmation", "idempotency_key", "retry_after"} {
			if _, ok := s.want[k]; !ok && got[k] != nil {
				t.Errorf("%s: audit line has %s = %v, want none", s.name, k, got[k])
			}
		}
	}
	recs := audit.records(t)
	if recs[0]["idempotency_key"] != recs[1]["idempotency_key"] {
		t.Errorf("replay audited key %v, want the first call's %v", recs[1]["idempotency_key"], recs[0]["idempotency_key"])
	}
	if n := len(asked); n != 3 {
		t.Errorf("the user was asked %d times, want 3 (accept, decline, cancel)", n)
	}
	if got := srv.n.Load(); got != 5 {
		t.Errorf("the API saw %d requests, want 5 (payment, delete, archive, payment with key, export)", got)
	}
}
