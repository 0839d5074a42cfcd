package metrics

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// scrape returns the text exposition.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestLabelsAreClosedSets: whatever a client or the model sends, label
// values come only from the configured names and keyveil's own words.
func TestLabelsAreClosedSets(t *testing.T) {
	const leak = "sk-test-LEAKCHECK"
	m := New(&Options{Tools: []string{"call_api", "send_payment"}, Services: []string{"crm"}})
	tests := []struct {
		name string
		do   func()
		want string
	}{
		{"known tool and service", func() { m.ToolCall("send_payment", "crm", "ok") },
			`keyveil_tool_calls_total{outcome="ok",service="crm",tool="send_payment"} 1`},
		{"a tool name the model made up", func() { m.ToolCall("get_"+leak, "crm", "refused:input") },
			`keyveil_tool_calls_total{outcome="refused:input",service="crm",tool="(other)"} 1`},
		{"a service name the model made up", func() { m.ToolCall("call_api", leak, "refused:service") },
			`keyveil_tool_calls_total{outcome="refused:service",service="(other)",tool="call_api"} 1`},
		{"an outcome that is not keyveil's", func() { m.ToolCall("call_api", "crm", "refused:"+leak) },
			`keyveil_tool_calls_total{outcome="(other)",service="crm",tool="call_api"} 1`},
		{"rate refusal", func() { m.ToolCall("call_api", "crm", "refused:rate") },
			`keyveil_guard_refusals_total{reason="rate"} 1`},
		{"confirmation declined", func() { m.ToolCall("send_payment", "crm", "refused:confirmation_declined") },
			`keyveil_guard_refusals_total{reason="confirmation_declined"} 1`},
		{"key over its rate", func() { m.Access("rate_limited") },
			`keyveil_guard_refusals_total{reason="key_rate"} 1`},
		{"auth failure", func() { m.Access("revoked") },
			`keyveil_auth_failures_total{reason="revoked"} 1`},
		{"access ok is not a failure", func() { m.Access("ok") }, ``},
		{"redactions", func() { m.Redacted("held_secret", 2) },
			`keyveil_redactions_total{kind="held_secret"} 2`},
		{"a kind that is not a word", func() { m.Redacted(leak+"/x", 1) },
			`keyveil_redactions_total{kind="(other)"} 1`},
		{"state errors", func() { m.StateError("rate") },
			`keyveil_state_errors_total{op="rate"} 1`},
		{"upstream latency", func() { m.Upstream("crm", 503, 30*time.Millisecond) },
			`keyveil_upstream_request_duration_seconds_count{code="5xx",service="crm"} 1`},
		{"upstream without a response", func() { m.Upstream(leak, 0, time.Millisecond) },
			`keyveil_upstream_request_duration_seconds_count{code="error",service="(other)"} 1`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.do()
			out := scrape(t, m)
			if tc.want != "" && !strings.Contains(out, tc.want+"\n") {
				t.Errorf("exposition lacks %q", tc.want)
			}
			if strings.Contains(out, "LEAKCHECK") {
				t.Errorf("exposition carries text the client chose:\n%s", out)
			}
		})
	}
	if strings.Contains(scrape(t, m), `reason="ok"`) {
		t.Error("an ok access was counted as an auth failure")
	}
}
