package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// maxRefHops bounds a chain of $refs that each point at another $ref; a
// longer chain is taken for a loop.
const maxRefHops = 64

// pathItemMethods are the operation fields of a Path Item, in the order
// they are read. Only the first six can become tools; the others are
// listed as skipped, with the reason.
var pathItemMethods = []string{"get", "head", "post", "put", "patch", "delete", "options", "trace", "query", "connect"}

// loader decodes one document and the local files its $refs read.
type loader struct {
	files map[string]any    // absolute path -> parsed JSON value
	refs  map[string]string // files read through $refs -> sha256 hex
	v31   bool              // OpenAPI 3.1 or later: keywords next to a schema's $ref apply

	schemas map[string]*schema // $ref target ("file#pointer") -> its schema, shared
	merges  []*merge           // 3.1 $refs with keywords beside them, applied at the end
}

// merge is a schema written as a $ref with keywords beside it (OpenAPI
// 3.1): into starts as an empty placeholder and becomes a copy of target
// with the annotations of local replacing target's own, and local's other
// keywords added as one more allOf entry, as JSON Schema 2020-12 and
// kin-openapi read it.
type merge struct {
	into, target, local *schema
	annotations         []string // keywords of local that replace target's
	assertions          []string // keywords of local that add a constraint
	done, busy          bool
}

// refAnnotations are the keywords that, written next to a $ref, replace the
// referenced schema's own: they describe the value rather than constrain it.
var refAnnotations = []string{"$comment", "allowEmptyValue", "default", "deprecated", "description", "discriminator", "example", "examples", "externalDocs", "nullable", "readOnly", "title", "writeOnly", "xml"}

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

// parse parses data, the document read from path: the operations of every
// path item with their parameters, request bodies and schemas, $refs
// resolved. Responses and examples are not read.
func parse(path string, data []byte) (*Document, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading OpenAPI document: %w", err)
	}
	root, err := decodeData(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: %w", path, err)
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: it is not a mapping of keys", path)
	}
	version, ok := m["openapi"].(string)
	if _, present := m["openapi"]; present && !ok {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: openapi must be a string such as \"3.0.3\" (quote it in YAML)", path)
	}
	if !strings.HasPrefix(version, "3.") {
		return nil, fmt.Errorf("%s: OpenAPI version %q is not supported; keyveil reads 3.0 and 3.1 (convert Swagger 2.0 first)", path, version)
	}
	l := &loader{
		files:   map[string]any{abs: root},
		refs:    map[string]string{},
		v31:     !strings.HasPrefix(version, "3.0"),
		schemas: map[string]*schema{},
	}
	d := &Document{path: path, version: version, refs: l.refs}
	if err := l.document(d, abs, m); err != nil {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: %w", path, err)
	}
	return d, nil
}

// decodeData parses a document's bytes as JSON, or else as YAML, into
// plain JSON values (map[string]any, []any, string, float64, bool, nil).
func decodeData(data []byte) (any, error) {
	var v any
	jerr := json.Unmarshal(data, &v)
	if jerr == nil {
		return v, nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, err
	}
	if len(n.Content) == 0 {
		return nil, errors.New("the file is empty")
	}
	return yamlValue(n.Content[0], 0)
}

// yamlValue converts a YAML node into the JSON value it stands for. Every
// scalar that is not a number, boolean or null is a string (timestamps
// included), as in a YAML-to-JSON conversion.
func yamlValue(n *yaml.Node, depth int) (any, error) {
	if depth > 10000 {
		return nil, errors.New("YAML nests too deeply")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0], depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Tag == "!!merge" {
				if err := yamlMerge(m, v, depth); err != nil {
					return nil, err
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a scalar", k.Line)
			}
			val, err := yamlValue(v, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, err
		}
		return b, nil
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		return f, nil
	}
	return n.Value, nil
}

// yamlMerge applies a YAML merge key (<<: *anchor) to m: keys already in m
// win.
func yamlMerge(m map[string]any, v *yaml.Node, depth int) error {
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	for _, s := range srcs {
		val, err := yamlValue(s, depth+1)
		if err != nil {
			return err
		}
		sm, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("line %d: a merge key needs a mapping", s.Line)
		}
		for k, x := range sm {
			if _, ok := m[k]; !ok {
				m[k] = x
			}
		}
	}
	return nil
}

// document fills d from the root object m of the file at file.
func (l *loader) document(d *Document, file string, m map[string]any) error {
	if c, ok := m["components"].(map[string]any); ok {
		if ss, ok := c["securitySchemes"].(map[string]any); ok {
			for _, name := range sortedKeys(ss) {
				_, v, _, err := l.follow(file, ss[name], nil)
				if err != nil {
					return fmt.Errorf("components.securitySchemes.%s: %w", name, err)
				}
				sm, ok := v.(map[string]any)
				if !ok {
					continue
				}
				typ, _ := sm["type"].(string)
				in, _ := sm["in"].(string)
				nm, _ := sm["name"].(string)
				d.security = append(d.security, securityScheme{typ: typ, in: in, name: nm})
			}
		}
	}
	paths, ok := m["paths"]
	if !ok || paths == nil {
		return nil
	}
	pm, ok := paths.(map[string]any)
	if !ok {
		return errors.New("paths must be a mapping of paths to path items")
	}
	for _, p := range sortedKeys(pm) {
		item, ops, err := l.pathItem(file, pm[p])
		if err != nil {
			return fmt.Errorf("paths.%s: %w", p, err)
		}
		for _, o := range ops {
			d.ops = append(d.ops, operation{path: p, method: o.method, op: o.op, item: item})
		}
	}
	for _, mg := range l.merges {
		l.apply(mg)
	}
	sort.SliceStable(d.ops, func(i, j int) bool {
		a, b := d.ops[i], d.ops[j]
		if a.path != b.path {
			return a.path < b.path
		}
		if ra, rb := methodRank(a.method), methodRank(b.method); ra != rb {
			return ra < rb
		}
		return a.method < b.method
	})
	return nil
}

// methodOp is one operation of a path item.
type methodOp struct {
	method string // upper case
	op     *op
}

// pathItem decodes a Path Item. A $ref'd item is read from where it
// points, and fields written beside the $ref replace the referenced ones.
func (l *loader) pathItem(file string, v any) (*pathItem, []methodOp, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, nil, errors.New("a path item must be a mapping")
	}
	item := &pathItem{}
	byMethod := map[string]*op{}
	var extra []string // AdditionalOperations methods, upper case
	if _, ok := m["$ref"]; ok {
		f, tv, _, err := l.follow(file, m, nil)
		if err != nil {
			return nil, nil, err
		}
		t, tops, err := l.pathItem(f, tv)
		if err != nil {
			return nil, nil, err
		}
		item.parameters = t.parameters
		for _, o := range tops {
			byMethod[o.method] = o.op
			if !slices.Contains(pathItemMethods, strings.ToLower(o.method)) {
				extra = append(extra, o.method)
			}
		}
	}
	if ps, ok := m["parameters"]; ok {
		params, err := l.parameters(file, ps)
		if err != nil {
			return nil, nil, fmt.Errorf("parameters: %w", err)
		}
		if len(params) > 0 {
			item.parameters = params
		}
	}
	for _, method := range pathItemMethods {
		ov, ok := m[method]
		if !ok || ov == nil {
			continue
		}
		o, err := l.operation(file, ov)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", method, err)
		}
		byMethod[strings.ToUpper(method)] = o
	}
	if ao, ok := m["additionalOperations"].(map[string]any); ok {
		for _, method := range sortedKeys(ao) {
			up := strings.ToUpper(method)
			if _, fixed := byMethod[up]; fixed || ao[method] == nil {
				continue
			}
			o, err := l.operation(file, ao[method])
			if err != nil {
				return nil, nil, fmt.Errorf("additionalOperations.%s: %w", method, err)
			}
			byMethod[up] = o
			extra = append(extra, up)
		}
	}
	var ops []methodOp
	for _, method := range pathItemMethods {
		if o := byMethod[strings.ToUpper(method)]; o != nil {
			ops = append(ops, methodOp{strings.ToUpper(method), o})
		}
	}
	for _, method := range extra {
		if o := byMethod[method]; o != nil && !slices.ContainsFunc(ops, func(x methodOp) bool { return x.method == method }) {
			ops = append(ops, methodOp{method, o})
		}
	}
	return item, ops, nil
}

// operation decodes an Operation.
func (l *loader) operation(file string, v any) (*op, error) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("an operation must be a mapping")
	}
	o := &op{}
	var err error
	if o.operationID, err = stringField(m, "operationId"); err != nil {
		return nil, err
	}
	if o.summary, err = stringField(m, "summary"); err != nil {
		return nil, err
	}
	if o.description, err = stringField(m, "description"); err != nil {
		return nil, err
	}
	if o.deprecated, err = boolField(m, "deprecated"); err != nil {
		return nil, err
	}
	if o.tags, err = stringsField(m, "tags"); err != nil {
		return nil, err
	}
	if s, ok := m["x-keyveil-scope"].(string); ok {
		o.scope = s
	}
	if ps, ok := m["parameters"]; ok {
		if o.parameters, err = l.parameters(file, ps); err != nil {
			return nil, fmt.Errorf("parameters: %w", err)
		}
	}
	if rb, ok := m["requestBody"]; ok && rb != nil {
		if o.requestBody, err = l.requestBody(file, rb); err != nil {
			return nil, fmt.Errorf("requestBody: %w", err)
		}
	}
	return o, nil
}

// parameters decodes a list of Parameters.
func (l *loader) parameters(file string, v any) ([]*parameter, error) {
	if v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("must be a list")
	}
	out := make([]*parameter, 0, len(list))
	for i, pv := range list {
		f, tv, _, err := l.follow(file, pv, nil)
		if err != nil {
			return nil, fmt.Errorf("%d: %w", i, err)
		}
		m, ok := tv.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("%d: a parameter must be a mapping", i)
		}
		p := &parameter{}
		for _, s := range []struct {
			key string
			dst *string
		}{{"name", &p.name}, {"in", &p.in}, {"description", &p.description}} {
			if *s.dst, err = stringField(m, s.key); err != nil {
				return nil, fmt.Errorf("%d: %w", i, err)
			}
		}
		if p.required, err = boolField(m, "required"); err != nil {
			return nil, fmt.Errorf("%d: %w", i, err)
		}
		if p.deprecated, err = boolField(m, "deprecated"); err != nil {
			return nil, fmt.Errorf("%d: %w", i, err)
		}
		if sv, ok := m["schema"]; ok && sv != nil {
			if p.schema, err = l.schema(f, sv); err != nil {
				return nil, fmt.Errorf("%d (%s): schema: %w", i, p.name, err)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// requestBody decodes a Request Body.
func (l *loader) requestBody(file string, v any) (*requestBody, error) {
	f, tv, _, err := l.follow(file, v, nil)
	if err != nil {
		return nil, err
	}
	m, ok := tv.(map[string]any)
	if !ok {
		return nil, errors.New("must be a mapping")
	}
	rb := &requestBody{content: map[string]*schema{}}
	if rb.description, err = stringField(m, "description"); err != nil {
		return nil, err
	}
	if rb.required, err = boolField(m, "required"); err != nil {
		return nil, err
	}
	content, ok := m["content"].(map[string]any)
	if !ok {
		return rb, nil
	}
	for _, ct := range sortedKeys(content) {
		rb.types = append(rb.types, ct)
		rb.content[ct] = nil
		mt, ok := content[ct].(map[string]any)
		if !ok {
			continue
		}
		if sv, ok := mt["schema"]; ok && sv != nil {
			if rb.content[ct], err = l.schema(f, sv); err != nil {
				return nil, fmt.Errorf("content.%s.schema: %w", ct, err)
			}
		}
	}
	return rb, nil
}

// schema decodes the Schema Object v found in file. A $ref'd schema is
// decoded once and shared, so recursion ends in a cycle of pointers.
func (l *loader) schema(file string, v any) (*schema, error) {
	if b, ok := v.(bool); ok {
		return &schema{always: &b}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("a schema must be a mapping")
	}
	if _, isRef := m["$ref"]; isRef {
		return l.refSchema(file, m, nil)
	}
	s := &schema{}
	return s, l.fill(s, file, m)
}

// refSchema decodes m, a schema object with a $ref. Keywords beside the
// $ref (OpenAPI 3.1) make it a merge, filled at the end of loading into
// into, or into a new schema when into is nil.
func (l *loader) refSchema(file string, m map[string]any, into *schema) (*schema, error) {
	f, tv, key, err := l.follow(file, m, l.schemaStop)
	if err != nil {
		return nil, err
	}
	target, err := l.shared(f, tv, key)
	if err != nil {
		return nil, fmt.Errorf("$ref %v: %w", m["$ref"], err)
	}
	local := l.siblings(m)
	if local == nil {
		return target, nil
	}
	sib := &schema{}
	if err := l.fill(sib, file, local); err != nil {
		return nil, err
	}
	if into == nil {
		into = &schema{}
	}
	mg := &merge{into: into, target: target, local: sib}
	for _, k := range sortedKeys(local) {
		if slices.Contains(refAnnotations, k) {
			mg.annotations = append(mg.annotations, k)
		} else {
			mg.assertions = append(mg.assertions, k)
		}
	}
	l.merges = append(l.merges, mg)
	return into, nil
}

// shared returns the schema v at key, a $ref target, decoding it on first
// use. It is registered before its keywords are read, so a $ref back to it
// from inside finds it.
func (l *loader) shared(file string, v any, key string) (*schema, error) {
	if s, ok := l.schemas[key]; ok {
		return s, nil
	}
	switch x := v.(type) {
	case bool:
		s := &schema{always: &x}
		l.schemas[key] = s
		return s, nil
	case map[string]any:
		s := &schema{}
		l.schemas[key] = s
		if _, ref := x["$ref"]; ref {
			// A $ref with keywords beside it: follow stopped here.
			_, err := l.refSchema(file, x, s)
			return s, err
		}
		return s, l.fill(s, file, x)
	}
	return nil, errors.New("not a schema")
}

// siblings returns the keywords beside m's $ref that apply (OpenAPI 3.1,
// not x- extensions), or nil when none do.
func (l *loader) siblings(m map[string]any) map[string]any {
	if !l.v31 {
		return nil
	}
	var out map[string]any
	for k, v := range m {
		if k == "$ref" || strings.HasPrefix(k, "x-") {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k] = v
	}
	return out
}

// schemaStop tells follow to stop at a schema $ref with keywords beside it:
// that schema is the merge of both, not the target alone.
func (l *loader) schemaStop(v any) bool {
	m, ok := v.(map[string]any)
	return ok && l.siblings(m) != nil
}

// apply fills a merge's placeholder, once its target (which may itself be
// a merge) is complete.
func (l *loader) apply(mg *merge) {
	if mg.done || mg.busy {
		return // done, or a loop of $refs that each add keywords: left as is
	}
	mg.busy = true
	for _, other := range l.merges {
		if other.into == mg.target {
			l.apply(other)
		}
	}
	s := *mg.target
	for _, k := range mg.annotations {
		overlay(&s, mg.local, k)
	}
	if len(mg.assertions) > 0 {
		var conj schema
		for _, k := range mg.assertions {
			overlay(&conj, mg.local, k)
		}
		s.allOf = append(slices.Clip(s.allOf), &conj)
	}
	*mg.into = s
	mg.busy, mg.done = false, true
}

// overlay copies keyword k from src to dst.
func overlay(dst, src *schema, k string) {
	switch k {
	case "type":
		dst.types = src.types
	case "title":
		dst.title = src.title
	case "description":
		dst.description = src.description
	case "format":
		dst.format = src.format
	case "pattern":
		dst.pattern = src.pattern
	case "deprecated":
		dst.deprecated = src.deprecated
	case "uniqueItems":
		dst.uniqueItems = src.uniqueItems
	case "readOnly":
		dst.readOnly = src.readOnly
	case "multipleOf":
		dst.multipleOf = src.multipleOf
	case "minimum":
		dst.minimum = src.minimum
	case "maximum":
		dst.maximum = src.maximum
	case "exclusiveMinimum":
		dst.exclusiveMinimum = src.exclusiveMinimum
	case "exclusiveMaximum":
		dst.exclusiveMaximum = src.exclusiveMaximum
	case "minLength":
		dst.minLength = src.minLength
	case "maxLength":
		dst.maxLength = src.maxLength
	case "minItems":
		dst.minItems = src.minItems
	case "maxItems":
		dst.maxItems = src.maxItems
	case "enum":
		dst.enum = src.enum
	case "const":
		dst.cnst = src.cnst
	case "default":
		dst.deflt = src.deflt
	case "items":
		dst.items = src.items
	case "properties":
		dst.props = src.props
	case "required":
		dst.req = src.req
	case "additionalProperties":
		dst.addl, dst.noAddl = src.addl, src.noAddl
	case "allOf":
		dst.allOf = src.allOf
	case "anyOf":
		dst.anyOf = src.anyOf
	case "oneOf":
		dst.oneOf = src.oneOf
	}
}

// fill decodes the keywords of the schema object m, found in file, into s.
func (l *loader) fill(s *schema, file string, m map[string]any) error {
	var err error
	for _, f := range []struct {
		key string
		dst *string
	}{{"title", &s.title}, {"description", &s.description}, {"format", &s.format}, {"pattern", &s.pattern}} {
		if *f.dst, err = stringField(m, f.key); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		key string
		dst *bool
	}{{"deprecated", &s.deprecated}, {"uniqueItems", &s.uniqueItems}, {"readOnly", &s.readOnly}} {
		if *f.dst, err = boolField(m, f.key); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		key string
		dst **float64
	}{{"multipleOf", &s.multipleOf}, {"minimum", &s.minimum}, {"maximum", &s.maximum}} {
		if *f.dst, err = numberField(m, f.key); err != nil {
			return err
		}
	}
	for _, f := range []struct {
		key string
		dst *bound
	}{{"exclusiveMinimum", &s.exclusiveMinimum}, {"exclusiveMaximum", &s.exclusiveMaximum}} {
		switch x := m[f.key].(type) {
		case nil:
		case bool:
			f.dst.set = x
		case float64:
			f.dst.value = &x
		default:
			return fmt.Errorf("%s must be a number or a boolean", f.key)
		}
	}
	for _, f := range []struct {
		key      string
		min      *uint64
		max      **uint64
		isMaxKey bool
	}{{"minLength", &s.minLength, nil, false}, {"maxLength", nil, &s.maxLength, true}, {"minItems", &s.minItems, nil, false}, {"maxItems", nil, &s.maxItems, true}} {
		n, err := countField(m, f.key)
		if err != nil {
			return err
		}
		if n == nil {
			continue
		}
		if f.isMaxKey {
			*f.max = n
		} else {
			*f.min = *n
		}
	}
	switch t := m["type"].(type) {
	case nil:
	case string:
		s.types = []string{t}
	case []any:
		s.types = []string{}
		for _, e := range t {
			ts, ok := e.(string)
			if !ok {
				return errors.New("type must be a string or a list of strings")
			}
			s.types = append(s.types, ts)
		}
	default:
		return errors.New("type must be a string or a list of strings")
	}
	if e, ok := m["enum"]; ok && e != nil {
		list, ok := e.([]any)
		if !ok {
			return errors.New("enum must be a list")
		}
		s.enum = list
	}
	s.cnst = m["const"]
	s.deflt = m["default"]
	if s.req, err = stringsField(m, "required"); err != nil {
		return err
	}
	if iv, ok := m["items"]; ok && iv != nil {
		if _, isList := iv.([]any); !isList { // a draft-4 tuple: not read
			if s.items, err = l.schema(file, iv); err != nil {
				return fmt.Errorf("items: %w", err)
			}
		}
	}
	if pv, ok := m["properties"]; ok && pv != nil {
		pm, ok := pv.(map[string]any)
		if !ok {
			return errors.New("properties must be a mapping")
		}
		s.props = make(map[string]*schema, len(pm))
		for _, name := range sortedKeys(pm) {
			if s.props[name], err = l.schema(file, pm[name]); err != nil {
				return fmt.Errorf("properties.%s: %w", name, err)
			}
		}
	}
	switch a := m["additionalProperties"].(type) {
	case nil:
	case bool:
		s.noAddl = !a
	default:
		if s.addl, err = l.schema(file, a); err != nil {
			return fmt.Errorf("additionalProperties: %w", err)
		}
	}
	for _, f := range []struct {
		key string
		dst *[]*schema
	}{{"allOf", &s.allOf}, {"anyOf", &s.anyOf}, {"oneOf", &s.oneOf}} {
		v, ok := m[f.key]
		if !ok || v == nil {
			continue
		}
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf("%s must be a list", f.key)
		}
		for i, e := range list {
			c, err := l.schema(file, e)
			if err != nil {
				return fmt.Errorf("%s.%d: %w", f.key, i, err)
			}
			*f.dst = append(*f.dst, c)
		}
	}
	return nil
}

// follow resolves v when it is a $ref object (following $refs to $refs),
// and returns the value it stands for, the file that value is in (relative
// $refs inside it are read from there) and a key naming it ("" when v was
// no $ref). stop, when not nil, ends the chain at a $ref object it accepts.
// A $ref to a URL is refused: loading makes no network request.
func (l *loader) follow(file string, v any, stop func(any) bool) (string, any, string, error) {
	key := ""
	for hop := 0; ; hop++ {
		m, ok := v.(map[string]any)
		if !ok {
			return file, v, key, nil
		}
		rv, ok := m["$ref"]
		if !ok || hop > 0 && stop != nil && stop(v) {
			return file, v, key, nil
		}
		if hop == maxRefHops {
			return "", nil, "", fmt.Errorf("$ref %v: more than %d $refs in a row (a loop?)", rv, maxRefHops)
		}
		ref, ok := rv.(string)
		if !ok {
			return "", nil, "", errors.New("$ref must be a string")
		}
		f, target, k, err := l.lookup(file, ref)
		if err != nil {
			return "", nil, "", err
		}
		file, v, key = f, target, k
	}
}

// lookup returns the value ref points at from file.
func (l *loader) lookup(file, ref string) (string, any, string, error) {
	loc, frag, _ := strings.Cut(ref, "#")
	if strings.Contains(loc, "://") || strings.HasPrefix(loc, "//") {
		u, err := url.Parse(loc)
		if err != nil || u.Scheme != "file" || u.Host != "" {
			scheme, host := "", loc
			if err == nil {
				scheme, host = u.Scheme, u.Host
			}
			return "", nil, "", fmt.Errorf("$ref to %s://%s is not followed; keyveil reads local files only (download the document and refer to the file)", scheme, host)
		}
		loc = u.Path
	} else if p, err := url.PathUnescape(loc); err == nil {
		loc = p
	}
	target := file
	if loc != "" {
		p := filepath.FromSlash(loc)
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		target = filepath.Clean(p)
	}
	root, ok := l.files[target]
	if !ok {
		data, err := os.ReadFile(target)
		if err != nil {
			return "", nil, "", fmt.Errorf("reading $ref file: %w", err)
		}
		l.refs[target] = hashHex(data)
		if root, err = decodeData(data); err != nil {
			return "", nil, "", fmt.Errorf("$ref file %s: %w", filepath.Base(target), err)
		}
		l.files[target] = root
	}
	if f, err := url.PathUnescape(frag); err == nil {
		frag = f
	}
	if frag == "" {
		return target, root, target + "#", nil
	}
	if !strings.HasPrefix(frag, "/") {
		return "", nil, "", fmt.Errorf("$ref %s: only JSON pointers (#/…) are supported", ref)
	}
	v := root
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := v.(type) {
		case map[string]any:
			next, ok := x[tok]
			if !ok {
				return "", nil, "", fmt.Errorf("$ref %s: %q not found", ref, tok)
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return "", nil, "", fmt.Errorf("$ref %s: %q not found", ref, tok)
			}
			v = x[i]
		default:
			return "", nil, "", fmt.Errorf("$ref %s: %q not found", ref, tok)
		}
	}
	return target, v, target + "#" + frag, nil
}

func stringField(m map[string]any, key string) (string, error) {
	switch v := m[key].(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	}
	return "", fmt.Errorf("%s must be a string", key)
}

func boolField(m map[string]any, key string) (bool, error) {
	switch v := m[key].(type) {
	case nil:
		return false, nil
	case bool:
		return v, nil
	}
	return false, fmt.Errorf("%s must be true or false", key)
}

func numberField(m map[string]any, key string) (*float64, error) {
	switch v := m[key].(type) {
	case nil:
		return nil, nil
	case float64:
		return &v, nil
	}
	return nil, fmt.Errorf("%s must be a number", key)
}

func countField(m map[string]any, key string) (*uint64, error) {
	switch v := m[key].(type) {
	case nil:
		return nil, nil
	case float64:
		if v >= 0 && v == math.Trunc(v) && v < 1<<63 {
			n := uint64(v)
			return &n, nil
		}
	}
	return nil, fmt.Errorf("%s must be a whole number, 0 or more", key)
}

func stringsField(m map[string]any, key string) ([]string, error) {
	v, ok := m[key]
	if !ok || v == nil {
		return nil, nil
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%s must be a list of strings", key)
	}
	out := make([]string, 0, len(list))
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			return nil, fmt.Errorf("%s must be a list of strings", key)
		}
		out = append(out, s)
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
