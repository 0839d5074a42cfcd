package tools

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/keyveil/keyveil/state"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Confirmation. A call that needs it (a declared tool with confirm: true,
// by default every DELETE or destructive tool; call_api for the methods in
// the service's confirm_methods, by default DELETE) is shown to the user
// through MCP elicitation before anything is sent: tool, service, method,
// path and a short redacted summary of the arguments. Only "accept" sends
// it. "decline" and "cancel" are refusals with their own audit outcomes.
//
// Both protocol eras are served:
//
//   - 2025 clients (before 2026-07-28) get an elicitation/create request
//     while the tool call waits (ServerSession.Elicit).
//   - 2026-07-28 clients cannot be sent requests; the call returns an
//     input-required result instead (inputRequests {"confirm": …} and a
//     requestState), and the client calls again with the user's answer
//     in inputResponses and the requestState echoed.
//
// A client could put an answer in its very first call. So an answer counts
// only with a requestState this process issued for this very call: a
// random nonce, an expiry and the call's binding (tool and canonical
// arguments), HMAC-SHA256-signed with a key made at start-up. The nonce
// is single-use and expires after confirmTTL. An answer with a missing,
// forged, expired, reused or other-call state is not an answer: the user
// is asked again, and nothing is sent.
//
// A client without elicitation (form mode) cannot ask: the call is
// refused with a message naming confirm_fallback, unless the operator set
// confirm_fallback: allow for the tool (or, for call_api, the service).

// Refusal reasons and confirmation values in audit records.
const (
	reasonDeclined    = "confirmation_declined"
	reasonCancelled   = "confirmation_cancelled"
	reasonUnavailable = "confirmation_unavailable"

	// outcomeAsked is the audit outcome of the first round of a
	// 2026-07-28 call: the question went out, nothing was sent yet.
	outcomeAsked = "confirmation_requested"

	confirmRequested = "requested"
	confirmAccepted  = "accepted"
	confirmDeclined  = "declined"
	confirmCancelled = "cancelled"
	confirmNoClient  = "unavailable"
	confirmFallback  = "fallback_allowed"
)

const (
	// confirmTTL bounds how long a question stays open: a 2025 client's
	// elicitation is abandoned after it, a 2026 requestState expires.
	confirmTTL = 5 * time.Minute
	// maxOpenQuestions bounds the nonces remembered; the oldest goes first.
	maxOpenQuestions = 1024
	// confirmID is the input request's id in a 2026-07-28 result.
	confirmID = "confirm"
	// statelessEra is the first protocol version in which the server
	// cannot send requests and uses input-required results.
	statelessEra = "2026-07-28"
)

// questions issues and redeems request states. Safe for concurrent use.
type questions struct {
	keyOnce sync.Once
	key     [32]byte // HMAC key, made on first use (not at start-up)
	mu      sync.Mutex
	open    map[[16]byte]time.Time // nonce -> expiry
	// shared, when set, holds the nonces and the signing key instead, so
	// that a state one replica issued is redeemed once on any replica.
	shared *state.Redis
}

func newQuestions() *questions {
	return &questions{open: map[[16]byte]time.Time{}}
}

const stateLen = 16 + 8 + sha256.Size

// issue returns a new request state for the call b, valid until
// now+confirmTTL and once. Its error is the shared state's.
func (q *questions) issue(ctx context.Context, b [32]byte, now time.Time) (string, error) {
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	exp := now.Add(confirmTTL)
	if q.shared != nil {
		if err := q.shared.PutNonce(ctx, nonce[:], confirmTTL); err != nil {
			return "", err
		}
	} else {
		q.remember(nonce, exp, now)
	}
	buf := make([]byte, 0, stateLen)
	buf = append(buf, nonce[:]...)
	buf = binary.BigEndian.AppendUint64(buf, uint64(exp.UnixNano()))
	mac, err := q.mac(ctx, nonce[:], buf[16:24], b)
	if err != nil {
		return "", err
	}
	buf = append(buf, mac...)
	return base64.RawURLEncoding.EncodeToString(buf), nil
}

// remember keeps an open nonce in memory, forgetting expired ones and,
// past maxOpenQuestions, the oldest.
func (q *questions) remember(nonce [16]byte, exp, now time.Time) {
	q.mu.Lock()
	for n, e := range q.open {
		if now.After(e) {
			delete(q.open, n)
		}
	}
	for len(q.open) >= maxOpenQuestions {
		var oldest [16]byte
		var first time.Time
		for n, e := range q.open {
			if first.IsZero() || e.Before(first) {
				oldest, first = n, e
			}
		}
		delete(q.open, oldest)
	}
	q.open[nonce] = exp
	q.mu.Unlock()
}

func (q *questions) mac(ctx context.Context, nonce, exp []byte, b [32]byte) ([]byte, error) {
	key := q.key[:]
	if q.shared != nil {
		k, err := q.shared.SigningKey(ctx)
		if err != nil {
			return nil, err
		}
		key = k
	} else {
		q.keyOnce.Do(func() {
			// crypto/rand.Read does not fail on supported platforms.
			_, _ = rand.Read(q.key[:])
		})
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte("keyveil confirm v1\x00"))
	m.Write(nonce)
	m.Write(exp)
	m.Write(b[:])
	return m.Sum(nil), nil
}

// Why a request state was not accepted, for the debug log.
var (
	errStateMalformed = errors.New("not a request state keyveil issued")
	errStateOtherCall = errors.New("issued for another call (other tool or arguments) or forged")
	errStateExpired   = errors.New("expired")
	errStateUsed      = errors.New("already used, or forgotten")
)

// redeem accepts state once, for the call b, before it expires. An error
// matching state.ErrUnavailable means it could not be checked.
func (q *questions) redeem(ctx context.Context, state string, b [32]byte, now time.Time) error {
	raw, err := base64.RawURLEncoding.DecodeString(state)
	if err != nil || len(raw) != stateLen {
		return errStateMalformed
	}
	var nonce [16]byte
	copy(nonce[:], raw[:16])
	mac, err := q.mac(ctx, raw[:16], raw[16:24], b)
	if err != nil {
		return err
	}
	if !hmac.Equal(raw[24:], mac) {
		return errStateOtherCall
	}
	exp := time.Unix(0, int64(binary.BigEndian.Uint64(raw[16:24])))
	if now.After(exp) {
		return errStateExpired
	}
	if q.shared != nil {
		ok, err := q.shared.TakeNonce(ctx, nonce[:])
		if err != nil {
			return err
		}
		if !ok {
			return errStateUsed
		}
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if _, ok := q.open[nonce]; !ok {
		return errStateUsed
	}
	delete(q.open, nonce)
	return nil
}

// canElicit reports whether the client of req can show a form elicitation,
// and whether it speaks the 2026-07-28 (input-required) era.
func canElicit(req *mcp.CallToolRequest) (can, stateless bool) {
	if req == nil || req.Session == nil {
		return false, false
	}
	stateless = req.ProtocolVersion() >= statelessEra
	caps := req.ClientCapabilities()
	if caps == nil || caps.Elicitation == nil {
		return false, stateless
	}
	// Neither form nor url declared means form (older clients).
	e := caps.Elicitation
	return e.Form != nil || e.URL == nil, stateless
}

// confirm asks the user about c and reports whether to go on. When it
// returns false, res is what the call returns: a refusal, or in the
// 2026-07-28 era the question itself. rec gets the confirmation value and,
// when it ends the call, the outcome.
func (d Deps) confirm(ctx context.Context, req *mcp.CallToolRequest, c *guardedCall, rec *Record) (bool, *mcp.CallToolResult) {
	can, stateless := canElicit(req)
	if !can {
		if c.fallback == fallbackAllow {
			rec.Confirmation = confirmFallback
			return true, nil
		}
		rec.Confirmation = confirmNoClient
		return false, d.refused(rec, refuse(reasonUnavailable,
			"%s needs the user's confirmation, but this client cannot ask (it does not support MCP elicitation), so nothing was sent. Tell the user; the operator can allow such calls without confirmation with confirm_fallback: allow on %s in the services file",
			c.tool, c.fallbackWhere))
	}
	params := d.question(c)
	var action string
	if stateless {
		q := d.Guards.questions
		answer, answered := req.Params.InputResponses[confirmID].(*mcp.ElicitResult)
		if req.Params.RequestState != "" || answered {
			err := q.redeem(ctx, req.Params.RequestState, c.binding, d.Now())
			if errors.Is(err, state.ErrUnavailable) {
				return false, d.stateRefusal(rec, "the confirmation answer", err)
			}
			if err == nil && answered && answer != nil {
				action = answer.Action
			} else {
				if err == nil {
					err = errors.New("no answer to the confirm question")
				}
				d.Logger.Debug("confirmation answer ignored; asking again", "tool", c.tool, "why", err.Error())
				rec.Error = "an answer came without a valid request state from this server (" + err.Error() + "); asked again"
			}
		}
		if action == "" {
			st, err := q.issue(ctx, c.binding, d.Now())
			if err != nil {
				return false, d.stateRefusal(rec, "the confirmation question", err)
			}
			rec.Confirmation = confirmRequested
			rec.Outcome = outcomeAsked
			return false, &mcp.CallToolResult{
				InputRequests: mcp.InputRequestMap{confirmID: params},
				RequestState:  st,
			}
		}
	} else {
		ctx, cancel := context.WithTimeout(ctx, confirmTTL)
		defer cancel()
		res, err := req.Session.Elicit(ctx, params)
		if err != nil {
			d.Logger.Debug("confirmation: elicitation failed", "tool", c.tool, "cause", d.redactString(err.Error()))
			rec.Confirmation = confirmNoClient
			return false, d.refused(rec, refuse(reasonUnavailable,
				"%s needs the user's confirmation, and asking the user failed (no answer, or the client refused the question), so nothing was sent. Try again when the user is there to answer",
				c.tool))
		}
		action = res.Action
	}
	switch action {
	case "accept":
		rec.Confirmation = confirmAccepted
		return true, nil
	case "decline":
		rec.Confirmation = confirmDeclined
		return false, d.refused(rec, refuse(reasonDeclined,
			"the user declined %s %s on %s, so nothing was sent. Do not repeat it unless the user asks for it", c.method, c.path, c.svc.Name))
	default:
		rec.Confirmation = confirmCancelled
		return false, d.refused(rec, refuse(reasonCancelled,
			"the user dismissed the confirmation of %s %s on %s without answering, so nothing was sent. Ask the user whether to go ahead before calling again", c.method, c.path, c.svc.Name))
	}
}

// question is the elicitation shown to the user: an accept/decline form
// with no fields, whose message says exactly what would be sent.
func (d Deps) question(c *guardedCall) *mcp.ElicitParams {
	var b strings.Builder
	fmt.Fprintf(&b, "Allow this API call?\n\nTool: %s\nService: %s (%s)\nRequest: %s %s\n", c.tool, c.svc.Name, c.svc.BaseURL, c.method, shorten(c.path, 200))
	if s := argSummary(c.args); s != "" {
		fmt.Fprintf(&b, "Arguments: %s\n", s)
	}
	if c.key != "" {
		fmt.Fprintf(&b, "Idempotency key: %s\n", shorten(c.key, 64))
	}
	b.WriteString("\nAccept sends it once. Decline or cancel sends nothing.")
	return &mcp.ElicitParams{
		Mode:            "form",
		Message:         d.redactString(b.String()),
		RequestedSchema: json.RawMessage(`{"type":"object","properties":{}}`),
	}
}

// argSummary renders the arguments for a person: sorted names, each value
// as compact JSON with long strings cut, the whole at most 400 bytes.
func argSummary(args map[string]json.RawMessage) string {
	names := make([]string, 0, len(args))
	for n := range args {
		names = append(names, n)
	}
	sort.Strings(names)
	var parts []string
	for _, n := range names {
		var v any
		if err := json.Unmarshal(args[n], &v); err != nil {
			continue
		}
		parts = append(parts, shorten(n, 40)+"="+string(marshalJSON(cutStrings(v, 80))))
	}
	return shorten(strings.Join(parts, ", "), 400)
}

// cutStrings shortens every string in v to n bytes.
func cutStrings(v any, n int) any {
	switch v := v.(type) {
	case string:
		return shorten(v, n)
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			out[i] = cutStrings(x, n)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			out[shorten(k, n)] = cutStrings(x, n)
		}
		return out
	}
	return v
}
