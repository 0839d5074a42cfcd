package openapi

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

// TestCompactAcceptsWhatFullAccepts: for every operation of each real
// document, arguments built from the full schema's required fields (every
// level down) and accepted by it are accepted by the compact schema too,
// so compact tools lose no call the full ones would make.
func TestCompactAcceptsWhatFullAccepts(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"petstore.yaml", "readme.yaml", "github.json"} {
		t.Run(file, func(t *testing.T) {
			t.Parallel()
			doc, err := Load(filepath.Join("testdata", file))
			if err != nil {
				t.Fatal(err)
			}
			full, _, err := doc.Tools(Options{Service: "api", Operations: []string{"*"}, Full: true})
			if err != nil {
				t.Fatal(err)
			}
			compact, _, err := doc.Tools(Options{Service: "api", Operations: []string{"*"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(full) != len(compact) {
				t.Fatalf("%d full tools, %d compact", len(full), len(compact))
			}
			checked, fullBytes, compactBytes := 0, 0, 0
			for i, ft := range full {
				ct := compact[i]
				if ft.Name != ct.Name || !ct.Compact || ft.Compact {
					t.Fatalf("tool %d: full %s, compact %s (Compact %v)", i, ft.Name, ct.Name, ct.Compact)
				}
				fb, _ := json.Marshal(ft.Input)
				cb, _ := json.Marshal(ct.Input)
				fullBytes += len(fb) + len(ft.Description)
				compactBytes += len(cb) + len(ct.Description)
				fr, err := ft.Input.Resolve(nil)
				if err != nil {
					t.Fatalf("%s: full schema: %v", ft.Name, err)
				}
				cr, err := ct.Input.Resolve(nil)
				if err != nil {
					t.Fatalf("%s: compact schema: %v", ct.Name, err)
				}
				args := normal(instance(ft.Input, 0))
				if err := fr.Validate(args); err != nil {
					t.Logf("%s: skipped, the generated arguments do not satisfy the full schema: %v", ft.Name, err)
					continue
				}
				checked++
				if err := cr.Validate(args); err != nil {
					b, _ := json.Marshal(args)
					t.Errorf("%s: the compact schema refuses %s, which the full one accepts: %v", ct.Name, b, err)
				}
			}
			if checked*10 < len(full)*9 {
				t.Errorf("checked %d of %d operations; the instance generator needs work", checked, len(full))
			}
			if compactBytes >= fullBytes {
				t.Errorf("compact inputs and descriptions are %d bytes, full %d: nothing was saved", compactBytes, fullBytes)
			}
			t.Logf("%s: %d operations checked of %d; inputs and descriptions %d -> %d bytes", file, checked, len(full), fullBytes, compactBytes)
		})
	}
}

// instance returns a value the schema s should accept: its required
// properties, each built the same way, down to any depth.
func instance(s *jsonschema.Schema, depth int) any {
	if s == nil || depth > 12 {
		return nil
	}
	if s.Const != nil {
		return *s.Const
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	typ := s.Type
	if typ == "" && len(s.AnyOf) > 0 {
		return instance(s.AnyOf[0], depth+1)
	}
	if typ == "" && len(s.AllOf) > 0 {
		if v := instance(s.AllOf[0], depth+1); v != nil {
			if _, ok := v.(map[string]any); !ok {
				return v // a scalar refined by the other branches
			}
		}
		out := map[string]any{}
		for _, a := range s.AllOf {
			if m, ok := instance(a, depth+1).(map[string]any); ok {
				for k, v := range m {
					out[k] = v
				}
			}
		}
		return out
	}
	switch typ {
	case "string":
		return stringFor(s)
	case "integer", "number":
		n := 1.0
		if s.Minimum != nil {
			n = *s.Minimum
		}
		if s.ExclusiveMinimum != nil {
			n = *s.ExclusiveMinimum + 1
		}
		return n
	case "boolean":
		return true
	case "array":
		n := 1
		if s.MinItems != nil {
			n = max(1, *s.MinItems)
		}
		out := make([]any, n)
		for i := range out {
			out[i] = instance(s.Items, depth+1)
		}
		return out
	}
	out := map[string]any{}
	for _, r := range s.Required {
		out[r] = instance(s.Properties[r], depth+1)
	}
	return out
}

func stringFor(s *jsonschema.Schema) string {
	switch s.Format {
	case "date-time":
		return "2024-01-02T03:04:05Z"
	case "date":
		return "2024-01-02"
	case "email":
		return "a@example.com"
	case "uri", "url":
		return "https://example.com/a"
	case "uuid":
		return "6f1c2a9e-0b7d-4c1e-9a55-3f2b8d7e6c10"
	}
	minLen := 1
	if s.MinLength != nil {
		minLen = max(1, *s.MinLength)
	}
	candidates := []string{"a", "1", "abc", "A1", "a-b", "main", "2024-01-02", "a.json", "a1a1a1a1a1a1a1a1a1a1a1a1", "/a", "https://example.com/a"}
	for _, c := range candidates {
		for len(c) < minLen {
			c += c
		}
		if s.Pattern == "" {
			return c
		}
		if re, err := regexp.Compile(s.Pattern); err == nil && re.MatchString(c) {
			return c
		}
	}
	return "a"
}

// normal round-trips v through JSON, as arguments arrive.
func normal(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}
