package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// issueExample is the services file from the declared-tools issue; it must
// work as written.
const issueExample = `
services:
  crm:
    base_url: https://crm.example.com/api
    auth: { type: bearer, env: CRM_TOKEN }
    allow: ["GET /**", "POST /quotes/*/followups"]
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
`

func TestLoadIssueExample(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, issueExample), lookupMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Tools) != 1 {
		t.Fatalf("Tools = %d, want 1", len(c.Tools))
	}
	tl := c.Tools[0]
	if tl.Name != "send_quote_followup" || tl.Method != "POST" || tl.Scope != "quotes:followup:send" || tl.Service != "crm" {
		t.Errorf("tool = %+v", tl)
	}
	if diff := cmp.Diff([]string{"quote_id"}, tl.Template().Params()); diff != "" {
		t.Errorf("Params() (-want +got):\n%s", diff)
	}
	for in, want := range map[string]Mapping{
		"quote_id": {In: InPath, Name: "quote_id"},
		"message":  {In: InBody, Name: "message"},
	} {
		if got := tl.Where(in); got != want {
			t.Errorf("Where(%q) = %+v, want %+v", in, got, want)
		}
	}
	if tl.ReadOnly() || tl.Destructive() || tl.Idempotent() || !tl.OpenWorld() || tl.NeedsConfirm() {
		t.Errorf("hints of POST tool: ro=%v destr=%v idem=%v open=%v confirm=%v", tl.ReadOnly(), tl.Destructive(), tl.Idempotent(), tl.OpenWorld(), tl.NeedsConfirm())
	}
	if tl.Input.Properties["quote_id"].Pattern != "^Q-[0-9]+$" {
		t.Errorf("input pattern lost: %+v", tl.Input.Properties["quote_id"])
	}
	if !strings.HasSuffix(tl.Origin, ":8") {
		t.Errorf("Origin = %q, want the file and line 8", tl.Origin)
	}
	if got := c.Hidden(tl, false, nil); !strings.Contains(got.Why, "quotes:followup:send") || got.ReadOnly {
		t.Errorf("Hidden(no scopes) = %+v, want the scope named, not read-only", got)
	}
	if got := c.Hidden(tl, false, []string{"quotes:followup:send"}); got.Hidden() {
		t.Errorf("Hidden(granted) = %+v, want offered", got)
	}
	if got := c.Hidden(tl, true, []string{"quotes:followup:send"}); !strings.Contains(got.Why, "read-only") || !got.ReadOnly {
		t.Errorf("Hidden(read-only) = %+v, want read-only named and marked", got)
	}
	if s, _ := c.Service("crm"); !s.CallAPI {
		t.Errorf("crm.CallAPI = false, want the default true")
	}
}

func TestFullServiceKeys(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
services:
  billing:
    base_url: https://api.stripe.com/v1
    auth: { type: basic, env: STRIPE_KEY, key_as: username }
    call_api: false
    scopes_env: BILLING_SCOPES
    deny_headers: [X-Admin]
    headers: { Stripe-Version: "2024-06-20" }
    docs: Stripe.
  reports:
    base_url: https://reports.example.com
    auth:
      type: oauth2_client_credentials
      token_url: https://auth.example.com/oauth/token
      client_id_env: REPORTS_CLIENT_ID
      client_secret_env: REPORTS_CLIENT_SECRET
      scopes: [reports.read]
    openapi: reports.yaml
    operations: ["*"]
tools:
  - name: refund
    description: Refund a charge.
    service: billing
    method: post
    path: /refunds
    confirm: true
    confirm_fallback: allow
    annotations: { title: Refund, destructive: true, idempotent: false }
    mapping:
      charge: body
      trace: { in: header, name: X-Trace }
    input:
      type: object
      properties:
        charge: { type: string }
        trace: { type: string }
        amount: { type: integer }
      required: [charge]
`)
	c, err := Load(p, lookupMap(map[string]string{"BILLING_SCOPES": "refunds, reads"}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := c.Service("billing")
	if b.CallAPI || b.Auth[0].KeyAs != KeyAsUsername || b.Auth.Describe() != "basic:key-as-username" {
		t.Errorf("billing = %+v", b)
	}
	if diff := cmp.Diff([]string{"refunds", "reads"}, b.Scopes); diff != "" {
		t.Errorf("billing.Scopes (-want +got):\n%s", diff)
	}
	r, _ := c.Service("reports")
	if r.Auth[0].ClientSecretEnv != "REPORTS_CLIENT_SECRET" || !slices.Equal(r.Auth.Headers(), []string{"Authorization"}) || r.OpenAPI != "reports.yaml" {
		t.Errorf("reports = %+v", r)
	}
	tl := c.Tools[0]
	if tl.Method != "POST" || !tl.Destructive() || tl.Idempotent() || !tl.NeedsConfirm() || tl.ConfirmFallback != ConfirmFallbackAllow || tl.Annotations.Title != "Refund" {
		t.Errorf("refund = %+v", tl)
	}
	for in, want := range map[string]Mapping{
		"charge": {In: InBody, Name: "charge"},
		"trace":  {In: InHeader, Name: "X-Trace"},
		"amount": {In: InBody, Name: "amount"},
	} {
		if got := tl.Where(in); got != want {
			t.Errorf("Where(%q) = %+v, want %+v", in, got, want)
		}
	}
	tl.Scope = "refunds"
	if got := c.Hidden(tl, false, nil); got.Hidden() {
		t.Errorf("Hidden(scope from scopes_env) = %+v, want offered", got)
	}
}

// TestFileErrors has one case per validation error path. Each error must
// carry the file and the line of the offending key, say what to do, and
// never repeat an inline secret.
func TestFileErrors(t *testing.T) {
	t.Parallel()
	const svc = "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: bearer, env: CRM_TOKEN}\n"
	const tool = "tools:\n  - name: t1\n    description: Do it.\n    service: crm\n    method: GET\n    path: /x\n"
	const secret = "sk-live-LEAKCHECK-0123456789abcdef"
	tests := []struct {
		name, body string
		line       int
		want       string
	}{
		{"unknown top key", svc + "tool: []\n", 5, `unknown top-level key "tool" (did you mean "tools"?)`},
		{"unknown service key", "services:\n  crm:\n    base_url: https://c.example\n    alow: [x]\n    auth: {type: none}\n", 4, `unknown key "alow" (did you mean "allow"?)`},
		{"unknown auth key", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: bearer, env: X, nmae: Y}\n", 4, `services.crm.auth: unknown key "nmae"`},
		{"unknown tool key", svc + tool + "    descripton: x\n", 11, `tools[0]: unknown key "descripton" (did you mean "description"?)`},
		{"wrong type list", "services:\n  crm:\n    base_url: https://c.example\n    allow: GET /**\n    auth: {type: none}\n", 4, "services.crm.allow must be a list"},
		{"wrong type bool", svc + "    call_api: no please\n", 5, "services.crm.call_api must be true or false"},
		{"wrong type int", svc + "    max_response_bytes: lots\n", 5, "must be a whole number"},
		{"wrong type duration", svc + "    timeout: 30\n", 5, "must be a duration like 30s"},
		{"duplicate key", svc + "    docs: a\n    docs: b\n", 6, `key "docs" is written twice`},
		{"tools not a list", svc + "tools: {a: 1}\n", 5, "tools must be a list"},
		{"tool unknown service", svc + strings.Replace(tool, "service: crm", "service: billing", 1), 8, `service "billing" is not defined`},
		{"tool no service", svc + strings.Replace(tool, "    service: crm\n", "", 1), 6, "service is missing"},
		{"tool no description", svc + strings.Replace(tool, "    description: Do it.\n", "", 1), 6, "description is missing"},
		{"tool bad name", svc + strings.Replace(tool, "name: t1", "name: send quote", 1), 6, "1-64 letters"},
		{"tool long name", svc + strings.Replace(tool, "name: t1", "name: "+strings.Repeat("a", 65), 1), 6, "1-64 letters"},
		{"tool named call_api", svc + strings.Replace(tool, "name: t1", "name: call_api", 1), 6, "already taken (by keyveil)"},
		{"tool named list_services", svc + strings.Replace(tool, "name: t1", "name: list_services", 1), 6, "already taken (by keyveil)"},
		{"duplicate tool", svc + tool + strings.Replace(tool, "tools:\n", "", 1), 11, `tool "t1": the name is already taken`},
		{"bad method", svc + strings.Replace(tool, "method: GET", "method: FETCH", 1), 9, `method "FETCH" is not one of`},
		{"path without slash", svc + strings.Replace(tool, "path: /x", "path: x", 1), 10, `must begin with "/"`},
		{"unbalanced open", svc + strings.Replace(tool, "path: /x", "path: /x/{id", 1), 10, `"{" without its "}"`},
		{"unbalanced close", svc + strings.Replace(tool, "path: /x", "path: /x/id}", 1), 10, `"}" without its "{"`},
		{"nested braces", svc + strings.Replace(tool, "path: /x", "path: /x/{a{b}}", 1), 10, `"{" without its "}"`},
		{"param not input", svc + strings.Replace(tool, "path: /x", "path: /x/{id}", 1), 6, "path parameter {id} is not an input"},
		{"param not required", svc + strings.Replace(tool, "path: /x", "path: /x/{id}", 1) + "    input: {type: object, properties: {id: {type: string}}}\n", 11, "must be in input.required"},
		{"param object", svc + strings.Replace(tool, "path: /x", "path: /x/{id}", 1) + "    input: {type: object, properties: {id: {type: object}}, required: [id]}\n", 11, "must be a string, number or integer"},
		{"dot segment", svc + strings.Replace(tool, "path: /x", "path: /x/../y", 1), 10, `"." or ".." segment`},
		{"query in path", svc + strings.Replace(tool, "path: /x", "path: /x?a=1", 1), 10, "must not contain a query"},
		{"adjacent params", svc + strings.Replace(tool, "path: /x", "path: /x/{a}{b}", 1), 10, "right after another parameter"},
		{"input not object", svc + tool + "    input: {type: string}\n", 11, "type: object"},
		{"input not mapping", svc + tool + "    input: [a]\n", 11, "must be a JSON Schema object"},
		{"input bad pattern", svc + tool + "    input: {type: object, properties: {a: {type: string, pattern: \"([\"}}}\n", 11, "not a usable JSON Schema"},
		{"required not property", svc + tool + "    input: {type: object, required: [a]}\n", 11, `required "a" is not among the properties`},
		{"bad scope", svc + tool + "    scope: a b\n", 11, "scope must be one word"},
		{"bad confirm fallback", svc + tool + "    confirm_fallback: maybe\n", 11, "confirm_fallback must be"},
		{"mapping unknown input", svc + tool + "    mapping: {a: query}\n", 11, `mapping names "a"`},
		{"mapping bad place", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: cookie}\n", 12, "in must be path, query, header, body or whole_body"},
		{"mapping auth header", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: header, name: Authorization}}\n", 12, "cannot be set by the model"},
		{"mapping range header", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: header, name: Range}}\n", 12, "header Range cannot be set by the model: it asks for a slice"},
		{"mapping if-range header", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: header, name: if-range}}\n", 12, "header if-range cannot be set by the model"},
		{"mapping method override header", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: header, name: X-HTTP-Method-Override}}\n", 12, "another method"},
		{"mapping url rewrite header", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: header, name: X-Original-URL}}\n", 12, "another path"},
		{"mapping CGI-folded key header", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: header, name: X-API-Key, env: K}\n" + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: header, name: X_API_KEY}}\n", 12, "reads as X-Api-Key on CGI and WSGI servers"},
		{"mapping CGI-folded proxy authorization", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: header, name: proxy_authorization}}\n", 12, "reads as Proxy-Authorization on CGI"},
		{"mapping _method query", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: query, name: _method}}\n", 12, "query parameter _method makes many servers run the request as another method"},
		{"default mapping reaches _method", svc + tool + "    input: {type: object, properties: {_method: {type: string}}}\n", 11, "input _method: query parameter _method"},
		{"mapping auth query", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: query, name: key, env: K}\n" + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: {in: query, name: key}}\n", 12, "carries the service's key"},
		{"default mapping reaches auth query", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: query, name: key, env: K}\n" + tool + "    input: {type: object, properties: {key: {type: string}}}\n", 11, "input key: query parameter key carries the service's key"},
		{"body on GET", svc + tool + "    input: {type: object, properties: {a: {type: string}}}\n    mapping: {a: body}\n", 12, "GET requests have no body"},
		{"secret as env", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: bearer, env: " + secret + "}\n", 4, "looks like a secret written inline"},
		{"github token as env", "services:\n  crm:\n    base_url: https://c.example\n    auth:\n      type: bearer\n      env: ghp_LEAKCHECKabcdefghijklmnop0123456789\n", 6, "looks like a secret written inline"},
		{"secret in header", svc + "    headers: {X-Token: " + secret + "}\n", 5, "looks like a secret written inline"},
		{"authorization header", svc + "    headers: {Authorization: Bearer x}\n", 5, "use auth"},
		{"secret as client secret env", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: oauth2_client_credentials, token_url: https://a.example/t, client_id_env: ID, client_secret_env: " + secret + "}\n", 4, "looks like a secret written inline"},
		{"oauth2 without token url", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: oauth2_client_credentials, client_id_env: ID, client_secret_env: SECRET}\n", 4, "needs token_url"},
		{"oauth2 plain http token url", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: oauth2_client_credentials, token_url: http://a.example/t, client_id_env: ID, client_secret_env: SECRET}\n", 4, "use https"},
		{"oauth2 with env", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: oauth2_client_credentials, env: X, token_url: https://a.example/t, client_id_env: ID, client_secret_env: SECRET}\n", 4, "client_secret_env"},
		{"key_as on bearer", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: bearer, env: X, key_as: username}\n", 4, "key_as is only for auth type basic"},
		{"key_as unknown", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: basic, env: X, key_as: both}\n", 4, `key_as "both" is not known`},
		{"key_as username with username_env", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: basic, env: X, key_as: username, username_env: U}\n", 4, "remove it"},
		{"openapi without operations", svc + "    openapi: spec.yaml\n", 5, "openapi needs operations"},
		{"operations without openapi", svc + "    operations: [a]\n", 5, "operations needs openapi"},
		{"scopes_env is the key", svc + "    scopes_env: CRM_TOKEN\n", 5, "scopes_env must name its own variable"},
		{"unknown auth type", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: token, env: X}\n", 4, `auth type "token" is not known`},
		// A key pasted where a key name or a word belongs is not repeated
		// either; the line still points at it.
		{"secret as auth key", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: bearer, env: X, " + secret + "}\n", 4, "unknown key (a value that looks like a secret, not shown)"},
		{"secret as top key", svc + secret + ": 1\n", 5, "unknown top-level key (a value that looks like a secret, not shown)"},
		{"secret as empty service", "services:\n  " + secret + ":\n", 2, "service (a value that looks like a secret, not shown) is empty"},
		{"secret as auth type", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: " + secret + ", env: X}\n", 4, "auth type (a value that looks like a secret, not shown) is not known"},
		{"secret as key_as", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: basic, env: X, key_as: " + secret + "}\n", 4, "key_as (a value that looks like a secret, not shown)"},
		{"secret as oauth scope", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: oauth2_client_credentials, token_url: https://a.example/t, client_id_env: ID, client_secret_env: SECRET, scopes: [\"Bearer " + secret + "\"]}\n", 4, "auth scopes: (a value that looks like a secret, not shown)"},
		{"secret as header name", svc + "    headers: {\"Bearer " + secret + "\": x}\n", 5, "header name (a value that looks like a secret, not shown)"},
		{"secret in deny_headers", svc + "    deny_headers: [\"Bearer " + secret + "\"]\n", 5, "deny_headers: (a value that looks like a secret, not shown)"},
		{"secret as allow rule", svc + "    allow: [" + secret + "]\n", 5, "allow rule (a value that looks like a secret, not shown)"},
		{"secret as tool service", svc + strings.Replace(tool, "service: crm", "service: "+secret, 1), 8, "service (a value that looks like a secret, not shown) is not defined"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := loadErrorAt(t, tc.body, tc.line, tc.want)
			for _, leak := range []string{secret, strings.ToLower(secret), "ghp_LEAKCHECK"} {
				if strings.Contains(err.Error(), leak) {
					t.Errorf("Load(%q) error quotes the inline secret: %v", tc.body, err)
				}
			}
		})
	}
}

func TestToolNamingEnvService(t *testing.T) {
	t.Parallel()
	// A tool may use the zero-config service "api" that the environment
	// defines; LoadFile alone, which has no environment, refuses it.
	p := writeFile(t, "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: none}\ntools:\n  - {name: ping, description: Ping., service: api, method: GET, path: /ping}\n")
	if _, err := Load(p, lookupMap(map[string]string{"MCP_API_BASE_URL": "https://a.example"})); err != nil {
		t.Errorf("Load with MCP_API_BASE_URL: %v", err)
	}
	if _, err := LoadFile(p); err == nil || !strings.Contains(err.Error(), `service "api" is not defined`) {
		t.Errorf("LoadFile = %v, want the undefined service named", err)
	}
}

func TestAddTools(t *testing.T) {
	t.Parallel()
	c, err := Load(writeFile(t, issueExample), lookupMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	ok := Tool{Name: "get_quote", Description: "Read a quote.", Service: "crm", Method: "get", Path: "/quotes/{id}", Origin: "crm.json: operation getQuote"}
	ok.Input = mustSchema(t, `{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`)
	if err := c.AddTools([]Tool{ok}); err != nil {
		t.Fatalf("AddTools(get_quote): %v", err)
	}
	if len(c.Tools) != 2 || c.Tools[1].Method != "GET" || c.Tools[1].Template().String() != "/quotes/{id}" {
		t.Errorf("Tools after AddTools = %+v", c.Tools)
	}
	clash := ok
	clash.Origin = "other.json: operation x"
	err = c.AddTools([]Tool{clash})
	if err == nil || !strings.Contains(err.Error(), "already taken (by crm.json: operation getQuote)") {
		t.Errorf("AddTools(clash) = %v, want the first origin named", err)
	}
	if len(c.Tools) != 2 {
		t.Errorf("a failed AddTools added tools: %d", len(c.Tools))
	}
}

// TestAddResolvedTools checks that AddResolvedTools leaves out resolving
// the input schema, and only that: the other checks still refuse.
func TestAddResolvedTools(t *testing.T) {
	t.Parallel()
	badPattern := `{"type":"object","properties":{"id":{"type":"string","pattern":"(unclosed"}},"required":["id"]}`
	good := `{"type":"object","properties":{"id":{"type":"string"}},"required":["id"]}`
	tests := []struct {
		name     string
		service  string
		input    string
		resolved bool
		want     string // "" : accepted
	}{
		{"AddTools resolves", "crm", badPattern, false, "input is not a usable JSON Schema"},
		{"AddResolvedTools does not", "crm", badPattern, true, ""},
		{"AddResolvedTools checks the service", "nope", good, true, `service "nope" is not defined`},
		{"AddResolvedTools checks path parameters", "crm", `{"type":"object","properties":{}}`, true, "path parameter {id} is not an input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(writeFile(t, issueExample), lookupMap(nil))
			if err != nil {
				t.Fatal(err)
			}
			tl := Tool{Name: "get_quote", Description: "Read a quote.", Service: tc.service, Method: "GET", Path: "/quotes/{id}", Input: mustSchema(t, tc.input)}
			add := c.AddTools
			if tc.resolved {
				add = c.AddResolvedTools
			}
			err = add([]Tool{tl})
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("add(%s) = %v, want it accepted", tc.input, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("add(%s) = %v, want %q", tc.input, err, tc.want)
			}
		})
	}
}

func TestExamplesLoad(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../examples/*.yaml")
	if err != nil || len(files) < 3 {
		t.Fatalf("examples: %v, %v; want at least three", files, err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			t.Parallel()
			c, err := Load(f, lookupMap(nil))
			if err != nil {
				t.Fatalf("Load(%s): %v", f, err)
			}
			body, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(body), "What the model can do") || !strings.Contains(string(body), "What it cannot do") {
				t.Errorf("%s lacks the comment saying what the model can and cannot do", f)
			}
			if len(c.Services) == 0 {
				t.Errorf("%s: no services", f)
			}
		})
	}
}

// TestFileErrorsAllAtOnce checks that one Load reports decoding and
// validation problems together, in line order, each once.
func TestFileErrorsAllAtOnce(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `services:
  crm:
    base_url: https://crm.example.com/api
    auth: { type: bearer, env: sk-live-LEAKCHECK0123456789abcdef }
    alow: ["GET /**"]
    timeout: soon
tools:
  - name: send_quote_followup
    description: Send a follow-up.
    service: cmr
    method: POST
    path: /quotes/{quote_id/followups
`)
	_, err := Load(p, lookupMap(nil))
	if err == nil {
		t.Fatal("Load = nil error")
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		lines = append(lines, strings.SplitN(strings.TrimPrefix(l, p+":"), ":", 2)[0])
	}
	if diff := cmp.Diff([]string{"4", "5", "6", "10", "12"}, lines); diff != "" {
		t.Errorf("error lines (-want +got):\n%s\n%v", diff, err)
	}
	if strings.Contains(err.Error(), "LEAKCHECK") {
		t.Errorf("error quotes the inline secret: %v", err)
	}
}
