package tools

import "github.com/google/jsonschema-go/jsonschema"

// Tool schemas are written by hand, never inferred from Go types. Inference
// turns a field of type any into the boolean schema true, which the
// TypeScript SDK rejects (taking the whole tools/list with it), and a Go
// slice into "type": ["null", "array"], which the MCP Inspector's
// portability lint flags. So every property below has a schema object with
// a single "type", or an "anyOf" whose branches each have one, and a
// description; TestSchemasPortable walks them to keep it that way.

// prop is one named property, kept in order so the listed schema reads in
// the order a person would write the call.
type prop struct {
	name   string
	schema *jsonschema.Schema
}

func object(desc string, required []string, props ...prop) *jsonschema.Schema {
	s := &jsonschema.Schema{
		Type:        "object",
		Description: desc,
		Properties:  map[string]*jsonschema.Schema{},
		Required:    required,
	}
	for _, p := range props {
		s.Properties[p.name] = p.schema
		s.PropertyOrder = append(s.PropertyOrder, p.name)
	}
	return s
}

func typed(typ, desc string) *jsonschema.Schema {
	return &jsonschema.Schema{Type: typ, Description: desc}
}

func stringEnum(desc string, values []string) *jsonschema.Schema {
	s := typed("string", desc)
	for _, v := range values {
		s.Enum = append(s.Enum, v)
	}
	return s
}

func arrayOf(desc string, items *jsonschema.Schema) *jsonschema.Schema {
	s := typed("array", desc)
	s.Items = items
	return s
}

func mapOf(desc string, values *jsonschema.Schema) *jsonschema.Schema {
	s := typed("object", desc)
	s.AdditionalProperties = values
	return s
}

// anyJSON is a schema for any JSON value, spelled as typed branches rather
// than the empty schema (which marshals as true) or a "type" array.
func anyJSON(desc string) *jsonschema.Schema {
	return &jsonschema.Schema{
		Description: desc,
		AnyOf: []*jsonschema.Schema{
			{Type: "object"},
			{Type: "array"},
			{Type: "string"},
			{Type: "number"},
			{Type: "boolean"},
			{Type: "null"},
		},
	}
}

func anyOfTypes(desc string, branches ...*jsonschema.Schema) *jsonschema.Schema {
	return &jsonschema.Schema{Description: desc, AnyOf: branches}
}
