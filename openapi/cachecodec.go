package openapi

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/keyveil/keyveil/config"
)

// jsonschema.Schema's own UnmarshalJSON re-reads each nested schema several
// times, which made a cache hit for 509 tools cost 120 ms. The cache is
// read instead as plain JSON values and turned into schemas here, for
// exactly the keywords converter writes; any other keyword makes the
// entry a miss, so nothing is ever dropped silently.

// cachedTool is config.Tool with its input schema left as a plain value.
type cachedTool struct {
	config.Tool
	Input any `json:"Input"`
}

func decodeTools(raw []cachedTool) ([]config.Tool, error) {
	out := make([]config.Tool, len(raw))
	for i, ct := range raw {
		t := ct.Tool
		m, ok := ct.Input.(map[string]any)
		if !ok {
			return nil, errors.New("input is not an object")
		}
		s, err := schemaOf(m)
		if err != nil {
			return nil, fmt.Errorf("tool %s: %w", t.Name, err)
		}
		t.Input = s
		out[i] = t
	}
	return out, nil
}

func schemaOf(m map[string]any) (*jsonschema.Schema, error) {
	s := &jsonschema.Schema{}
	for k, v := range m {
		var err error
		switch k {
		case "type":
			s.Type, err = str(v)
		case "title":
			s.Title, err = str(v)
		case "description":
			s.Description, err = str(v)
		case "format":
			s.Format, err = str(v)
		case "pattern":
			s.Pattern, err = str(v)
		case "deprecated":
			s.Deprecated, err = boolean(v)
		case "uniqueItems":
			s.UniqueItems, err = boolean(v)
		case "enum":
			l, ok := v.([]any)
			if !ok {
				return nil, errors.New("enum is not a list")
			}
			s.Enum = l
		case "const":
			c := v
			s.Const = &c
		case "default":
			s.Default, err = json.Marshal(v)
		case "multipleOf":
			s.MultipleOf, err = num(v)
		case "minimum":
			s.Minimum, err = num(v)
		case "maximum":
			s.Maximum, err = num(v)
		case "exclusiveMinimum":
			s.ExclusiveMinimum, err = num(v)
		case "exclusiveMaximum":
			s.ExclusiveMaximum, err = num(v)
		case "minLength":
			s.MinLength, err = integer(v)
		case "maxLength":
			s.MaxLength, err = integer(v)
		case "minItems":
			s.MinItems, err = integer(v)
		case "maxItems":
			s.MaxItems, err = integer(v)
		case "items":
			s.Items, err = sub(v)
		case "additionalProperties":
			s.AdditionalProperties, err = sub(v)
		case "not":
			s.Not, err = sub(v)
		case "allOf":
			s.AllOf, err = subs(v)
		case "anyOf":
			s.AnyOf, err = subs(v)
		case "required":
			l, ok := v.([]any)
			if !ok {
				return nil, errors.New("required is not a list")
			}
			for _, r := range l {
				rs, err := str(r)
				if err != nil {
					return nil, err
				}
				s.Required = append(s.Required, rs)
			}
		case "properties":
			pm, ok := v.(map[string]any)
			if !ok {
				return nil, errors.New("properties is not an object")
			}
			s.Properties = make(map[string]*jsonschema.Schema, len(pm))
			for name, p := range pm {
				if s.Properties[name], err = sub(p); err != nil {
					return nil, err
				}
			}
		default:
			return nil, fmt.Errorf("keyword %q is not one the cache reads", k)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
	}
	return s, nil
}

func sub(v any) (*jsonschema.Schema, error) {
	if b, ok := v.(bool); ok {
		// jsonschema.Schema marshals {not: {}} as false and {} as true.
		if b {
			return &jsonschema.Schema{}, nil
		}
		return &jsonschema.Schema{Not: &jsonschema.Schema{}}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("not a schema object")
	}
	return schemaOf(m)
}

func subs(v any) ([]*jsonschema.Schema, error) {
	l, ok := v.([]any)
	if !ok {
		return nil, errors.New("not a list")
	}
	out := make([]*jsonschema.Schema, 0, len(l))
	for _, e := range l {
		s, err := sub(e)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func str(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", errors.New("not a string")
	}
	return s, nil
}

func boolean(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, errors.New("not a boolean")
	}
	return b, nil
}

func num(v any) (*float64, error) {
	f, ok := v.(float64)
	if !ok {
		return nil, errors.New("not a number")
	}
	return &f, nil
}

func integer(v any) (*int, error) {
	f, ok := v.(float64)
	if !ok || f != float64(int(f)) {
		return nil, errors.New("not a whole number")
	}
	i := int(f)
	return &i, nil
}
