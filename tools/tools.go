package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/keyveil/keyveil/config"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Deps is everything the tools need from main. Handlers take it as a
// concrete struct, never as context values, so a test can see at a glance
// what a tool can reach. The zero value of each field is documented; Config
// is the only required one.
type Deps struct {
	// Config lists the services. Required, and validated (config.Load).
	Config *config.Config
	// Client sends every downstream request. Its Transport attaches
	// credentials and refuses origins that are not a service's; nil:
	// http.DefaultClient, which attaches nothing (tests).
	Client *http.Client
	// Redact is applied to response bodies, response headers and error text
	// before they go into a tool result or a log line; nil: identity. It only
	// makes output nicer: the guarantee is the redacting writer under stdout.
	Redact func([]byte) []byte
	// RedactUpstream is applied instead of Redact to text that came from
	// upstream in answer to a call (body, kept headers, Location): besides
	// every whole secret it redacts any run of 8 or more bytes of one that
	// is not the model's own text sent in that call (see sentTexts), so
	// that a key cut short by an API does not leak and a reflected guess
	// is no oracle. nil: Redact, ignoring sent.
	RedactUpstream func(p []byte, sent [][]byte) []byte
	// Cut returns how many leading bytes of p, already redacted, to keep
	// when it must be at most n bytes: never cutting a marker, an escape
	// or a UTF-8 character, never ending on the start of a key that the
	// model did not send. nil: n, moved back to a UTF-8 boundary.
	Cut func(p []byte, n int, sent [][]byte) int
	// Lookahead returns how many bytes past max_response_bytes a body is
	// read before redacting and cutting, so that a key which starts before
	// the cut is redacted whole (a func: OAuth tokens arrive while running);
	// nil: none.
	Lookahead func() int
	// Audit receives one record per tool call; nil: no audit.
	Audit *Auditor
	// Fingerprints maps a service name to its key's short fingerprint, for
	// audit lines; nil or missing: none recorded.
	Fingerprints map[string]string
	// ReadOnly allows only GET and HEAD, whatever the allow rules say.
	ReadOnly bool
	// Scopes are the granted scopes; nil: Config.Scopes. list_services and
	// call_api need none; declared tools are filtered on them.
	Scopes []string
	// Now tells the time for audit records and durations; nil: time.Now.
	Now func() time.Time
	// Logger receives private causes (redacted) at debug level; nil:
	// discard.
	Logger *slog.Logger
	// Guards holds the rate-limit buckets, remembered write results
	// (idempotency) and open confirmation questions. Share one across
	// every Deps of a process so limits hold for all sessions together;
	// nil: Register (or All) makes one for its own tools.
	Guards *Guards

	detectors *detectors // made by withDefaults, shared by copies
}

// withDefaults returns a copy of d with nil fields replaced by their
// documented defaults, so handlers never check for nil.
func (d Deps) withDefaults() Deps {
	if d.Config == nil {
		panic("tools: Deps.Config is nil")
	}
	if d.Client == nil {
		d.Client = http.DefaultClient
	}
	if d.Redact == nil {
		d.Redact = func(p []byte) []byte { return p }
	}
	if d.RedactUpstream == nil {
		redact := d.Redact
		d.RedactUpstream = func(p []byte, _ [][]byte) []byte { return redact(p) }
	}
	if d.Cut == nil {
		d.Cut = func(p []byte, n int, _ [][]byte) int {
			for n > 0 && n < len(p) && !utf8.RuneStart(p[n]) {
				n--
			}
			return min(n, len(p))
		}
	}
	if d.Lookahead == nil {
		d.Lookahead = func() int { return 0 }
	}
	if d.Scopes == nil {
		d.Scopes = d.Config.Scopes
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Guards == nil {
		d.Guards = NewGuards()
	}
	if d.detectors == nil {
		d.detectors = newDetectors()
	}
	return d
}

// redactString applies d.Redact to s.
func (d Deps) redactString(s string) string { return string(d.Redact([]byte(s))) }

// Tool is one tool definition bound to its handler, as [All] returns it.
type Tool struct {
	// Tool is the definition listed by tools/list.
	Tool *mcp.Tool
	// Handler serves tools/call. It reports refusals and upstream errors
	// as results with IsError set; it returns a Go error only for a
	// protocol-level fault.
	Handler mcp.ToolHandler
}

// All returns the tools offered for d, in the order they are listed. It is
// one explicit list (no init-time registration) so that `keyveil check` and
// Register agree on what the model will see.
//
// call_api is offered for the services whose call_api switch is on, and
// not at all when none is; declared operations follow, filtered by scope
// and --read-only.
func All(d Deps) []Tool {
	d = d.withDefaults()
	out := []Tool{listServicesTool(d)}
	if cd, ok := d.callAPIDeps(); ok {
		out = append(out, callAPITool(cd))
	}
	return append(out, operationTools(d)...)
}

// callAPIDeps returns d with only the services call_api may reach, and
// whether there is any.
func (d Deps) callAPIDeps() (Deps, bool) {
	c := *d.Config
	c.Services = slices.DeleteFunc(slices.Clone(c.Services), func(s config.Service) bool { return !s.CallAPI })
	d.Config = &c
	return d, len(c.Services) > 0
}

// Register adds every tool from [All] to s, with its schemas encoded once
// here (see encodeSchema): the SDK would otherwise encode each
// *jsonschema.Schema again, by reflection, for every tools/list. It panics
// if a schema cannot be encoded, which is a programmer error caught by any
// test that registers. Schemas are not resolved here: TestSchemasResolve
// resolves every built-in one, and declared operations resolve theirs on
// their first call (config has checked them already).
//
// It also installs the middleware that answers a call to a declared tool
// that is not offered (scope, --read-only) with a refusal naming the
// reason.
func Register(s *mcp.Server, d Deps) {
	d = d.withDefaults()
	s.AddReceivingMiddleware(refuseHidden(d))
	all := All(d)
	// Encoding a schema, and AddTool, which re-reads every schema it is
	// given (twice for the input), cost about 0.2 ms a tool: 100 ms before
	// the first reply for an import of 500 operations. The tools are
	// independent and AddTool is safe for concurrent use, so the work is
	// spread over the CPUs. Register runs before any session exists, so no
	// list-changed notification is sent.
	workers := min(runtime.GOMAXPROCS(0), (len(all)+63)/64)
	next := make(chan Tool)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for t := range next {
				def := *t.Tool
				def.InputSchema = encoded(def.Name, def.InputSchema)
				def.OutputSchema = encoded(def.Name, def.OutputSchema)
				s.AddTool(&def, t.Handler)
			}
		})
	}
	for _, t := range all {
		next <- t
	}
	close(next)
	wg.Wait()
}

// encoded returns schema as json.RawMessage when it is a
// *jsonschema.Schema, and as it is otherwise.
func encoded(name string, schema any) any {
	s, ok := schema.(*jsonschema.Schema)
	if !ok || s == nil {
		return schema
	}
	b, err := encodeSchema(s)
	if err != nil {
		panic(fmt.Sprintf("tools: schema of %s cannot be encoded: %v", name, err))
	}
	return json.RawMessage(b)
}

// marshalJSON encodes v without HTML escaping, so bodies read naturally.
// A schema is encoded as json.Marshal would (see encodeSchema).
func marshalJSON(v any) []byte {
	if s, ok := v.(*jsonschema.Schema); ok {
		b, err := encodeSchema(s)
		if err != nil {
			panic(fmt.Sprintf("tools: encoding schema: %v", err))
		}
		return b
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		// Every value we encode is built from JSON-safe types.
		panic(fmt.Sprintf("tools: encoding result: %v", err))
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// structuredResult returns a result carrying v both as structuredContent and
// as JSON text, after redaction of the text.
func (d Deps) structuredResult(v any, isError bool) *mcp.CallToolResult {
	plain := marshalJSON(v)
	text := d.Redact(plain)
	var structured any = v
	// When Redact changed something, re-read the redacted text so that
	// structuredContent and text agree. It returns its argument itself
	// when it changed nothing, and then v already agrees.
	if !sameBytes(text, plain) {
		var back any
		dec := json.NewDecoder(bytes.NewReader(text))
		dec.UseNumber()
		if err := dec.Decode(&back); err == nil {
			structured = back
		}
	}
	return &mcp.CallToolResult{
		Content:           []mcp.Content{&mcp.TextContent{Text: string(text)}},
		StructuredContent: structured,
		IsError:           isError,
	}
}

// callResultFor makes res, the result of call_api or of a declared
// operation, satisfy their output schema (callResultSchema): every result
// of a tool with an output schema must carry structuredContent that
// validates, or clients that check (the TypeScript SDK, for one) fail the
// call with -32600. Both handlers end here, so no path (fresh, replayed,
// truncated, rate-limited, refused, declined, network failure) can forget
// it. A result without structuredContent (a refusal, a network failure)
// gets {status: 0, headers: {}, body: {error: TEXT}, truncated: false}:
// status 0 because no HTTP response came back, and TEXT the result's
// message, already redacted. An input-required result (2026-07-28
// confirmation) is left alone: it is a question to the client, not the
// tool's result, and the schema governs only complete results.
func (d Deps) callResultFor(res *mcp.CallToolResult) *mcp.CallToolResult {
	if res == nil || res.StructuredContent != nil || len(res.InputRequests) > 0 || res.RequestState != "" {
		return res
	}
	var msgs []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			msgs = append(msgs, t.Text)
		}
	}
	res.StructuredContent = callResult{
		Headers: map[string]string{},
		Body:    map[string]any{"error": strings.Join(msgs, "\n")},
	}
	return res
}

// sameBytes reports whether a and b are the same slice of the same array,
// which is how Redact says it found nothing.
func sameBytes(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

// errorResult returns a tool error whose text is msg, redacted.
func (d Deps) errorResult(msg string) *mcp.CallToolResult {
	return &mcp.CallToolResult{
		Content: []mcp.Content{&mcp.TextContent{Text: d.redactString(msg)}},
		IsError: true,
	}
}

// serviceNames lists the configured services, for messages.
func (d Deps) serviceNames() []string {
	names := make([]string, 0, len(d.Config.Services))
	for _, s := range d.Config.Services {
		names = append(names, s.Name)
	}
	return names
}

// quoteList renders names as "a", "b" and "c" for messages.
func quoteList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	switch len(q) {
	case 0:
		return "none"
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

func ptr[T any](v T) *T { return &v }
