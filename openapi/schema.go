package openapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/jsonschema-go/jsonschema"
)

// Limits that keep a tool's schema a size a model can read. A large API's
// request bodies nest deeply and refer to themselves; past these the
// schema says "see the API's documentation" instead.
const (
	maxDepth           = 6
	maxDescription     = 1024 // a tool's description
	maxPropDescription = 300  // a property's description
)

// Properties are listed in name order (no PropertyOrder), so a schema
// reads the same after a round trip through the cache's JSON.
//
// converter turns OpenAPI schemas into JSON Schemas that every MCP client
// accepts: one "type" per schema (a 3.1 type list becomes anyOf, and
// "null" is dropped: leaving an argument out is how the model says
// nothing), no boolean schemas, no examples, patterns Go can compile, and
// oneOf relaxed to anyOf so that overlapping branches do not reject valid
// input.
type converter struct {
	stack map[*openapi3.Schema]bool // schemas being converted: a cycle
}

func newConverter() *converter { return &converter{stack: map[*openapi3.Schema]bool{}} }

// anyValue is a schema for any JSON value spelled as typed branches: the
// empty schema marshals as true, which the TypeScript SDK rejects.
func anyValue(desc string) *jsonschema.Schema {
	s := &jsonschema.Schema{Description: desc}
	for _, t := range []string{"object", "array", "string", "number", "boolean"} {
		s.AnyOf = append(s.AnyOf, &jsonschema.Schema{Type: t})
	}
	return s
}

// convert converts ref. request is true inside a request body, where
// readOnly properties (set by the server) are left out.
func (c *converter) convert(ref *openapi3.SchemaRef, depth int, request bool) *jsonschema.Schema {
	if ref == nil || ref.Value == nil {
		return anyValue("")
	}
	src := ref.Value
	if src.Always != nil {
		return anyValue("")
	}
	if c.stack[src] || depth >= maxDepth {
		s := typeOnly(src)
		s.Description = trimText(src.Description, maxPropDescription)
		if s.Description == "" {
			s.Description = "Nested value; see the API's documentation for its fields."
		}
		return s
	}
	c.stack[src] = true
	defer delete(c.stack, src)

	s := &jsonschema.Schema{
		Title:       trimText(src.Title, 120),
		Description: trimText(src.Description, maxPropDescription),
		Format:      src.Format,
		Deprecated:  src.Deprecated,
		UniqueItems: src.UniqueItems,
		MultipleOf:  src.MultipleOf,
		Minimum:     src.Min,
		Maximum:     src.Max,
	}
	types := typeList(src)
	switch len(types) {
	case 0:
	case 1:
		s.Type = types[0]
	default:
		for _, t := range types {
			s.AnyOf = append(s.AnyOf, &jsonschema.Schema{Type: t})
		}
	}
	if src.ExclusiveMin.Value != nil {
		s.ExclusiveMinimum = src.ExclusiveMin.Value
	} else if src.ExclusiveMin.IsTrue() && src.Min != nil {
		s.ExclusiveMinimum, s.Minimum = src.Min, nil
	}
	if src.ExclusiveMax.Value != nil {
		s.ExclusiveMaximum = src.ExclusiveMax.Value
	} else if src.ExclusiveMax.IsTrue() && src.Max != nil {
		s.ExclusiveMaximum, s.Maximum = src.Max, nil
	}
	if src.MinLength > 0 {
		s.MinLength = intPtr(src.MinLength)
	}
	if src.MaxLength != nil {
		s.MaxLength = intPtr(*src.MaxLength)
	}
	if src.Pattern != "" {
		if _, err := regexp.Compile(src.Pattern); err == nil {
			s.Pattern = src.Pattern
		}
	}
	for _, e := range src.Enum {
		if e != nil {
			s.Enum = append(s.Enum, e)
		}
	}
	if src.Const != nil {
		v := src.Const
		s.Const = &v
	}
	if src.Default != nil {
		if b, err := json.Marshal(src.Default); err == nil {
			s.Default = b
		}
	}
	if src.MinItems > 0 {
		s.MinItems = intPtr(src.MinItems)
	}
	if src.MaxItems != nil {
		s.MaxItems = intPtr(*src.MaxItems)
	}
	if src.Items != nil {
		s.Items = c.convert(src.Items, depth+1, request)
	} else if s.Type == "array" {
		s.Items = anyValue("")
	}
	if len(src.Properties) > 0 {
		s.Properties = map[string]*jsonschema.Schema{}
		names := make([]string, 0, len(src.Properties))
		for n := range src.Properties {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := src.Properties[n]
			if request && p != nil && p.Value != nil && p.Value.ReadOnly {
				continue
			}
			s.Properties[n] = c.convert(p, depth+1, request)
		}
		for _, r := range src.Required {
			if _, ok := s.Properties[r]; ok {
				s.Required = append(s.Required, r)
			}
		}
		if s.Type == "" && len(s.AnyOf) == 0 {
			s.Type = "object"
		}
	}
	if ap := src.AdditionalProperties; ap.Schema != nil {
		s.AdditionalProperties = c.convert(ap.Schema, depth+1, request)
	} else if ap.Has != nil && !*ap.Has {
		s.AdditionalProperties = &jsonschema.Schema{Not: &jsonschema.Schema{}}
	}
	for _, r := range src.AllOf {
		s.AllOf = append(s.AllOf, c.convert(r, depth+1, request))
	}
	if len(types) < 2 {
		for _, list := range []openapi3.SchemaRefs{src.OneOf, src.AnyOf} {
			for _, r := range list {
				s.AnyOf = append(s.AnyOf, c.convert(r, depth+1, request))
			}
		}
	}
	if s.Type == "" && len(s.AnyOf) == 0 && len(s.AllOf) == 0 && len(s.Enum) == 0 && s.Const == nil {
		// An untyped schema accepts anything; say so with typed branches.
		a := anyValue(s.Description)
		a.Title = s.Title
		return a
	}
	return s
}

// typeList returns src's types without "null", as a list.
func typeList(src *openapi3.Schema) []string {
	if src.Type == nil {
		return nil
	}
	var out []string
	for _, t := range src.Type.Slice() {
		if t != "null" && t != "" {
			out = append(out, t)
		}
	}
	return out
}

// typeOnly returns a schema with src's type alone, for the cut-off points
// of a deep or recursive schema.
func typeOnly(src *openapi3.Schema) *jsonschema.Schema {
	types := typeList(src)
	if len(types) == 1 {
		s := &jsonschema.Schema{Type: types[0]}
		if types[0] == "array" {
			s.Items = anyValue("")
		}
		return s
	}
	if len(src.Properties) > 0 {
		return &jsonschema.Schema{Type: "object"}
	}
	return anyValue("")
}

// pathScalar makes sure a path parameter's schema is a scalar: a value
// that is an object or array has no place in one path segment.
func pathScalar(s *jsonschema.Schema) *jsonschema.Schema {
	switch s.Type {
	case "string", "integer", "number", "boolean":
		return s
	}
	return &jsonschema.Schema{Type: "string", Description: s.Description}
}

func intPtr(u uint64) *int {
	i := int(min(u, 1<<31-1))
	return &i
}

// describeOp builds a tool's description from the operation's summary
// and description, trimmed to a length a model reads in full.
func describeOp(o operation) string {
	sum := strings.TrimSpace(o.op.Summary)
	desc := strings.TrimSpace(o.op.Description)
	var text string
	switch {
	case sum != "" && desc != "" && !strings.HasPrefix(desc, sum):
		text = sum + ".\n\n" + desc
		text = strings.Replace(text, "..\n\n", ".\n\n", 1)
	case desc != "":
		text = desc
	case sum != "":
		text = sum
	default:
		text = fmt.Sprintf("%s %s", o.method, o.path)
	}
	return trimText(text, maxDescription)
}

// trimText trims s to at most n bytes on a rune boundary, ending with "…"
// when it was cut.
func trimText(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimSpace(s[:cut]) + "…"
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
