// Package state keeps the guardrails' decisions in Redis, so that a fleet
// of keyveil replicas behind one load balancer enforces one set of limits:
// rate buckets (per remote key, per service, per tool), the idempotency
// leader and its remembered results, and single-use confirmation nonces.
//
// The promise: every decision is one atomic step on the Redis server (a
// Lua script, or a single command), so two replicas can never both take
// the last token, both lead the same idempotent call, or both redeem the
// same nonce. When Redis cannot be reached, every method returns an error
// that matches [ErrUnavailable]; nothing here falls back to a per-process
// decision, which would multiply every limit by the number of replicas.
//
// Without --state nothing here is used: the tools and remote packages keep
// their own in-memory state, exactly as a single process always has.
//
// The Redis password is a secret: main registers it with the redactor, and
// this package names the server only by host:port/db ([Redis.Where]).
package state
