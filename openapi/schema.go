package openapi

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

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

// Limits of a compact schema (the default; a service's schema: full turns
// them off). tools/list is paid for in tokens by every session before the
// first call, and GitHub's operations averaged 3.6 KB each in full. A
// compact tool keeps what helps choose and call it: the first sentence of
// each description, every type, enum, format, pattern and bound (so that
// it accepts exactly the arguments the full one does, down to the depth
// it shows), and past compactDepth the type alone with a pointer to the
// documentation.
const (
	compactDepth           = 3
	compactDescription     = 160
	compactPropDescription = 80
	// deepNote replaces a compact schema's fields past compactDepth.
	deepNote = "Nested value; its fields are in the API's documentation (see list_services docs)."
)

// markdownLink matches [text](url), which compact text keeps as text. It
// compiles on first use, not in package initialisation, which every start
// pays before main.
var markdownLink = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`) })

// compactText keeps the first sentence of s's first paragraph, without
// Markdown links' URLs, in at most n bytes.
func compactText(s string, n int) string {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "\n\n"); i >= 0 {
		s = s[:i]
	}
	s = oneLine(markdownLink().ReplaceAllString(s, "$1"))
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return trimText(s, n)
}

// Bounds on the size of what the conversion produces, in cost units of
// about a byte of the tools/list JSON each (see charge). A $ref'd schema is
// written out wherever it is used, so a small document whose schemas each
// refer to the next one several times stands for an exponential amount of
// schema: a 2.5 KB document gave a 25 MiB tools/list and took 2 GiB of
// memory. The largest tool of GitHub's and ReadMe's documents is under
// 10 KB.
const (
	maxToolSchema = 128 << 10 // one tool's input schema
	baseDocSchema = 1 << 20   // all of a document's tools: this, plus
	docSchemaRate = 16        // this many units per byte of the files read
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
	compact bool             // compact schemas (see compactDepth)
	stack   map[*schema]bool // schemas being converted: a cycle
	left    int              // cost units left for this tool (maxToolSchema at the start)
	over    bool             // the budget ran out: the schema is cut and the tool refused
}

func newConverter(compact bool) *converter {
	return &converter{compact: compact, stack: map[*schema]bool{}, left: maxToolSchema}
}

// text trims a description the way the converter's mode asks.
func (c *converter) text(s string, n int) string {
	if c.compact {
		return compactText(s, min(n, compactPropDescription))
	}
	return trimText(s, n)
}

// used returns the cost units the converter has spent.
func (c *converter) used() int { return maxToolSchema - c.left }

// charge counts the schema src converts into against the tool's budget,
// and reports whether the budget still holds.
func (c *converter) charge(src *schema) bool {
	n := 32 + len(src.title) + len(src.description) + len(src.format) + len(src.pattern)
	for _, e := range src.enum {
		n += 8
		if s, ok := e.(string); ok {
			n += len(s)
		}
	}
	if s, ok := src.deflt.(string); ok {
		n += len(s)
	}
	c.left -= n
	if c.left < 0 {
		c.over = true
	}
	return !c.over
}

// anyValue is a schema for any JSON value spelled as typed branches: the
// empty schema marshals as true, which the TypeScript SDK rejects.
func anyValue(desc string) *jsonschema.Schema {
	s := &jsonschema.Schema{Description: desc}
	for _, t := range []string{"object", "array", "string", "number", "boolean"} {
		s.AnyOf = append(s.AnyOf, &jsonschema.Schema{Type: t})
	}
	return s
}

// convert converts src. request is true inside a request body, where
// readOnly properties (set by the server) are left out.
func (c *converter) convert(src *schema, depth int, request bool) *jsonschema.Schema {
	if src == nil || src.always != nil {
		return anyValue("")
	}
	if !c.charge(src) {
		return &jsonschema.Schema{Type: "object"} // the tool is refused; any cheap value will do
	}
	// A compact schema summarises containers past compactDepth; scalars
	// there cost little and keep their constraints.
	deep := c.compact && depth >= compactDepth && (len(src.props) > 0 || src.items != nil || src.addl != nil)
	if c.stack[src] || depth >= maxDepth || deep {
		s := typeOnly(src)
		s.Description = c.text(src.description, maxPropDescription)
		if c.compact && (len(src.props) > 0 || src.items != nil) {
			s.Description = strings.TrimSpace(s.Description + " " + deepNote)
		}
		if s.Description == "" {
			s.Description = "Nested value; see the API's documentation for its fields."
		}
		return s
	}
	c.stack[src] = true
	defer delete(c.stack, src)

	s := &jsonschema.Schema{
		Title:       trimText(src.title, 120),
		Description: c.text(src.description, maxPropDescription),
		Format:      src.format,
		Deprecated:  src.deprecated,
		UniqueItems: src.uniqueItems,
		MultipleOf:  src.multipleOf,
		Minimum:     src.minimum,
		Maximum:     src.maximum,
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
	if b := src.exclusiveMinimum; b.value != nil {
		s.ExclusiveMinimum = b.value
	} else if b.set && src.minimum != nil {
		s.ExclusiveMinimum, s.Minimum = src.minimum, nil
	}
	if b := src.exclusiveMaximum; b.value != nil {
		s.ExclusiveMaximum = b.value
	} else if b.set && src.maximum != nil {
		s.ExclusiveMaximum, s.Maximum = src.maximum, nil
	}
	if src.minLength > 0 {
		s.MinLength = intPtr(src.minLength)
	}
	if src.maxLength != nil {
		s.MaxLength = intPtr(*src.maxLength)
	}
	if src.pattern != "" {
		if _, err := regexp.Compile(src.pattern); err == nil {
			s.Pattern = src.pattern
		}
	}
	for _, e := range src.enum {
		if e != nil {
			s.Enum = append(s.Enum, e)
		}
	}
	if src.cnst != nil {
		v := src.cnst
		s.Const = &v
	}
	if c.compact {
		// A title repeats the property's name; a default the API applies
		// anyway. Neither constrains what is accepted.
		s.Title = ""
	}
	if src.deflt != nil && !c.compact {
		if b, err := json.Marshal(src.deflt); err == nil {
			s.Default = b
		}
	}
	if src.minItems > 0 {
		s.MinItems = intPtr(src.minItems)
	}
	if src.maxItems != nil {
		s.MaxItems = intPtr(*src.maxItems)
	}
	if src.items != nil {
		s.Items = c.convert(src.items, depth+1, request)
	} else if s.Type == "array" {
		s.Items = anyValue("")
	}
	if len(src.props) > 0 {
		s.Properties = map[string]*jsonschema.Schema{}
		names := make([]string, 0, len(src.props))
		for n := range src.props {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			p := src.props[n]
			if request && p != nil && p.readOnly {
				continue
			}
			s.Properties[n] = c.convert(p, depth+1, request)
		}
		for _, r := range src.req {
			if _, ok := s.Properties[r]; ok {
				s.Required = append(s.Required, r)
			}
		}
		if s.Type == "" && len(s.AnyOf) == 0 {
			s.Type = "object"
		}
	}
	if src.addl != nil {
		s.AdditionalProperties = c.convert(src.addl, depth+1, request)
	} else if src.noAddl {
		s.AdditionalProperties = &jsonschema.Schema{Not: &jsonschema.Schema{}}
	}
	for _, r := range src.allOf {
		s.AllOf = append(s.AllOf, c.convert(r, depth+1, request))
	}
	if len(types) < 2 {
		for _, list := range [][]*schema{src.oneOf, src.anyOf} {
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
func typeList(src *schema) []string {
	var out []string
	for _, t := range src.types {
		if t != "null" && t != "" {
			out = append(out, t)
		}
	}
	return out
}

// typeOnly returns a schema with src's type alone, for the cut-off points
// of a deep or recursive schema.
func typeOnly(src *schema) *jsonschema.Schema {
	types := typeList(src)
	if len(types) == 1 {
		s := &jsonschema.Schema{Type: types[0]}
		if types[0] == "array" {
			s.Items = anyValue("")
		}
		return s
	}
	if len(src.props) > 0 {
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
func describeOp(o operation, compact bool) string {
	sum := strings.TrimSpace(o.op.summary)
	desc := strings.TrimSpace(o.op.description)
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
	if compact {
		return compactText(text, compactDescription)
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
