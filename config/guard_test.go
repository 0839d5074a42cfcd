package config

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate  string
		burst int
		want  Limit
	}{
		{"", 0, Limit{}},
		{"10/s", 0, Limit{Events: 10, Per: time.Second, Burst: 10}},
		{"10/s", 20, Limit{Events: 10, Per: time.Second, Burst: 20}},
		{"5/sec", 0, Limit{Events: 5, Per: time.Second, Burst: 5}},
		{"600/min", 0, Limit{Events: 600, Per: time.Minute, Burst: 10}},
		{"90/m", 0, Limit{Events: 90, Per: time.Minute, Burst: 2}},
		{"1000/h", 0, Limit{Events: 1000, Per: time.Hour, Burst: 1}},
		{"5000/day", 0, Limit{Events: 5000, Per: 24 * time.Hour, Burst: 1}},
		{"3/10s", 0, Limit{Events: 3, Per: 10 * time.Second, Burst: 1}},
		{" 7 / S ", 0, Limit{Events: 7, Per: time.Second, Burst: 7}},
	}
	for _, tc := range tests {
		got, err := parseLimit(tc.rate, tc.burst)
		if err != nil {
			t.Errorf("parseLimit(%q, %d): %v", tc.rate, tc.burst, err)
			continue
		}
		if got != tc.want {
			t.Errorf("parseLimit(%q, %d) = %+v, want %+v", tc.rate, tc.burst, got, tc.want)
		}
	}
}

func TestParseLimitErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rate  string
		burst int
		want  string
	}{
		{"10", 0, "count per period"},
		{"ten/s", 0, "count per period"},
		{"0/s", 0, "count per period"},
		{"-1/s", 0, "count per period"},
		{"10/fortnight", 0, "unknown period"},
		{"10/-1s", 0, "unknown period"},
		{"10/s", -1, "burst must be"},
		{"", 5, "burst needs rate"},
	}
	for _, tc := range tests {
		_, err := parseLimit(tc.rate, tc.burst)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseLimit(%q, %d) error = %v, want one containing %q", tc.rate, tc.burst, err, tc.want)
		}
	}
}

func TestGuardDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, `
services:
  crm:
    base_url: https://crm.example.com/api
    auth: { type: bearer, env: CRM_TOKEN }
  mail:
    base_url: https://mail.example.com
    auth: { type: bearer, env: MAIL_TOKEN }
    rate: 5/s
    burst: 8
    idempotency: false
    idempotency_header: X-Request-Key
    idempotency_window: 2m
    confirm_methods: [post, delete]
    confirm_fallback: allow
tools:
  - name: send
    description: Send a message.
    service: mail
    method: POST
    path: /messages
    rate: 1/min
    idempotency: true
    idempotency_window: 30s
    confirm_fallback: allow
`), lookupMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	crm, _ := c.Service("crm")
	if !crm.Limit().IsZero() || !crm.IdempotencyOn() || crm.IdempotencyHeader != DefaultIdempotencyHeader ||
		crm.IdempotencyWindow != DefaultIdempotencyWindow || !crm.Confirms("DELETE") || crm.Confirms("POST") || crm.ConfirmFallback != "" {
		t.Errorf("crm defaults: limit %v, idempotency %v %q %v, confirm %v, fallback %q",
			crm.Limit(), crm.IdempotencyOn(), crm.IdempotencyHeader, crm.IdempotencyWindow, crm.ConfirmMethods, crm.ConfirmFallback)
	}
	mail, _ := c.Service("mail")
	if got, want := mail.Limit(), (Limit{Events: 5, Per: time.Second, Burst: 8}); got != want {
		t.Errorf("mail Limit() = %+v, want %+v", got, want)
	}
	if mail.IdempotencyOn() || mail.IdempotencyHeader != "X-Request-Key" || mail.IdempotencyWindow != 2*time.Minute || mail.ConfirmFallback != ConfirmFallbackAllow {
		t.Errorf("mail settings: idempotency %v %q %v, fallback %q", mail.IdempotencyOn(), mail.IdempotencyHeader, mail.IdempotencyWindow, mail.ConfirmFallback)
	}
	if diff := cmp.Diff([]string{"POST", "DELETE"}, mail.ConfirmMethods); diff != "" {
		t.Errorf("mail ConfirmMethods (-want +got):\n%s", diff)
	}
	tl := c.Tools[0]
	if got, want := tl.Limit(), (Limit{Events: 1, Per: time.Minute, Burst: 1}); got != want {
		t.Errorf("tool Limit() = %+v, want %+v", got, want)
	}
	if tl.Idempotency == nil || !*tl.Idempotency || tl.IdempotencyWindow != 30*time.Second || tl.ConfirmFallback != ConfirmFallbackAllow {
		t.Errorf("tool settings: idempotency %v window %v fallback %q", tl.Idempotency, tl.IdempotencyWindow, tl.ConfirmFallback)
	}
}

func TestConfirmMethodsEmptyMeansNone(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, `
services:
  crm:
    base_url: https://crm.example.com/api
    auth: { type: bearer, env: CRM_TOKEN }
    confirm_methods: []
`), lookupMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Services[0].Confirms("DELETE") {
		t.Errorf("Confirms(DELETE) = true with confirm_methods: []")
	}
}

// TestGuardErrors checks that each bad guardrail setting stops start-up
// with the line of its key and what to write instead.
func TestGuardErrors(t *testing.T) {
	t.Parallel()
	const head = `services:
  crm:
    base_url: https://crm.example.com/api
    auth: { type: header, name: X-API-Key, env: CRM_TOKEN }
`
	const tool = `tools:
  - name: t
    description: A tool.
    service: crm
    method: POST
    path: /x
`
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"service rate", head + "    rate: fast\n", ":5: service \"crm\": rate is not a rate"},
		{"service burst alone", head + "    burst: 3\n", ":5: service \"crm\": burst needs rate"},
		{"service burst negative", head + "    rate: 1/s\n    burst: -2\n", ":6: service \"crm\": burst must be"},
		{"header not a name", head + "    idempotency_header: \"a b\"\n", ":5: service \"crm\": idempotency_header must be a header name"},
		{"header is auth", head + "    idempotency_header: x-api-key\n", "idempotency_header cannot be x-api-key"},
		{"header is cookie", head + "    idempotency_header: Cookie\n", "idempotency_header cannot be Cookie"},
		{"window too long", head + "    idempotency_window: 48h\n", ":5: service \"crm\": idempotency_window must be"},
		{"window negative", head + "    idempotency_window: -1m\n", "idempotency_window must be"},
		{"confirm method", head + "    confirm_methods: [\"DE LETE\"]\n", "confirm_methods must list HTTP methods"},
		{"service fallback", head + "    confirm_fallback: ask\n", ":5: service \"crm\": confirm_fallback must be refuse or allow"},
		{"idempotency not bool", head + "    idempotency: sometimes\n", "idempotency must be true or false"},
		{"tool rate", head + tool + "    rate: 10/fortnight\n", ":11: tool \"t\": rate has an unknown period"},
		{"tool burst", head + tool + "    burst: 4\n", ":11: tool \"t\": burst needs rate"},
		{"tool window", head + tool + "    idempotency_window: 25h\n", ":11: tool \"t\": idempotency_window must be"},
		{"tool fallback", head + tool + "    confirm_fallback: yes\n", "confirm_fallback must be"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeFile(t, tc.yaml), lookupMap(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%s) error = %v, want one containing %q", tc.name, err, tc.want)
			}
		})
	}
}

func TestGuardEnv(t *testing.T) {
	t.Parallel()
	c, err := Load("", lookupMap(map[string]string{
		"MCP_API_BASE_URL":         "https://api.example.com",
		"MCP_API_RATE":             "5/s",
		"MCP_API_BURST":            "9",
		"MCP_API_CONFIRM_FALLBACK": "allow",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Services[0]
	if got, want := s.Limit(), (Limit{Events: 5, Per: time.Second, Burst: 9}); got != want {
		t.Errorf("Limit() = %+v, want %+v", got, want)
	}
	if s.ConfirmFallback != ConfirmFallbackAllow || !s.Confirms("DELETE") || !s.IdempotencyOn() {
		t.Errorf("env service: fallback %q, confirms DELETE %v, idempotency %v", s.ConfirmFallback, s.Confirms("DELETE"), s.IdempotencyOn())
	}

	bad := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"MCP_API_RATE": "lots"}, "MCP_API_RATE is not a rate"},
		{map[string]string{"MCP_API_BURST": "3"}, "MCP_API_BURST needs MCP_API_RATE"},
		{map[string]string{"MCP_API_RATE": "1/s", "MCP_API_BURST": "x"}, "MCP_API_BURST is not a positive whole number"},
		{map[string]string{"MCP_API_CONFIRM_FALLBACK": "maybe"}, "MCP_API_CONFIRM_FALLBACK must be refuse or allow"},
	}
	for _, tc := range bad {
		tc.env["MCP_API_BASE_URL"] = "https://api.example.com"
		_, err := Load("", lookupMap(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(env %v) error = %v, want one containing %q", tc.env, err, tc.want)
		}
	}
}
