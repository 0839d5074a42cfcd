package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// other is the label value of anything outside a label's closed set.
const other = "(other)"

// Options lists the label values known at start-up.
type Options struct {
	// Tools are the tool names that may appear as the tool label; any
	// other name (a model calling a tool that does not exist) is
	// "(other)". nil: every tool is "(other)".
	Tools []string
	// Services are the configured service names; others are "(other)".
	Services []string
}

// Metrics holds keyveil's counters and histogram, and reads the Go
// runtime's and the process's figures when scraped. Its methods are safe
// for concurrent use.
type Metrics struct {
	tools    map[string]bool
	services map[string]bool

	toolCalls   *vec
	upstream    *vec
	refusals    *vec
	authFail    *vec
	redactions  *vec
	stateErrors *vec
	vecs        []*vec // all of the above, for the scrape
}

// New returns empty metrics for the given label values. A scrape also
// reports the Go runtime and the process (go_*, process_*), under the
// names Prometheus's Go and process collectors use.
func New(o *Options) *Metrics {
	if o == nil {
		o = &Options{}
	}
	m := &Metrics{tools: set(o.Tools), services: set(o.Services)}
	m.toolCalls = newCounterVec("keyveil_tool_calls_total",
		"Tool calls by tool, service and outcome (ok, http_error, network_error, replayed, confirmation_requested, refused:<reason>).",
		"tool", "service", "outcome")
	m.upstream = newHistogramVec("keyveil_upstream_request_duration_seconds",
		"Upstream API requests by service and status class (2xx…5xx, or error when no response came).",
		[]float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		"service", "code")
	m.refusals = newCounterVec("keyveil_guard_refusals_total",
		"Calls refused by a guardrail: rate (a service or tool bucket), key_rate (a remote key's rate), confirmation_declined, confirmation_cancelled, confirmation_unavailable, state_unavailable.",
		"reason")
	m.authFail = newCounterVec("keyveil_auth_failures_total",
		"HTTP requests refused before the MCP handler, by reason: missing, invalid, revoked, expired, origin, host, too_large.",
		"reason")
	m.redactions = newCounterVec("keyveil_redactions_total",
		"Redaction markers written into tool results, by kind (held_secret: a key keyveil holds; other kinds come from secret-format detection).",
		"kind")
	m.stateErrors = newCounterVec("keyveil_state_errors_total",
		"Failed operations on the shared state (Redis) by operation: rate, idempotency, nonce, signing_key, ping.",
		"op")
	m.vecs = []*vec{m.toolCalls, m.upstream, m.refusals, m.authFail, m.redactions, m.stateErrors}
	return m
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Handler serves the metrics in the Prometheus text format (0.0.4),
// gzip-compressed when the client accepts it.
func (m *Metrics) Handler() http.Handler {
	return http.HandlerFunc(m.serveHTTP)
}

// label returns v when it is in known, else "(other)"; "" stays "" (a
// call without a service, such as list_services).
func label(known map[string]bool, v string) string {
	if v == "" || known[v] {
		return v
	}
	return other
}

// refusalReasons are the guard refusals counted apart.
var refusalReasons = []string{"rate", "confirmation_declined", "confirmation_cancelled", "confirmation_unavailable", "state_unavailable"}

// outcomes are the outcome words keyveil writes; refused:<reason> is
// checked against the reason's shape.
var outcomes = []string{"ok", "http_error", "network_error", "replayed", "confirmation_requested"}

// outcomeLabel keeps keyveil's own outcome words and drops anything else.
func outcomeLabel(o string) string {
	if slices.Contains(outcomes, o) {
		return o
	}
	if r, ok := strings.CutPrefix(o, "refused:"); ok && len(r) <= 40 && strings.Trim(r, "abcdefghijklmnopqrstuvwxyz_") == "" {
		return o
	}
	return other
}

// ToolCall counts one tool call as its audit record describes it.
func (m *Metrics) ToolCall(tool, service, outcome string) {
	m.toolCalls.add(1, label(m.tools, tool), label(m.services, service), outcomeLabel(outcome))
	if r, ok := strings.CutPrefix(outcome, "refused:"); ok && slices.Contains(refusalReasons, r) {
		m.refusals.add(1, r)
	}
}

// authReasons are the access-record outcomes that are authentication or
// admission failures.
var authReasons = []string{"missing", "invalid", "revoked", "expired", "origin", "host", "too_large"}

// Access counts one HTTP request by its access-record outcome: an
// authentication failure by reason, a key over its rate as a key_rate
// refusal, a shared-state failure as state_unavailable.
func (m *Metrics) Access(outcome string) {
	switch {
	case slices.Contains(authReasons, outcome):
		m.authFail.add(1, outcome)
	case outcome == "rate_limited":
		m.refusals.add(1, "key_rate")
	case outcome == "state_unavailable":
		m.refusals.add(1, "state_unavailable")
	}
}

// Redacted counts n redaction markers of kind. Kinds are keyveil's own
// words ("held_secret", the detector's kinds); a kind outside
// [a-z0-9-_], or longer than 40 bytes, is "(other)".
func (m *Metrics) Redacted(kind string, n int) {
	if n <= 0 {
		return
	}
	if len(kind) > 40 || strings.Trim(kind, "abcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		kind = other
	}
	m.redactions.add(float64(n), kind)
}

// StateError counts a failed shared-state operation; it fits
// state.Options.OnError.
func (m *Metrics) StateError(op string) {
	m.stateErrors.add(1, op)
}

// Upstream observes one upstream request of service that took d; status
// is 0 when no response came.
func (m *Metrics) Upstream(service string, status int, d time.Duration) {
	code := "error"
	if status >= 100 && status < 600 {
		code = strconv.Itoa(status/100) + "xx"
	}
	m.upstream.observe(d.Seconds(), label(m.services, service), code)
}

// Transport times every request base sends, labelled with the service
// whose origin (scheme://host:port) it went to; serviceOf maps a request
// to its service name ("" or unknown: "(other)").
func (m *Metrics) Transport(base http.RoundTripper, serviceOf func(*http.Request) string) http.RoundTripper {
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := base.RoundTrip(r)
		status := 0
		if err == nil {
			status = resp.StatusCode
		}
		m.Upstream(serviceOf(r), status, time.Since(start))
		return resp, err
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
