package tools

import (
	"encoding/json"
	"math"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/jsonschema-go/jsonschema"

	"github.com/keyveil/keyveil/openapi"
)

// checkEncode fails unless encodeSchema(s) is exactly json.Marshal(s), or
// both fail.
func checkEncode(t *testing.T, what string, s *jsonschema.Schema) {
	t.Helper()
	want, werr := json.Marshal(s)
	got, gerr := encodeSchema(s)
	if (werr != nil) != (gerr != nil) {
		t.Errorf("encodeSchema(%s) error = %v, json.Marshal error = %v", what, gerr, werr)
		return
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("encodeSchema(%s) differs from json.Marshal (-want +got):\n%s", what, diff)
	}
}

// TestEncodeSchemaFields sets each field of jsonschema.Schema in turn, alone
// and inside a property, so a field encodeSchema does not know (say, one a
// new jsonschema-go version adds) sends the schema to json.Marshal instead
// of being dropped.
func TestEncodeSchemaFields(t *testing.T) {
	t.Parallel()
	typ := reflect.TypeFor[jsonschema.Schema]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		var s jsonschema.Schema
		v := reflect.ValueOf(&s).Elem().Field(i)
		if !fill(v, f.Name) {
			t.Errorf("no test value for jsonschema.Schema.%s (%s); add one to fill", f.Name, f.Type)
			continue
		}
		checkEncode(t, f.Name, &s)
		checkEncode(t, f.Name+" in a property", &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"p": &s}})
		checkEncode(t, f.Name+" in anyOf", &jsonschema.Schema{AnyOf: []*jsonschema.Schema{{Type: "string"}, &s}})
	}
}

// fill sets v, a field of jsonschema.Schema, to a value that is not zero.
func fill(v reflect.Value, name string) bool {
	sub := &jsonschema.Schema{Type: "string", Description: "sub"}
	switch v.Interface().(type) {
	case string:
		if name == "Type" {
			v.SetString("integer")
		} else {
			v.SetString("x <b> & \"y\" é \u2028")
		}
	case bool:
		v.SetBool(true)
	case []string:
		v.Set(reflect.ValueOf([]string{"b", "a"}))
	case *float64:
		v.Set(reflect.ValueOf(ptr(2.5)))
	case *int:
		v.Set(reflect.ValueOf(ptr(3)))
	case *any:
		var c any = map[string]any{"k": []any{1.0, "<"}}
		v.Set(reflect.ValueOf(&c))
	case []any:
		v.Set(reflect.ValueOf([]any{"a", 1.5, nil, true, map[string]any{"z": 1.0}}))
	case json.RawMessage:
		v.Set(reflect.ValueOf(json.RawMessage(`{ "x" : "<a>" }`)))
	case *jsonschema.Schema:
		v.Set(reflect.ValueOf(sub))
	case []*jsonschema.Schema:
		v.Set(reflect.ValueOf([]*jsonschema.Schema{sub, {Type: "integer"}}))
	case map[string]*jsonschema.Schema:
		v.Set(reflect.ValueOf(map[string]*jsonschema.Schema{"b": sub, "a": {}}))
	case map[string][]string:
		v.Set(reflect.ValueOf(map[string][]string{"a": {"b"}}))
	case map[string]bool:
		v.Set(reflect.ValueOf(map[string]bool{"https://example.com/v": true}))
	case map[string]any:
		v.Set(reflect.ValueOf(map[string]any{"x-extra": "<1>"}))
	default:
		return false
	}
	return true
}

// TestEncodeSchemaValues covers the values encodeSchema writes itself and
// the shapes jsonschema writes specially.
func TestEncodeSchemaValues(t *testing.T) {
	t.Parallel()
	var null any
	tests := []struct {
		name string
		s    *jsonschema.Schema
	}{
		{"empty is true", &jsonschema.Schema{}},
		{"not empty is false", &jsonschema.Schema{Not: &jsonschema.Schema{}}},
		{"nested true and false", &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"t": {}, "f": {Not: &jsonschema.Schema{}}}, AdditionalProperties: &jsonschema.Schema{Not: &jsonschema.Schema{}}}},
		{"nil property", &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"n": nil}}},
		{"nil anyOf entry", &jsonschema.Schema{AnyOf: []*jsonschema.Schema{nil}}},
		{"empty properties", &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{}}},
		{"property order", &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"a": {}, "b": {}, "c": {}}, PropertyOrder: []string{"c", "missing", "a"}}},
		{"duplicate property order", &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"a": {}}, PropertyOrder: []string{"a", "a"}}},
		{"type and types", &jsonschema.Schema{Type: "string", Types: []string{"null"}}},
		{"types", &jsonschema.Schema{Types: []string{"string", "null"}}},
		{"empty types", &jsonschema.Schema{Types: []string{}}},
		{"floats", &jsonschema.Schema{Minimum: ptr(math.Copysign(0, -1)), Maximum: ptr(1e21), MultipleOf: ptr(1e-7), ExclusiveMinimum: ptr(-3.0), ExclusiveMaximum: ptr(0.1)}},
		{"big integer", &jsonschema.Schema{Maximum: ptr(9007199254740993.0)}},
		{"not a number", &jsonschema.Schema{Minimum: ptr(math.NaN())}},
		{"enum values", &jsonschema.Schema{Enum: []any{"open", 2.0, -1.5, false, nil, []any{"x"}, json.Number("12")}}},
		{"const null", &jsonschema.Schema{Const: &null}},
		{"strings", &jsonschema.Schema{Title: "tab\there", Description: "caf\u00e9 \u2029 \xff <>&", Pattern: `^[a-z]+\d$`, Format: "date-time"}},
		{"bad default", &jsonschema.Schema{Default: json.RawMessage(`{`)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			checkEncode(t, tc.name, tc.s)
		})
	}
}

// TestEncodeSchemaReal compares encodeSchema with json.Marshal on every
// schema keyveil lists: the built-in tools' and those of every operation
// of the real OpenAPI documents in openapi/testdata.
func TestEncodeSchemaReal(t *testing.T) {
	t.Parallel()
	for _, tl := range All(opsDeps(t, "https://crm.example.com/api", allScopes, nil)) {
		for _, s := range []any{tl.Tool.InputSchema, tl.Tool.OutputSchema} {
			if js, ok := s.(*jsonschema.Schema); ok {
				checkEncode(t, tl.Tool.Name, js)
			}
		}
	}
	checkEncode(t, "callResultSchema", callResultSchema())
	for _, file := range []string{"github.json", "petstore.yaml", "readme.yaml"} {
		doc, err := openapi.Load(filepath.Join("..", "openapi", "testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		tools, _, err := doc.Tools(openapi.Options{Service: "api", Operations: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tl := range tools {
			checkEncode(t, file+" "+tl.Name, tl.Input)
			checkEncode(t, file+" "+tl.Name+" with idempotency_key", withIdempotencyKey(tl.Input))
		}
	}
}
