package hostconfig

import (
	"encoding/json"
	"slices"
	"testing"
)

// FuzzEachString feeds eachString what a model could plant as ./.mcp.json
// or a user could have in any host config: it must never panic or hang,
// and a string value in a well-formed JSON document, whatever it holds,
// must come back whole, so that a key cannot hide from the scan behind an
// escape.
func FuzzEachString(f *testing.F) {
	for _, s := range []string{"sk-test-0123456789", `quote " and \ backslash`, "/* not a comment */", "// nor this", "line\nbreak", "\u2028", "#hash", "'''"} {
		f.Add([]byte(`{"a":[1,"x"],"b":{"c":null}}`), s)
	}
	f.Fuzz(func(t *testing.T, data []byte, value string) {
		eachString(data, false, func([]byte) {})
		eachString(data, true, func([]byte) {})
		doc, err := json.Marshal(map[string]any{"env": map[string]string{"MCP_API_KEY": value}, "args": []string{"--x", value}})
		if err != nil {
			return
		}
		var got []string
		eachString(doc, false, func(s []byte) { got = append(got, string(s)) })
		// json.Marshal replaces invalid UTF-8; compare with what it wrote.
		var back struct{ Env map[string]string }
		if err := json.Unmarshal(doc, &back); err != nil {
			t.Fatalf("json.Unmarshal(%q): %v", doc, err)
		}
		if want := back.Env["MCP_API_KEY"]; !slices.Contains(got, want) {
			t.Errorf("eachString(%q) = %q, missing %q", doc, got, want)
		}
	})
}
