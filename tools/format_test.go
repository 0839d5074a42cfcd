package tools

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/keyveil/keyveil/config"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestFormatChecks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format string
		good   []string
		bad    []string
	}{
		{"email", []string{"ann@example.com", "a.b+c@mail.example.co.uk"},
			[]string{"ann", "ann@", "@example.com", "Ann <ann@example.com>", "ann@example.com, eve@evil.example", "ann@localhost", "ann@exa mple.com", "ann@-x.com"}},
		{"uri", []string{"https://example.com/x?y=1", "mailto:ann@example.com"}, []string{"/relative", "example.com", "https://exa mple.com", "http://x\\y"}},
		{"uri-reference", []string{"/relative", "https://example.com", "#frag"}, []string{"a b", "%zz"}},
		{"hostname", []string{"api.example.com", "localhost", "a-b.c"}, []string{"-a.com", "a..b", "a_b.com", strings.Repeat("a", 64) + ".com", ""}},
		{"ipv4", []string{"192.0.2.1"}, []string{"192.0.2", "2001:db8::1", "192.0.2.01"}},
		{"ipv6", []string{"2001:db8::1", "::1"}, []string{"192.0.2.1", "fe80::1%eth0", "x::1"}},
		{"date-time", []string{"2026-01-31T09:30:00Z", "2026-01-31T09:30:00.5+01:00", "2026-01-31t09:30:00z"}, []string{"2026-01-31", "2026-01-31 09:30:00Z", "2026-13-01T00:00:00Z"}},
		{"date", []string{"2026-01-31"}, []string{"2026-02-30", "31/01/2026", "2026-1-31"}},
		{"time", []string{"09:30:00Z", "23:59:59.999+02:00"}, []string{"9:30", "25:00:00Z", "09:30:00"}},
		{"uuid", []string{"123e4567-e89b-12d3-a456-426614174000"}, []string{"123e4567e89b12d3a456426614174000", "123e4567-e89b-12d3-a456-42661417400g"}},
	}
	for _, tc := range tests {
		s := &jsonschema.Schema{Type: "string", Format: tc.format}
		for _, v := range tc.good {
			if err := checkFormats(s, v); err != nil {
				t.Errorf("checkFormats(%s, %q) = %v, want nil", tc.format, v, err)
			}
		}
		for _, v := range tc.bad {
			if err := checkFormats(s, v); err == nil {
				t.Errorf("checkFormats(%s, %q) = nil, want an error", tc.format, v)
			}
		}
		const odd = "sk-test-LEAKCHECK-0123456789 zz"
		if err := checkFormats(s, odd); err == nil || strings.Contains(err.Error(), "LEAKCHECK") {
			t.Errorf("checkFormats(%s, %q) = %v, want an error that does not repeat the value", tc.format, odd, err)
		}
	}
	// Unknown formats are annotations.
	if err := checkFormats(&jsonschema.Schema{Format: "int64"}, "not a number"); err != nil {
		t.Errorf("checkFormats(int64) = %v, want nil (annotation only)", err)
	}
}

// TestFormatNested finds formats inside objects, arrays, additional
// properties and combinators.
func TestFormatNested(t *testing.T) {
	t.Parallel()
	email := &jsonschema.Schema{Type: "string", Format: "email"}
	date := &jsonschema.Schema{Type: "string", Format: "date"}
	s := &jsonschema.Schema{
		Type: "object",
		Properties: map[string]*jsonschema.Schema{
			"to":   {Type: "array", Items: email},
			"meta": {Type: "object", AdditionalProperties: date},
			"when": {AnyOf: []*jsonschema.Schema{date, {Type: "string", Format: "date-time"}}},
			"both": {AllOf: []*jsonschema.Schema{email, {Type: "string"}}},
		},
	}
	tests := []struct {
		value string
		want  string // "" for valid
	}{
		{`{"to": ["a@example.com", "b@example.com"], "meta": {"x": "2026-01-01"}, "when": "2026-01-01T00:00:00Z", "both": "c@example.com"}`, ""},
		{`{"to": ["a@example.com", "nope"]}`, "the value at /to/1 must be an email address"},
		{`{"meta": {"x": "tomorrow"}}`, "the value at /meta/x must be a date"},
		{`{"when": "tomorrow"}`, "the value at /when must be a date"},
		{`{"both": "x"}`, "the value at /both must be an email address"},
	}
	for _, tc := range tests {
		var v any
		if err := json.Unmarshal([]byte(tc.value), &v); err != nil {
			t.Fatal(err)
		}
		err := checkFormats(s, v)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("checkFormats(%s) = %v, want nil", tc.value, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("checkFormats(%s) = %v, want %q", tc.value, err, tc.want)
		}
	}
}

// TestAllowlistRefusals sends the values an allowlist exists to stop to a
// declared tool: each is refused before any request, naming the argument
// and the rule, without repeating the value.
func TestAllowlistRefusals(t *testing.T) {
	t.Parallel()
	srv := newCounter(t, nil)
	audit := &syncBuffer{}
	cs := connect(t, guardDeps(t, srv.URL, "", audit), protocolVersions[1])
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"recipient outside the domain", map[string]any{"to": "eve@evil.example", "amount": 5, "currency": "EUR"},
			`argument to is not valid: it must be a string, matching @example\.com$ (it breaks the pattern rule)`},
		{"not one address", map[string]any{"to": "eve@evil.example,ann@example.com", "amount": 5, "currency": "EUR"},
			"argument to is not valid: the value must be an email address like name@example.com (format email)"},
		{"display name", map[string]any{"to": "Eve <eve@evil.example> ann@example.com", "amount": 5, "currency": "EUR"},
			"format email"},
		{"amount over the cap", map[string]any{"to": "ann@example.com", "amount": 1000.01, "currency": "EUR"},
			"argument amount is not valid: it must be a number, at most 1000 (it breaks the maximum rule)"},
		{"amount not positive", map[string]any{"to": "ann@example.com", "amount": 0, "currency": "EUR"},
			"argument amount is not valid"},
		{"currency not listed", map[string]any{"to": "ann@example.com", "amount": 5, "currency": "BTC"},
			`argument currency is not valid: it must be a string, one of ["EUR","USD"] (it breaks the enum rule)`},
		{"bad date", map[string]any{"to": "ann@example.com", "amount": 5, "currency": "EUR", "due": "next week"},
			"argument due is not valid: the value must be a date like 2026-01-31 (format date)"},
	}
	for _, tc := range tests {
		res := call(t, cs, "send_payment", tc.args)
		if !res.IsError || !strings.Contains(text(res), tc.want) {
			t.Errorf("send_payment(%s) = %q, want a refusal %q", tc.name, text(res), tc.want)
		}
		for _, v := range []string{"evil.example", "BTC", "next week"} {
			if strings.Contains(text(res), v) {
				t.Errorf("send_payment(%s) repeats the value %q: %s", tc.name, v, text(res))
			}
		}
	}
	if got := srv.n.Load(); got != 0 {
		t.Errorf("refused calls reached the API %d times", got)
	}
	recs := audit.records(t)
	if len(recs) != len(tests) {
		t.Errorf("%d audit lines, want %d", len(recs), len(tests))
	}
	for _, r := range recs {
		if r["outcome"] != "refused:input" {
			t.Errorf("audit outcome %v, want refused:input", r["outcome"])
		}
	}
	if res := call(t, cs, "send_payment", map[string]any{"to": "ann@example.com", "amount": 1000, "currency": "USD", "due": "2026-08-01"}); res.IsError {
		t.Errorf("a valid payment was refused: %s", text(res))
	}
}

// TestAllowlistExample keeps examples/allowlist.yaml honest: what its
// comments say is refused is refused before any request, and what they say
// is allowed is sent (or, for a payout, asked about).
func TestAllowlistExample(t *testing.T) {
	t.Parallel()
	cfg, err := config.LoadFile("../examples/allowlist.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var sent atomic.Int64
	client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		sent.Add(1)
		h := http.Header{"Content-Type": {"application/json"}}
		return &http.Response{StatusCode: 200, Header: h, Body: io.NopCloser(strings.NewReader(`{"ok":true}`)), Request: r}, nil
	})}
	cs := connect(t, Deps{Config: cfg, Client: client, Guards: NewGuards()}, protocolVersions[0])
	refused := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"send_payout", map[string]any{"recipient": "eve@evil.example", "amount": 10, "currency": "EUR"}, "argument recipient is not valid"},
		{"send_payout", map[string]any{"recipient": "ann@example.com, eve@evil.example", "amount": 10, "currency": "EUR"}, "argument recipient is not valid"},
		{"send_payout", map[string]any{"recipient": "ann@example.com", "amount": 1000.5, "currency": "EUR"}, "at most 1000"},
		{"send_payout", map[string]any{"recipient": "ann@example.com", "amount": -1, "currency": "EUR"}, "argument amount is not valid"},
		{"send_payout", map[string]any{"recipient": "ann@example.com", "amount": 10, "currency": "GBP"}, `one of ["EUR","USD"]`},
		{"mail_colleague", map[string]any{"to": []string{"ann@example.com", "eve@evil.example"}, "subject": "s", "body": "b"}, "argument to is not valid"},
		{"list_payouts", map[string]any{"since": "last week"}, "format date"},
		{"cancel_payout", map[string]any{"payout_id": "../../admin"}, "format uuid"},
		{"call_api", map[string]any{"method": "GET", "path": "/payouts"}, "unknown tool"},
	}
	for _, tc := range refused {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tc.tool, Arguments: tc.args})
		msg := ""
		switch {
		case err != nil:
			msg = err.Error()
		case res.IsError:
			msg = text(res)
		}
		if !strings.Contains(msg, tc.want) {
			t.Errorf("%s(%v) = %q, want a refusal %q", tc.tool, tc.args, msg, tc.want)
		}
	}
	if n := sent.Load(); n != 0 {
		t.Fatalf("refused calls sent %d requests", n)
	}
	if res := call(t, cs, "mail_colleague", map[string]any{"to": []string{"ann@example.com"}, "subject": "Hi", "body": "Lunch?"}); res.IsError {
		t.Errorf("a mail to a colleague was refused: %s", text(res))
	}
	// A valid payout passes the allowlist and stops at confirmation: this
	// client cannot ask the user.
	res := call(t, cs, "send_payout", map[string]any{"recipient": "ann@example.com", "amount": 1000, "currency": "USD"})
	if !strings.Contains(text(res), "needs the user's confirmation") {
		t.Errorf("a valid payout = %q, want it to wait for confirmation", text(res))
	}
	if n := sent.Load(); n != 1 {
		t.Errorf("%d requests sent, want 1 (the mail)", n)
	}
}
