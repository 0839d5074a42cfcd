package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/internal/valid"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// standardMethods are the methods call_api sends when a rule allows them.
// CONNECT and TRACE are never sent: one opens a tunnel, the other echoes the
// request (credential headers included) back into the result.
var standardMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}

// safeMethods are the methods without side effects, the only ones read-only
// mode sends.
var safeMethods = []string{"GET", "HEAD"}

// callInput is call_api's arguments after parsing.
type callInput struct {
	Service string
	Method  string
	Path    string
	Query   map[string]json.RawMessage
	Headers map[string]string
	Body    json.RawMessage
	// IdempotencyKey is the optional idempotency_key argument.
	IdempotencyKey string
	// JQ is the optional jq filter for the response body.
	JQ string
	// Args are the arguments as given, idempotency_key left out: what an
	// identical call repeats and a confirmation is bound to.
	Args map[string]json.RawMessage
}

// callResult is call_api's structured result.
type callResult struct {
	Status    int               `json:"status"`
	Headers   map[string]string `json:"headers"`
	Body      any               `json:"body"`
	Truncated bool              `json:"truncated"`
	// RetryAfter is the seconds to wait before calling again: keyveil's
	// own rate limit, or the API's Retry-After on a 429 or 503.
	RetryAfter *float64 `json:"retry_after,omitempty"`
}

func callAPITool(d Deps) Tool {
	readOnly := d.ReadOnly || onlySafeRules(d.Config)
	required := []string{"method", "path"}
	serviceDesc := "The service to call, as named by list_services."
	if len(d.Config.Services) == 1 {
		serviceDesc += " May be left out: there is only one."
	} else {
		required = append([]string{"service"}, required...)
	}
	in := object("", required,
		prop{"service", stringEnum(serviceDesc, d.serviceNames())},
		prop{"method", stringEnum("The HTTP method. It must be allowed by one of the service's allow rules (HEAD is allowed wherever GET is).", d.offeredMethods())},
		prop{"path", typed("string", "The path below the service's base URL, starting with \"/\": base https://h/api/v2 with path /quotes/1 calls https://h/api/v2/quotes/1. No scheme or host, no \"..\", no query string (use query). Percent-encode reserved characters inside a segment.")},
		prop{"query", mapOf("Query parameters: each name maps to a string, or to an array of strings to repeat the parameter.",
			anyOfTypes("A value, or several values for a repeated parameter.", typed("string", ""), arrayOf("", typed("string", ""))))},
		prop{"headers", mapOf("Extra request headers, name to value. Credential headers (Authorization, Cookie, the service's key header) and connection headers are refused: keyveil attaches the key itself.", typed("string", ""))},
		prop{"body", anyJSON("The request body. A JSON object, array, number or boolean is sent as JSON (Content-Type application/json); a string is sent as is (Content-Type text/plain unless headers set one). Leave it out, or null, for no body.")},
		prop{jqArg, typed("string", jqArgDesc)},
	)
	if !readOnly {
		in = withIdempotencyKey(in)
		in.Properties[idempotencyArg].Description += " Ignored for GET and HEAD."
	}
	out := callResultSchema()
	t := &mcp.Tool{
		Name:  "call_api",
		Title: "Call an HTTP API",
		Description: "Call one of the HTTP APIs listed by list_services. keyveil attaches the API key itself: " +
			"you never see or send one. The path is appended to the service's base URL and may not leave it; " +
			"the method and path must match one of the service's allow rules. The result is " +
			"{status, headers, body, truncated}, with body parsed when the response is JSON. " +
			jqSentence + " " +
			"isError is set for HTTP status 400 and above and for refused calls, whose message says what to change.",
		InputSchema:  in,
		OutputSchema: out,
		Annotations: &mcp.ToolAnnotations{
			Title:           "Call an HTTP API",
			ReadOnlyHint:    readOnly,
			DestructiveHint: ptr(!readOnly),
			IdempotentHint:  readOnly,
			OpenWorldHint:   ptr(true),
		},
	}
	return Tool{Tool: t, Handler: func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := d.Now()
		rec := Record{Time: start, Tool: "call_api"}
		res := d.callResultFor(d.callAPI(ctx, req, &rec))
		rec.DurationMS = millis(d.Now().Sub(start))
		d.Audit.Record(rec)
		return res, nil
	}}
}

// callResultSchema is the output schema of call_api and of every declared
// operation: both return the downstream response in the same shape.
func callResultSchema() *jsonschema.Schema {
	return object("The downstream response.", []string{"status", "headers", "body", "truncated"},
		prop{"status", typed("integer", "The HTTP status code.")},
		prop{"headers", mapOf("Response headers from an allowlist (Content-Type, Location, Retry-After, rate-limit headers and the like); cookies and authentication challenges are never included.", typed("string", ""))},
		prop{"body", anyJSON("The response body: parsed JSON when the response is JSON and complete, text otherwise, and for binary data an object {binary: true, content_type, size} instead of the bytes.")},
		prop{"truncated", typed("boolean", "True when the body was longer than the service's max_response_bytes and was cut off (a cut JSON body is returned as text).")},
		prop{"retry_after", typed("number", "Seconds to wait before calling again, when the call was rate limited: by keyveil (status 429, body.refused_by \"keyveil\", nothing was sent) or by the API (its Retry-After on a 429 or 503).")},
		prop{"replayed", typed("boolean", "True when this is the remembered result of an identical earlier call (same tool and arguments) and nothing was sent again; pass a new idempotency_key to make a new request.")},
	)
}

// callAPI runs one call_api call, filling rec as it learns more.
func (d Deps) callAPI(ctx context.Context, mreq *mcp.CallToolRequest, rec *Record) *mcp.CallToolResult {
	in, r := parseCallInput(mreq.Params.Arguments)
	rec.Method = shorten(strings.ToUpper(in.Method), 16)
	rec.Path = auditPath(in.Path)
	if r != nil {
		return d.refused(rec, r)
	}
	svc, r := d.pickService(in.Service)
	if r != nil {
		return d.refused(rec, r)
	}
	rec.Service = svc.Name
	rec.KeyFingerprint = d.Fingerprints[svc.Name]

	method, r := d.checkMethod(svc, in.Method)
	if r != nil {
		return d.refused(rec, r)
	}
	rel, r := relativePath(in.Path)
	if r != nil {
		return d.refused(rec, r)
	}
	rec.Path = rel
	if !ruleAllows(svc, method, rel) {
		return d.refused(rec, refuse(reasonAllow,
			"%s %s is not allowed for the %s service; its allow rules are: %s. Use a method and path one of them matches (\"*\" matches one path segment, \"**\" any number).",
			method, rel, svc.Name, strings.Join(ruleStrings(svc), ", ")))
	}
	query, names, r := buildQuery(svc, in.Query)
	rec.QueryNames = names
	if r != nil {
		return d.refused(rec, r)
	}
	if r := checkHeaders(svc, in.Headers); r != nil {
		return d.refused(rec, r)
	}
	body, contentType, r := requestBody(in.Body)
	if r != nil {
		return d.refused(rec, r)
	}
	if methodOverrideBody(in.Body) {
		return d.refused(rec, refuse(reasonBody, "the body sets %s, which %s; remove it", config.MethodOverrideParam, whyMethodParam))
	}
	var filter *jqFilter
	if in.JQ != "" {
		// Compiled before anything is sent: a bad filter costs no request.
		f, err := compileJQ(in.JQ)
		if err != nil {
			return d.refused(rec, refuse(reasonInput, "%v; the request was not sent", err))
		}
		filter = f
	}

	header := http.Header{}
	for name, value := range in.Headers {
		header.Set(name, value)
	}
	if contentType != "" && header.Get("Content-Type") == "" {
		header.Set("Content-Type", contentType)
	}
	req, err := newRequest(ctx, svc, method, rel, query, body, header)
	if err != nil {
		// The parts were checked above; the URL is not quoted, it may
		// hold a query value.
		d.Logger.Debug("call_api: building request", "service", svc.Name, "cause", d.redactString(privateCause(err)))
		return d.refused(rec, refuse(reasonPath, "the path and query do not form a valid URL; check them for stray characters"))
	}

	idem, window := idempotencyFor(svc, method, nil, 0)
	return d.send(ctx, mreq, &guardedCall{
		tool:          "call_api",
		svc:           svc,
		method:        method,
		path:          rel,
		args:          in.Args,
		key:           in.IdempotencyKey,
		confirm:       svc.Confirms(method),
		fallback:      svc.ConfirmFallback,
		fallbackWhere: "the " + svc.Name + " service",
		idempotent:    idem,
		window:        window,
		jq:            filter,
	}, req, rec)
}

// newRequest builds the request of call_api and of every declared
// operation: rel appended to svc's base URL (never resolved against it),
// then the encoded query, body (nil: none) and header, and last the
// operator's static headers, which win over anything the call set.
func newRequest(ctx context.Context, svc config.Service, method, rel, query string, body io.Reader, header http.Header) (*http.Request, error) {
	target := svc.BaseURL + rel
	if query != "" {
		target += "?" + query
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header = header
	for name, value := range svc.Headers {
		req.Header.Set(name, value)
	}
	return req, nil
}

// roundTrip sends req to svc and shapes the response into a result (see
// callResult), filling rec. The caller bounds req's context with the
// service's timeout. call_api and every declared operation end here, so
// their results and audit lines have one shape.
func (d Deps) roundTrip(rec *Record, svc config.Service, req *http.Request, filter *jqFilter) *mcp.CallToolResult {
	sent, ok := sentTexts(req, svc) // before Do, which consumes the body
	if !ok {
		return d.refused(rec, refuse(reasonBody, "the request body is longer than %d MiB, more than keyveil sends; send a smaller body", maxSentBody>>20))
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		return d.networkFailure(rec, svc, err)
	}
	defer resp.Body.Close()
	rec.Status = resp.StatusCode
	up, err := d.readUpstream(req.Context(), resp, svc.MaxResponseBytes, sent, &upstreamHooks{detect: d.detectHook(svc, rec), jq: filter})
	rec.ResponseBytes = up.read
	if err != nil {
		return d.networkFailure(rec, svc, err)
	}
	if up.jqErr != nil {
		// The request was sent and answered: say so, with the status, and
		// show nothing unfiltered in place of what the filter would give.
		msg := fmt.Sprintf("the %s service answered HTTP %d, but %s", svc.Name, resp.StatusCode, strings.TrimPrefix(up.jqErr.Error(), errJQ.Error()+": "))
		rec.Outcome = outcomeJQError
		rec.Error = msg
		return d.errorResult(msg)
	}

	result := callResult{
		Status:    resp.StatusCode,
		Headers:   up.headers,
		Body:      up.body,
		Truncated: up.truncated,
	}
	if secs, ok := upstreamRetryAfter(resp.StatusCode, resp.Header, d.Now()); ok {
		result.RetryAfter = &secs
		rec.RetryAfter = secs
	}
	isError := resp.StatusCode >= 400
	res := d.structuredResult(result, isError)
	if isError {
		rec.Outcome = outcomeHTTPError
		hint := statusHint(svc.Name, resp.StatusCode)
		if result.RetryAfter != nil {
			hint += fmt.Sprintf(". The service asks to retry after %g seconds (retry_after)", *result.RetryAfter)
		}
		rec.Error = hint
		res.Content = append(res.Content, &mcp.TextContent{Text: d.redactString(hint)})
	} else {
		rec.Outcome = outcomeOK
	}
	if why := resp.Header.Get(redirectNotFollowed); why != "" {
		explain, ok := redirectReasons[why]
		if !ok {
			explain = "keyveil follows only redirects a call could have made itself"
		}
		res.Content = append(res.Content, &mcp.TextContent{Text: fmt.Sprintf(
			"the %s service answered with a redirect that keyveil did not follow (%s): %s. The Location header says where it pointed; call a path of this service that its allow rules allow instead",
			svc.Name, d.upstreamShort(why, 40, sent), explain)})
	}
	return res
}

// redirectNotFollowed is the header keyveil's transport sets on a 3xx
// response whose redirect it did not follow (credentials.RedirectHeader,
// spelled out because tools does not import credentials).
const redirectNotFollowed = "X-Keyveil-Redirect-Not-Followed"

// redirectReasons explains each value of redirectNotFollowed
// (credentials.Redirect*) to the model.
var redirectReasons = map[string]string{
	"cross-origin":      "keys go only to the service's own origin",
	"bad-location":      "its Location could not be read",
	"outside-base-path": "it points outside the service's base URL, where the key does not go",
	"not-allowed":       "no allow rule of the service allows that method and path",
	"read-only":         "keyveil is read-only, and the redirect would repeat a write",
}

// refused records r and returns it as a tool error.
func (d Deps) refused(rec *Record, r *refusal) *mcp.CallToolResult {
	rec.Outcome = outcomeRefused + string(r.reason)
	rec.Error = d.redactString(r.msg)
	return d.errorResult(r.msg)
}

// networkFailure reports a failed round trip without its URL and logs the
// private cause, redacted, at debug level.
func (d Deps) networkFailure(rec *Record, svc config.Service, err error) *mcp.CallToolResult {
	perr := networkError(svc.Name, svc.Timeout, err)
	d.Logger.Debug("call_api: request failed", "service", svc.Name, "cause", d.redactString(privateCause(err)))
	rec.Outcome = outcomeNetworkError
	rec.Error = d.redactString(perr.Error())
	return d.errorResult(perr.Error())
}

var inputFields = []string{"service", "method", "path", "query", "headers", "body", jqArg, idempotencyArg}

func parseCallInput(args json.RawMessage) (callInput, *refusal) {
	var in callInput
	fields := argObject(args)
	if fields == nil {
		return in, refuse(reasonInput, "the arguments must be a JSON object with %s", strings.Join(inputFields, ", "))
	}
	for name := range fields {
		if !slices.Contains(inputFields, name) {
			return in, refuse(reasonInput, "unknown argument %q; call_api takes %s (put query parameters in query, not in the path)", shorten(name, 40), strings.Join(inputFields, ", "))
		}
	}
	str := func(name string, dst *string) *refusal {
		raw, ok := fields[name]
		if !ok || string(raw) == "null" {
			return nil
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			return refuse(reasonInput, "%s must be a string", name)
		}
		return nil
	}
	for _, f := range []struct {
		name string
		dst  *string
	}{{"service", &in.Service}, {"method", &in.Method}, {"path", &in.Path}, {jqArg, &in.JQ}} {
		if r := str(f.name, f.dst); r != nil {
			return in, r
		}
	}
	if in.Method == "" {
		return in, refuse(reasonInput, "method is missing; give an HTTP method such as \"GET\"")
	}
	if _, ok := fields["path"]; !ok {
		return in, refuse(reasonInput, "path is missing; give a path below the service's base URL, like \"/quotes/1\"")
	}
	if raw, ok := fields["query"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &in.Query); err != nil {
			return in, refuse(reasonInput, "query must be an object mapping each parameter name to a string or an array of strings, like {\"page\": \"2\"}")
		}
	}
	if raw, ok := fields["headers"]; ok && string(raw) != "null" {
		if err := json.Unmarshal(raw, &in.Headers); err != nil {
			return in, refuse(reasonInput, "headers must be an object mapping each header name to a string, like {\"Accept\": \"application/json\"}")
		}
	}
	if raw, ok := fields["body"]; ok {
		in.Body = raw
	}
	if r := str(idempotencyArg, &in.IdempotencyKey); r != nil {
		return in, r
	}
	if len(in.IdempotencyKey) > 255 {
		return in, refuse(reasonInput, "idempotency_key is longer than 255 characters; use a shorter name for the operation")
	}
	delete(fields, idempotencyArg)
	in.Args = fields
	return in, nil
}

func (d Deps) pickService(name string) (config.Service, *refusal) {
	if name == "" {
		if len(d.Config.Services) == 1 {
			return d.Config.Services[0], nil
		}
		return config.Service{}, refuse(reasonService, "service is missing and there are %d services; set service to one of %s", len(d.Config.Services), quoteList(d.serviceNames()))
	}
	if s, ok := d.Config.Service(name); ok {
		return s, nil
	}
	return config.Service{}, refuse(reasonService, "there is no service %s; set service to one of %s (see list_services)", shortQuote(name), quoteList(d.serviceNames()))
}

// serviceMethods returns the methods svc's rules name that call_api will
// send: the standard ones for a "*" rule, HEAD wherever GET is allowed, and
// any other token a rule spells out.
func serviceMethods(svc config.Service) []string {
	var ms []string
	for _, r := range svc.Rules() {
		switch {
		case r.Method == "*":
			ms = append(ms, standardMethods...)
		case r.Method == "CONNECT" || r.Method == "TRACE":
		case r.Method == "GET":
			ms = append(ms, "GET", "HEAD")
		default:
			ms = append(ms, r.Method)
		}
	}
	return ms
}

// offeredMethods is the method enum of call_api's input schema: the methods
// some service's rules allow, in a stable order, narrowed to GET and HEAD in
// read-only mode.
func (d Deps) offeredMethods() []string {
	var all []string
	for _, s := range d.Config.Services {
		all = append(all, serviceMethods(s)...)
	}
	var out []string
	for _, m := range standardMethods {
		if slices.Contains(all, m) {
			out = append(out, m)
		}
	}
	slices.Sort(all)
	for _, m := range slices.Compact(all) {
		if !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if d.ReadOnly {
		out = slices.DeleteFunc(out, func(m string) bool { return !slices.Contains(safeMethods, m) })
		if len(out) == 0 {
			out = slices.Clone(safeMethods)
		}
	}
	if len(out) == 0 {
		out = slices.Clone(standardMethods)
	}
	return out
}

func (d Deps) checkMethod(svc config.Service, m string) (string, *refusal) {
	method := strings.ToUpper(strings.TrimSpace(m))
	known := slices.Contains(standardMethods, method) || slices.Contains(serviceMethods(svc), method)
	if !known || !isToken(method) {
		return "", refuse(reasonMethod, "method %s is not one keyveil sends; use one of %s", shortQuote(m), strings.Join(standardMethods, ", "))
	}
	if d.ReadOnly && !slices.Contains(safeMethods, method) {
		return "", refuse(reasonReadOnly, "keyveil is running in read-only mode, so only GET and HEAD are sent and %s was refused; read with GET instead, or ask the operator to restart keyveil without --read-only", method)
	}
	return method, nil
}

// ruleAllows reports whether one of svc's rules allows method on rel. HEAD
// is allowed wherever GET is: it is GET without the body.
func ruleAllows(svc config.Service, method, rel string) bool {
	for _, r := range svc.Rules() {
		if r.Matches(method, rel) || method == "HEAD" && r.Matches("GET", rel) {
			return true
		}
	}
	return false
}

func ruleStrings(svc config.Service) []string {
	var out []string
	for _, r := range svc.Rules() {
		out = append(out, r.String())
	}
	return out
}

// onlySafeRules reports whether every rule of every service allows only GET
// or HEAD, which makes call_api read-only whatever the mode.
func onlySafeRules(c *config.Config) bool {
	for _, s := range c.Services {
		for _, r := range s.Rules() {
			if !slices.Contains(safeMethods, r.Method) {
				return false
			}
		}
	}
	return true
}

// buildQuery encodes the query object and returns its sorted parameter
// names for the audit line. It refuses the parameter that carries the
// service's key in query auth, whatever its case: the key is attached by the
// transport, and a model-supplied one would at best be ignored and at worst
// shadow it.
func buildQuery(svc config.Service, q map[string]json.RawMessage) (string, []string, *refusal) {
	if len(q) == 0 {
		return "", nil, nil
	}
	vals := url.Values{}
	var names []string
	for name := range q {
		names = append(names, shorten(name, 64))
	}
	slices.Sort(names)
	for name, raw := range q {
		if name == "" {
			return "", names, refuse(reasonQuery, "a query parameter has an empty name; remove it")
		}
		if svc.Auth.CarriesParam(name) {
			return "", names, refuse(reasonQuery, "query parameter %q carries the %s service's key, which keyveil attaches itself; remove it", name, svc.Name)
		}
		if strings.EqualFold(name, config.MethodOverrideParam) {
			return "", names, refuse(reasonQuery, "query parameter %s %s; remove it", shortQuote(name), whyMethodParam)
		}
		vs, ok := queryValues(raw)
		if !ok {
			return "", names, refuse(reasonQuery, "query parameter %s must be a string or an array of strings, like {\"page\": \"2\"} or {\"id\": [\"1\", \"2\"]}", shortQuote(name))
		}
		vals[name] = vs
	}
	return vals.Encode(), names, nil
}

// queryValues accepts a string, a number or a boolean (models often write
// {"limit": 10}), or an array of them.
func queryValues(raw json.RawMessage) ([]string, bool) {
	if s, ok := scalarString(raw); ok {
		return []string{s}, true
	}
	var arr []json.RawMessage
	if err := json.Unmarshal(raw, &arr); err != nil {
		return nil, false
	}
	out := make([]string, 0, len(arr))
	for _, item := range arr {
		s, ok := scalarString(item)
		if !ok {
			return nil, false
		}
		out = append(out, s)
	}
	return out, true
}

// checkHeaders refuses a header the model may not set on svc (see
// config.Service.HeaderRefusal: credentials, connection headers, Range,
// method override, URL rewrite, and names that fold onto one of those on
// CGI and WSGI servers) and a value that could start another header.
func checkHeaders(svc config.Service, h map[string]string) *refusal {
	for name, value := range h {
		if !isToken(name) {
			return refuse(reasonHeader, "header name %s is not a valid HTTP header name; use letters, digits and '-'", shortQuote(name))
		}
		canon := http.CanonicalHeaderKey(name)
		if why := svc.HeaderRefusal(name); why != "" {
			return refuse(reasonHeader, "header %s %s; remove it. Headers you may not set for %s: %s", canon, why, svc.Name, strings.Join(svc.ReservedHeaderNames(), ", "))
		}
		if badHeaderValue(value) {
			return refuse(reasonHeader, "the value of header %s contains a line break or control character; remove it", canon)
		}
	}
	return nil
}

// badHeaderValue reports whether v holds a line break or another control
// character (tab aside), which could end the header and start another.
func badHeaderValue(v string) bool {
	return strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}

// whyMethodParam says why _method is refused.
const whyMethodParam = "makes many servers (Rails, Laravel, Symfony) run the request as another method than the allow rules checked; set method instead"

// methodOverrideBody reports whether the body argument carries a _method
// field (config.MethodOverrideParam, any case): a top-level member of a
// JSON object, a form field of a string body (name=value&…), or a
// multipart part named so. Frameworks read it from any of these.
func methodOverrideBody(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return false
	}
	switch raw[0] {
	case '{':
		var fields map[string]json.RawMessage
		if json.Unmarshal(raw, &fields) != nil {
			return false
		}
		for name := range fields {
			if strings.EqualFold(name, config.MethodOverrideParam) {
				return true
			}
		}
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return false
		}
		lower := strings.ToLower(s)
		if strings.Contains(lower, `name="`+config.MethodOverrideParam+`"`) {
			return true
		}
		// ParseQuery keeps what it could read before an error.
		form, _ := url.ParseQuery(s)
		for name := range form {
			if strings.EqualFold(strings.TrimSpace(name), config.MethodOverrideParam) {
				return true
			}
		}
	}
	return false
}

// requestBody turns the body argument into bytes and a default Content-Type.
// Absent or null means no body; a JSON string is sent as is; any other JSON
// value is sent as compact JSON.
func requestBody(raw json.RawMessage) (io.Reader, string, *refusal) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, "", nil
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, "", refuse(reasonBody, "body is not a valid JSON string")
		}
		return strings.NewReader(s), "text/plain; charset=utf-8", nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, "", refuse(reasonBody, "body is not valid JSON")
	}
	return &b, "application/json", nil
}

// statusHint says what to change after an HTTP error status.
func statusHint(service string, status int) string {
	prefix := fmt.Sprintf("the %s service answered HTTP %d %s", service, status, http.StatusText(status))
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return prefix + "; the key keyveil attached was refused or lacks permission for this call. You cannot change the key: try a call the key is meant for, or tell the user to ask the operator"
	case status == http.StatusNotFound:
		return prefix + "; check the path against the API's docs (list_services shows the base URL and allowed paths)"
	case status == http.StatusMethodNotAllowed:
		return prefix + "; this path does not accept that method"
	case status == http.StatusTooManyRequests:
		return prefix + "; you are being rate limited: wait (see the Retry-After header if present) before calling again"
	case status >= 500:
		return prefix + "; the service failed, not the request: try again later"
	}
	return prefix + "; check the method, path, query and body against the API's docs (the body above may say what is wrong)"
}

// auditPath is the path as given, cut at any query or fragment and
// shortened, for audit lines of refused calls.
func auditPath(p string) string {
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	return shorten(p, 200)
}

func millis(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

// isToken reports whether s is an RFC 9110 token, the syntax of method and
// header names (one rule for config, the auth schemes and the tools).
func isToken(s string) bool { return valid.Token(s) }
