package metrics

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
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

// Metrics holds keyveil's collectors in a registry of its own (not the
// global one, which libraries may fill). Its methods are safe for
// concurrent use.
type Metrics struct {
	reg      *prometheus.Registry
	tools    map[string]bool
	services map[string]bool

	toolCalls   *prometheus.CounterVec
	upstream    *prometheus.HistogramVec
	refusals    *prometheus.CounterVec
	authFail    *prometheus.CounterVec
	redactions  *prometheus.CounterVec
	stateErrors *prometheus.CounterVec
}

// New returns empty metrics for the given label values, with the Go
// runtime and process collectors added.
func New(o *Options) *Metrics {
	if o == nil {
		o = &Options{}
	}
	m := &Metrics{reg: prometheus.NewRegistry(), tools: set(o.Tools), services: set(o.Services)}
	m.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyveil_tool_calls_total",
		Help: "Tool calls by tool, service and outcome (ok, http_error, network_error, replayed, confirmation_requested, refused:<reason>).",
	}, []string{"tool", "service", "outcome"})
	m.upstream = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keyveil_upstream_request_duration_seconds",
		Help:    "Upstream API requests by service and status class (2xx…5xx, or error when no response came).",
		Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"service", "code"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyveil_guard_refusals_total",
		Help: "Calls refused by a guardrail: rate (a service or tool bucket), key_rate (a remote key's rate), confirmation_declined, confirmation_cancelled, confirmation_unavailable, state_unavailable.",
	}, []string{"reason"})
	m.authFail = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyveil_auth_failures_total",
		Help: "HTTP requests refused before the MCP handler, by reason: missing, invalid, revoked, expired, origin, host, too_large.",
	}, []string{"reason"})
	m.redactions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyveil_redactions_total",
		Help: "Redaction markers written into tool results, by kind (held_secret: a key keyveil holds; other kinds come from secret-format detection).",
	}, []string{"kind"})
	m.stateErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keyveil_state_errors_total",
		Help: "Failed operations on the shared state (Redis) by operation: rate, idempotency, nonce, signing_key, ping.",
	}, []string{"op"})
	m.reg.MustRegister(m.toolCalls, m.upstream, m.refusals, m.authFail, m.redactions, m.stateErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

func set(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
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
	m.toolCalls.WithLabelValues(label(m.tools, tool), label(m.services, service), outcomeLabel(outcome)).Inc()
	if r, ok := strings.CutPrefix(outcome, "refused:"); ok && slices.Contains(refusalReasons, r) {
		m.refusals.WithLabelValues(r).Inc()
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
		m.authFail.WithLabelValues(outcome).Inc()
	case outcome == "rate_limited":
		m.refusals.WithLabelValues("key_rate").Inc()
	case outcome == "state_unavailable":
		m.refusals.WithLabelValues("state_unavailable").Inc()
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
	m.redactions.WithLabelValues(kind).Add(float64(n))
}

// StateError counts a failed shared-state operation; it fits
// state.Options.OnError.
func (m *Metrics) StateError(op string) {
	m.stateErrors.WithLabelValues(op).Inc()
}

// Upstream observes one upstream request of service that took d; status
// is 0 when no response came.
func (m *Metrics) Upstream(service string, status int, d time.Duration) {
	code := "error"
	if status >= 100 && status < 600 {
		code = strconv.Itoa(status/100) + "xx"
	}
	m.upstream.WithLabelValues(label(m.services, service), code).Observe(d.Seconds())
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
