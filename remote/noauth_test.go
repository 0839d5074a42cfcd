package remote

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/keys"
)

// TestClientsWithoutAKey: every step of an OAuth client's discovery gets
// a JSON answer that says there is no OAuth here and what to send
// instead, with or without ProtectAll; no path ever answers with Go's
// plain-text "404 page not found", and nothing of the request is echoed.
func TestClientsWithoutAKey(t *testing.T) {
	t.Parallel()
	open := start(t, 0, nil)
	all := start(t, 0, func(o *Options) { o.ProtectAll = true })
	key, _ := all.newKey(t, "k", nil, 0, keys.Rate{})
	tests := []struct {
		name       string
		e          *env
		method     string
		path       string
		hdr        http.Header
		wantStatus int
		wantWords  string
	}{
		{"protected resource metadata", open, "GET", "/.well-known/oauth-protected-resource", nil, 404, "does not use OAuth"},
		{"protected resource metadata for /mcp", open, "GET", "/.well-known/oauth-protected-resource/mcp", nil, 404, "does not use OAuth"},
		{"authorization server metadata", open, "GET", "/.well-known/oauth-authorization-server", nil, 404, "does not use OAuth"},
		{"openid configuration", open, "GET", "/.well-known/openid-configuration", nil, 404, "does not use OAuth"},
		{"dynamic client registration", open, "POST", "/register", nil, 404, "keyveil keys create"},
		{"token endpoint", open, "POST", "/token", nil, 404, "Authorization: Bearer KEY"},
		{"authorize", open, "GET", "/authorize?client_id=x", nil, 404, "does not use OAuth"},
		{"other path", open, "GET", "/admin/sk-test-LEAKCHECK", nil, 404, "serves MCP at /mcp"},
		{"healthz wrong method", open, "POST", "/healthz", nil, 405, "use GET /healthz"},
		{"protect all: metadata without a key", all, "GET", "/.well-known/oauth-protected-resource", nil, 404, "does not use OAuth"},
		{"protect all: register without a key", all, "POST", "/register", nil, 404, "does not use OAuth"},
		{"protect all: other path needs a key", all, "GET", "/admin", nil, 401, "missing API key"},
		{"protect all: other path with a key", all, "GET", "/admin", bearer(key), 404, "serves MCP at /mcp"},
		{"mcp without a key", open, "POST", "/mcp", nil, 401, "missing API key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := ""
			if tc.method == "POST" {
				body = "{}"
			}
			got := tc.e.do(t, tc.method, tc.path, tc.hdr, body)
			if got.status != tc.wantStatus {
				t.Fatalf("%s %s: status %d, want %d; body %q", tc.method, tc.path, got.status, tc.wantStatus, got.body)
			}
			if ct := got.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s %s: Content-Type %q, want application/json", tc.method, tc.path, ct)
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(got.body), &m); err != nil {
				t.Fatalf("%s %s: body %q is not JSON", tc.method, tc.path, got.body)
			}
			if !strings.Contains(got.body, tc.wantWords) {
				t.Errorf("%s %s: body %q does not say %q", tc.method, tc.path, got.body, tc.wantWords)
			}
			if tc.wantStatus == 404 && (m["error"] == nil || m["error_description"] == nil) {
				t.Errorf("%s %s: body %q is not an OAuth error (error, error_description)", tc.method, tc.path, got.body)
			}
			if strings.Contains(got.body, "LEAKCHECK") {
				t.Errorf("%s %s: body %q echoes the path", tc.method, tc.path, got.body)
			}
			if tc.wantStatus == 401 {
				ch := got.header.Get("WWW-Authenticate")
				if !strings.HasPrefix(ch, `Bearer error="invalid_token", error_description="`) || strings.Contains(ch, "resource_metadata") {
					t.Errorf("%s %s: WWW-Authenticate %q, want invalid_token with a description and no resource_metadata", tc.method, tc.path, ch)
				}
			}
		})
	}
}

func TestWWWAuthenticate(t *testing.T) {
	tests := []struct{ in, want string }{
		{"missing API key", `Bearer error="invalid_token", error_description="missing API key"`},
		{"say \"hi\" \\ now\n", `Bearer error="invalid_token", error_description="say hi  now"`},
		{"café", `Bearer error="invalid_token", error_description="caf"`},
	}
	for _, tc := range tests {
		if got := wwwAuthenticate(tc.in); got != tc.want {
			t.Errorf("wwwAuthenticate(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
