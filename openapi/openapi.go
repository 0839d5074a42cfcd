package openapi

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/keyveil/keyveil/config"
)

// Document is a parsed OpenAPI 3.0 or 3.1 document with its $refs resolved.
type Document struct {
	path     string
	version  string
	ops      []operation       // every operation, sorted by path then method
	security []securityScheme  // components.securitySchemes
	refs     map[string]string // local files read through $refs -> sha256 hex
	size     int               // bytes of the document and the files its $refs read
}

// operation is one method on one path.
type operation struct {
	path, method string
	op           *op
	item         *pathItem
}

// id names the operation for selections and messages: its operationId, or
// "METHOD /path" when it has none.
func (o operation) id() string {
	if o.op.operationID != "" {
		return o.op.operationID
	}
	return o.method + " " + o.path
}

func methodRank(m string) int {
	i := slices.Index([]string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"}, m)
	if i < 0 {
		return 99
	}
	return i
}

// Version returns the document's openapi field, such as "3.1.0".
func (d *Document) Version() string { return d.version }

// Operations returns how many operations the document has.
func (d *Document) Operations() int { return len(d.ops) }

// Options say how [Document.Tools] turns operations into tools.
type Options struct {
	// Service names the service every tool calls. Required.
	Service string
	// Auth is the service's auth; a parameter that carries a part's key
	// (its header or query parameter) is never offered as an input. nil:
	// only the document's own security schemes are removed.
	Auth config.AuthList
	// Operations selects operations: an operationId, "tag:NAME" or "*".
	// Empty selects nothing.
	Operations []string
	// Taken are tool names already in use; generated names avoid them.
	Taken []string
	// Full keeps whole descriptions and deep schemas (a service's
	// schema: full); false: compact tools (see compactDepth).
	Full bool
}

// Skipped is an operation a selection matched but that cannot be a tool,
// with the reason.
type Skipped struct {
	ID     string // operationId or "METHOD /path"
	Reason string
	// Warn is true when the operator should hear about it even though a
	// tag or "*" chose the operation: the document is at fault (its
	// schema is too large), not the operation's kind.
	Warn bool
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
	budget := baseDocSchema + docSchemaRate*d.size
	for _, o := range chosen {
		cv := newConverter(!opts.Full)
		t, why := d.tool(o, opts, cv)
		if budget -= cv.used(); budget < 0 {
			return nil, nil, fmt.Errorf("%s: the input schemas of the tools up to operation %s come to more than %d MiB, far more than the document holds (its $refs fan out); select fewer operations", d.path, o.id(), (baseDocSchema+docSchemaRate*d.size)>>20)
		}
		if why != "" {
			if explicit[o.op.operationID] {
				errs = append(errs, fmt.Errorf("%s: operation %s cannot be a tool: %s; remove it from operations", d.path, o.id(), why))
			}
			skipped = append(skipped, Skipped{ID: o.id(), Reason: why, Warn: cv.over})
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
				hit = slices.Contains(o.op.tags, strings.TrimPrefix(s, "tag:"))
			default:
				hit = o.op.operationID == s || o.method+" "+o.path == s
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
			for _, t := range o.op.tags {
				if strings.ToLower(t) == low {
					return fmt.Sprintf(" (did you mean \"tag:%s\"?)", t)
				}
			}
			continue
		}
		if o.op.operationID != "" && (strings.ToLower(o.op.operationID) == low || sanitize(o.op.operationID) == s) {
			return fmt.Sprintf(" (did you mean %q?)", o.op.operationID)
		}
	}
	return ""
}

// tool converts one operation, or says why it cannot.
func (d *Document) tool(o operation, opts Options, cv *converter) (config.Tool, string) {
	switch o.method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE":
	default:
		return config.Tool{}, o.method + " is not offered as a tool"
	}
	t := config.Tool{
		Service:     opts.Service,
		Method:      o.method,
		Path:        o.path,
		Description: describeOp(o, !opts.Full),
		Mapping:     map[string]config.Mapping{},
		Origin:      fmt.Sprintf("%s: operation %s", filepath.Base(d.path), o.id()),
	}
	t.Scope = o.op.scope
	if o.op.summary != "" {
		t.Annotations.Title = trimText(oneLine(o.op.summary), 120)
	}
	in := &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{}}
	used := map[string]bool{}
	hidden := d.securityParams(opts.Auth)
	// Path-level parameters first; an operation's own parameter with the
	// same name and place replaces one.
	params := map[string]*parameter{}
	var order []string
	for _, list := range [][]*parameter{o.item.parameters, o.op.parameters} {
		for _, p := range list {
			key := p.in + "\x00" + strings.ToLower(p.name)
			if _, ok := params[key]; !ok {
				order = append(order, key)
			}
			params[key] = p
		}
	}
	for _, key := range order {
		p := params[key]
		if hidden[key] {
			continue
		}
		var place string
		switch p.in {
		case "path":
			place = config.InPath
		case "query":
			place = config.InQuery
		case "header":
			if isReservedHeader(p.name) {
				continue
			}
			place = config.InHeader
		default: // cookie: keyveil sends no cookies
			if p.required {
				return config.Tool{}, fmt.Sprintf("it needs the cookie %s, which keyveil does not send", p.name)
			}
			continue
		}
		name := propName(p.name, p.in, used)
		used[name] = true
		var s *jsonschema.Schema
		if p.schema != nil {
			s = cv.convert(p.schema, 0, false)
		} else {
			s = &jsonschema.Schema{Type: "string"}
		}
		if p.in == "path" {
			s = pathScalar(s)
		}
		if desc := cv.text(p.description, maxPropDescription); desc != "" {
			s.Description = desc
		}
		if p.deprecated {
			s.Deprecated = true
		}
		in.Properties[name] = s
		if p.required || p.in == "path" {
			in.Required = append(in.Required, name)
		}
		m := config.Mapping{In: place, Name: p.name}
		if place == config.InPath && name != p.name {
			// The template names the parameter; the input must match it.
			return config.Tool{}, fmt.Sprintf("path parameter {%s} is not a usable input name", p.name)
		}
		t.Mapping[name] = m
	}
	if why := d.body(o, in, used, t.Mapping, cv); why != "" {
		return config.Tool{}, why
	}
	if cv.over {
		return config.Tool{}, fmt.Sprintf("its input schema expands to more than %d KiB (its $refs fan out), more than a model can read", maxToolSchema>>10)
	}
	if len(in.Required) == 0 {
		in.Required = nil
	}
	t.Input = in
	t.Compact = !opts.Full
	if o.op.deprecated {
		t.Description = "Deprecated. " + t.Description
	}
	return t, ""
}

// body adds the request body's inputs: the properties of a JSON object
// body, one by one, when none clashes with a parameter; otherwise the body
// as one input.
func (d *Document) body(o operation, in *jsonschema.Schema, used map[string]bool, mapping map[string]config.Mapping, cv *converter) string {
	rb := o.op.requestBody
	if rb == nil {
		return ""
	}
	// The first JSON media type in name order, application/json before
	// any other.
	found, isJSON := false, false
	var ms *schema
	for _, ct := range rb.types {
		base, _, _ := strings.Cut(ct, ";")
		base = strings.TrimSpace(strings.ToLower(base))
		if base == "application/json" || strings.HasSuffix(base, "+json") {
			if !found || base == "application/json" && !isJSON {
				found, isJSON, ms = true, base == "application/json", rb.content[ct]
			}
		}
	}
	if !found {
		if !rb.required {
			return "" // the body is optional: offer the operation without it
		}
		return fmt.Sprintf("its body is %s, and keyveil sends JSON bodies only", strings.Join(rb.types, ", "))
	}
	if o.method == "GET" || o.method == "HEAD" {
		return "" // a body on GET is ignored by most servers; offer none
	}
	if ms == nil {
		return ""
	}
	s := cv.convert(ms, 0, true)
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
			if rb.required && slices.Contains(s.Required, n) {
				in.Required = append(in.Required, n)
			}
		}
		return ""
	}
	name := "body"
	for i := 2; used[name]; i++ {
		name = fmt.Sprintf("request_body_%d", i)
	}
	if desc := cv.text(rb.description, maxPropDescription); desc != "" && s.Description == "" {
		s.Description = desc
	}
	in.Properties[name] = s
	mapping[name] = config.Mapping{In: config.InWholeBody}
	if rb.required {
		in.Required = append(in.Required, name)
	}
	return ""
}

// securityParams returns the parameters that carry credentials, keyed by
// place and lower-cased name: every apiKey security scheme in the document
// and every header and parameter a part of the service's own auth
// travels in. keyveil supplies these itself, so the model
// is never asked for them (and could not set them: the transport owns the
// credential).
func (d *Document) securityParams(a config.AuthList) map[string]bool {
	out := map[string]bool{}
	for _, s := range d.security {
		if s.typ == "apiKey" {
			out[s.in+"\x00"+strings.ToLower(s.name)] = true
		}
	}
	for _, h := range a.Headers() {
		out["header\x00"+strings.ToLower(h)] = true
	}
	for _, p := range a.Params() {
		out["query\x00"+strings.ToLower(p)] = true
	}
	return out
}

// isReservedHeader reports whether a header parameter is one keyveil sets
// itself or refuses from the model (config.ReservedHeader: credentials,
// Range, method override, URL rewrite and the like).
func isReservedHeader(name string) bool {
	switch strings.ToLower(name) {
	case "content-type", "accept-encoding":
		return true
	}
	return config.ReservedHeader(name) != ""
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
		tools, warns, cached, save, err := importTools(p, dir, Options{Service: s.Name, Auth: s.Auth, Operations: s.Operations, Taken: taken, Full: s.Schema == config.SchemaFull})
		if err != nil {
			errs = append(errs, fmt.Errorf("service %q: %w", s.Name, err))
			continue
		}
		for _, w := range warns {
			cfg.Warnings = append(cfg.Warnings, fmt.Sprintf("service %q: %s", s.Name, w))
		}
		add := cfg.AddTools
		if cached {
			// The cache holds only tools AddTools accepted: their schemas
			// resolved then, and resolving 500 again is most of the cost
			// of a start.
			add = cfg.AddResolvedTools
		}
		if err := add(tools); err != nil {
			errs = append(errs, fmt.Errorf("service %q: importing %s: %w", s.Name, s.OpenAPI, err))
			continue
		}
		save()
	}
	return errors.Join(errs...)
}

// importTools returns the tools of the document at path, from the cache in
// dir when it has them ("": no cache), and whether they came from it; warns
// names the operations left out that the operator should hear about. save
// stores freshly imported tools in the cache; the caller calls it once the
// configuration has accepted them, so that only accepted tools are ever
// cached.
func importTools(path, dir string, opts Options) (tools []config.Tool, warns []string, cached bool, save func(), err error) {
	data, err := readDocument(path)
	if err != nil {
		return nil, nil, false, nil, err
	}
	key := cacheKey(data, opts)
	if tools, warns, ok := readCache(dir, key); ok {
		for i := range tools {
			tools[i].Service = opts.Service
		}
		return tools, warns, true, func() {}, nil
	}
	doc, err := parse(path, data)
	if err != nil {
		return nil, nil, false, nil, err
	}
	tools, skipped, err := doc.Tools(opts)
	if err != nil {
		return nil, nil, false, nil, err
	}
	for _, s := range skipped {
		if s.Warn {
			warns = append(warns, fmt.Sprintf("%s: operation %s is left out: %s", filepath.Base(path), s.ID, s.Reason))
		}
	}
	fresh := slices.Clone(tools) // as converted, before validation fills them in
	return tools, warns, false, func() { writeCache(dir, key, doc.refs, fresh, warns) }, nil
}
