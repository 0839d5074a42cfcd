package openapi

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestParseSchemaRoundTrip reads back every input schema generated from the
// documents in testdata, as the cache stores them, and checks nothing
// changed.
func TestParseSchemaRoundTrip(t *testing.T) {
	t.Parallel()
	for _, file := range []string{"github.json", "petstore.yaml", "readme.yaml"} {
		doc, err := Load(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		tools, _, err := doc.Tools(Options{Service: "api", Operations: []string{"*"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, tl := range tools {
			want, err := json.Marshal(tl.Input)
			if err != nil {
				t.Fatal(err)
			}
			s, err := parseSchema(want)
			if err != nil {
				t.Errorf("parseSchema(%s %s): %v", file, tl.Name, err)
				continue
			}
			got, _ := json.Marshal(s)
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("parseSchema(%s %s) changed the schema (-want +got):\n%s", file, tl.Name, diff)
			}
		}
	}
}

// TestParseSchemaRefuses checks that text the cache did not write is a
// miss, not a schema with something missing.
func TestParseSchemaRefuses(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		``, `[]`, `null`, `{`, `{"type":"object"} x`, `{"type":"object","$ref":"#/x"}`,
		`{"type":["string","null"]}`, `{"minLength":1.5}`, `{"items":3}`, `{"description":"\x01"}`,
		`{"description":"\q"}`, `{"description":"\u12"}`, `{"minimum":01}`, `{"enum":{}}`,
		`{"properties":{"a":{"oneOf":[]}}}`, `{"type":"object",}`, `{"required":["a",]}`,
	} {
		if s, err := parseSchema([]byte(in)); err == nil {
			t.Errorf("parseSchema(%q) = %+v, want an error", in, s)
		}
	}
}

// TestParseSchemaStrings checks JSON string escapes against encoding/json.
func TestParseSchemaStrings(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		`plain`, `a\"b\\c\/d`, `\b\f\n\r\t`, `\u00e9\u2028`, `\ud83d\ude00`, `\ud83d`, `\ud83dx`, `\ud83d\u0041`, `caf` + "\u00e9",
	} {
		text := `{"description":"` + in + `"}`
		var want struct{ Description string }
		if err := json.Unmarshal([]byte(text), &want); err != nil {
			t.Fatal(err)
		}
		s, err := parseSchema([]byte(text))
		if err != nil || s.Description != want.Description {
			t.Errorf("parseSchema(%s).Description = %q, %v; want %q", text, s.Description, err, want.Description)
		}
	}
}

// FuzzParseSchema checks that parseSchema never panics and that what it
// accepts survives a round trip through encoding.
func FuzzParseSchema(f *testing.F) {
	for _, s := range []string{
		`{"type":"object","properties":{"a":{"type":"string","enum":["x",1,null]},"b":true,"c":false},"required":["a"]}`,
		`{"anyOf":[{"type":"integer","minimum":-1.5e3},{"items":{"const":{"k":[1]}}}],"default":{"z":1,"a":"<"}}`,
		`{"description":"caf\u00e9 \ud83d\ude00 \n","additionalProperties":{"not":true}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSchema(b)
		if err != nil {
			return
		}
		text, err := json.Marshal(s)
		if err != nil {
			return // jsonschema refuses some schemas it can hold (a NaN cannot arise from JSON text)
		}
		s2, err := parseSchema(text)
		if err != nil {
			t.Fatalf("parseSchema(%s) = %v after parseSchema(%q) succeeded", text, err, b)
		}
		text2, _ := json.Marshal(s2)
		if string(text) != string(text2) {
			t.Fatalf("round trip changed %s to %s", text, text2)
		}
	})
}
