package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/keyveil/keyveil/state"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Fleet-wide guard state. With --state, every replica asks one Redis
// (state.Redis) instead of its own memory: the rate buckets, the
// idempotency leader and its remembered results, and the confirmation
// nonces and signing key. The rules are those of the in-memory guards
// (ratelimit.go, idempotency.go, confirm.go), with these differences:
//
//   - Remembered results live in Redis until their window ends; there is
//     no 1,024-entry bound (Redis's own maxmemory bounds them).
//   - An operation whose leader died mid-call (a replica killed) is given
//     to the next identical call after its lease: the service's timeout
//     plus the confirmation time plus a minute.
//   - Rate buckets use Redis's clock, not Deps.Now.
//
// Policy when Redis cannot be reached: a call that needs a shared decision
// — any rate bucket applies to it, it is idempotent, or it needs
// confirmation — is refused (refused:state_unavailable) with a retry hint
// and nothing is sent. That includes reads under a service's rate limit:
// the limit protects the API's quota, and deciding alone would let every
// replica spend the whole of it. A call that needs no shared decision
// (no limit, a GET, no confirmation) goes on as usual.

// reasonState refuses a call whose shared decision could not be made.
const reasonState = "state_unavailable"

// stateRetry is the retry hint of that refusal: long enough for Redis to
// restart or fail over, short enough for a model to wait.
const stateRetry = 5 * time.Second

// NewSharedGuards returns guard state kept in s, shared by every replica
// that uses the same Redis database. s must outlive the Guards.
func NewSharedGuards(s *state.Redis) *Guards {
	g := NewGuards()
	g.shared = s
	g.questions.shared = s
	return g
}

// stateRefusal refuses a call because a shared decision about what could
// not be made. The model learns only that the shared state is away; the
// cause (an address, a go-redis error) goes to the log.
func (d Deps) stateRefusal(rec *Record, what string, err error) *mcp.CallToolResult {
	d.Logger.Warn("shared state unreachable; call refused", "tool", rec.Tool, "decision", what, "cause", d.redactString(err.Error()))
	secs := retrySeconds(stateRetry)
	rec.RetryAfter = secs
	return d.refused(rec, refuse(reasonState,
		"keyveil could not reach its shared state (Redis) to check %s, so nothing was sent: the replicas must decide this together and keyveil never decides alone. Retry after %g seconds; if it goes on, tell the operator",
		what, secs))
}

// rateWait is limiters.peek (peek) or limiters.take, from the shared
// buckets when there are any.
func (d Deps) rateWait(ctx context.Context, bs []bucket, peek bool) (time.Duration, bucket, error) {
	g := d.Guards
	if g.shared == nil {
		if peek {
			w, b := g.limits.peek(d.Now(), bs)
			return w, b, nil
		}
		w, b := g.limits.take(d.Now(), bs)
		return w, b, nil
	}
	if len(bs) == 0 {
		return 0, bucket{}, nil
	}
	ls := make([]state.Limit, len(bs))
	for i, b := range bs {
		ls[i] = state.Limit{Key: b.key, Events: b.limit.Events, Per: b.limit.Per, Burst: b.limit.Burst}
	}
	wait, which, err := g.shared.Allow(ctx, ls, peek)
	if err != nil || which < 0 {
		return 0, bucket{}, err
	}
	return wait, bs[which], nil
}

// sendShared is send's idempotency step against the shared state, for the
// operation id; the rest of the call is guardAndSend, as in memory.
func (d Deps) sendShared(ctx context.Context, mreq *mcp.CallToolRequest, c *guardedCall, req *http.Request, rec *Record, id string) *mcp.CallToolResult {
	s := d.Guards.shared
	lease := confirmTTL + c.svc.Timeout + time.Minute
	l, done, conflict, err := s.Acquire(ctx, []byte(id), c.binding[:], headerKey(c.svc.Name, c.tool, c.key), lease)
	switch {
	case errors.Is(err, state.ErrUnavailable):
		return d.stateRefusal(rec, "whether an identical call was made already", err)
	case err != nil:
		return d.networkFailure(rec, c.svc, err)
	case conflict:
		return d.refused(rec, refuse(reasonIdempotency, msgKeyReused))
	case done != nil:
		var res mcp.CallToolResult
		if err := res.UnmarshalJSON(done.Result); err != nil {
			return d.stateRefusal(rec, "the remembered result of an identical call", err)
		}
		res.StructuredContent = decodeStructured(done.Result, res.StructuredContent)
		f := &flight{headerKey: done.HeaderKey, result: &res, status: done.Status, at: done.At}
		rec.Outcome = outcomeReplayed
		rec.Status = done.Status
		rec.IdempotencyKey = done.HeaderKey
		return d.replayResult(f)
	}
	var res *mcp.CallToolResult
	var sent bool
	defer func() {
		keep := sent && res != nil && replayable(rec.Outcome, rec.Status)
		var data []byte
		if keep {
			var err error
			if data, err = json.Marshal(res); err != nil {
				keep = false
			}
		}
		// Finish even when the caller has gone: identical calls on other
		// replicas wait for it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if err := s.Finish(fctx, l, data, rec.Status, d.Now(), sent, keep, c.window); err != nil {
			d.Logger.Warn("shared state unreachable; an identical call will wait for this one's lease to end", "tool", c.tool, "cause", d.redactString(err.Error()))
		}
	}()
	res, sent = d.guardAndSend(ctx, mreq, c, &flight{headerKey: l.HeaderKey}, req, rec)
	return res
}

// decodeStructured re-reads a stored result's structuredContent keeping
// numbers as written, as the first call's result had them; def when it
// cannot.
func decodeStructured(data []byte, def any) any {
	var wire struct {
		StructuredContent json.RawMessage `json:"structuredContent"`
	}
	if json.Unmarshal(data, &wire) != nil || len(wire.StructuredContent) == 0 {
		return def
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(wire.StructuredContent))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return def
	}
	return v
}
