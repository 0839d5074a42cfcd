// Package metrics counts what keyveil does, for Prometheus: tool calls by
// tool, service and outcome; upstream latency; guard refusals (rate limits,
// confirmation); authentication failures of remote keys; redactions by
// kind; shared-state (Redis) errors. [Metrics.Handler] serves them in the
// Prometheus text format; remote mounts it at /metrics behind a key, or
// main serves it on a separate loopback listener (--metrics).
//
// The promise: no label value is ever text a client or the model chose.
// Every label comes from a closed set known at start-up — the configured
// tool and service names, keyveil's own outcome and reason words, status
// classes — and anything else is counted under "(other)". A key, a path,
// a query or an argument value never becomes a label, so /metrics cannot
// leak one, nor be made to grow without bound.
package metrics
