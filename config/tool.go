package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// Names of the tools keyveil always offers; a declared tool may not take
// them.
const (
	ListServicesTool = "list_services"
	CallAPITool      = "call_api"
)

// Where an input goes in the request ([Mapping.In]).
const (
	InPath   = "path"   // fills the {name} placeholder of the path
	InQuery  = "query"  // ?name=value (arrays repeat the parameter)
	InHeader = "header" // name: value
	InBody   = "body"   // a property of the JSON object body
	// InWholeBody sends the input itself as the JSON body: an OpenAPI
	// request body that is not an object, or one whose properties would
	// clash with the parameters.
	InWholeBody = "whole_body"
)

// Confirmation fallbacks ([Tool.ConfirmFallback]).
const (
	ConfirmFallbackRefuse = "refuse" // the zero value means this
	ConfirmFallbackAllow  = "allow"
)

// A Mapping says where one input of a declared tool goes in the request.
// In a services file it is written either as the place alone
// ("message: body") or with the name used there
// ("trace_id: {in: header, name: X-Trace-Id}").
type Mapping struct {
	// In is InPath, InQuery, InHeader, InBody or InWholeBody.
	In string `yaml:"in" json:"in"`
	// Name is the parameter, header or body property name in the request;
	// empty: the input's own name. Unused for InWholeBody.
	Name string `yaml:"name" json:"name,omitempty"`
}

// Annotations are hints a declared tool gives the client about what it
// does. A nil hint is derived from the HTTP method (see [Tool.ReadOnly] and
// the methods beside it). Hints tell the client; they never grant anything:
// --read-only trusts ReadOnly, so it is set only by the operator.
type Annotations struct {
	// Title is a human-readable name for the tool; empty: none.
	Title string `yaml:"title"`
	// ReadOnly: the tool does not change anything. nil: GET or HEAD.
	ReadOnly *bool `yaml:"read_only"`
	// Destructive: the tool may delete or overwrite. nil: DELETE.
	Destructive *bool `yaml:"destructive"`
	// Idempotent: calling twice with the same input does no more than
	// once. nil: GET, HEAD, PUT or DELETE.
	Idempotent *bool `yaml:"idempotent"`
	// OpenWorld: the tool reaches outside systems. nil: true, as every
	// declared tool calls a remote API.
	OpenWorld *bool `yaml:"open_world"`
}

// Tool is a named operation on one service, declared in the services
// file's tools list or imported from an OpenAPI document: the model sees
// Name, Description and Input, and keyveil builds the request from Method,
// Path and Mapping.
type Tool struct {
	// Name is what the model calls: 1-64 of [A-Za-z0-9_-], unique, and
	// neither list_services nor call_api.
	Name string `yaml:"name"`
	// Description tells the model what the tool does. Required.
	Description string `yaml:"description"`
	// Service names the service the request goes to.
	Service string `yaml:"service"`
	// Method is the HTTP method, upper case after validation.
	Method string `yaml:"method"`
	// Path is the request path relative to the service's base URL, with
	// {param} placeholders; see [Template].
	Path string `yaml:"path"`
	// Input is the JSON Schema of the arguments: type object, with every
	// path parameter among its properties and required. nil in a file
	// means no arguments. Arguments are validated against it before any
	// request is made.
	Input *jsonschema.Schema `yaml:"input"`
	// Scope must be granted (MCP_API_SCOPES or the service's scopes_env)
	// for the tool to be offered at all; empty: always offered.
	Scope string `yaml:"scope"`
	// Annotations are the operator's hints; see [Annotations].
	Annotations Annotations `yaml:"annotations"`
	// Confirm asks the user, through MCP elicitation, before each call is
	// sent. nil: true for DELETE and destructive tools ([Tool.NeedsConfirm]).
	Confirm *bool `yaml:"confirm"`
	// ConfirmFallback is what happens when confirmation is needed but the
	// client cannot ask: ConfirmFallbackRefuse (also the zero value) or
	// ConfirmFallbackAllow.
	ConfirmFallback string `yaml:"confirm_fallback"`
	// Rate limits calls of this tool on top of its service's Rate, in the
	// same COUNT/PERIOD form; empty: only the service's limit.
	Rate string `yaml:"rate"`
	// Burst is the tool's burst, as for [Service.Burst]. Only with Rate.
	Burst int `yaml:"burst"`
	// Idempotency overrides the service's idempotency switch for this
	// tool; nil: the service's.
	Idempotency *bool `yaml:"idempotency"`
	// IdempotencyWindow overrides the service's window for this tool;
	// zero: the service's.
	IdempotencyWindow time.Duration `yaml:"idempotency_window"`
	// Mapping says where inputs go, by input name. An input without an
	// entry goes to the path when the path has its {name}, else to the
	// query string for GET, HEAD and DELETE, else into the JSON object
	// body. See [Tool.Where].
	Mapping map[string]Mapping `yaml:"mapping"`
	// Response shapes what the tool returns; the zero value: the body as
	// the API sent it.
	Response Response `yaml:"response"`
	// Compact is set by the openapi package on a tool it imported with
	// compact schemas; tools then lists a compact output schema too.
	Compact bool `yaml:"-"`
	// Origin says where the tool was declared, for messages and keyveil
	// check: "keyveil.yaml:12" or "github.json: operation issues/create".
	Origin string `yaml:"-"`

	template Template
	limit    Limit
	pos      positions
}

// ReadOnly reports whether the tool changes nothing: the operator's
// annotation, or else whether the method is GET or HEAD.
func (t Tool) ReadOnly() bool {
	if t.Annotations.ReadOnly != nil {
		return *t.Annotations.ReadOnly
	}
	return t.Method == "GET" || t.Method == "HEAD"
}

// Destructive reports whether the tool may delete or overwrite: the
// operator's annotation, or else whether the method is DELETE. A read-only
// tool is never destructive.
func (t Tool) Destructive() bool {
	if t.ReadOnly() {
		return false
	}
	if t.Annotations.Destructive != nil {
		return *t.Annotations.Destructive
	}
	return t.Method == "DELETE"
}

// Idempotent reports whether repeating a call does no more than once: the
// operator's annotation, or else whether the method is GET, HEAD, PUT or
// DELETE.
func (t Tool) Idempotent() bool {
	if t.Annotations.Idempotent != nil {
		return *t.Annotations.Idempotent
	}
	switch t.Method {
	case "GET", "HEAD", "PUT", "DELETE":
		return true
	}
	return false
}

// OpenWorld reports whether the tool reaches outside systems: the
// operator's annotation, or else true.
func (t Tool) OpenWorld() bool {
	if t.Annotations.OpenWorld != nil {
		return *t.Annotations.OpenWorld
	}
	return true
}

// NeedsConfirm reports whether the user should confirm each call: Confirm
// when set, else whether the tool is destructive.
func (t Tool) NeedsConfirm() bool {
	if t.Confirm != nil {
		return *t.Confirm
	}
	return t.Destructive()
}

// Template returns the parsed path. It is valid after the Config holding
// the tool has been validated.
func (t Tool) Template() Template { return t.template }

// Where returns where the input named name goes in the request: its
// Mapping entry, or the default described at [Tool.Mapping]. Name is
// always filled in.
func (t Tool) Where(name string) Mapping {
	if m, ok := t.Mapping[name]; ok {
		if m.Name == "" && m.In != InWholeBody {
			m.Name = name
		}
		return m
	}
	if slices.Contains(t.template.Params(), name) {
		return Mapping{In: InPath, Name: name}
	}
	switch t.Method {
	case "GET", "HEAD", "DELETE":
		return Mapping{In: InQuery, Name: name}
	}
	return Mapping{In: InBody, Name: name}
}

// Hiding says why a declared tool is not offered. The zero value means
// it is offered.
type Hiding struct {
	// ReadOnly is true when --read-only hides the tool, false when a
	// scope that is not granted does (or when it is offered).
	ReadOnly bool
	// Why says it for a person, with the fix: "--read-only (POST is not
	// read-only)", "scope s is not granted (add it to MCP_API_SCOPES)";
	// "": offered.
	Why string
}

// Hidden reports whether the tool is not offered.
func (h Hiding) Hidden() bool { return h.Why != "" }

// Hidden says why the tool is not offered given the --read-only switch
// and the granted scopes (MCP_API_SCOPES; each service's own scopes are
// added here); the zero Hiding when it is offered. keyveil check prints
// the reason; tools audit it.
func (c *Config) Hidden(t Tool, readOnly bool, granted []string) Hiding {
	if readOnly && !t.ReadOnly() {
		return Hiding{ReadOnly: true, Why: fmt.Sprintf("--read-only (%s is not read-only)", t.Method)}
	}
	if t.Scope == "" || slices.Contains(granted, t.Scope) {
		return Hiding{}
	}
	if s, ok := c.Service(t.Service); ok && slices.Contains(s.Scopes, t.Scope) {
		return Hiding{}
	}
	return Hiding{Why: fmt.Sprintf("scope %s is not granted (add it to MCP_API_SCOPES)", t.Scope)}
}

var toolMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"}

// AddTools validates ts against the configuration and appends them to
// c.Tools. The openapi package calls it with the tools it imports, so that
// an imported tool meets the same rules as a declared one, and a name
// clash between the two is an error rather than a silent override.
func (c *Config) AddTools(ts []Tool) error { return c.addTools(ts, true) }

// AddResolvedTools is [Config.AddTools] for tools whose input schemas
// have been resolved before: every check is made again (they depend on the
// rest of the configuration) except resolving each schema, which for an
// OpenAPI import of hundreds of operations is most of its start-up time.
// The openapi package calls it for tools read back from its cache, which
// holds only tools AddTools accepted. The schema is still resolved before
// the tool's first call is sent.
func (c *Config) AddResolvedTools(ts []Tool) error { return c.addTools(ts, false) }

func (c *Config) addTools(ts []Tool, resolve bool) error {
	errs := c.validateTools(ts, c.Tools, resolve)
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	c.Tools = append(c.Tools, ts...)
	return nil
}

// validateTools checks ts (in place: it fills parsed fields and defaults)
// against the services and the names already taken by have, and resolves
// each input schema when resolve is set. Errors are located when a tool
// came from a file.
func (c *Config) validateTools(ts []Tool, have []Tool, resolve bool) []error {
	var errs []error
	taken := map[string]string{ListServicesTool: "keyveil", CallAPITool: "keyveil"}
	for _, t := range have {
		taken[t.Name] = t.Origin
	}
	for i := range ts {
		t := &ts[i]
		for _, err := range c.validateTool(t, resolve) {
			errs = append(errs, t.pos.locate(err))
		}
		if by, ok := taken[t.Name]; ok && t.Name != "" {
			fix := "rename one of them"
			if by == "keyveil" {
				fix = "choose another name"
			}
			errs = append(errs, t.pos.locate(fmt.Errorf("tool %q: the name is already taken (by %s); %s", t.Name, by, fix)))
			continue
		}
		taken[t.Name] = t.Origin
	}
	return errs
}

func (c *Config) validateTool(t *Tool, resolve bool) []error {
	var errs []error
	label := fmt.Sprintf("tool %q", t.Name)
	add := func(field string, err error) {
		errs = append(errs, fmt.Errorf("%s: %w", label, &fieldError{field: field, err: err}))
	}
	if !isToolName(t.Name) {
		add("name", errors.New("name must be 1-64 letters, digits, '_' or '-' (the rule MCP clients enforce)"))
	}
	if strings.TrimSpace(t.Description) == "" {
		add("description", errors.New("description is missing; say in one sentence what the tool does, for the model"))
	}
	svc, ok := c.Service(t.Service)
	switch {
	case t.Service == "":
		add("service", fmt.Errorf("service is missing; name one of %s", strings.Join(c.serviceNames(), ", ")))
	case !ok:
		add("service", fmt.Errorf("service %s is not defined; define it under services: or use one of %s", quote(t.Service), strings.Join(c.serviceNames(), ", ")))
	}
	t.Method = strings.ToUpper(t.Method)
	if !slices.Contains(toolMethods, t.Method) {
		add("method", fmt.Errorf("method %q is not one of %s", t.Method, strings.Join(toolMethods, ", ")))
	}
	tmpl, err := ParseTemplate(t.Path)
	if err != nil {
		add("path", err)
	}
	t.template = tmpl
	if t.Input == nil {
		t.Input = &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{}}
	}
	for _, err := range checkInput(t.Input, tmpl, resolve) {
		add("input", err)
	}
	if t.Scope != "" && (!isScopeName(t.Scope) || strings.Contains(t.Scope, ",")) {
		add("scope", errors.New("scope must be one word of printable characters without spaces or commas, like quotes:followup:send"))
	}
	t.validateGuards(add)
	for _, in := range slices.Sorted(maps.Keys(t.Mapping)) {
		if err := checkMapping(t, in, t.Mapping[in], svc); err != nil {
			add("mapping", err)
		}
	}
	// An input may not reach a credential header or query parameter by
	// default mapping either.
	if ok {
		for name := range t.Input.Properties {
			if _, explicit := t.Mapping[name]; explicit {
				continue
			}
			if err := checkPlace(t.Where(name), svc); err != nil {
				add("input", fmt.Errorf("input %s: %w", name, err))
			}
		}
	}
	whole := 0
	for _, m := range t.Mapping {
		if m.In == InWholeBody {
			whole++
		}
	}
	if whole > 0 {
		for name := range t.Input.Properties {
			if w := t.Where(name); w.In == InBody {
				add("mapping", fmt.Errorf("input %s goes into the body beside a whole_body input; map it elsewhere or make it part of the body", name))
			}
		}
	}
	if whole > 1 {
		add("mapping", errors.New("only one input can be the whole body"))
	}
	if (whole > 0 || t.hasBodyInput()) && (t.Method == "GET" || t.Method == "HEAD") {
		add("mapping", fmt.Errorf("%s requests have no body; map the inputs to path, query or header", t.Method))
	}
	if err := t.Response.validate(); err != nil {
		add("response", err)
	}
	return errs
}

func (t *Tool) hasBodyInput() bool {
	for name := range t.Input.Properties {
		if t.Where(name).In == InBody {
			return true
		}
	}
	return false
}

// checkInput checks that s is an object schema that declares every path
// parameter as a required property, and, when resolve is set, that it
// resolves (a bad pattern or $ref is caught here, not at the first call).
func checkInput(s *jsonschema.Schema, tmpl Template, resolve bool) []error {
	var errs []error
	if s.Type != "object" {
		errs = append(errs, errors.New(`input must be a JSON Schema with type: object`))
	}
	for _, r := range s.Required {
		if _, ok := s.Properties[r]; !ok {
			errs = append(errs, fmt.Errorf("input: required %q is not among the properties; add it to properties or remove it from required", r))
		}
	}
	for _, p := range tmpl.Params() {
		ps, ok := s.Properties[p]
		if !ok {
			errs = append(errs, fmt.Errorf("path parameter {%s} is not an input; add %s to input.properties (type: string) and to input.required", p, p))
			continue
		}
		if !slices.Contains(s.Required, p) {
			errs = append(errs, fmt.Errorf("path parameter {%s} must be in input.required: a path cannot be built without it", p))
		}
		if ps != nil && (ps.Type == "object" || ps.Type == "array") {
			errs = append(errs, fmt.Errorf("path parameter {%s} must be a string, number or integer, not %s", p, ps.Type))
		}
	}
	if resolve {
		if _, err := s.Resolve(nil); err != nil {
			errs = append(errs, fmt.Errorf("input is not a usable JSON Schema: %v", err))
		}
	}
	return errs
}

func checkMapping(t *Tool, in string, m Mapping, svc Service) error {
	if _, ok := t.Input.Properties[in]; !ok {
		return fmt.Errorf("mapping names %q, which is not an input; add it to input.properties or remove it", in)
	}
	params := t.template.Params()
	switch m.In {
	case InPath:
		name := m.Name
		if name == "" {
			name = in
		}
		if !slices.Contains(params, name) {
			return fmt.Errorf("mapping sends %s to the path, but the path has no {%s}", in, name)
		}
	case InQuery, InHeader, InBody, InWholeBody:
		if slices.Contains(params, in) && m.Name == "" {
			return fmt.Errorf("mapping sends %s to the %s, but the path needs {%s}; remove the mapping", in, m.In, in)
		}
	default:
		return fmt.Errorf("mapping for %s: in must be path, query, header, body or whole_body", in)
	}
	if m.In == InHeader && m.Name != "" && !isToken(m.Name) {
		return fmt.Errorf("mapping for %s: %q is not a header name", in, m.Name)
	}
	return checkPlace(t.Where(in), svc)
}

// checkPlace refuses a mapping that would let the model set the
// credential (a credential header, the service's own auth header or query
// parameter, a header the operator denied) or step around the method and
// path the operator declared (see [Service.HeaderRefusal], and the
// _method parameter of [MethodOverrideParam]).
func checkPlace(m Mapping, svc Service) error {
	if (m.In == InQuery || m.In == InBody) && strings.EqualFold(m.Name, MethodOverrideParam) {
		return fmt.Errorf("%s parameter %s makes many servers run the request as another method than the tool declares, so the model may not set it; remove the mapping", m.In, m.Name)
	}
	switch m.In {
	case InHeader:
		if why := svc.HeaderRefusal(m.Name); why != "" {
			return fmt.Errorf("header %s cannot be set by the model: it %s", m.Name, why)
		}
	case InQuery:
		if svc.Auth.CarriesParam(m.Name) {
			return fmt.Errorf("query parameter %s carries the service's key and cannot be set by the model", m.Name)
		}
	}
	return nil
}

func (c *Config) serviceNames() []string {
	var names []string
	for _, s := range c.Services {
		names = append(names, s.Name)
	}
	if len(names) == 0 {
		return []string{"(none defined)"}
	}
	return names
}
