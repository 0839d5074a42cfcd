package tools

import (
	"bytes"
	"container/list"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Idempotency. Every request that is not GET or HEAD, to a service (or
// tool) with idempotency on, carries an idempotency key header
// (Idempotency-Key unless the service names another), and its result is
// remembered for the idempotency window (10 minutes unless configured),
// measured from when the result came back. The exact rules:
//
//   - An identical call — same tool, same arguments as canonical JSON
//     (object keys sorted, whitespace dropped, numbers as written) and no
//     idempotency_key — within the window is not sent: it gets the first
//     call's result with replayed: true in structuredContent and text.
//   - Identical calls that arrive while the first is still running wait
//     for it and get its result, replayed: only one request reaches the
//     API, however many arrive together.
//   - An idempotency_key argument names an operation. The same key with
//     the same arguments replays like above; a key not seen before is a new
//     operation, sent even when the arguments match an earlier call; the
//     same key with different arguments is refused (refused:idempotency),
//     as APIs such as Stripe do.
//   - What is replayed: any response the API gave with a status below 500,
//     except 408, 425 and 429. Network errors, timeouts, those statuses
//     and 5xx are not replayed: the next identical call (or the same
//     idempotency_key) is sent again, with the same header value as the
//     failed attempt, so an API that did act on the first attempt can
//     recognise the retry. Refusals (rate, confirmation declined…) send
//     nothing and leave nothing behind.
//   - The header value: for a model-given key, "kv-" and 32 hex digits of
//     SHA-256 over the service, the tool and the key, so a retry after the
//     window, or after a restart, still carries the same value; without
//     one, "kv-" and 32 random hex digits, kept for the window. A header
//     the call sets itself (call_api headers, a declared header mapping)
//     is left alone.
//   - Memory: at most maxResults remembered calls, least recently used
//     dropped first; calls still running are never dropped. Nothing is
//     written to disk: a restart forgets every result.

// maxResults bounds the remembered calls.
const maxResults = 1024

// idempotencyArg is the optional argument that names an operation.
const idempotencyArg = "idempotency_key"

// reasonIdempotency refuses an idempotency_key reused with other arguments.
const reasonIdempotency = "idempotency"

// msgKeyReused refuses an idempotency_key reused with other arguments.
const msgKeyReused = "this idempotency_key was already used for a call with other arguments; use a new idempotency_key for a new operation, or repeat the original arguments to get its result"

// outcomeReplayed is the audit outcome of a call answered from memory.
const outcomeReplayed = "replayed"

// idempotencyKeySchema is the input property write tools and call_api
// offer. The key is hashed before it is sent, so any text will do; the
// length bound keeps a runaway model from filling memory with it.
func idempotencyKeySchema() *jsonschema.Schema {
	s := typed("string", "Optional. Names this operation for idempotency. Leave it out and an identical call (same arguments) within "+
		"a few minutes returns the first call's result, marked replayed, instead of acting twice. Pass a new value to make a "+
		"new request that repeats an earlier one on purpose; pass the same value again to retry an operation that failed "+
		"(5xx, network error) without doing it twice.")
	s.MinLength = ptr(1)
	s.MaxLength = ptr(255)
	return s
}

// withIdempotencyKey returns s with the idempotency_key property added,
// sharing everything else with s (which is not modified).
func withIdempotencyKey(s *jsonschema.Schema) *jsonschema.Schema {
	c := *s
	c.Properties = maps.Clone(s.Properties)
	if c.Properties == nil {
		c.Properties = map[string]*jsonschema.Schema{}
	}
	c.Properties[idempotencyArg] = idempotencyKeySchema()
	if len(s.PropertyOrder) > 0 {
		c.PropertyOrder = append(slices.Clone(s.PropertyOrder), idempotencyArg)
	}
	return &c
}

// canonicalJSON encodes args with sorted keys and no insignificant
// whitespace, keeping numbers as written, so two calls with the same
// arguments hash alike however the client spaced or ordered them.
func canonicalJSON(args map[string]json.RawMessage) []byte {
	m := make(map[string]any, len(args))
	for k, raw := range args {
		var v any
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			v = string(raw)
		}
		m[k] = v
	}
	return marshalJSON(m)
}

// binding hashes a call: tool and canonical arguments (idempotency_key
// included when given). It ties a confirmation answer and a remembered
// result to exactly one call.
func binding(tool string, args map[string]json.RawMessage, key string) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "keyveil call v1\x00%s\x00%s\x00", tool, key)
	h.Write(canonicalJSON(args))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// headerKey is the idempotency header value for a call: derived from the
// model's key when there is one, random otherwise.
func headerKey(service, tool, key string) string {
	if key != "" {
		sum := sha256.Sum256([]byte("keyveil idempotency key v1\x00" + service + "\x00" + tool + "\x00" + key))
		return "kv-" + hex.EncodeToString(sum[:16])
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "kv-" + hex.EncodeToString(b[:])
}

// results remembers calls by operation. Safe for concurrent use.
type results struct {
	mu      sync.Mutex
	limit   int // most operations kept
	entries map[string]*flight
	lru     list.List // of *flight, most recently used at the front
}

// flight is one operation: in flight, failed (and retryable with the same
// header value), or done with a result to replay.
type flight struct {
	id        string
	binding   [32]byte
	headerKey string
	done      chan struct{}       // non-nil while a call runs; closed when it ends
	result    *mcp.CallToolResult // the result to replay; nil: none
	at        time.Time           // when result came back
	status    int                 // its HTTP status
	sent      bool                // a request with headerKey has been sent
	expires   time.Time
	elem      *list.Element
}

func newResults(limit int) *results {
	return &results{limit: limit, entries: map[string]*flight{}}
}

// acquire finds the operation id. It returns either a flight the caller
// now leads (it must call finish), or a done flight to replay, or a
// refusal. It waits while another call of the same operation runs; err is
// the context's error when the caller gave up waiting.
func (r *results) acquire(ctx context.Context, id string, b [32]byte, newKey func() string, now func() time.Time) (lead, replay *flight, ref *refusal, err error) {
	for {
		r.mu.Lock()
		f := r.entries[id]
		if f != nil && f.done == nil && now().After(f.expires) {
			r.remove(f)
			f = nil
		}
		switch {
		case f == nil:
			f = &flight{id: id, binding: b, headerKey: newKey(), done: make(chan struct{})}
			r.entries[id] = f
			f.elem = r.lru.PushFront(f)
			r.evict()
			r.mu.Unlock()
			return f, nil, nil, nil
		case f.binding != b:
			r.mu.Unlock()
			return nil, nil, refuse(reasonIdempotency, msgKeyReused), nil
		case f.result != nil:
			r.lru.MoveToFront(f.elem)
			r.mu.Unlock()
			return nil, f, nil, nil
		case f.done != nil:
			wait := f.done
			r.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return nil, nil, nil, ctx.Err()
			}
		default:
			// Failed before: retry with the same header value.
			f.done = make(chan struct{})
			r.lru.MoveToFront(f.elem)
			r.mu.Unlock()
			return f, nil, nil, nil
		}
	}
}

// finish ends the call f leads. sent says whether a request went out;
// res is kept for replay when keep is true. An operation that never sent
// anything is forgotten, so a refused call leaves no trace.
func (r *results) finish(f *flight, res *mcp.CallToolResult, status int, sent, keep bool, now time.Time, window time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.sent = f.sent || sent
	if keep {
		f.result, f.status, f.at = res, status, now
	}
	f.expires = now.Add(window)
	close(f.done)
	f.done = nil
	if !f.sent {
		r.remove(f)
	}
}

func (r *results) remove(f *flight) {
	if r.entries[f.id] == f {
		delete(r.entries, f.id)
		r.lru.Remove(f.elem)
	}
}

// evict drops the least recently used operations that are not running
// until at most limit remain.
func (r *results) evict() {
	for e := r.lru.Back(); e != nil && len(r.entries) > r.limit; {
		prev := e.Prev()
		if f := e.Value.(*flight); f.done == nil {
			r.remove(f)
		}
		e = prev
	}
}

// len reports how many operations are remembered, for tests.
func (r *results) len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries)
}

// replayable reports whether a result is kept for replay: the API answered,
// and the answer is not one that asks for a retry.
func replayable(outcome string, status int) bool {
	if outcome != outcomeOK && outcome != outcomeHTTPError {
		return false
	}
	switch status {
	case 408, 425, 429:
		return false
	}
	return status < 500
}

// replayResult returns f's result marked replayed: true, in
// structuredContent and in its JSON text, with a note saying what
// happened and how to make a new request instead.
func (d Deps) replayResult(f *flight) *mcp.CallToolResult {
	orig := f.result
	var res *mcp.CallToolResult
	// The kept result holds a callResult, or the generic JSON a redaction
	// re-read: either way, as an object, it gets replayed: true and keeps
	// the shape of the output schema.
	if m, ok := jsonObject(orig.StructuredContent); ok {
		m["replayed"] = true
		res = d.structuredResult(m, orig.IsError)
		if len(orig.Content) > 1 {
			res.Content = append(res.Content, orig.Content[1:]...)
		}
	} else {
		// Every result kept is structured; this is only a safe default,
		// and callResultFor gives it a structuredContent.
		res = &mcp.CallToolResult{Content: slices.Clone(orig.Content), IsError: orig.IsError}
	}
	res.Content = append(res.Content, &mcp.TextContent{Text: fmt.Sprintf(
		"replayed: an identical call got this result at %s (idempotency key %s); nothing was sent again. To make a new request anyway, call again with a new idempotency_key",
		f.at.UTC().Format(time.RFC3339), f.headerKey)})
	return res
}

// jsonObject returns v, a JSON-encodable value, as a new generic JSON
// object (numbers kept as written), or false when v is not an object.
func jsonObject(v any) (map[string]any, bool) {
	if v == nil {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(marshalJSON(v)))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil, false
	}
	return m, true
}

// takeIdempotencyKey removes the idempotency_key argument from args (from
// argObject; nil, for arguments that are not an object, is left for the
// schema check to refuse) and returns it.
func takeIdempotencyKey(args map[string]json.RawMessage) (string, *refusal) {
	raw, ok := args[idempotencyArg]
	if !ok {
		return "", nil
	}
	delete(args, idempotencyArg)
	if string(raw) == "null" {
		return "", nil
	}
	var key string
	if err := json.Unmarshal(raw, &key); err != nil || key == "" || len(key) > 255 {
		return "", refuse(reasonInput, "idempotency_key must be a string of 1 to 255 characters naming the operation")
	}
	return key, nil
}
