package tools

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"
)

// encodeSchema returns s as JSON, byte for byte what json.Marshal(s)
// gives. jsonschema.Schema's own MarshalJSON works by reflection, field by
// field and schema by schema, and re-marshals every nested schema: for an
// imported API with hundreds of operations, encoding their input schemas
// once was the largest part of start-up. This writes the keywords keyveil's
// schemas use directly and hands any schema with another keyword (or
// anything jsonschema would reject) to json.Marshal, so the result never
// differs; TestEncodeSchema holds it to that for every field of the type.
func encodeSchema(s *jsonschema.Schema) ([]byte, error) {
	return appendSchema(make([]byte, 0, 512), s)
}

func appendSchema(b []byte, s *jsonschema.Schema) ([]byte, error) {
	if s == nil {
		return append(b, "null"...), nil
	}
	if !fastSchema(s) {
		out, err := json.Marshal(s)
		if err != nil {
			return nil, err
		}
		return append(b, out...), nil
	}
	start := len(b)
	b = append(b, '{')
	var err error
	field := func(name string) {
		if len(b) > start+1 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, '"', ':')
	}
	// The order is jsonschema's: the four keywords it marshals itself,
	// then the struct's fields in declaration order.
	if s.Type != "" {
		field("type")
		b = appendString(b, s.Type)
	} else if s.Types != nil {
		field("type")
		b = appendStrings(b, s.Types)
	}
	if s.Properties != nil {
		field("properties")
		if b, err = appendProperties(b, s.Properties, s.PropertyOrder); err != nil {
			return nil, err
		}
	}
	if s.Items != nil {
		field("items")
		if b, err = appendSchema(b, s.Items); err != nil {
			return nil, err
		}
	}
	if s.Title != "" {
		field("title")
		b = appendString(b, s.Title)
	}
	if s.Description != "" {
		field("description")
		b = appendString(b, s.Description)
	}
	if len(s.Default) > 0 {
		field("default")
		if b, err = appendValue(b, s.Default); err != nil {
			return nil, err
		}
	}
	if s.Deprecated {
		field("deprecated")
		b = append(b, "true"...)
	}
	if s.ReadOnly {
		field("readOnly")
		b = append(b, "true"...)
	}
	if s.WriteOnly {
		field("writeOnly")
		b = append(b, "true"...)
	}
	if len(s.Examples) > 0 {
		field("examples")
		if b, err = appendValue(b, s.Examples); err != nil {
			return nil, err
		}
	}
	if len(s.Enum) > 0 {
		field("enum")
		if b, err = appendValues(b, s.Enum); err != nil {
			return nil, err
		}
	}
	if s.Const != nil {
		field("const")
		if b, err = appendValue(b, *s.Const); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		v    *float64
	}{{"multipleOf", s.MultipleOf}, {"minimum", s.Minimum}, {"maximum", s.Maximum}, {"exclusiveMinimum", s.ExclusiveMinimum}, {"exclusiveMaximum", s.ExclusiveMaximum}} {
		if f.v != nil {
			field(f.name)
			if b, err = appendFloat(b, *f.v); err != nil {
				return nil, err
			}
		}
	}
	if s.MinLength != nil {
		field("minLength")
		b = strconv.AppendInt(b, int64(*s.MinLength), 10)
	}
	if s.MaxLength != nil {
		field("maxLength")
		b = strconv.AppendInt(b, int64(*s.MaxLength), 10)
	}
	if s.Pattern != "" {
		field("pattern")
		b = appendString(b, s.Pattern)
	}
	if s.MinItems != nil {
		field("minItems")
		b = strconv.AppendInt(b, int64(*s.MinItems), 10)
	}
	if s.MaxItems != nil {
		field("maxItems")
		b = strconv.AppendInt(b, int64(*s.MaxItems), 10)
	}
	if s.UniqueItems {
		field("uniqueItems")
		b = append(b, "true"...)
	}
	if len(s.Required) > 0 {
		field("required")
		b = appendStrings(b, s.Required)
	}
	if s.AdditionalProperties != nil {
		field("additionalProperties")
		if b, err = appendSchema(b, s.AdditionalProperties); err != nil {
			return nil, err
		}
	}
	for _, f := range []struct {
		name string
		list []*jsonschema.Schema
	}{{"allOf", s.AllOf}, {"anyOf", s.AnyOf}, {"oneOf", s.OneOf}} {
		if len(f.list) == 0 {
			continue
		}
		field(f.name)
		b = append(b, '[')
		for i, c := range f.list {
			if i > 0 {
				b = append(b, ',')
			}
			if b, err = appendSchema(b, c); err != nil {
				return nil, err
			}
		}
		b = append(b, ']')
	}
	if s.Not != nil {
		field("not")
		if b, err = appendSchema(b, s.Not); err != nil {
			return nil, err
		}
	}
	if s.Format != "" {
		field("format")
		b = appendString(b, s.Format)
	}
	b = append(b, '}')
	// jsonschema writes {} as true and {"not":{}} as false.
	switch string(b[start:]) {
	case "{}":
		b = append(b[:start], "true"...)
	case `{"not":true}`:
		b = append(b[:start], "false"...)
	}
	return b, nil
}

// fastSchema reports whether appendSchema writes s itself: s uses no
// keyword but those it writes, and nothing jsonschema would refuse to
// marshal (its basicChecks).
func fastSchema(s *jsonschema.Schema) bool {
	if s.Type != "" && s.Types != nil || s.Items != nil && s.ItemsArray != nil {
		return false
	}
	if len(s.PropertyOrder) > 1 {
		seen := make(map[string]bool, len(s.PropertyOrder))
		for _, p := range s.PropertyOrder {
			if seen[p] {
				return false
			}
			seen[p] = true
		}
	}
	return s.ID == "" && s.Schema == "" && s.Ref == "" && s.Comment == "" &&
		s.Defs == nil && s.Definitions == nil &&
		len(s.DependencySchemas) == 0 && len(s.DependencyStrings) == 0 &&
		s.Anchor == "" && s.DynamicAnchor == "" && s.DynamicRef == "" && s.Vocabulary == nil &&
		s.PrefixItems == nil && s.ItemsArray == nil && s.AdditionalItems == nil &&
		s.Contains == nil && s.MinContains == nil && s.MaxContains == nil && s.UnevaluatedItems == nil &&
		s.MinProperties == nil && s.MaxProperties == nil && s.DependentRequired == nil &&
		s.PatternProperties == nil && s.PropertyNames == nil && s.UnevaluatedProperties == nil &&
		s.If == nil && s.Then == nil && s.Else == nil && s.DependentSchemas == nil &&
		s.ContentEncoding == "" && s.ContentMediaType == "" && s.ContentSchema == nil &&
		len(s.Extra) == 0
}

// appendProperties writes the properties in order's order, then the rest
// sorted, as jsonschema does.
func appendProperties(b []byte, props map[string]*jsonschema.Schema, order []string) ([]byte, error) {
	b = append(b, '{')
	n := 0
	entry := func(name string, p *jsonschema.Schema) (err error) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = appendString(b, name)
		b = append(b, ':')
		b, err = appendSchema(b, p)
		return err
	}
	var done map[string]bool
	if len(order) > 0 {
		done = make(map[string]bool, len(order))
		for _, name := range order {
			if p, ok := props[name]; ok {
				if err := entry(name, p); err != nil {
					return nil, err
				}
				done[name] = true
			}
		}
	}
	rest := make([]string, 0, len(props)-len(done))
	for name := range props {
		if !done[name] {
			rest = append(rest, name)
		}
	}
	slices.Sort(rest)
	for _, name := range rest {
		if err := entry(name, props[name]); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

func appendValues(b []byte, list []any) ([]byte, error) {
	b = append(b, '[')
	var err error
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		if b, err = appendValue(b, v); err != nil {
			return nil, err
		}
	}
	return append(b, ']'), nil
}

// appendValue writes a JSON value (an enum entry, a const, a default).
// Strings, whole numbers, booleans and null are written here; anything
// else by json.Marshal.
func appendValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case float64:
		return appendFloat(b, x)
	}
	out, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(b, out...), nil
}

// appendFloat writes f as encoding/json does; whole numbers of a safe size
// here, the rest by json.Marshal.
func appendFloat(b []byte, f float64) ([]byte, error) {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 && !(f == 0 && math.Signbit(f)) {
		return strconv.AppendInt(b, int64(f), 10), nil
	}
	out, err := json.Marshal(f)
	if err != nil {
		return nil, err
	}
	return append(b, out...), nil
}

// appendString writes s as a JSON string the way json.Marshal does (with
// its HTML escaping). Strings that need no escape are written here; the
// others (control characters, '"', '\\', '<', '>', '&', U+2028, U+2029 and
// invalid UTF-8) by json.Marshal.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
				return appendMarshaled(b, s)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 || r == '\u2028' || r == '\u2029' {
			return appendMarshaled(b, s)
		}
		i += size
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendMarshaled(b []byte, s string) []byte {
	out, _ := json.Marshal(s) // a string always marshals
	return append(b, out...)
}
