package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/keyveil/keyveil/config"
)

// A cache hit should cost a start-up little, so a cache entry is not read
// through encoding/json, which took 20 ms for GitHub's 509 tools here:
// jsonschema.Schema's UnmarshalJSON reads each nested schema several
// times, and even decoding into plain values builds a map for every schema
// object only to throw it away. readEntry reads the entry's JSON text
// straight into config.Tool and jsonschema.Schema values, for exactly the
// fields writeCache writes and the schema keywords converter writes; any
// other field or keyword, or anything malformed, makes the entry a miss,
// so nothing is ever dropped silently. TestCache checks that a cached tool
// is the fresh one, field for field, and that the second import hits.

// readEntry reads a cache entry: its format version, the $ref'd files
// with their hashes, and the tools.
func readEntry(b []byte) (version string, refs map[string]string, tools []config.Tool, err error) {
	r := &reader{b: b}
	err = r.object(func(k string) error {
		var err error
		switch k {
		case "version":
			version, err = r.stringValue()
		case "refs":
			refs = map[string]string{}
			err = r.object(func(path string) error {
				sum, err := r.stringValue()
				refs[path] = sum
				return err
			})
		case "tools":
			err = r.array(func() error {
				t, err := r.tool()
				tools = append(tools, t)
				return err
			})
		default:
			return fmt.Errorf("field %q is not one the cache reads", k)
		}
		return err
	})
	if err == nil && r.next() != 0 {
		err = errors.New("text after the entry")
	}
	return version, refs, tools, err
}

// tool reads one config.Tool as encoding/json writes it.
func (r *reader) tool() (config.Tool, error) {
	var t config.Tool
	err := r.object(func(k string) error {
		var err error
		switch k {
		case "Name":
			t.Name, err = r.stringValue()
		case "Description":
			t.Description, err = r.stringValue()
		case "Service":
			t.Service, err = r.stringValue()
		case "Method":
			t.Method, err = r.stringValue()
		case "Path":
			t.Path, err = r.stringValue()
		case "Scope":
			t.Scope, err = r.stringValue()
		case "ConfirmFallback":
			t.ConfirmFallback, err = r.stringValue()
		case "Origin":
			t.Origin, err = r.stringValue()
		case "Rate":
			t.Rate, err = r.stringValue()
		case "Input":
			if r.next() == 'n' {
				return r.literal("null")
			}
			t.Input, err = r.schema(0)
		case "Confirm":
			t.Confirm, err = r.optBool()
		case "Idempotency":
			t.Idempotency, err = r.optBool()
		case "Burst":
			var n *int
			if n, err = r.intValue(); err == nil {
				t.Burst = *n
			}
		case "IdempotencyWindow":
			var f *float64
			if f, err = r.numberValue(); err == nil {
				if *f != math.Trunc(*f) || math.Abs(*f) > 1<<62 {
					return errors.New("not a whole number")
				}
				t.IdempotencyWindow = time.Duration(*f)
			}
		case "Annotations":
			err = r.object(func(k string) error {
				var err error
				switch k {
				case "Title":
					t.Annotations.Title, err = r.stringValue()
				case "ReadOnly":
					t.Annotations.ReadOnly, err = r.optBool()
				case "Destructive":
					t.Annotations.Destructive, err = r.optBool()
				case "Idempotent":
					t.Annotations.Idempotent, err = r.optBool()
				case "OpenWorld":
					t.Annotations.OpenWorld, err = r.optBool()
				default:
					return fmt.Errorf("annotation %q is not one the cache reads", k)
				}
				return err
			})
		case "Mapping":
			if r.next() == 'n' {
				return r.literal("null")
			}
			t.Mapping = map[string]config.Mapping{}
			err = r.object(func(input string) error {
				var m config.Mapping
				err := r.object(func(k string) error {
					var err error
					switch k {
					case "in":
						m.In, err = r.stringValue()
					case "name":
						m.Name, err = r.stringValue()
					default:
						return fmt.Errorf("mapping field %q is not one the cache reads", k)
					}
					return err
				})
				t.Mapping[input] = m
				return err
			})
		default:
			return fmt.Errorf("tool field %q is not one the cache reads", k)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		return nil
	})
	return t, err
}

func (r *reader) optBool() (*bool, error) {
	if r.next() == 'n' {
		return nil, r.literal("null")
	}
	b, err := r.boolValue()
	return &b, err
}

// maxSchemaDepth bounds nesting in a cached schema; converter cuts at
// maxDepth, so anything deeper is not an entry this package wrote.
const maxSchemaDepth = 4 * maxDepth

// parseSchema decodes the JSON text of one input schema.
func parseSchema(b []byte) (*jsonschema.Schema, error) {
	r := &reader{b: b}
	s, err := r.schema(0)
	if err != nil {
		return nil, err
	}
	if r.ws(); r.i != len(r.b) {
		return nil, errors.New("text after the schema")
	}
	if s == nil {
		return nil, errors.New("input is not an object")
	}
	return s, nil
}

// reader reads JSON text from b, starting at i.
type reader struct {
	b []byte
	i int
}

var errSyntax = errors.New("malformed JSON")

func (r *reader) ws() {
	for r.i < len(r.b) {
		switch r.b[r.i] {
		case ' ', '\t', '\n', '\r':
			r.i++
		default:
			return
		}
	}
}

// next skips white space and returns the next byte, or 0 at the end.
func (r *reader) next() byte {
	r.ws()
	if r.i >= len(r.b) {
		return 0
	}
	return r.b[r.i]
}

func (r *reader) expect(c byte) error {
	if r.next() != c {
		return errSyntax
	}
	r.i++
	return nil
}

// literal consumes word (true, false, null) at the current position.
func (r *reader) literal(word string) error {
	if len(r.b)-r.i < len(word) || string(r.b[r.i:r.i+len(word)]) != word {
		return errSyntax
	}
	r.i += len(word)
	return nil
}

// object reads a JSON object, calling field for each key with the reader
// at its value.
func (r *reader) object(field func(key string) error) error {
	if err := r.expect('{'); err != nil {
		return err
	}
	if r.next() == '}' {
		r.i++
		return nil
	}
	for {
		if r.next() != '"' {
			return errSyntax
		}
		key, err := r.str()
		if err != nil {
			return err
		}
		if err := r.expect(':'); err != nil {
			return err
		}
		if err := field(key); err != nil {
			return err
		}
		switch r.next() {
		case ',':
			r.i++
		case '}':
			r.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// array reads a JSON array, calling elem with the reader at each element.
func (r *reader) array(elem func() error) error {
	if err := r.expect('['); err != nil {
		return err
	}
	if r.next() == ']' {
		r.i++
		return nil
	}
	for {
		if err := elem(); err != nil {
			return err
		}
		switch r.next() {
		case ',':
			r.i++
		case ']':
			r.i++
			return nil
		default:
			return errSyntax
		}
	}
}

// str reads a JSON string; the reader is at its opening quote.
func (r *reader) str() (string, error) {
	r.i++
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			s := r.b[start:r.i]
			r.i++
			if !utf8.Valid(s) {
				return "", errSyntax
			}
			return string(s), nil
		case c == '\\':
			return r.escaped(start)
		case c < 0x20:
			return "", errSyntax
		}
		r.i++
	}
	return "", errSyntax
}

// escaped finishes reading a string that has an escape, from start.
func (r *reader) escaped(start int) (string, error) {
	out := append([]byte(nil), r.b[start:r.i]...)
	for r.i < len(r.b) {
		c := r.b[r.i]
		switch {
		case c == '"':
			r.i++
			if !utf8.Valid(out) {
				return "", errSyntax
			}
			return string(out), nil
		case c < 0x20:
			return "", errSyntax
		case c != '\\':
			out = append(out, c)
			r.i++
			continue
		}
		if r.i+1 >= len(r.b) {
			return "", errSyntax
		}
		e := r.b[r.i+1]
		r.i += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			c1, ok := r.hex4()
			if !ok {
				return "", errSyntax
			}
			ru := rune(c1)
			if utf16.IsSurrogate(ru) {
				ru = utf8.RuneError
				if r.i+1 < len(r.b) && r.b[r.i] == '\\' && r.b[r.i+1] == 'u' {
					save := r.i
					r.i += 2
					if c2, ok := r.hex4(); ok {
						if d := utf16.DecodeRune(rune(c1), rune(c2)); d != utf8.RuneError {
							ru = d
						} else {
							r.i = save
						}
					} else {
						r.i = save
					}
				}
			}
			out = utf8.AppendRune(out, ru)
		default:
			return "", errSyntax
		}
	}
	return "", errSyntax
}

func (r *reader) hex4() (int, bool) {
	if len(r.b)-r.i < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(r.b[r.i:r.i+4]), 16, 16)
	if err != nil {
		return 0, false
	}
	r.i += 4
	return int(v), true
}

// num reads a JSON number.
func (r *reader) num() (float64, error) {
	r.ws()
	start := r.i
	for r.i < len(r.b) {
		c := r.b[r.i]
		if c >= '0' && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			r.i++
			continue
		}
		break
	}
	tok := string(r.b[start:r.i])
	if !json.Valid([]byte(tok)) {
		return 0, errSyntax
	}
	f, err := strconv.ParseFloat(tok, 64)
	if err != nil {
		return 0, errSyntax
	}
	return f, nil
}

// value reads any JSON value as encoding/json decodes it into an any.
func (r *reader) value(depth int) (any, error) {
	if depth > maxSchemaDepth {
		return nil, errors.New("nested too deeply")
	}
	switch c := r.next(); {
	case c == '"':
		return r.str()
	case c == '{':
		m := map[string]any{}
		err := r.object(func(key string) error {
			v, err := r.value(depth + 1)
			m[key] = v
			return err
		})
		return m, err
	case c == '[':
		l := []any{}
		err := r.array(func() error {
			v, err := r.value(depth + 1)
			l = append(l, v)
			return err
		})
		return l, err
	case c == 't':
		return true, r.literal("true")
	case c == 'f':
		return false, r.literal("false")
	case c == 'n':
		return nil, r.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		return r.num()
	}
	return nil, errSyntax
}

// schema reads a schema: an object, or true or false as jsonschema writes
// {} and {"not": {}}.
func (r *reader) schema(depth int) (*jsonschema.Schema, error) {
	if depth > maxSchemaDepth {
		return nil, errors.New("nested too deeply")
	}
	switch r.next() {
	case 't':
		return &jsonschema.Schema{}, r.literal("true")
	case 'f':
		return &jsonschema.Schema{Not: &jsonschema.Schema{}}, r.literal("false")
	case '{':
	default:
		return nil, errors.New("not a schema")
	}
	s := &jsonschema.Schema{}
	err := r.object(func(k string) error {
		var err error
		switch k {
		case "type":
			s.Type, err = r.stringValue()
		case "title":
			s.Title, err = r.stringValue()
		case "description":
			s.Description, err = r.stringValue()
		case "format":
			s.Format, err = r.stringValue()
		case "pattern":
			s.Pattern, err = r.stringValue()
		case "deprecated":
			s.Deprecated, err = r.boolValue()
		case "uniqueItems":
			s.UniqueItems, err = r.boolValue()
		case "enum":
			var v any
			if v, err = r.value(depth + 1); err == nil {
				l, ok := v.([]any)
				if !ok {
					return errors.New("enum is not a list")
				}
				s.Enum = l
			}
		case "const":
			var v any
			if v, err = r.value(depth + 1); err == nil {
				s.Const = &v
			}
		case "default":
			var v any
			if v, err = r.value(depth + 1); err == nil {
				s.Default, err = json.Marshal(v)
			}
		case "multipleOf":
			s.MultipleOf, err = r.numberValue()
		case "minimum":
			s.Minimum, err = r.numberValue()
		case "maximum":
			s.Maximum, err = r.numberValue()
		case "exclusiveMinimum":
			s.ExclusiveMinimum, err = r.numberValue()
		case "exclusiveMaximum":
			s.ExclusiveMaximum, err = r.numberValue()
		case "minLength":
			s.MinLength, err = r.intValue()
		case "maxLength":
			s.MaxLength, err = r.intValue()
		case "minItems":
			s.MinItems, err = r.intValue()
		case "maxItems":
			s.MaxItems, err = r.intValue()
		case "items":
			s.Items, err = r.schema(depth + 1)
		case "additionalProperties":
			s.AdditionalProperties, err = r.schema(depth + 1)
		case "not":
			s.Not, err = r.schema(depth + 1)
		case "allOf":
			s.AllOf, err = r.schemas(depth + 1)
		case "anyOf":
			s.AnyOf, err = r.schemas(depth + 1)
		case "required":
			s.Required = nil
			err = r.array(func() error {
				v, err := r.stringValue()
				s.Required = append(s.Required, v)
				return err
			})
		case "properties":
			s.Properties = map[string]*jsonschema.Schema{}
			err = r.object(func(name string) error {
				p, err := r.schema(depth + 1)
				s.Properties[name] = p
				return err
			})
		default:
			return fmt.Errorf("keyword %q is not one the cache reads", k)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (r *reader) schemas(depth int) ([]*jsonschema.Schema, error) {
	var out []*jsonschema.Schema
	err := r.array(func() error {
		s, err := r.schema(depth)
		out = append(out, s)
		return err
	})
	return out, err
}

func (r *reader) stringValue() (string, error) {
	if r.next() != '"' {
		return "", errors.New("not a string")
	}
	return r.str()
}

func (r *reader) boolValue() (bool, error) {
	switch r.next() {
	case 't':
		return true, r.literal("true")
	case 'f':
		return false, r.literal("false")
	}
	return false, errors.New("not a boolean")
}

func (r *reader) numberValue() (*float64, error) {
	if c := r.next(); c != '-' && (c < '0' || c > '9') {
		return nil, errors.New("not a number")
	}
	f, err := r.num()
	if err != nil {
		return nil, err
	}
	return &f, nil
}

func (r *reader) intValue() (*int, error) {
	f, err := r.numberValue()
	if err != nil {
		return nil, err
	}
	if *f != math.Trunc(*f) || math.Abs(*f) > 1<<31 {
		return nil, errors.New("not a whole number")
	}
	i := int(*f)
	return &i, nil
}
