package tools

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/openapi"
)

// opsConfig declares one tool per mapping rule, on a service at base.
func opsConfig(base string) string {
	return `
services:
  crm:
    base_url: ` + base + `/api
    auth: { type: query, name: key, env: CRM_KEY }
    allow: ["GET /**", "POST /quotes/*/followups"]
    headers: { X-Static: fixed }
tools:
  - name: send_quote_followup
    description: Send a follow-up message about a quote to its customer.
    service: crm
    method: POST
    path: /quotes/{quote_id}/followups
    scope: quotes:followup:send
    input:
      type: object
      properties:
        quote_id: { type: string, pattern: "^Q-[0-9]+$" }
        message: { type: string, maxLength: 2000 }
      required: [quote_id, message]
  - name: get_quote
    description: Read a quote.
    service: crm
    method: GET
    path: /quotes/{id}
    input:
      type: object
      properties:
        id: { type: string }
        expand: { type: array, items: { type: string } }
        limit: { type: integer, minimum: 1, maximum: 100 }
        trace: { type: string }
      required: [id]
    mapping:
      trace: { in: header, name: X-Trace }
  - name: replace_notes
    description: Replace a quote's notes.
    service: crm
    method: PUT
    path: /quotes/{id}/notes
    input:
      type: object
      properties:
        id: { type: string }
        notes: { type: array, items: { type: string } }
      required: [id, notes]
    mapping:
      notes: whole_body
  - name: delete_quote
    description: Delete a quote.
    service: crm
    method: DELETE
    path: /quotes/{id}
    scope: quotes:delete
    # The test clients cannot confirm; confirm_test.go asks.
    confirm_fallback: allow
    input:
      type: object
      properties: { id: { type: string } }
      required: [id]
  - name: search_quotes
    description: Search quotes (a POST that changes nothing).
    service: crm
    method: POST
    path: /quotes/search
    annotations: { read_only: true, title: Search quotes }
    input:
      type: object
      properties: { text: { type: string } }
`
}

func opsDeps(t *testing.T, base string, scopes []string, audit *syncBuffer) Deps {
	t.Helper()
	d := Deps{Config: loadConfig(t, opsConfig(base)), Client: testClient(t), Scopes: scopes}
	if audit != nil {
		d.Audit = NewAuditor(audit)
	}
	return d
}

var allScopes = []string{"quotes:followup:send", "quotes:delete"}

func TestOperationRequests(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	cs := connect(t, opsDeps(t, srv.URL, allScopes, nil), protocolVersions[1])
	tests := []struct {
		tool string
		args map[string]any
		want request
	}{
		{"send_quote_followup", map[string]any{"quote_id": "Q-12", "message": "Hello"},
			request{Method: "POST", Path: "/api/quotes/Q-12/followups", Body: `{"message":"Hello"}`}},
		{"get_quote", map[string]any{"id": "Q 1", "expand": []string{"lines", "customer"}, "limit": 5, "trace": "t-1"},
			request{Method: "GET", Path: "/api/quotes/Q%201", RawQuery: "expand=lines&expand=customer&limit=5"}},
		{"replace_notes", map[string]any{"id": "Q-1", "notes": []string{"a", "b"}},
			request{Method: "PUT", Path: "/api/quotes/Q-1/notes", Body: `["a","b"]`}},
		{"delete_quote", map[string]any{"id": "Q-1"}, request{Method: "DELETE", Path: "/api/quotes/Q-1"}},
		{"search_quotes", nil, request{Method: "POST", Path: "/api/quotes/search"}},
	}
	for i, tc := range tests {
		res := call(t, cs, tc.tool, tc.args)
		if res.IsError {
			t.Fatalf("%s(%v) = error %s", tc.tool, tc.args, text(res))
		}
		if got := structured(t, res); got["status"] != float64(200) || got["body"].(map[string]any)["ok"] != true {
			t.Errorf("%s result = %v, want call_api's shape with status 200", tc.tool, got)
		}
		reqs := srv.requests()
		if len(reqs) != i+1 {
			t.Fatalf("%s: server saw %d requests, want %d", tc.tool, len(reqs), i+1)
		}
		got := reqs[i]
		if got.Method != tc.want.Method || got.Path != tc.want.Path || got.RawQuery != tc.want.RawQuery || got.Body != tc.want.Body {
			t.Errorf("%s(%v) sent %s %s?%s %q, want %s %s?%s %q", tc.tool, tc.args, got.Method, got.Path, got.RawQuery, got.Body,
				tc.want.Method, tc.want.Path, tc.want.RawQuery, tc.want.Body)
		}
		if got.Header.Get("X-Static") != "fixed" {
			t.Errorf("%s: static header missing", tc.tool)
		}
		if tc.want.Body != "" && got.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: Content-Type = %q", tc.tool, got.Header.Get("Content-Type"))
		}
		if tc.tool == "get_quote" && got.Header.Get("X-Trace") != "t-1" {
			t.Errorf("get_quote X-Trace = %q, want t-1", got.Header.Get("X-Trace"))
		}
	}
}

// TestOperationPathEscapes sends every escape attempt through a path
// parameter. Each is either refused before any request, or arrives as one
// segment in its place on the one server, decoding to exactly the value.
func TestOperationPathEscapes(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	cs := connect(t, opsDeps(t, srv.URL, nil, nil), protocolVersions[0])
	attacks := []string{
		"/", "a/b", "../admin", "..", ".", "%2e%2e", "%2E%2E/x", "..%2f..%2fadmin", "%2F", "a%2Fb", `\..\admin`, `..\`,
		"//evil.example", "https://evil.example/x", "@evil.example", "a?b=c", "a#frag", "a;b=c", "..;", "a&b", "\x00",
		"a\r\nX-Injected: 1", " ", "%", "%%32%65", "\u2025", "\uff0e\uff0e", "a/../../b", "?", "#", "evil.example:443", "[::1]",
	}
	sent := 0
	for _, a := range attacks {
		res := call(t, cs, "get_quote", map[string]any{"id": a})
		reqs := srv.requests()
		if res.IsError {
			if len(reqs) != sent {
				t.Errorf("get_quote(id=%q) was refused but a request was sent", a)
			}
			if len(a) > 3 && strings.Contains(text(res), a) {
				t.Errorf("get_quote(id=%q) refusal echoes the value: %s", a, text(res))
			}
			continue
		}
		sent++
		if len(reqs) != sent {
			t.Fatalf("get_quote(id=%q): %d requests, want %d", a, len(reqs), sent)
		}
		p := reqs[sent-1].Path
		seg, ok := strings.CutPrefix(p, "/api/quotes/")
		if !ok || strings.Contains(seg, "/") {
			t.Errorf("get_quote(id=%q) reached %q, outside /api/quotes/{id}", a, p)
			continue
		}
		if dec, err := url.PathUnescape(seg); err != nil || dec != a {
			t.Errorf("get_quote(id=%q) segment %q decodes to %q (%v)", a, seg, dec, err)
		}
		if reqs[sent-1].Header.Get("X-Injected") != "" {
			t.Errorf("get_quote(id=%q) injected a header", a)
		}
	}
	for _, bad := range []string{"", ".", ".."} {
		if res := call(t, cs, "get_quote", map[string]any{"id": bad}); !res.IsError {
			t.Errorf("get_quote(id=%q) was sent, want a refusal", bad)
		}
	}
	if len(srv.requests()) != sent {
		t.Errorf("refused calls reached the server")
	}
}

// TestOperationPathValueDotSegments refuses a path argument that would
// walk out of the tool's path on a server that decodes %2F before it
// routes, and sends values that only look close.
func TestOperationPathValueDotSegments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		sent bool
	}{
		{"../admin", false},
		{"a/../../b", false},
		{`..\admin`, false},
		{"..%2Fadmin", false},
		{"%2e%2e%2fadmin", false},
		{"%252e%252e/admin", false},
		{"\uff0e\uff0e/admin", false},
		{"a/\u3002\u3002/b", false},
		{"group/project", true},
		{"v1.2", true},
		{".hidden", true},
		{"a..b/c", true},
	}
	for _, tc := range tests {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, nil)
			audit := &syncBuffer{}
			cs := connect(t, opsDeps(t, srv.URL, nil, audit), protocolVersions[0])
			res := call(t, cs, "get_quote", map[string]any{"id": tc.id})
			if got := len(srv.requests()) == 1; got != tc.sent || res.IsError == tc.sent {
				t.Fatalf("get_quote(id=%q): sent %v, isError %v, want sent %v: %s", tc.id, got, res.IsError, tc.sent, text(res))
			}
			if !tc.sent {
				if recs := audit.records(t); len(recs) != 1 || recs[0]["outcome"] != "refused:path" {
					t.Errorf("get_quote(id=%q) audit = %v, want one refused:path", tc.id, recs)
				}
				if !strings.Contains(text(res), "leave the tool's path") {
					t.Errorf("get_quote(id=%q) message %q does not say why", tc.id, text(res))
				}
			}
		})
	}
}

func TestOperationValidation(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	audit := &syncBuffer{}
	cs := connect(t, opsDeps(t, srv.URL, allScopes, audit), protocolVersions[1])
	long := strings.Repeat("sk-test-LEAKCHECK-0123456789", 100)
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"missing", map[string]any{"quote_id": "Q-1"}, "missing required argument message"},
		{"unknown", map[string]any{"quote_id": "Q-1", "message": "m", "cc": "x"}, `unknown argument "cc"; send_quote_followup takes message, quote_id`},
		{"pattern", map[string]any{"quote_id": long, "message": "m"}, "argument quote_id is not valid: it must be a string, matching ^Q-[0-9]+$ (it breaks the pattern rule)"},
		{"too long", map[string]any{"quote_id": "Q-1", "message": long}, "argument message is not valid: it must be a string, at most 2000 characters (it breaks the maxLength rule)"},
		{"wrong type", map[string]any{"quote_id": 7, "message": "m"}, "argument quote_id is not valid"},
		{"null required", map[string]any{"quote_id": nil, "message": "m"}, "missing required argument quote_id"},
	}
	for _, tc := range tests {
		res := call(t, cs, "send_quote_followup", tc.args)
		if !res.IsError || !strings.Contains(text(res), tc.want) {
			t.Errorf("send_quote_followup(%s) = %q (error %v), want %q", tc.name, text(res), res.IsError, tc.want)
		}
		if strings.Contains(text(res), "LEAKCHECK") {
			t.Errorf("send_quote_followup(%s) echoes the value: %s", tc.name, text(res))
		}
	}
	if n := len(srv.requests()); n != 0 {
		t.Errorf("invalid calls sent %d requests", n)
	}
	for _, r := range audit.records(t) {
		if r["outcome"] != "refused:input" || r["tool"] != "send_quote_followup" {
			t.Errorf("audit record %v, want refused:input for send_quote_followup", r)
		}
	}
	if strings.Contains(audit.String(), "LEAKCHECK") {
		t.Error("the audit log echoes a value")
	}
}

// toolNames returns the names of tools, sorted (tools/list is sorted by
// name by the SDK).
func toolNames(tools []*mcp.Tool) []string {
	var out []string
	for _, t := range tools {
		out = append(out, t.Name)
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	slices.Sort(s)
	return s
}

// TestScopeFiltering lists tools at both protocol versions with and
// without granted scopes, and calls a tool whose scope is not granted.
func TestScopeFiltering(t *testing.T) {
	t.Parallel()
	for _, version := range protocolVersions {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, nil)
			tests := []struct {
				scopes []string
				want   []string
			}{
				{[]string{}, sorted("list_services", "call_api", "get_quote", "replace_notes", "search_quotes")},
				{[]string{"quotes:delete"}, sorted("list_services", "call_api", "get_quote", "replace_notes", "delete_quote", "search_quotes")},
				{allScopes, sorted("list_services", "call_api", "send_quote_followup", "get_quote", "replace_notes", "delete_quote", "search_quotes")},
			}
			for _, tc := range tests {
				if diff := cmp.Diff(tc.want, toolNames(listedTools(t, opsDeps(t, srv.URL, tc.scopes, nil), version))); diff != "" {
					t.Errorf("tools/list with scopes %v (-want +got):\n%s", tc.scopes, diff)
				}
			}
			audit := &syncBuffer{}
			cs := connect(t, opsDeps(t, srv.URL, []string{}, audit), version)
			res := call(t, cs, "send_quote_followup", map[string]any{"quote_id": "Q-1", "message": "hi"})
			if !res.IsError || !strings.Contains(text(res), "scope quotes:followup:send is not granted") {
				t.Errorf("calling an ungranted tool = %q (error %v), want a refusal naming the scope", text(res), res.IsError)
			}
			if len(srv.requests()) != 0 {
				t.Error("an ungranted tool reached the server")
			}
			recs := audit.records(t)
			if len(recs) != 1 || recs[0]["outcome"] != "refused:scope" {
				t.Errorf("audit = %v, want one refused:scope", recs)
			}
			// Unknown tools still get the SDK's answer.
			if _, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "no_such_tool"}); err == nil {
				t.Error("calling an unknown tool succeeded")
			}
		})
	}
}

func TestServiceScopesEnv(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	path := filepath.Join(t.TempDir(), "s.yaml")
	body := strings.Replace(opsConfig(srv.URL), "    headers: { X-Static: fixed }\n", "    headers: { X-Static: fixed }\n    scopes_env: CRM_SCOPES\n", 1)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path, func(k string) (string, bool) {
		if k == "CRM_SCOPES" {
			return "quotes:delete", true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	names := toolNames(listedTools(t, Deps{Config: cfg}, protocolVersions[0]))
	if !slices.Contains(names, "delete_quote") || slices.Contains(names, "send_quote_followup") {
		t.Errorf("tools with scopes_env = %v, want delete_quote and not send_quote_followup", names)
	}
}

func TestReadOnlyOperations(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	d := opsDeps(t, srv.URL, allScopes, nil)
	d.ReadOnly = true
	if diff := cmp.Diff(sorted("list_services", "call_api", "get_quote", "search_quotes"), toolNames(listedTools(t, d, protocolVersions[1]))); diff != "" {
		t.Errorf("tools/list in read-only mode (-want +got):\n%s", diff)
	}
	cs := connect(t, d, protocolVersions[1])
	res := call(t, cs, "delete_quote", map[string]any{"id": "Q-1"})
	if !res.IsError || !strings.Contains(text(res), "--read-only") {
		t.Errorf("delete_quote in read-only mode = %q, want a read-only refusal", text(res))
	}
	if res := call(t, cs, "search_quotes", nil); res.IsError {
		t.Errorf("search_quotes (annotated read-only) refused: %s", text(res))
	}
	for _, r := range srv.requests() {
		if r.Method != "GET" && r.Path != "/api/quotes/search" {
			t.Errorf("read-only mode sent %s %s", r.Method, r.Path)
		}
	}
}

func TestCallAPISwitch(t *testing.T) {
	t.Parallel()
	const cfg = `
services:
  a:
    base_url: https://a.example.com
    auth: { type: none }
  b:
    base_url: https://b.example.com
    auth: { type: none }
    call_api: false
tools:
  - { name: b_ping, description: Ping b., service: b, method: GET, path: /ping }
`
	d := Deps{Config: loadConfig(t, cfg)}
	tools := listedTools(t, d, protocolVersions[0])
	if diff := cmp.Diff(sorted("list_services", "call_api", "b_ping"), toolNames(tools)); diff != "" {
		t.Errorf("tools (-want +got):\n%s", diff)
	}
	i := slices.IndexFunc(tools, func(t *mcp.Tool) bool { return t.Name == "call_api" })
	enum := tools[i].InputSchema.(map[string]any)["properties"].(map[string]any)["service"].(map[string]any)["enum"]
	if diff := cmp.Diff([]any{"a"}, enum); diff != "" {
		t.Errorf("call_api service enum (-want +got):\n%s", diff)
	}
	cs := connect(t, d, protocolVersions[0])
	if res := call(t, cs, "call_api", map[string]any{"service": "b", "method": "GET", "path": "/x"}); !res.IsError {
		t.Error("call_api reached a service with call_api: false")
	}
	off := Deps{Config: loadConfig(t, strings.Replace(cfg, "    auth: { type: none }\n  b:", "    auth: { type: none }\n    call_api: false\n  b:", 1))}
	if diff := cmp.Diff(sorted("list_services", "b_ping"), toolNames(listedTools(t, off, protocolVersions[0]))); diff != "" {
		t.Errorf("tools with call_api off everywhere (-want +got):\n%s", diff)
	}
}

func TestOperationAnnotations(t *testing.T) {
	t.Parallel()
	tools := listedTools(t, opsDeps(t, "http://127.0.0.1:1", allScopes, nil), protocolVersions[1])
	type hints struct{ ro, destructive, idempotent, open bool }
	want := map[string]hints{
		"send_quote_followup": {false, false, false, true},
		"get_quote":           {true, false, true, true},
		"replace_notes":       {false, false, true, true},
		"delete_quote":        {false, true, true, true},
		"search_quotes":       {true, false, false, true},
	}
	for _, tl := range tools {
		w, ok := want[tl.Name]
		if !ok {
			continue
		}
		a := tl.Annotations
		got := hints{a.ReadOnlyHint, a.DestructiveHint != nil && *a.DestructiveHint, a.IdempotentHint, a.OpenWorldHint != nil && *a.OpenWorldHint}
		if got != w {
			t.Errorf("%s hints = %+v, want %+v", tl.Name, got, w)
		}
	}
	if i := slices.IndexFunc(tools, func(t *mcp.Tool) bool { return t.Name == "search_quotes" }); i < 0 || tools[i].Title != "Search quotes" {
		t.Errorf("search_quotes is missing or untitled")
	}
}

// TestOperationSnapshots compares every declared and imported tool's
// definition with testdata/operations/<name>.golden.json: the issue's
// example, examples/github.yaml, and the Swagger Petstore imported whole.
func TestOperationSnapshots(t *testing.T) {
	t.Parallel()
	gh, err := config.LoadFile("../examples/github.yaml")
	if err != nil {
		t.Fatal(err)
	}
	pet := loadConfig(t, "services:\n  petstore:\n    base_url: https://petstore.example.com/v2\n    auth: {type: header, name: api_key, env: PET_KEY}\n")
	doc, err := openapi.Load("../openapi/testdata/petstore.yaml")
	if err != nil {
		t.Fatal(err)
	}
	imported, _, err := doc.Tools(openapi.Options{Service: "petstore", Auth: pet.Services[0].Auth, Operations: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := pet.AddTools(imported); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("testdata", "operations")
	if *update {
		_ = os.MkdirAll(dir, 0o755)
	}
	seen := map[string]bool{}
	for _, version := range protocolVersions {
		for _, c := range []*config.Config{loadConfig(t, opsConfig("https://crm.example.com")), gh, pet} {
			for _, tl := range listedTools(t, Deps{Config: c, Scopes: append([]string{"issues:write"}, allScopes...)}, version) {
				if tl.Name == "list_services" || tl.Name == "call_api" {
					continue
				}
				seen[tl.Name] = true
				got, err := json.MarshalIndent(tl, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				path := filepath.Join(dir, tl.Name+".golden.json")
				if *update && version == protocolVersions[0] {
					if err := os.WriteFile(path, got, 0o644); err != nil {
						t.Fatal(err)
					}
					continue
				}
				if diff := cmp.Diff(mustRead(t, path), string(got)); diff != "" {
					t.Errorf("tool %s differs from %s at %s (-want +got); if intended, rerun with -update:\n%s", tl.Name, path, version, diff)
				}
				for _, p := range portabilityProblems(tl.InputSchema, tl.Name+".inputSchema", false) {
					if !strings.HasSuffix(p, "has no description") {
						t.Errorf("%s", p)
					}
				}
			}
		}
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.golden.json"))
	for _, f := range files {
		if !seen[strings.TrimSuffix(filepath.Base(f), ".golden.json")] {
			t.Errorf("snapshot %s has no tool; delete it", f)
		}
	}
	if len(seen) != 5+4+20 {
		t.Errorf("snapshotted %d tools, want 29", len(seen))
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading %s (run go test ./tools -run TestOperationSnapshots -update): %v", path, err)
	}
	return string(b)
}

// TestUnresolvableSchemaRefused checks that an input schema that does not
// resolve at the first call (config.AddResolvedTools skipped resolving it,
// say for a damaged OpenAPI cache) refuses the call, sends nothing, and
// leaves the server up.
func TestUnresolvableSchemaRefused(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {})
	d := opsDeps(t, srv.URL, allScopes, nil)
	bad := config.Tool{Name: "bad_pattern", Description: "Has a pattern Go cannot compile.", Service: "crm", Method: "GET", Path: "/quotes",
		Input: &jsonschema.Schema{Type: "object", Properties: map[string]*jsonschema.Schema{"q": {Type: "string", Pattern: "(unclosed"}}}}
	if err := d.Config.AddResolvedTools([]config.Tool{bad}); err != nil {
		t.Fatal(err)
	}
	cs := connect(t, d, protocolVersions[0])
	for range 2 {
		res := call(t, cs, "bad_pattern", map[string]any{"q": "x"})
		if !res.IsError || !strings.Contains(text(res), "input schema of bad_pattern cannot be used") {
			t.Errorf("bad_pattern = %s, want a refusal naming the schema", text(res))
		}
	}
	if res := call(t, cs, "get_quote", map[string]any{"id": "Q-1"}); res.IsError {
		t.Errorf("get_quote after the refusal = %s", text(res))
	}
	if n := len(srv.requests()); n != 1 {
		t.Errorf("downstream saw %d requests, want 1 (get_quote only)", n)
	}
}
