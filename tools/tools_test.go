package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/config"
)

var update = flag.Bool("update", false, "rewrite tools/testdata/*.golden.json from the current tool definitions")

// snapshotConfig is the reference deployment the golden files describe.
const snapshotConfig = `
services:
  crm:
    base_url: https://crm.example.com/api/v2
    auth: { type: header, name: X-API-Key, env: CRM_API_KEY }
    allow: ["GET /**", "POST /quotes/*/followups"]
    deny_headers: [X-Debug]
    docs: Quotes and their follow-ups.
  billing:
    base_url: https://billing.example.com/v1
    auth: { type: query, name: api_key, env: BILLING_API_KEY }
`

// listedTools returns the tools as a client sees them over the wire.
func listedTools(t *testing.T, d Deps, version string) []*mcp.Tool {
	t.Helper()
	cs := connect(t, d, version)
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("ListTools: %v", err)
	}
	return res.Tools
}

// TestToolSnapshots compares each tool's definition, as listed over the
// wire, with testdata/<name>.golden.json. Run with -update to rewrite; a
// missing or stale file fails.
func TestToolSnapshots(t *testing.T) {
	t.Parallel()
	d := Deps{Config: loadConfig(t, snapshotConfig)}
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			tools := listedTools(t, d, version)
			var names []string
			for _, tool := range tools {
				names = append(names, tool.Name)
				got, err := json.MarshalIndent(tool, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				path := filepath.Join("testdata", tool.Name+".golden.json")
				if *update && version == protocolVersions[0] {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				want, err := os.ReadFile(path)
				if err != nil {
					t.Fatalf("reading snapshot of %s: %v (run go test ./tools -run TestToolSnapshots -update)", tool.Name, err)
				}
				if diff := cmp.Diff(string(want), string(got)); diff != "" {
					t.Errorf("tool %s differs from %s (-want +got); if intended, rerun with -update:\n%s", tool.Name, path, diff)
				}
			}
			if diff := cmp.Diff([]string{"call_api", "list_services"}, names); diff != "" {
				t.Errorf("tools/list names (-want +got):\n%s", diff)
			}
		})
	}
}

// TestSnapshotsHaveTools fails on a golden file left behind by a removed
// tool, so the snapshots always describe exactly what is offered.
func TestSnapshotsHaveTools(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob(filepath.Join("testdata", "*.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	offered := map[string]bool{}
	for _, tool := range All(Deps{Config: loadConfig(t, snapshotConfig)}) {
		offered[tool.Tool.Name] = true
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".golden.json")
		if !offered[name] {
			t.Errorf("snapshot %s has no tool %q; delete it", f, name)
		}
	}
	if len(files) != len(offered) {
		t.Errorf("%d snapshots for %d tools", len(files), len(offered))
	}
}

// TestSchemasPortable walks every input and output schema, as listed, with
// the rules that keep the TypeScript SDK and the MCP Inspector's strict
// portability lint quiet: no boolean or empty schemas (the go-sdk infers
// true for a field of type any), no "type" arrays (it infers ["null",
// "array"] for a slice), every node typed or an anyOf of typed branches,
// and every property described.
func TestSchemasPortable(t *testing.T) {
	t.Parallel()
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			for _, ro := range []bool{false, true} {
				d := Deps{Config: loadConfig(t, snapshotConfig), ReadOnly: ro}
				for _, tool := range listedTools(t, d, version) {
					for _, s := range []struct {
						where  string
						schema any
					}{{"inputSchema", tool.InputSchema}, {"outputSchema", tool.OutputSchema}} {
						if s.schema == nil {
							t.Errorf("%s has no %s", tool.Name, s.where)
							continue
						}
						for _, p := range portabilityProblems(s.schema, tool.Name+"."+s.where, false) {
							t.Errorf("read-only=%v: %s", ro, p)
						}
					}
					if typ := tool.InputSchema.(map[string]any)["type"]; typ != "object" {
						t.Errorf("%s.inputSchema type = %v, want object", tool.Name, typ)
					}
				}
			}
		})
	}
}

// portabilityProblems reports each rule a schema node breaks. described
// says whether the node must carry a description (properties must).
func portabilityProblems(node any, at string, described bool) []string {
	m, ok := node.(map[string]any)
	if !ok {
		return []string{fmt.Sprintf("%s is %v, not a schema object", at, node)}
	}
	if len(m) == 0 {
		return []string{at + " is the empty schema"}
	}
	var out []string
	typ, hasType := m["type"]
	if hasType {
		if _, ok := typ.(string); !ok {
			out = append(out, fmt.Sprintf("%s has type %v; use a single type or anyOf", at, typ))
		}
	}
	anyOf, hasAnyOf := m["anyOf"].([]any)
	_, hasEnum := m["enum"]
	if !hasType && !hasAnyOf && !hasEnum {
		out = append(out, at+" has neither type nor anyOf")
	}
	if described {
		if d, _ := m["description"].(string); d == "" {
			out = append(out, at+" has no description")
		}
	}
	for i, b := range anyOf {
		bm, _ := b.(map[string]any)
		if _, ok := bm["type"].(string); !ok {
			out = append(out, fmt.Sprintf("%s.anyOf[%d] has no single type", at, i))
		}
		out = append(out, portabilityProblems(b, fmt.Sprintf("%s.anyOf[%d]", at, i), false)...)
	}
	if props, ok := m["properties"].(map[string]any); ok {
		for name, p := range props {
			out = append(out, portabilityProblems(p, at+".properties."+name, true)...)
		}
	} else if _, present := m["properties"]; present {
		out = append(out, at+".properties is not an object")
	}
	for _, key := range []string{"items", "additionalProperties"} {
		if sub, present := m[key]; present {
			out = append(out, portabilityProblems(sub, at+"."+key, false)...)
		}
	}
	return out
}

func TestAnnotations(t *testing.T) {
	t.Parallel()
	const getOnly = `
services:
  a:
    base_url: https://a.example.com
    auth: { type: bearer, env: A_KEY }
    allow: ["GET /**", "HEAD /x"]
`
	const writes = `
services:
  a:
    base_url: https://a.example.com
    auth: { type: bearer, env: A_KEY }
  b:
    base_url: https://b.example.com
    auth: { type: none }
    allow: ["GET /**", "DELETE /items/*"]
`
	tests := []struct {
		name         string
		yaml         string
		readOnly     bool
		wantReadOnly bool
		wantMethods  []any
	}{
		{"get rules only", getOnly, false, true, []any{"GET", "HEAD"}},
		{"a service with writes", writes, false, false, []any{"GET", "HEAD", "DELETE"}},
		{"read-only mode", writes, true, true, []any{"GET", "HEAD"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := Deps{Config: loadConfig(t, tc.yaml), ReadOnly: tc.readOnly}
			for _, tool := range listedTools(t, d, protocolVersions[1]) {
				a := tool.Annotations
				if a == nil || a.Title == "" || tool.Title == "" {
					t.Errorf("%s: annotations %+v and title %q, want both titled", tool.Name, a, tool.Title)
					continue
				}
				switch tool.Name {
				case "list_services":
					if !a.ReadOnlyHint {
						t.Errorf("list_services readOnlyHint = false, want true")
					}
				case "call_api":
					if a.ReadOnlyHint != tc.wantReadOnly {
						t.Errorf("call_api readOnlyHint = %v, want %v", a.ReadOnlyHint, tc.wantReadOnly)
					}
					if a.DestructiveHint == nil || *a.DestructiveHint == tc.wantReadOnly {
						t.Errorf("call_api destructiveHint = %v, want %v", a.DestructiveHint, !tc.wantReadOnly)
					}
					if a.OpenWorldHint == nil || !*a.OpenWorldHint {
						t.Errorf("call_api openWorldHint = %v, want true", a.OpenWorldHint)
					}
					props := tool.InputSchema.(map[string]any)["properties"].(map[string]any)
					got := props["method"].(map[string]any)["enum"]
					if diff := cmp.Diff(tc.wantMethods, got); diff != "" {
						t.Errorf("call_api method enum (-want +got):\n%s", diff)
					}
				}
			}
		})
	}
}

// TestRegisterSchemasNotTrue guards the exact interop trap: the wire form of
// no schema property may be the literal true.
func TestRegisterSchemasNotTrue(t *testing.T) {
	t.Parallel()
	for _, tool := range All(Deps{Config: loadConfig(t, snapshotConfig)}) {
		for _, s := range []any{tool.Tool.InputSchema, tool.Tool.OutputSchema} {
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatalf("marshal %s schema: %v", tool.Tool.Name, err)
			}
			// An empty properties map is not a schema; any other {} is.
			b = bytes.ReplaceAll(b, []byte(`"properties":{}`), nil)
			for _, bad := range []string{`:true`, `:{}`, `"type":[`} {
				if bytes.Contains(b, []byte(bad)) {
					t.Errorf("%s schema %s contains %s", tool.Tool.Name, b, bad)
				}
			}
		}
	}
}

// TestSchemasResolve resolves every schema keyveil registers. Register does
// not (it would cost every start the time to check what cannot change), so
// this is where a malformed built-in schema is caught.
func TestSchemasResolve(t *testing.T) {
	t.Parallel()
	for _, ro := range []bool{false, true} {
		for _, tool := range All(Deps{Config: loadConfig(t, snapshotConfig), ReadOnly: ro}) {
			for _, schema := range []any{tool.Tool.InputSchema, tool.Tool.OutputSchema} {
				var s *jsonschema.Schema
				switch x := schema.(type) {
				case *jsonschema.Schema:
					s = x
				case json.RawMessage:
					if err := json.Unmarshal(x, &s); err != nil {
						t.Errorf("%s: schema is not JSON Schema: %v", tool.Tool.Name, err)
						continue
					}
				default:
					t.Errorf("%s: schema is a %T", tool.Tool.Name, schema)
					continue
				}
				if _, err := s.Resolve(nil); err != nil {
					t.Errorf("%s: schema does not resolve: %v", tool.Tool.Name, err)
				}
			}
		}
	}
}

// BenchmarkStructuredResult measures shaping a small JSON response into a
// result, and the SDK's encoding of it, when redaction finds nothing.
func BenchmarkStructuredResult(b *testing.B) {
	cfg, err := config.Load("", func(k string) (string, bool) {
		if k == "MCP_API_BASE_URL" {
			return "https://api.example.com", true
		}
		return "", false
	})
	if err != nil {
		b.Fatal(err)
	}
	d := Deps{Config: cfg}.withDefaults()
	body, _ := parseJSON([]byte(`{"id":"Q-1","total":1200,"currency":"EUR","lines":[{"sku":"A","qty":2},{"sku":"B","qty":1}]}`))
	v := callResult{Status: 200, Headers: map[string]string{"Content-Type": "application/json"}, Body: body}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(d.structuredResult(v, false)); err != nil {
			b.Fatal(err)
		}
	}
}
