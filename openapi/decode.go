package openapi

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Decoding: the document's plain JSON values become the model (model.go),
// one OpenAPI object at a time. $refs are resolved in ref.go, and 3.1's
// keywords beside a $ref are merged in merge.go.

// pathItemMethods are the operation fields of a Path Item, in the order
// they are read. Only the first six can become tools; the others are
// listed as skipped, with the reason.
var pathItemMethods = []string{"get", "head", "post", "put", "patch", "delete", "options", "trace", "query", "connect"}

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
