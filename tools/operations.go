package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/keyveil/keyveil/config"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Declared operations are the tools of the services file's tools list and
// of imported OpenAPI documents. Each builds exactly one kind of request:
// the operator fixed the method and the path template, and the model
// supplies only the inputs the schema declares. The declaration is the
// operator's allowlist for that request, so the service's allow rules
// (which govern call_api) are not consulted again.
//
// A tool whose scope is not granted, or that is not read-only under
// --read-only, is not registered at all; a call to it gets a refusal that
// says why (see refuseHidden) rather than the SDK's bare "unknown tool".

// Refusal reasons of declared operations.
const (
	reasonScope reason = "scope"
	reasonTool  reason = "tool"
)

// operation is one declared tool ready to serve. Its schema is resolved
// on the first call, not at registration: a deployment with hundreds of
// imported operations would otherwise resolve them all before it could
// answer tools/list, and most are never called.
type operation struct {
	tool    config.Tool
	svc     config.Service
	allowed []string // input names, sorted

	idempotent bool          // sends an idempotency key, replays identical calls (idempotency.go)
	window     time.Duration // how long results replay
	offersKey  bool          // idempotency_key is offered (idempotent, and not an input of its own)
	jq         *jqFilter     // the tool's response.jq; nil: none

	once       sync.Once
	input      *jsonschema.Resolved
	props      map[string]*jsonschema.Resolved // each property alone, for messages that name it
	resolveErr error                           // why the input schema does not resolve
}

// operationTools returns the declared tools d offers, in declaration
// order.
func operationTools(d Deps) []Tool {
	var out []Tool
	for _, t := range d.Config.Tools {
		if d.Config.Hidden(t, d.ReadOnly, d.Scopes).Hidden() {
			continue
		}
		svc, ok := d.Config.Service(t.Service)
		if !ok {
			continue // config validation makes this impossible
		}
		op := newOperation(t, svc)
		out = append(out, Tool{Tool: op.definition(), Handler: func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			start := d.Now()
			rec := Record{Time: start, Tool: t.Name, Service: svc.Name, Method: t.Method, KeyFingerprint: d.Fingerprints[svc.Name]}
			res := d.callResultFor(d.callOperation(ctx, op, req, &rec))
			rec.DurationMS = millis(d.Now().Sub(start))
			d.Audit.Record(rec)
			return res, nil
		}})
	}
	return out
}

func newOperation(t config.Tool, svc config.Service) *operation {
	op := &operation{tool: t, svc: svc}
	for name := range t.Input.Properties {
		op.allowed = append(op.allowed, name)
	}
	sort.Strings(op.allowed)
	on := t.Idempotency
	if on == nil && t.ReadOnly() {
		// A POST the operator marked read-only (a search) changes
		// nothing, so there is nothing to protect and fresh data to lose.
		on = ptr(false)
	}
	op.idempotent, op.window = idempotencyFor(svc, t.Method, on, t.IdempotencyWindow)
	_, declared := t.Input.Properties[idempotencyArg]
	op.offersKey = op.idempotent && !declared
	if t.Response.JQ != "" {
		// config.Load compiled it the same way; failing here is a bug.
		f, err := compileJQ(t.Response.JQ)
		if err != nil {
			panic(fmt.Sprintf("tools: tool %s: %v", t.Name, err))
		}
		op.jq = f
	}
	return op
}

// resolve resolves the input schema once. config has resolved it at
// start-up, except for tools config.AddResolvedTools accepted (an OpenAPI
// import read from its cache); a schema that fails here after all, say
// from a damaged cache, refuses the call rather than ending the process.
func (op *operation) resolve() error {
	op.once.Do(func() {
		r, err := op.tool.Input.Resolve(nil)
		if err != nil {
			op.resolveErr = err
			return
		}
		op.input, op.props = r, map[string]*jsonschema.Resolved{}
		for name, ps := range op.tool.Input.Properties {
			if ps == nil {
				continue
			}
			if pr, err := ps.Resolve(nil); err == nil {
				op.props[name] = pr
			}
		}
	})
	return op.resolveErr
}

// annotationTitle is the title annotation: none for a compact tool, whose
// title field already says it.
func annotationTitle(t config.Tool) string {
	if t.Compact {
		return ""
	}
	return t.Annotations.Title
}

// compactResultSchema is the output schema of tools imported compact:
// the shape of call_api's result without descriptions or the optional
// fields (which stay allowed). Every tool repeats it, and call_api's
// description already says what each field is; schema: full gives the
// whole one.
var compactResultSchema = sync.OnceValue(func() json.RawMessage {
	return json.RawMessage(`{"type":"object","properties":{"status":{"type":"integer"},"truncated":{"type":"boolean"}},"required":["status","headers","body","truncated"]}`)
})

// resultSchema is the output schema of every operation, encoded once.
var resultSchema = sync.OnceValue(func() json.RawMessage { return marshalJSON(callResultSchema()) })

// definition is the tool as tools/list shows it. Register hands the
// input schema to the SDK encoded (see encodeSchema), on as many CPUs as
// there are; the output schema, the same for every operation, is encoded
// once.
func (op *operation) definition() *mcp.Tool {
	t := op.tool
	return &mcp.Tool{
		Name:         t.Name,
		Title:        t.Annotations.Title,
		Description:  t.Description,
		InputSchema:  op.inputSchema(),
		OutputSchema: op.outputSchema(),
		Annotations: &mcp.ToolAnnotations{
			Title:           annotationTitle(t),
			ReadOnlyHint:    t.ReadOnly(),
			DestructiveHint: ptr(t.Destructive()),
			IdempotentHint:  t.Idempotent(),
			OpenWorldHint:   ptr(t.OpenWorld()),
		},
	}
}

// outputSchema is call_api's result shape, with the body as the tool's
// response.jq shapes it when it has one.
func (op *operation) outputSchema() any {
	r := op.tool.Response
	if r.JQ == "" {
		if op.tool.Compact {
			return compactResultSchema()
		}
		return resultSchema()
	}
	s := callResultSchema()
	body := r.Schema
	if body == nil {
		body = anyJSON("")
	} else {
		body = body.CloneSchemas()
	}
	body.Description = strings.TrimSpace(body.Description + " The response body shaped by the jq filter " + shorten(r.JQ, 200) + ".")
	s.Properties["body"] = body
	return s
}

// inputSchema is the declared input, with idempotency_key when offered
// (described in one short sentence for a compact tool: the full text
// would be a third of its size, and call_api's says it all once).
func (op *operation) inputSchema() *jsonschema.Schema {
	if !op.offersKey {
		return op.tool.Input
	}
	s := withIdempotencyKey(op.tool.Input)
	if op.tool.Compact {
		k := *s.Properties[idempotencyArg]
		k.Description = compactIdempotencyDesc
		s.Properties[idempotencyArg] = &k
	}
	return s
}

// compactIdempotencyDesc describes idempotency_key on a compact tool.
const compactIdempotencyDesc = "Optional. An identical call within a few minutes is replayed, not sent again; pass a new value to repeat it on purpose, the same value to retry a failure."

// callOperation validates the arguments, builds the request and sends it
// through the guardrails.
func (d Deps) callOperation(ctx context.Context, op *operation, mreq *mcp.CallToolRequest, rec *Record) *mcp.CallToolResult {
	t := op.tool
	rec.Path = auditPath(t.Path)
	if d.ReadOnly && !t.ReadOnly() {
		// Not offered under --read-only; a stale client may still call.
		return d.refused(rec, refuse(reasonReadOnly, "keyveil is running in read-only mode and %s is not read-only; it was not called", t.Name))
	}
	raw := argObject(mreq.Params.Arguments)
	var key string
	if op.offersKey {
		var r *refusal
		if key, r = takeIdempotencyKey(raw); r != nil {
			return d.refused(rec, r)
		}
	}
	raw, r := op.validate(raw)
	if r != nil {
		return d.refused(rec, r)
	}
	req, r := op.build(ctx, raw)
	if r != nil {
		return d.refused(rec, r)
	}
	rec.Path = strings.TrimPrefix(req.URL.EscapedPath(), op.svc.URL().EscapedPath())
	rec.QueryNames = queryNames(req.URL.RawQuery)
	return d.send(ctx, mreq, &guardedCall{
		tool:          t.Name,
		svc:           op.svc,
		method:        t.Method,
		path:          rec.Path,
		args:          raw,
		key:           key,
		confirm:       t.NeedsConfirm(),
		fallback:      t.ConfirmFallback,
		fallbackWhere: "the tool " + t.Name,
		idempotent:    op.idempotent,
		window:        op.window,
		toolLimit:     t.Limit(),
		jq:            op.jq,
	}, req, rec)
}

// argObject decodes a call's arguments, once for the whole call: absent or
// null is no arguments, and nil means they are not a JSON object (validate
// refuses that).
func argObject(args json.RawMessage) map[string]json.RawMessage {
	raw := map[string]json.RawMessage{}
	if t := bytes.TrimSpace(args); len(t) > 0 && string(t) != "null" {
		if err := json.Unmarshal(t, &raw); err != nil {
			return nil
		}
	}
	return raw
}

// validate checks the arguments (from argObject) against the tool's input
// schema before anything is built. Messages name the argument and what it
// must be, and never repeat the value the model sent: it may be long, or
// something it should not have had.
func (op *operation) validate(raw map[string]json.RawMessage) (map[string]json.RawMessage, *refusal) {
	if err := op.resolve(); err != nil {
		return nil, refuse(reasonTool, "the input schema of %s cannot be used (%s), so it was not called; run keyveil check and tell the operator", op.tool.Name, shorten(err.Error(), 200))
	}
	if raw == nil {
		return nil, refuse(reasonInput, "the arguments must be a JSON object with %s", argList(op.allowed))
	}
	for name := range raw {
		if !slices.Contains(op.allowed, name) {
			return nil, refuse(reasonInput, "unknown argument %s; %s takes %s", shortQuote(name), op.tool.Name, argList(op.allowed))
		}
	}
	var missing []string
	for _, req := range op.tool.Input.Required {
		if v, ok := raw[req]; !ok || string(v) == "null" {
			missing = append(missing, req)
		}
	}
	if len(missing) > 0 {
		return nil, refuse(reasonInput, "missing required argument%s %s", plural(len(missing)), strings.Join(missing, ", "))
	}
	instance := map[string]any{}
	for name, v := range raw {
		if string(v) == "null" {
			delete(raw, name) // null means "not given"
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return nil, refuse(reasonInput, "argument %s is not valid JSON", name)
		}
		instance[name] = x
	}
	// The whole schema applies each property's own, so when it holds
	// nothing is checked twice; when it does not, each property alone
	// finds a message that names the argument.
	invalid := op.input.Validate(instance)
	for name, x := range instance {
		if pr := op.props[name]; pr != nil && invalid != nil {
			if err := pr.Validate(x); err != nil {
				return nil, refuse(reasonInput, "argument %s is not valid: %s", name, explain(op.tool.Input.Properties[name], err))
			}
		}
		// jsonschema-go treats format as an annotation; keyveil asserts it.
		if err := checkFormats(op.tool.Input.Properties[name], x); err != nil {
			return nil, refuse(reasonInput, "argument %s is not valid: %s", name, err.Error())
		}
	}
	if invalid != nil {
		return nil, refuse(reasonInput, "the arguments do not match %s's input schema (%s); check them against it", op.tool.Name, keyword(invalid))
	}
	return raw, nil
}

// build makes the request: each argument goes where the tool's mapping
// says. Path values are percent-encoded by the template, so none can add a
// segment, a dot segment or a host.
func (op *operation) build(ctx context.Context, raw map[string]json.RawMessage) (*http.Request, *refusal) {
	t := op.tool
	pathVals := map[string]string{}
	query := url.Values{}
	header := http.Header{}
	var body map[string]json.RawMessage
	var whole json.RawMessage
	names := make([]string, 0, len(raw))
	for name := range raw {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		v := raw[name]
		m := t.Where(name)
		switch m.In {
		case config.InPath:
			s, ok := scalarString(v)
			if !ok {
				return nil, refuse(reasonInput, "argument %s goes into the path and must be a string or a number", name)
			}
			if r := checkPathValue(name, s); r != nil {
				return nil, r
			}
			pathVals[m.Name] = s
		case config.InQuery:
			vs, ok := queryValues(v)
			if !ok {
				// Objects have no standard query form; send them as JSON.
				vs = []string{string(compactJSON(v))}
			}
			query[m.Name] = append(query[m.Name], vs...)
		case config.InHeader:
			s, ok := scalarString(v)
			if !ok || badHeaderValue(s) {
				return nil, refuse(reasonInput, "argument %s goes into the %s header and must be a single-line string or number", name, m.Name)
			}
			header.Set(m.Name, s)
		case config.InBody:
			if body == nil {
				body = map[string]json.RawMessage{}
			}
			body[m.Name] = v
		case config.InWholeBody:
			// The operator named no field, so the model names them all:
			// a top-level _method would run another method than the
			// tool declares, as it would through call_api.
			if methodOverrideBody(v) {
				return nil, refuse(reasonBody, "argument %s is sent as the body and sets %s, which %s; remove it", name, config.MethodOverrideParam, whyMethodParam)
			}
			whole = v
		}
	}
	rel, err := t.Template().Expand(pathVals)
	if err != nil {
		if errors.Is(err, config.ErrBadPathValue) {
			return nil, refuse(reasonPath, "%s; path arguments may not be empty, \".\" or \"..\"", err.Error())
		}
		return nil, refuse(reasonPath, "the path could not be built from the arguments")
	}
	var reader io.Reader
	switch {
	case whole != nil:
		reader = bytes.NewReader(compactJSON(whole))
	case body != nil:
		reader = bytes.NewReader(marshalJSON(body))
	}
	if reader != nil {
		header.Set("Content-Type", "application/json")
	}
	req, err := newRequest(ctx, op.svc, t.Method, rel, query.Encode(), reader, header)
	if err != nil {
		return nil, refuse(reasonPath, "the arguments do not form a valid URL; check them for stray characters")
	}
	return req, nil
}

// checkPathValue refuses a path argument that holds a "." or ".."
// segment between "/" or "\\" (in any percent-encoding), a character that
// servers fold onto "." or "/", or bytes that are not UTF-8. The template
// encodes "/" as %2F, which keeps the value in its segment on a server
// that routes on the raw path; a server that decodes %2F first would see
// "../admin" walk out of the tool's path.
func checkPathValue(name, v string) *refusal {
	cur := v
	for round := 0; round <= maxDecodeRounds; round++ {
		cur = strings.ReplaceAll(cur, `\`, "/")
		_, alike := lookAlike(cur)
		if hasDotSegment(cur) || alike || !utf8.ValidString(cur) {
			return refuse(reasonPath, "argument %s goes into the path and may not hold a \".\" or \"..\" segment (perhaps percent-encoded), a look-alike of \".\" or \"/\", or invalid UTF-8: a server that decodes \"/\" would leave the tool's path. Pass the plain value", name)
		}
		next, err := url.PathUnescape(cur)
		if err != nil || next == cur {
			return nil
		}
		cur = next
	}
	return refuse(reasonPath, "argument %s goes into the path and is percent-encoded too many times over; pass the plain value", name)
}

// scalarString returns a JSON string, number or boolean as text.
func scalarString(v json.RawMessage) (string, bool) {
	var x any
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return "", false
	}
	switch x := x.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return fmt.Sprint(x), true
	}
	return "", false
}

func compactJSON(v json.RawMessage) []byte {
	var b bytes.Buffer
	if err := json.Compact(&b, v); err != nil {
		return v
	}
	return b.Bytes()
}

// queryNames returns the sorted parameter names of a raw query, for the
// audit line (values are never recorded).
func queryNames(raw string) []string {
	q, _ := url.ParseQuery(raw)
	var out []string
	for k := range q {
		out = append(out, shorten(k, 64))
	}
	sort.Strings(out)
	return out
}

func argList(names []string) string {
	if len(names) == 0 {
		return "no arguments"
	}
	return strings.Join(names, ", ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// schemaKeyword matches a validation keyword at the start of an error
// message, as jsonschema-go writes them ("pattern: ..."). It and
// validatingPrefix are compiled on the first refusal that needs them, not
// at every start.
var schemaKeyword = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^(type|enum|const|multipleOf|minimum|maximum|exclusiveMinimum|exclusiveMaximum|minLength|maxLength|pattern|minItems|maxItems|uniqueItems|contains|minContains|maxContains|minProperties|maxProperties|required|dependentRequired|anyOf|oneOf|allOf|not|format|unexpected additional properties)\b`)
})

var validatingPrefix = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^validating [^:]*: `) })

// keyword names the schema keyword an error is about: the first word
// after the "validating …:" prefixes. The rest of the error text quotes
// the value and is never shown.
func keyword(err error) string {
	msg := err.Error()
	for {
		loc := validatingPrefix().FindStringIndex(msg)
		if loc == nil {
			break
		}
		msg = msg[loc[1]:]
	}
	if m := schemaKeyword().FindString(msg); m != "" {
		if m == "unexpected additional properties" {
			return "additionalProperties"
		}
		return m
	}
	return "a schema rule"
}

// explain says what a top-level argument must be, from the operator's own
// schema (which is safe to show), and which rule the value broke.
func explain(s *jsonschema.Schema, err error) string {
	var parts []string
	if s != nil {
		switch s.Type {
		case "":
		case "integer", "object", "array":
			parts = append(parts, "an "+s.Type)
		default:
			parts = append(parts, "a "+s.Type)
		}
		if len(s.Enum) > 0 && len(s.Enum) <= 20 {
			vals, _ := json.Marshal(s.Enum)
			parts = append(parts, "one of "+string(vals))
		}
		if s.Pattern != "" {
			parts = append(parts, "matching "+s.Pattern)
		}
		if s.MinLength != nil {
			parts = append(parts, fmt.Sprintf("at least %d characters", *s.MinLength))
		}
		if s.MaxLength != nil {
			parts = append(parts, fmt.Sprintf("at most %d characters", *s.MaxLength))
		}
		if s.Minimum != nil {
			parts = append(parts, fmt.Sprintf("at least %v", *s.Minimum))
		}
		if s.Maximum != nil {
			parts = append(parts, fmt.Sprintf("at most %v", *s.Maximum))
		}
		if s.MinItems != nil {
			parts = append(parts, fmt.Sprintf("at least %d items", *s.MinItems))
		}
		if s.MaxItems != nil {
			parts = append(parts, fmt.Sprintf("at most %d items", *s.MaxItems))
		}
	}
	rule := keyword(err)
	if len(parts) == 0 {
		return fmt.Sprintf("it breaks the %s rule of its schema", rule)
	}
	return fmt.Sprintf("it must be %s (it breaks the %s rule)", strings.Join(parts, ", "), rule)
}

// refuseHidden answers a tools/call for a declared tool that is not offered
// (scope not granted, or --read-only) with a tool error that says why and
// what to change, instead of the SDK's "unknown tool". The call is
// audited. Other requests pass through.
func refuseHidden(d Deps) mcp.Middleware {
	hidden := map[string]config.Hiding{}
	for _, t := range d.Config.Tools {
		if h := d.Config.Hidden(t, d.ReadOnly, d.Scopes); h.Hidden() {
			hidden[t.Name] = h
		}
	}
	return func(next mcp.MethodHandler) mcp.MethodHandler {
		if len(hidden) == 0 {
			return next
		}
		return func(ctx context.Context, method string, req mcp.Request) (mcp.Result, error) {
			call, ok := req.(*mcp.CallToolRequest)
			if method != "tools/call" || !ok || call.Params == nil {
				return next(ctx, method, req)
			}
			h, ok := hidden[call.Params.Name]
			if !ok {
				return next(ctx, method, req)
			}
			why := reasonScope
			if h.ReadOnly {
				why = reasonReadOnly
			}
			rec := Record{Time: d.Now(), Tool: call.Params.Name}
			res := d.refused(&rec, refuse(why, "tool %s is not offered in this deployment: %s; it was not called. Use the tools that tools/list shows", call.Params.Name, h.Why))
			d.Audit.Record(rec)
			return res, nil
		}
	}
}
