package tools

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"time"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/state"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Guards is the state the guardrails keep between calls: the rate-limit
// buckets, the remembered results of write calls (idempotency) and the
// confirmation questions asked and not yet answered. Limits and replays
// hold across every server that shares one Guards, so main should make one
// per process and put it in every Deps. It is safe for concurrent use.
type Guards struct {
	limits    limiters
	results   *results
	questions *questions
	shared    *state.Redis // nil: all of the above in memory (see shared.go)
}

// NewGuards returns empty guard state with a new random key for signing
// confirmation request states.
func NewGuards() *Guards {
	return &Guards{results: newResults(maxResults), questions: newQuestions()}
}

// Confirmation fallback, as the services file spells it.
const fallbackAllow = config.ConfirmFallbackAllow

// guardedCall is one request that passed the input and allow checks and is
// ready to send, with what the guardrails need to decide about it.
type guardedCall struct {
	tool   string
	svc    config.Service
	method string
	path   string                     // relative to the base URL, for the question
	args   map[string]json.RawMessage // the arguments, idempotency_key left out
	key    string                     // the model's idempotency_key; "": none

	confirm       bool   // ask the user first
	fallback      string // config.ConfirmFallback*: when the client cannot ask
	fallbackWhere string // where the operator sets it, for the message

	idempotent bool          // send a key and replay identical calls
	window     time.Duration // how long results replay
	toolLimit  config.Limit  // the tool's own rate limit; zero: none
	jq         *jqFilter     // shapes the body; nil: none

	binding [32]byte // filled by send
}

// isSafeMethod reports whether m changes nothing (GET, HEAD): such calls
// get no idempotency key and are never replayed.
func isSafeMethod(m string) bool { return slices.Contains(safeMethods, m) }

// send runs the guardrails for c, in this order, and then sends req:
//
//  1. idempotency: an identical call's result is replayed (or awaited);
//  2. rate limits are checked without taking a token, so that a call that
//     would be refused anyway does not bother the user;
//  3. the user confirms;
//  4. a token is taken from each bucket;
//  5. the request goes out with its idempotency key, under the service's
//     timeout (which does not count the time the user took to answer).
//
// Every path fills rec for the audit line.
func (d Deps) send(ctx context.Context, mreq *mcp.CallToolRequest, c *guardedCall, req *http.Request, rec *Record) *mcp.CallToolResult {
	if c.idempotent || c.confirm {
		// Only these need it; a plain GET pays nothing for canonical JSON.
		c.binding = binding(c.tool, c.args, c.key)
	}
	var f *flight
	if c.idempotent {
		id := c.tool + "\x00"
		if c.key != "" {
			id += "key\x00" + c.key
		} else {
			id += "args\x00" + string(c.binding[:])
		}
		if d.Guards.shared != nil {
			return d.sendShared(ctx, mreq, c, req, rec, id)
		}
		lead, replay, r, err := d.Guards.results.acquire(ctx, id, c.binding,
			func() string { return headerKey(c.svc.Name, c.tool, c.key) }, d.Now)
		switch {
		case err != nil:
			return d.networkFailure(rec, c.svc, err)
		case r != nil:
			return d.refused(rec, r)
		case replay != nil:
			rec.Outcome = outcomeReplayed
			rec.Status = replay.status
			rec.IdempotencyKey = replay.headerKey
			return d.replayResult(replay)
		}
		f = lead
	}
	var res *mcp.CallToolResult
	var sent bool
	if f != nil {
		// Deferred, so that identical calls waiting for this one are
		// released even if it panics.
		defer func() {
			d.Guards.results.finish(f, res, rec.Status, sent, sent && res != nil && replayable(rec.Outcome, rec.Status), d.Now(), c.window)
		}()
	}
	res, sent = d.guardAndSend(ctx, mreq, c, f, req, rec)
	return res
}

// guardAndSend is send after the idempotency step (f is the operation led,
// nil when idempotency is off); sent reports whether a request went out.
// The audit line names an idempotency key only when one was sent.
func (d Deps) guardAndSend(ctx context.Context, mreq *mcp.CallToolRequest, c *guardedCall, f *flight, req *http.Request, rec *Record) (*mcp.CallToolResult, bool) {
	buckets := bucketsFor(c.svc, c.tool, c.toolLimit)
	if wait, b, err := d.rateWait(ctx, buckets, true); err != nil {
		return d.stateRefusal(rec, "the rate limits", err), false
	} else if wait > 0 {
		return d.rateLimited(rec, b, wait), false
	}
	if c.confirm {
		if ok, res := d.confirm(ctx, mreq, c, rec); !ok {
			return res, false
		}
	}
	if wait, b, err := d.rateWait(ctx, buckets, false); err != nil {
		return d.stateRefusal(rec, "the rate limits", err), false
	} else if wait > 0 {
		return d.rateLimited(rec, b, wait), false
	}
	if f != nil {
		h := c.svc.IdempotencyHeader
		if h == "" {
			h = config.DefaultIdempotencyHeader
		}
		if v := req.Header.Get(h); v != "" {
			// The call set its own (call_api headers, a header mapping).
			rec.IdempotencyKey = shorten(v, 80)
		} else {
			req.Header.Set(h, f.headerKey)
			rec.IdempotencyKey = f.headerKey
		}
	}
	ctx, cancel := context.WithTimeout(req.Context(), c.svc.Timeout)
	defer cancel()
	return d.roundTrip(rec, c.svc, req.WithContext(ctx), c.jq), true
}

// idempotencyFor reports whether a call of method to svc (with the tool's
// own switch, nil: the service's) sends a key and is replayed, and for how
// long.
func idempotencyFor(svc config.Service, method string, toolOn *bool, toolWindow time.Duration) (bool, time.Duration) {
	on := svc.IdempotencyOn()
	if toolOn != nil {
		on = *toolOn
	}
	window := svc.IdempotencyWindow
	if toolWindow > 0 {
		window = toolWindow
	}
	if window <= 0 {
		window = config.DefaultIdempotencyWindow
	}
	return on && !isSafeMethod(method), window
}
