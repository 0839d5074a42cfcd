package openapi

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/jsonschema-go/jsonschema"

	"github.com/keyveil/keyveil/config"
)

// Document is a parsed OpenAPI 3.0 or 3.1 document with its $refs resolved.
type Document struct {
	path string
	doc  *openapi3.T
	ops  []operation       // every operation, sorted by path then method
	refs map[string]string // local files read through $refs -> sha256 hex
}

// operation is one method on one path.
type operation struct {
	path, method string
	op           *openapi3.Operation
	item         *openapi3.PathItem
}

// id names the operation for selections and messages: its operationId, or
// "METHOD /path" when it has none.
func (o operation) id() string {
	if o.op.OperationID != "" {
		return o.op.OperationID
	}
	return o.method + " " + o.path
}

// Load reads and parses the OpenAPI document at path, a local YAML or JSON
// file. $refs to other local files are followed; references to URLs are
// not fetched, so loading a document makes no network request.
func Load(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading OpenAPI document: %w", err)
	}
	return parse(path, data)
}

// parse parses data, the document read from path.
func parse(path string, data []byte) (*Document, error) {
	refs := map[string]string{}
	l := openapi3.NewLoader()
	l.IsExternalRefsAllowed = true
	l.ReadFromURIFunc = func(l *openapi3.Loader, u *url.URL) ([]byte, error) {
		b, err := localOnly(l, u)
		if err == nil {
			refs[filepath.FromSlash(u.Path)] = hashHex(b)
		}
		return b, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading OpenAPI document: %w", err)
	}
	doc, err := l.LoadFromDataWithPath(data, fileURL(abs))
	if err != nil {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: %w", path, err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, fmt.Errorf("%s: OpenAPI version %q is not supported; keyveil reads 3.0 and 3.1 (convert Swagger 2.0 first)", path, doc.OpenAPI)
	}
	d := &Document{path: path, doc: doc, refs: refs}
	if doc.Paths != nil {
		for p, item := range doc.Paths.Map() {
			for m, op := range item.Operations() {
				if op != nil {
					d.ops = append(d.ops, operation{path: p, method: strings.ToUpper(m), op: op, item: item})
				}
			}
		}
	}
	sort.Slice(d.ops, func(i, j int) bool {
		if d.ops[i].path != d.ops[j].path {
			return d.ops[i].path < d.ops[j].path
		}
		return methodRank(d.ops[i].method) < methodRank(d.ops[j].method)
	})
	return d, nil
}

func methodRank(m string) int {
	i := slices.Index([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}, m)
	if i < 0 {
		return 99
	}
	return i
}

// Version returns the document's openapi field, such as "3.1.0".
func (d *Document) Version() string { return d.doc.OpenAPI }

// Operations returns how many operations the document has.
func (d *Document) Operations() int { return len(d.ops) }

// Options say how [Document.Tools] turns operations into tools.
type Options struct {
	// Service names the service every tool calls. Required.
	Service string
	// Auth is the service's auth; a parameter that carries its key (its
	// header or query parameter) is never offered as an input. Zero: only
	// the document's own security schemes are removed.
	Auth config.Auth
	// Operations selects operations: an operationId, "tag:NAME" or "*".
	// Empty selects nothing.
	Operations []string
	// Taken are tool names already in use; generated names avoid them.
	Taken []string
}

// Skipped is an operation a selection matched but that cannot be a tool,
// with the reason.
type Skipped struct {
	ID     string // operationId or "METHOD /path"
	Reason string
}

// Tools turns the selected operations into tools, in path order. Names are
// operationIds made to fit MCP's rules (at most 64 of [A-Za-z0-9_-]) and
// made unique deterministically. An operation that cannot be a tool (its
// body is not JSON, or its method has no place in a tool) is returned in
// skipped; naming one explicitly by operationId is an error, as is a
// selection entry that matches nothing.
func (d *Document) Tools(opts Options) (tools []config.Tool, skipped []Skipped, err error) {
	chosen, err := d.selectOps(opts.Operations)
	if err != nil {
		return nil, nil, err
	}
	explicit := map[string]bool{}
	for _, s := range opts.Operations {
		explicit[s] = true
	}
	names := newNamer(opts.Taken)
	var errs []error
	for _, o := range chosen {
		t, why := d.tool(o, opts)
		if why != "" {
			if explicit[o.op.OperationID] {
				errs = append(errs, fmt.Errorf("%s: operation %s cannot be a tool: %s; remove it from operations", d.path, o.id(), why))
			}
			skipped = append(skipped, Skipped{ID: o.id(), Reason: why})
			continue
		}
		t.Name = names.name(o)
		tools = append(tools, t)
	}
	return tools, skipped, errors.Join(errs...)
}

// selectOps returns the operations the selection names, once each, in
// document order.
func (d *Document) selectOps(sel []string) ([]operation, error) {
	want := make([]bool, len(d.ops))
	var errs []error
	for _, s := range sel {
		s = strings.TrimSpace(s)
		matched := false
		for i, o := range d.ops {
			var hit bool
			switch {
			case s == "*":
				hit = true
			case strings.HasPrefix(s, "tag:"):
				hit = slices.Contains(o.op.Tags, strings.TrimPrefix(s, "tag:"))
			default:
				hit = o.op.OperationID == s || o.method+" "+o.path == s
			}
			if hit {
				want[i], matched = true, true
			}
		}
		if !matched {
			errs = append(errs, fmt.Errorf("%s: operations entry %q matches no operation%s; run keyveil openapi %s to list them", d.path, s, d.suggest(s), d.path))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	var out []operation
	for i, o := range d.ops {
		if want[i] {
			out = append(out, o)
		}
	}
	return out, nil
}

// suggest names an operationId or tag close to s, for a typo.
func (d *Document) suggest(s string) string {
	low := strings.ToLower(strings.TrimPrefix(s, "tag:"))
	for _, o := range d.ops {
		if strings.HasPrefix(s, "tag:") {
			for _, t := range o.op.Tags {
				if strings.ToLower(t) == low {
					return fmt.Sprintf(" (did you mean \"tag:%s\"?)", t)
				}
			}
			continue
		}
		if o.op.OperationID != "" && (strings.ToLower(o.op.OperationID) == low || sanitize(o.op.OperationID) == s) {
			return fmt.Sprintf(" (did you mean %q?)", o.op.OperationID)
		}
	}
	return ""
}

// tool converts one operation, or says why it cannot.
func (d *Document) tool(o operation, opts Options) (config.Tool, string) {
	switch o.method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
	default:
		return config.Tool{}, o.method + " is not offered as a tool"
	}
	t := config.Tool{
		Service:     opts.Service,
		Method:      o.method,
		Path:        o.path,
		Description: describeOp(o),
		Mapping:     map[string]config.Mapping{},
		Origin:      fmt.Sprintf("%s: operation %s", filepath.Base(d.path), o.id()),
	}
	if s, ok := o.op.Extensions["x-keyveil-scope"].(string); ok {
		t.Scope = s
	}
	if o.op.Summary != "" {
		t.Annotations.Title = trimText(oneLine(o.op.Summary), 120)
	}
	in := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{}}
	used := map[string]bool{}
	hidden := d.securityParams(opts.Auth)
	// Path-level parameters first; an operation's own parameter with the
	// same name and place replaces one.
	params := map[string]*openapi3.Parameter{}
	var order []string
	for _, list := range []openapi3.Parameters{o.item.Parameters, o.op.Parameters} {
		for _, pr := range list {
			if pr == nil || pr.Value == nil {
				continue
			}
			p := pr.Value
			key := p.In + "\x00" + strings.ToLower(p.Name)
			if _, ok := params[key]; !ok {
				order = append(order, key)
			}
			params[key] = p
		}
	}
	cv := newConverter()
	for _, key := range order {
		p := params[key]
		if hidden[key] {
			continue
		}
		var place string
		switch p.In {
		case openapi3.ParameterInPath:
			place = config.InPath
		case openapi3.ParameterInQuery:
			place = config.InQuery
		case openapi3.ParameterInHeader:
			if isReservedHeader(p.Name) {
				continue
			}
			place = config.InHeader
		default: // cookie: keyveil sends no cookies
			if p.Required {
				return config.Tool{}, fmt.Sprintf("it needs the cookie %s, which keyveil does not send", p.Name)
			}
			continue
		}
		name := propName(p.Name, p.In, used)
		used[name] = true
		var s *jsonschema.Schema
		if p.Schema != nil {
			s = cv.convert(p.Schema, 0, false)
		} else {
			s = &jsonschema.Schema{Type: "string"}
		}
		if p.In == openapi3.ParameterInPath {
			s = pathScalar(s)
		}
		if desc := trimText(p.Description, maxPropDescription); desc != "" {
			s.Description = desc
		}
		if p.Deprecated {
			s.Deprecated = true
		}
		in.Properties[name] = s
		if p.Required || p.In == openapi3.ParameterInPath {
			in.Required = append(in.Required, name)
		}
		m := config.Mapping{In: place, Name: p.Name}
		if place == config.InPath && name != p.Name {
			// The template names the parameter; the input must match it.
			return config.Tool{}, fmt.Sprintf("path parameter {%s} is not a usable input name", p.Name)
		}
		t.Mapping[name] = m
	}
	if why := d.body(o, in, used, t.Mapping, cv); why != "" {
		return config.Tool{}, why
	}
	if len(in.Required) == 0 {
		in.Required = nil
	}
	t.Input = in
	if o.op.Deprecated {
		t.Description = "Deprecated. " + t.Description
	}
	return t, ""
}

// body adds the request body's inputs: the properties of a JSON object
// body, one by one, when none clashes with a parameter; otherwise the body
// as one input.
func (d *Document) body(o operation, in *jsonschema.Schema, used map[string]bool, mapping map[string]config.Mapping, cv *converter) string {
	rb := o.op.RequestBody
	if rb == nil || rb.Value == nil {
		return ""
	}
	var mt *openapi3.MediaType
	var types []string
	for ct, m := range rb.Value.Content {
		types = append(types, ct)
		base, _, _ := strings.Cut(ct, ";")
		base = strings.TrimSpace(strings.ToLower(base))
		if base == "application/json" || strings.HasSuffix(base, "+json") {
			if mt == nil || base == "application/json" {
				mt = m
			}
		}
	}
	if mt == nil {
		if !rb.Value.Required {
			return "" // the body is optional: offer the operation without it
		}
		sort.Strings(types)
		return fmt.Sprintf("its body is %s, and keyveil sends JSON bodies only", strings.Join(types, ", "))
	}
	if o.method == "GET" || o.method == "HEAD" {
		return "" // a body on GET is ignored by most servers; offer none
	}
	if mt.Schema == nil {
		return ""
	}
	s := cv.convert(mt.Schema, 0, true)
	flat := s.Type == "object" && len(s.Properties) > 0 && len(s.AllOf)+len(s.AnyOf)+len(s.OneOf) == 0
	if flat {
		for name := range s.Properties {
			if used[name] || !validProp(name) {
				flat = false
				break
			}
		}
	}
	if flat {
		names := make([]string, 0, len(s.Properties))
		for n := range s.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			in.Properties[n] = s.Properties[n]
			mapping[n] = config.Mapping{In: config.InBody, Name: n}
			if rb.Value.Required && slices.Contains(s.Required, n) {
				in.Required = append(in.Required, n)
			}
		}
		return ""
	}
	name := "body"
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("request_body_%d", i)
	}
	if desc := trimText(rb.Value.Description, maxPropDescription); desc != "" && s.Description == "" {
		s.Description = desc
	}
	in.Properties[name] = s
	mapping[name] = config.Mapping{In: config.InWholeBody}
	if rb.Value.Required {
		in.Required = append(in.Required, name)
	}
	return ""
}

// securityParams returns the parameters that carry credentials, keyed by
// place and lower-cased name: every apiKey security scheme in the document
// and the service's own auth. keyveil supplies these itself, so the model
// is never asked for them (and could not set them: the transport owns the
// credential).
func (d *Document) securityParams(a config.Auth) map[string]bool {
	out := map[string]bool{}
	if d.doc.Components != nil {
		for _, ref := range d.doc.Components.SecuritySchemes {
			if ref == nil || ref.Value == nil || ref.Value.Type != "apiKey" {
				continue
			}
			out[ref.Value.In+"\x00"+strings.ToLower(ref.Value.Name)] = true
		}
	}
	switch a.Type {
	case config.AuthHeader:
		out["header\x00"+strings.ToLower(a.Name)] = true
	case config.AuthQuery:
		out["query\x00"+strings.ToLower(a.Name)] = true
	}
	return out
}

// isReservedHeader reports whether a header parameter is one keyveil sets
// itself or refuses from the model.
func isReservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization", "cookie", "host", "content-type", "content-length", "accept-encoding":
		return true
	}
	return false
}

// ExpandOptions configure [Expand]. A nil *ExpandOptions means defaults.
type ExpandOptions struct {
	// CacheDir holds imported tool lists between starts (see cache.go);
	// "": $XDG_CACHE_HOME/keyveil/openapi or the platform's equivalent.
	// NoCache turns the cache off.
	CacheDir string
	// NoCache parses every document on every start.
	NoCache bool
}

// Expand imports the tools of every service in cfg that names an OpenAPI
// document, resolving a relative document path against the services file's
// directory, and adds them with [config.Config.AddTools]. Operations a tag
// or "*" matched but that cannot be tools are left out; an operation named
// by operationId that cannot be a tool is an error. opts may be nil.
func Expand(cfg *config.Config, opts *ExpandOptions) error {
	var o ExpandOptions
	if opts != nil {
		o = *opts
	}
	dir := o.CacheDir
	if dir == "" {
		dir = defaultCacheDir()
	}
	if o.NoCache {
		dir = ""
	}
	var errs []error
	for _, s := range cfg.Services {
		if s.OpenAPI == "" {
			continue
		}
		p := s.OpenAPI
		if !filepath.IsAbs(p) && cfg.File != "" {
			p = filepath.Join(filepath.Dir(cfg.File), p)
		}
		var taken []string
		for _, t := range cfg.Tools {
			taken = append(taken, t.Name)
		}
		tools, err := importTools(p, dir, Options{Service: s.Name, Auth: s.Auth, Operations: s.Operations, Taken: taken})
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
			continue
		}
		if err := cfg.AddTools(tools); err != nil {
			errs = append(errs, fmt.Errorf("service %q: importing %s: %w", s.Name, s.OpenAPI, err))
		}
	}
	return errors.Join(errs...)
}

// importTools returns the tools of the document at path, from the cache in
// dir when it has them ("" : no cache).
func importTools(path, dir string, opts Options) ([]config.Tool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading OpenAPI document: %w", err)
	}
	key := cacheKey(data, opts)
	if tools, ok := readCache(dir, key); ok {
		for i := range tools {
			tools[i].Service = opts.Service
		}
		return tools, nil
	}
	doc, err := parse(path, data)
	if err != nil {
		return nil, err
	}
	tools, _, err := doc.Tools(opts)
	if err != nil {
		return nil, err
	}
	writeCache(dir, key, doc.refs, tools)
	return tools, nil
}
