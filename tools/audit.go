package tools

import (
	"encoding/json"
	"io"
	"sync"
	"time"
)

// Audit outcomes. A refusal is recorded as "refused:" plus its reason, like
// "refused:path" or "refused:allow_rule". ok, http_error and network_error
// mean the call was allowed and sent; "replayed" (idempotency.go) that it
// was answered from an identical earlier call; "confirmation_requested"
// (confirm.go) that a 2026-07-28 client was asked and nothing was sent yet.
// The refusal reasons are listed beside refuse (errors.go) and with each
// guardrail: rate, idempotency, confirmation_declined,
// confirmation_cancelled, confirmation_unavailable.
const (
	outcomeOK           = "ok"
	outcomeHTTPError    = "http_error"
	outcomeNetworkError = "network_error"
	outcomeRefused      = "refused:"
	// outcomeJQError: the call was sent and answered, but its jq filter
	// could not be applied (body not JSON, filter error, time or size).
	outcomeJQError = "jq_error"
)

// Record is one audit line: who was called, how, and how it ended. It holds
// what an operator needs to review a session and nothing a key could hide
// in: the path is the relative path without its query, and of the query only
// the parameter names are kept, never the values.
type Record struct {
	Time           time.Time `json:"time"`                      // start of the call, UTC
	Tool           string    `json:"tool"`                      // "call_api", "list_services"
	Service        string    `json:"service,omitempty"`         // resolved service name
	Method         string    `json:"method,omitempty"`          // upper case
	Path           string    `json:"path,omitempty"`            // relative to the base URL, no query
	QueryNames     []string  `json:"query_names,omitempty"`     // sorted parameter names, no values
	Status         int       `json:"status,omitempty"`          // HTTP status; 0 when none was received
	DurationMS     float64   `json:"duration_ms"`               // wall time of the whole call
	ResponseBytes  int64     `json:"response_bytes"`            // body bytes read (at most the cap)
	Outcome        string    `json:"outcome"`                   // ok, http_error, network_error, refused:<reason>
	KeyFingerprint string    `json:"key_fingerprint,omitempty"` // short hash of the service's key
	IdempotencyKey string    `json:"idempotency_key,omitempty"` // the idempotency header value sent (or replayed)
	Confirmation   string    `json:"confirmation,omitempty"`    // requested, accepted, declined, cancelled, unavailable, fallback_allowed
	RetryAfter     float64   `json:"retry_after,omitempty"`     // seconds, for refused:rate and upstream 429/503
	// Redacted counts the secrets keyveil does not hold that were
	// redacted from the result, by kind ("github-token": 2); never a value.
	Redacted map[string]int `json:"redacted,omitempty"`
	Error    string         `json:"error,omitempty"` // the public message, shortened
}

// Auditor writes records as JSON lines. It is safe for concurrent use: each
// record is encoded first and written with one Write call under a mutex, so
// lines never interleave.
type Auditor struct {
	mu      sync.Mutex
	w       io.Writer
	observe func(Record) // nil: none
}

// NewAuditor returns an Auditor writing to w. main passes a writer already
// wrapped by the redactor; the Auditor does not close w.
func NewAuditor(w io.Writer) *Auditor { return &Auditor{w: w} }

// NewObservedAuditor is NewAuditor that also hands every record to
// observe (the metrics) before writing it. observe runs on the call's
// goroutine, so it must be quick and safe for concurrent use.
func NewObservedAuditor(w io.Writer, observe func(Record)) *Auditor {
	return &Auditor{w: w, observe: observe}
}

// Record writes r as one JSON line. A write error is dropped: a failing
// audit sink must not fail the call it describes, and the sink's owner
// (main) sees its own errors.
func (a *Auditor) Record(r Record) {
	if a == nil {
		return
	}
	if a.observe != nil {
		a.observe(r)
	}
	r.Time = r.Time.UTC()
	r.Error = shorten(r.Error, maxAuditError)
	line, err := json.Marshal(r)
	if err != nil {
		return
	}
	line = append(line, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, _ = a.w.Write(line)
}

const maxAuditError = 200
