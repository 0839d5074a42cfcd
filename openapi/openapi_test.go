package openapi

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/jsonschema-go/jsonschema"

	"github.com/keyveil/keyveil/config"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

// goldenTool is what a golden file records of one generated tool.
type goldenTool struct {
	Name        string                    `json:"name"`
	Method      string                    `json:"method"`
	Path        string                    `json:"path"`
	ReadOnly    bool                      `json:"read_only"`
	Scope       string                    `json:"scope,omitempty"`
	Title       string                    `json:"title,omitempty"`
	Description string                    `json:"description,omitempty"`
	Mapping     map[string]config.Mapping `json:"mapping,omitempty"`
	Input       *jsonschema.Schema        `json:"input,omitempty"`
}

// testConfig returns a configuration with one service, "api", for
// AddTools to check imported tools against.
func testConfig(t *testing.T, auth string) *config.Config {
	t.Helper()
	c, err := config.Load("", func(k string) (string, bool) {
		switch k {
		case "MCP_API_BASE_URL":
			return "https://api.example.com", true
		case "MCP_API_AUTH":
			return auth, auth != ""
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestGolden imports every operation of each real document and compares
// the tool list with testdata/NAME.golden.json. The large document's golden
// file leaves out descriptions and schemas to stay reviewable; the schemas
// are checked for portability below and snapshotted by the tools package.
func TestGolden(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file    string
		version string
		ops     int
		full    bool
	}{
		{"petstore.yaml", "3.0.0", 20, true},
		{"readme.yaml", "3.1.0", 54, true},
		{"github.json", "3.0.3", 509, false},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			doc, err := Load(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if doc.Version() != tc.version || doc.Operations() != tc.ops {
				t.Errorf("Load(%s) = version %s, %d operations; want %s, %d", tc.file, doc.Version(), doc.Operations(), tc.version, tc.ops)
			}
			// The golden files record the full conversion; compact_test.go
			// checks the compact one against it.
			tools, skipped, err := doc.Tools(Options{Service: "api", Operations: []string{"*"}, Full: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(tools)+len(skipped) != tc.ops {
				t.Errorf("Tools(*) = %d tools + %d skipped, want %d in all", len(tools), len(skipped), tc.ops)
			}
			checkTools(t, tools)
			cfg := testConfig(t, "")
			if err := cfg.AddTools(tools); err != nil {
				t.Errorf("AddTools(%s tools): %v", tc.file, err)
			}
			var got []goldenTool
			for _, tl := range tools {
				g := goldenTool{Name: tl.Name, Method: tl.Method, Path: tl.Path, ReadOnly: tl.ReadOnly(), Scope: tl.Scope, Mapping: tl.Mapping}
				if tc.full {
					g.Title, g.Description, g.Input = tl.Annotations.Title, tl.Description, tl.Input
				}
				got = append(got, g)
			}
			compareGolden(t, strings.TrimSuffix(tc.file, filepath.Ext(tc.file))+".golden.json", map[string]any{"tools": got, "skipped": skipped})
		})
	}
}

func compareGolden(t *testing.T, name string, v any) {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./openapi -update to create it): %v", err)
	}
	if diff := cmp.Diff(string(want), b.String()); diff != "" {
		t.Errorf("%s is stale (run go test ./openapi -update) (-want +got):\n%s", path, diff)
	}
}

// checkTools asserts the rules every imported tool must meet: a name MCP
// clients accept, unique; a schema that resolves, with one type per
// schema, no boolean schemas and no credential parameters.
func checkTools(t *testing.T, tools []config.Tool) {
	t.Helper()
	seen := map[string]bool{}
	for _, tl := range tools {
		if len(tl.Name) == 0 || len(tl.Name) > 64 || sanitize(tl.Name) != tl.Name {
			t.Errorf("tool name %q breaks MCP's rules", tl.Name)
		}
		if seen[tl.Name] {
			t.Errorf("tool name %q is not unique", tl.Name)
		}
		seen[tl.Name] = true
		if tl.Input == nil || tl.Input.Type != "object" {
			t.Errorf("%s: input is not an object schema", tl.Name)
			continue
		}
		if _, err := tl.Input.Resolve(nil); err != nil {
			t.Errorf("%s: input does not resolve: %v", tl.Name, err)
		}
		b, err := json.Marshal(tl.Input)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(`"type":[`)) || bytes.Contains(b, []byte(`:true`)) && portabilityTrue(b) {
			t.Errorf("%s: schema has a type list or a boolean schema: %s", tl.Name, b)
		}
		for name := range tl.Input.Properties {
			if !validProp(name) {
				t.Errorf("%s: input name %q is not portable", tl.Name, name)
			}
			if m := tl.Where(name); m.In == config.InHeader && strings.EqualFold(m.Name, "authorization") {
				t.Errorf("%s: asks the model for the Authorization header", tl.Name)
			}
		}
		if tl.Description == "" {
			t.Errorf("%s: no description", tl.Name)
		}
	}
}

// portabilityTrue reports whether b has a schema that is the boolean true,
// as opposed to a keyword whose value is true (uniqueItems, deprecated).
func portabilityTrue(b []byte) bool {
	var walk func(v any, schema bool) bool
	walk = func(v any, schema bool) bool {
		switch x := v.(type) {
		case bool:
			return schema
		case map[string]any:
			for k, c := range x {
				switch k {
				case "properties":
					if m, ok := c.(map[string]any); ok {
						for _, p := range m {
							if walk(p, true) {
								return true
							}
						}
					}
				case "items", "additionalProperties", "not":
					if walk(c, true) {
						return true
					}
				case "anyOf", "allOf", "oneOf":
					if l, ok := c.([]any); ok {
						for _, e := range l {
							if walk(e, true) {
								return true
							}
						}
					}
				}
			}
		}
		return false
	}
	var v any
	_ = json.Unmarshal(b, &v)
	return walk(v, true)
}

func TestSecurityParametersRemoved(t *testing.T) {
	t.Parallel()
	doc, err := Load("testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// deletePet declares the api_key header parameter, which is also the
	// document's apiKey security scheme: keyveil supplies it.
	tools, _, err := doc.Tools(Options{Service: "api", Operations: []string{"deletePet"}})
	if err != nil || len(tools) != 1 {
		t.Fatalf("Tools(deletePet) = %v, %v", tools, err)
	}
	if _, ok := tools[0].Input.Properties["api_key"]; ok {
		t.Errorf("deletePet input has api_key: %v", tools[0].Input.Properties)
	}
	if diff := cmp.Diff([]string{"petId"}, tools[0].Input.Required); diff != "" {
		t.Errorf("deletePet required (-want +got):\n%s", diff)
	}
	// The service's own auth is removed too, whatever the document says.
	tools, _, err = doc.Tools(Options{Service: "api", Operations: []string{"findPetsByStatus"}, Auth: config.AuthList{{Type: config.AuthQuery, Name: "status", Env: "K"}}})
	if err != nil || len(tools) != 1 {
		t.Fatalf("Tools(findPetsByStatus) = %v, %v", tools, err)
	}
	if _, ok := tools[0].Input.Properties["status"]; ok {
		t.Errorf("the service's query key is offered as an input")
	}
}

func TestSelection(t *testing.T) {
	t.Parallel()
	doc, err := Load("testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sel  []string
		want []string // tool names, or the error's substring in [0] when wantErr
		err  bool
	}{
		{[]string{"getPetById"}, []string{"getPetById"}, false},
		{[]string{"tag:store"}, []string{"getInventory", "placeOrder", "getOrderById", "deleteOrder"}, false},
		{[]string{"tag:store", "getOrderById", "getPetById"}, []string{"getPetById", "getInventory", "placeOrder", "getOrderById", "deleteOrder"}, false},
		{[]string{"GET /user/login"}, []string{"loginUser"}, false},
		{nil, nil, false},
		{[]string{"getPetByID"}, []string{`matches no operation (did you mean "getPetById"?)`}, true},
		{[]string{"tag:Store"}, []string{`(did you mean "tag:store"?)`}, true},
		{[]string{"nothing"}, []string{"keyveil openapi testdata/petstore.yaml"}, true},
	}
	for _, tc := range tests {
		tools, _, err := doc.Tools(Options{Service: "api", Operations: tc.sel})
		if tc.err {
			if err == nil || !strings.Contains(err.Error(), tc.want[0]) {
				t.Errorf("Tools(%q) error = %v, want %q", tc.sel, err, tc.want[0])
			}
			continue
		}
		if err != nil {
			t.Errorf("Tools(%q): %v", tc.sel, err)
			continue
		}
		var names []string
		for _, tl := range tools {
			names = append(names, tl.Name)
		}
		if diff := cmp.Diff(tc.want, names); diff != "" {
			t.Errorf("Tools(%q) names (-want +got):\n%s", tc.sel, diff)
		}
	}
}

func writeDoc(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "api.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// synthetic is a small document written for the edge cases the real ones
// lack: names that need sanitising and de-duplicating, 3.1 type lists,
// recursion, a form body and an explicit selection of it.
const synthetic = `openapi: 3.1.0
info: {title: edge cases, version: "1"}
components:
  securitySchemes:
    key: {type: apiKey, in: query, name: api_key}
  schemas:
    Node:
      type: object
      properties:
        name: {type: [string, "null"]}
        child: {$ref: "#/components/schemas/Node"}
        either: {type: [string, integer]}
        id: {type: string, readOnly: true}
        re: {type: string, pattern: "^(?=a)"}
      required: [name, id]
paths:
  /a/{id}:
    parameters:
      - {name: id, in: path, required: true, schema: {type: string}}
      - {name: api_key, in: query, schema: {type: string}}
    get:
      operationId: "get thing/by id"
      summary: Get a thing
    post:
      operationId: "get thing by id"
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Node"}
    put:
      operationId: ` + "\"" + `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.1` + "\"" + `
      requestBody:
        content: {application/json: {schema: {type: array, items: {type: string}}}}
    patch:
      operationId: ` + "\"" + `aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.2` + "\"" + `
      parameters:
        - {name: "filter[state]", in: query, schema: {type: string}}
        - {name: session, in: cookie, schema: {type: string}}
      requestBody:
        content: {application/json: {schema: {type: object, properties: {id: {type: string}}}}}
  /form:
    post:
      operationId: call_api
      requestBody:
        required: true
        content: {application/x-www-form-urlencoded: {schema: {type: object}}}
    delete: {}
`

func TestEdgeCases(t *testing.T) {
	t.Parallel()
	doc, err := Load(writeDoc(t, synthetic))
	if err != nil {
		t.Fatal(err)
	}
	tools, skipped, err := doc.Tools(Options{Service: "api", Operations: []string{"*"}, Taken: []string{"get_thing_by_id_3"}})
	if err != nil {
		t.Fatal(err)
	}
	checkTools(t, tools)
	byName := map[string]config.Tool{}
	var names []string
	for _, tl := range tools {
		byName[tl.Name] = tl
		names = append(names, tl.Name)
	}
	wantNames := []string{"get_thing_by_id", "get_thing_by_id_2", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_7801252c", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_facbbe07", "delete_form"}
	if diff := cmp.Diff(wantNames, names); diff != "" {
		t.Errorf("names (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Skipped{{ID: "call_api", Reason: "its body is application/x-www-form-urlencoded, and keyveil sends JSON bodies only"}}, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	get := byName["get_thing_by_id"]
	if _, ok := get.Input.Properties["api_key"]; ok {
		t.Error("the apiKey security parameter is offered as an input")
	}
	post := byName["get_thing_by_id_2"]
	// The body's "id" is readOnly, so it is dropped and the rest of the
	// body flattens beside the path's id.
	if m := post.Where("name"); m != (config.Mapping{In: config.InBody, Name: "name"}) {
		t.Fatalf("post name mapping = %+v, want body", m)
	}
	if m := post.Where("id"); m.In != config.InPath {
		t.Errorf("post id mapping = %+v, want path", m)
	}
	node := post.Input
	if node.Properties["name"].Type != "string" {
		t.Errorf("[string, null] became %+v, want type string", node.Properties["name"])
	}
	if e := node.Properties["either"]; e.Type != "" || len(e.AnyOf) != 2 {
		t.Errorf("[string, integer] became %+v, want anyOf of two", e)
	}
	if diff := cmp.Diff([]string{"id", "name"}, node.Required); diff != "" {
		t.Errorf("post required (-want +got):\n%s", diff)
	}
	if node.Properties["re"].Pattern != "" {
		t.Error("a pattern Go cannot compile was kept")
	}
	depth := 0
	for s := node; s != nil && s.Properties["child"] != nil; s = s.Properties["child"] {
		depth++
	}
	if depth == 0 || depth > maxDepth {
		t.Errorf("recursive schema nested %d levels, want 1..%d", depth, maxDepth)
	}
	patch := byName["aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa_facbbe07"]
	if m := patch.Where("filter_state"); m != (config.Mapping{In: config.InQuery, Name: "filter[state]"}) {
		t.Errorf("filter[state] mapping = %+v", m)
	}
	if _, ok := patch.Input.Properties["session"]; ok {
		t.Error("a cookie parameter is offered")
	}
	if m := patch.Where("body"); m.In != config.InWholeBody {
		t.Errorf("patch: body with a clashing id = %+v, want whole_body", m)
	}
	// Naming the form operation explicitly is an error.
	if _, _, err := doc.Tools(Options{Service: "api", Operations: []string{"call_api"}}); err == nil || !strings.Contains(err.Error(), "cannot be a tool") {
		t.Errorf("Tools(explicit form op) error = %v", err)
	}
}

func TestRemoteRefsRefused(t *testing.T) {
	t.Parallel()
	p := writeDoc(t, `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /x:
    get:
      operationId: x
      parameters:
        - $ref: "http://127.0.0.1:1/params.yaml#/id"
      responses: {"200": {description: ok}}
`)
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "local files only") {
		t.Errorf("Load(remote $ref) error = %v, want a refusal", err)
	}
}

func TestExpandExample(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load("../examples/github-openapi.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	if err := Expand(cfg, &ExpandOptions{NoCache: true}); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range cfg.Tools {
		names = append(names, tl.Name)
	}
	for _, want := range []string{"issues_list-for-repo", "issues_get", "issues_create", "issues_create-comment", "pulls_list", "pulls_merge"} {
		if !slices.Contains(names, want) {
			t.Errorf("Expand(github-openapi.yaml) lacks %s; has %v", want, names)
		}
	}
	create := cfg.Tools[slices.Index(names, "issues_create")]
	if create.Where("title") != (config.Mapping{In: config.InBody, Name: "title"}) || create.Where("owner").In != config.InPath {
		t.Errorf("issues_create mapping: title %+v owner %+v", create.Where("title"), create.Where("owner"))
	}
}

func TestExpandErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := filepath.Join(dir, "spec.yaml")
	if err := os.WriteFile(spec, []byte("openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /x:\n    get: {operationId: x, responses: {'200': {description: ok}}}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ body, want string }{
		{"services:\n  s:\n    base_url: https://a.example\n    auth: {type: none}\n    openapi: missing.yaml\n    operations: ['*']\n", "missing.yaml"},
		{"services:\n  s:\n    base_url: https://a.example\n    auth: {type: none}\n    openapi: spec.yaml\n    operations: [y]\n", `operations entry "y" matches no operation`},
		{"services:\n  s:\n    base_url: https://a.example\n    auth: {type: none}\n    openapi: spec.yaml\n    operations: [x]\ntools:\n  - {name: x, description: X., service: s, method: GET, path: /y}\n", ""},
	} {
		p := filepath.Join(dir, "keyveil.yaml")
		if err := os.WriteFile(p, []byte(tc.body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(p, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		err = Expand(cfg, &ExpandOptions{NoCache: true})
		if tc.want == "" {
			// A declared tool already called x: the import takes x_2.
			if err != nil || len(cfg.Tools) != 2 || cfg.Tools[1].Name != "x_2" {
				t.Errorf("Expand(name clash) = %v, tools %v", err, cfg.Tools)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), `service "s"`) {
			t.Errorf("Expand(%q) error = %v, want %q", tc.body, err, tc.want)
		}
	}
}

func TestCommand(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	if err := Command([]string{"testdata/petstore.yaml", "--operations", "tag:store,getPetById"}, &out, &errb); err != nil {
		t.Fatalf("Command: %v (stderr %s)", err, errb.String())
	}
	want := `testdata/petstore.yaml: OpenAPI 3.0.0, 20 operations; 5 selected become tools

NAME          METHOD  PATH                    SCOPE  READ-ONLY
getPetById    GET     /pet/{petId}            -      yes
getInventory  GET     /store/inventory        -      yes
placeOrder    POST    /store/order            -      no
getOrderById  GET     /store/order/{orderId}  -      yes
deleteOrder   DELETE  /store/order/{orderId}  -      no

To offer them, add to a service in the services file:
  openapi: testdata/petstore.yaml
  operations: ["tag:store", "getPetById"]
`
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("Command output (-want +got):\n%s", diff)
	}
	for _, args := range [][]string{{}, {"a", "b"}, {"--operations"}, {"testdata/missing.yaml"}, {"testdata/petstore.yaml", "--operations", "nope"}} {
		if err := Command(args, &out, &errb); err == nil {
			t.Errorf("Command(%q) = nil error, want one", args)
		}
	}
	out.Reset()
	if err := Command([]string{"--operations", "getPetById", "testdata/petstore.yaml"}, &out, &errb); err != nil || !strings.Contains(out.String(), "getPetById") {
		t.Errorf("Command(flags first) = %v, %q", err, out.String())
	}
}

// TestReservedHeaders pins the header parameters an import never offers
// the model: the credential headers and the ones that step around keyveil's
// checks (Range slices an echoed key, method override and URL rewrite
// escape the declared method and path), however CGI would spell them.
func TestReservedHeaders(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		want bool
	}{
		{"Authorization", true},
		{"Content-Type", true},
		{"Range", true},
		{"if-range", true},
		{"X-HTTP-Method-Override", true},
		{"X_HTTP_METHOD_OVERRIDE", true},
		{"X-Method-Override", true},
		{"X-Original-URL", true},
		{"x-rewrite-url", true},
		{"X-Request-Id", false},
		{"If-None-Match", false},
	}
	for _, tc := range tests {
		if got := isReservedHeader(tc.name); got != tc.want {
			t.Errorf("isReservedHeader(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
