package openapi

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/jsonschema-go/jsonschema"

	"github.com/keyveil/keyveil/config"
)

// writeFiles writes name -> body under a new directory and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// importAll loads path and converts every operation, by tool name.
func importAll(t *testing.T, path string) (*Document, map[string]config.Tool) {
	t.Helper()
	doc, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s): %v", filepath.Base(path), err)
	}
	tools, _, err := doc.Tools(Options{Service: "api", Operations: []string{"*"}, Full: true})
	if err != nil {
		t.Fatalf("Tools(*): %v", err)
	}
	checkTools(t, tools)
	out := map[string]config.Tool{}
	for _, tl := range tools {
		out[tl.Name] = tl
	}
	return doc, out
}

// TestLoadRefs covers the $ref forms the real documents in testdata do not
// use: $refs into other local files (relative to the file they are written
// in, to a whole file, and back into the main document), a $ref'd path item
// with an operation written beside it, JSON pointer escapes, YAML anchors
// and merge keys, and keywords beside a schema's $ref, which OpenAPI 3.1
// applies and 3.0 ignores. These results were checked against kin-openapi
// v0.152.0, which keyveil used before.
func TestLoadRefs(t *testing.T) {
	t.Parallel()
	dir := writeFiles(t, map[string]string{
		"api.yaml": `openapi: 3.1.0
info: {title: t, version: "1"}
x-anchors:
  base: &base {type: string, description: anchored}
components:
  schemas:
    Name: {type: string, description: base desc, maxLength: 3, title: Base}
    Chain: {$ref: "#/components/schemas/Name"}
  pathItems:
    Item:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      get: {operationId: getItem}
      delete: {operationId: deleteFromRef}
paths:
  /items/{id}:
    $ref: "#/components/pathItems/Item"
    delete: {operationId: deleteBeside}
  /ext:
    $ref: "ext/items.yaml#/Ext"
  /t/{a~b}:
    put:
      operationId: putT
      parameters: [{name: "a~b", in: path, required: true, schema: {type: string}}]
  /things:
    post:
      operationId: postThing
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: object
              properties:
                label: {$ref: "#/components/schemas/Chain", description: the label}
                escaped: {$ref: "#/paths/~1t~1%7Ba~0b%7D/put/parameters/0/schema"}
                merged: {<<: *base, maxLength: 4}
                shared: {$ref: "ext/shared.yaml#/Thing"}
`,
		"ext/items.yaml":  "Ext:\n  get:\n    operationId: getExt\n    parameters: [{$ref: params.yaml}]\n",
		"ext/params.yaml": "name: page\nin: query\nschema: {type: integer, minimum: 1}\n",
		"ext/shared.yaml": `Thing:
  type: object
  properties:
    name: {$ref: "#/Name"}
    back: {$ref: "../api.yaml#/components/schemas/Name"}
  required: [name]
Name: {type: string, pattern: "^[a-z]+$"}
`,
	})
	doc, tools := importAll(t, filepath.Join(dir, "api.yaml"))

	var names []string
	for _, o := range doc.ops {
		names = append(names, o.id())
	}
	if diff := cmp.Diff([]string{"getExt", "getItem", "deleteBeside", "putT", "postThing"}, names); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	if got := tools["getExt"].Input.Properties["page"]; got == nil || got.Type != "integer" || got.Minimum == nil {
		t.Errorf("getExt page (a $ref to a whole file, relative to ext/) = %+v", got)
	}
	if got := tools["getItem"].Input.Properties["id"]; got == nil || got.Type != "integer" {
		t.Errorf("getItem id (from the $ref'd path item) = %+v", got)
	}
	body := tools["postThing"].Input.Properties["shared"]
	want := &jsonschema.Schema{
		Type:     "object",
		Required: []string{"name"},
		Properties: map[string]*jsonschema.Schema{
			"name": {Type: "string", Pattern: "^[a-z]+$"},
			"back": {Type: "string", Title: "Base", Description: "base desc", MaxLength: ptrTo(3)},
		},
	}
	if diff := cmp.Diff(want, body); diff != "" {
		t.Errorf("schema from another file, with a $ref back (-want +got):\n%s", diff)
	}
	props := tools["postThing"].Input.Properties
	if got := props["label"]; got.Description != "the label" || got.Title != "Base" || got.MaxLength == nil {
		t.Errorf("3.1 description beside a chained $ref = %+v, want the referenced schema with description replaced", got)
	}
	if got := props["escaped"]; got == nil || got.Type != "string" {
		t.Errorf("$ref with ~0, ~1 and %%7B = %+v", got)
	}
	if got := props["merged"]; got.Description != "anchored" || got.MaxLength == nil || *got.MaxLength != 4 {
		t.Errorf("YAML merge key = %+v", got)
	}
	var refs []string
	for p := range doc.refs {
		rel, _ := filepath.Rel(dir, p)
		refs = append(refs, filepath.ToSlash(rel))
	}
	if diff := cmp.Diff([]string{"ext/items.yaml", "ext/params.yaml", "ext/shared.yaml"}, refs, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("files read through $refs (the cache checks them) (-want +got):\n%s", diff)
	}
}

// TestRefSiblings checks that keywords beside a schema's $ref apply in 3.1
// (annotations replace the referenced schema's, other keywords add an
// allOf entry) and are ignored in 3.0.
func TestRefSiblings(t *testing.T) {
	t.Parallel()
	const doc = `openapi: VERSION
info: {title: t, version: "1"}
components:
  schemas:
    Name: {type: string, description: base, maxLength: 3}
paths:
  /x:
    get:
      operationId: getX
      parameters:
        - {name: q, in: query, schema: {$ref: "#/components/schemas/Name", description: beside, minLength: 1}}
`
	tests := []struct {
		version string
		want    *jsonschema.Schema
	}{
		{"3.0.3", &jsonschema.Schema{Type: "string", Description: "base", MaxLength: ptrTo(3)}},
		{"3.1.0", &jsonschema.Schema{Type: "string", Description: "beside", MaxLength: ptrTo(3), AllOf: []*jsonschema.Schema{anyValue("")}}},
	}
	for _, tc := range tests {
		t.Run(tc.version, func(t *testing.T) {
			t.Parallel()
			dir := writeFiles(t, map[string]string{"api.yaml": strings.Replace(doc, "VERSION", tc.version, 1)})
			_, tools := importAll(t, filepath.Join(dir, "api.yaml"))
			if diff := cmp.Diff(tc.want, tools["getX"].Input.Properties["q"]); diff != "" {
				t.Errorf("q (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLoadErrors checks that a document keyveil cannot read fully is
// refused with a message that says where.
func TestLoadErrors(t *testing.T) {
	t.Parallel()
	const head = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"
	tests := []struct {
		name, body, want string
	}{
		{"swagger 2", "swagger: '2.0'\n", `OpenAPI version "" is not supported`},
		{"unquoted version", "openapi: 3.1\n", "openapi must be a string"},
		{"not YAML", "openapi: [\n", "not a usable OpenAPI document"},
		{"not a mapping", "- a\n", "not a mapping"},
		{"paths list", head + "paths: [a]\n", "paths must be a mapping"},
		{"missing target", head + "paths:\n  /x:\n    get: {parameters: [{$ref: '#/components/parameters/nope'}]}\n", `"components" not found`},
		{"missing file", head + "paths:\n  /x:\n    get: {parameters: [{$ref: 'nope.yaml#/p'}]}\n", "reading $ref file"},
		{"ref loop", head + "components:\n  schemas:\n    A: {$ref: '#/components/schemas/B'}\n    B: {$ref: '#/components/schemas/A'}\npaths:\n  /x:\n    get: {parameters: [{name: q, in: query, schema: {$ref: '#/components/schemas/A'}}]}\n", "a loop?"},
		{"wrong type", head + "paths:\n  /x:\n    get: {operationId: 5}\n", "paths./x: get: operationId must be a string"},
		{"bad schema keyword", head + "paths:\n  /x:\n    get: {parameters: [{name: q, in: query, schema: {maxLength: -1}}]}\n", "maxLength must be a whole number"},
		{"remote ref", head + "paths:\n  /x:\n    get: {parameters: [{$ref: 'https://example.com/p.yaml#/id'}]}\n", "keyveil reads local files only"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(writeDoc(t, tc.body))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%q) error = %v, want it to contain %q", tc.body, err, tc.want)
			}
		})
	}
}

// TestRecursiveSchemaShared checks that a schema $ref'd from several places
// is decoded once, so a recursive schema is a cycle the converter can cut.
func TestRecursiveSchemaShared(t *testing.T) {
	t.Parallel()
	doc, err := Load(writeDoc(t, synthetic))
	if err != nil {
		t.Fatal(err)
	}
	var node *schema
	for _, o := range doc.ops {
		if o.method == "POST" && o.path == "/a/{id}" {
			node = o.op.requestBody.content["application/json"]
		}
	}
	if node == nil || node.props["child"] != node {
		t.Fatalf("Node.child is not Node itself: %p vs %p", node, node.props["child"])
	}
}

func ptrTo[T any](v T) *T { return &v }
