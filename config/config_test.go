package config

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

func lookupMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadFromEnv(t *testing.T) {
	t.Parallel()
	c, err := Load("", lookupMap(map[string]string{
		"MCP_API_BASE_URL": "https://api.example.com/v2/",
		"MCP_API_AUTH":     "header:X-API-Key",
		"MCP_API_ALLOW":    "GET /**, POST /quotes/*/followups",
		"MCP_API_SCOPES":   "quotes:read, quotes:write",
		"MCP_API_TIMEOUT":  "5s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.Service("api")
	if !ok {
		t.Fatal(`Service("api") not found`)
	}
	want := Service{
		Name:             "api",
		BaseURL:          "https://api.example.com/v2",
		Auth:             AuthList{{Type: AuthHeader, Name: "X-API-Key", Env: "MCP_API_KEY"}},
		Allow:            []string{"GET /**", "POST /quotes/*/followups"},
		Timeout:          5 * time.Second,
		MaxResponseBytes: DefaultMaxResponseBytes,
		CallAPI:          true,
		// Guardrail defaults (guard.go).
		IdempotencyHeader: DefaultIdempotencyHeader,
		IdempotencyWindow: DefaultIdempotencyWindow,
		ConfirmMethods:    DefaultConfirmMethods,
	}
	if diff := cmp.Diff(want, s, cmpopts.IgnoreUnexported(Service{}, TLS{})); diff != "" {
		t.Errorf("service (-want +got):\n%s", diff)
	}
	if got := len(s.Rules()); got != 2 {
		t.Errorf("len(Rules()) = %d, want 2", got)
	}
	if diff := cmp.Diff([]string{"quotes:read", "quotes:write"}, c.Scopes); diff != "" {
		t.Errorf("Scopes (-want +got):\n%s", diff)
	}
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load("", lookupMap(map[string]string{"MCP_API_BASE_URL": "http://127.0.0.1:8080"}))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Services[0]
	if len(s.Auth) != 1 || s.Auth[0].Type != AuthBearer || s.Auth[0].Env != "MCP_API_KEY" || s.Auth.Describe() != "bearer" || !slices.Equal(s.Auth.Headers(), []string{"Authorization"}) {
		t.Errorf("default auth = %+v, want bearer from MCP_API_KEY", s.Auth)
	}
	if len(s.Allow) != 1 || s.Allow[0] != DefaultAllow {
		t.Errorf("default allow = %v, want [%s]", s.Allow, DefaultAllow)
	}
	if s.Timeout != DefaultTimeout {
		t.Errorf("default timeout = %v", s.Timeout)
	}
}

func TestLoadEnvErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string // substring of the error
	}{
		{"no base url", map[string]string{}, "MCP_API_BASE_URL is not set"},
		{"plain http", map[string]string{"MCP_API_BASE_URL": "http://api.example.com"}, "use https"},
		{"ftp", map[string]string{"MCP_API_BASE_URL": "ftp://api.example.com"}, "not allowed"},
		{"relative", map[string]string{"MCP_API_BASE_URL": "/v1"}, "absolute URL"},
		{"query", map[string]string{"MCP_API_BASE_URL": "https://a.example/?key=x"}, "query"},
		{"userinfo", map[string]string{"MCP_API_BASE_URL": "https://u:p@a.example/"}, "user name"},
		{"bad auth", map[string]string{"MCP_API_BASE_URL": "https://a.example", "MCP_API_AUTH": "token"}, "MCP_API_AUTH"},
		{"header without name", map[string]string{"MCP_API_BASE_URL": "https://a.example", "MCP_API_AUTH": "header:"}, "needs a name"},
		{"key as auth", map[string]string{"MCP_API_BASE_URL": "https://a.example", "MCP_API_AUTH": "Bearer sk-live-LEAKCHECK0123456789abcdef"}, "MCP_API_AUTH: (a value that looks like a secret, not shown) is not an auth scheme"},
		{"bad rule", map[string]string{"MCP_API_BASE_URL": "https://a.example", "MCP_API_ALLOW": "GET"}, "MCP_API_ALLOW"},
		{"bad timeout", map[string]string{"MCP_API_BASE_URL": "https://a.example", "MCP_API_TIMEOUT": "soon"}, "MCP_API_TIMEOUT"},
		{"bad cap", map[string]string{"MCP_API_BASE_URL": "https://a.example", "MCP_API_MAX_RESPONSE_BYTES": "-1"}, "MCP_API_MAX_RESPONSE_BYTES"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load("", lookupMap(tc.env))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Load(%v) error = %v, want it to contain %q", tc.env, err, tc.want)
			}
		})
	}
}

// TestLoadAsksOnlyForItsOwnVariables guards the package's promise that it
// never sees a secret: Load must not look up MCP_API_KEY or any other name
// outside its own list.
func TestLoadAsksOnlyForItsOwnVariables(t *testing.T) {
	t.Parallel()
	var asked []string
	_, _ = Load("", func(k string) (string, bool) {
		asked = append(asked, k)
		if k == "MCP_API_BASE_URL" {
			return "https://a.example", true
		}
		return "", false
	})
	for _, k := range asked {
		if !strings.HasPrefix(k, "MCP_API_") || strings.Contains(k, "KEY") || strings.Contains(k, "USERNAME") {
			t.Errorf("Load looked up %q", k)
		}
	}
	if len(asked) == 0 {
		t.Error("Load looked up nothing")
	}
}

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "keyveil.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadErrorAt loads body as a services file and returns its error, failing
// the test unless one of the error's lines contains want and points at
// the file's line (PATH:LINE: ...).
func loadErrorAt(t *testing.T, body string, line int, want string) error {
	t.Helper()
	p := writeFile(t, body)
	_, err := Load(p, lookupMap(nil))
	if err == nil {
		t.Fatalf("Load(%q) = nil error, want %q", body, want)
	}
	var got string
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.Contains(l, want) {
			got = l
			break
		}
	}
	if got == "" {
		t.Fatalf("Load(%q) error = %v, want a line containing %q", body, err, want)
	}
	if prefix := p + ":" + strconv.Itoa(line) + ":"; !strings.HasPrefix(got, prefix) {
		t.Errorf("Load(%q) error line = %q, want prefix %q", body, got, prefix)
	}
	return err
}

func TestLoadFileDesignExample(t *testing.T) {
	t.Parallel()
	p := writeFile(t, `
services:
  crm:
    base_url: https://crm.example.com/api/v2
    auth: { type: header, name: X-API-Key, env: CRM_API_KEY }  # bearer | header | query | basic | none
    allow: ["GET /**", "POST /quotes/*/followups"]
`)
	c, err := Load(p, lookupMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	s, ok := c.Service("crm")
	if !ok || s.Auth[0].Env != "CRM_API_KEY" || !slices.Equal(s.Auth.Headers(), []string{"X-API-Key"}) || len(s.Rules()) != 2 {
		t.Errorf("crm = %+v", s)
	}
	if c.File != p {
		t.Errorf("File = %q, want %q", c.File, p)
	}
}

func TestLoadFileAndEnvTogether(t *testing.T) {
	t.Parallel()
	p := writeFile(t, "services:\n  crm:\n    base_url: https://crm.example.com\n    auth: {type: bearer, env: CRM_TOKEN}\n")
	c, err := Load(p, lookupMap(map[string]string{"MCP_API_BASE_URL": "https://a.example"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Services) != 2 || c.Services[0].Name != "api" || c.Services[1].Name != "crm" {
		t.Errorf("services = %+v, want api and crm, sorted", c.Services)
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, body, want string }{
		{"unknown key", "services:\n  crm:\n    base_url: https://c.example\n    alow: [x]\n    auth: {type: none}\n", "alow"},
		{"line number", "services:\n  crm:\n    base_url: https://c.example\n    timeout: [1]\n    auth: {type: none}\n", "keyveil.yaml:4: services.crm.timeout must be a duration"},
		{"no services", "services: {}\n", "no services"},
		{"empty service", "services:\n  crm:\n", "empty"},
		{"bad name", "services:\n  CRM:\n    base_url: https://c.example\n    auth: {type: none}\n", "service name"},
		{"secret inline", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: bearer, env: sk-live-0123456789abcdef}\n", "environment variable name"},
		{"missing env", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: bearer}\n", "needs env"},
		{"missing auth", "services:\n  crm:\n    base_url: https://c.example\n", "auth type is missing"},
		{"not yaml", "services: [\n", "not valid YAML"},
		{"none with env", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: none, env: X}\n", "takes no env"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, tc.body)
			_, err := Load(p, lookupMap(nil))
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), p) {
				t.Errorf("Load(%q) error = %v, want the file name and %q", tc.body, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), "sk-live-0123456789abcdef") {
				t.Errorf("error quotes the inline secret: %v", err)
			}
		})
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for host, want := range map[string]bool{
		"localhost": true, "LOCALHOST": true, "127.0.0.1": true, "127.3.4.5": true, "::1": true, "[::1]": true,
		"localhost.example.com": false, "10.0.0.1": false, "example.com": false, "": false,
	} {
		if got := IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}
