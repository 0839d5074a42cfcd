package remote

import (
	"net/http"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/keys"
)

func TestOriginAllowlist(t *testing.T) {
	t.Parallel()
	def := start(t, 0, nil)
	custom := start(t, 0, func(o *Options) {
		o.AllowedOrigins = []string{"https://agent.example.com", "http://dev.example.com:*"}
	})
	none := start(t, 0, func(o *Options) { o.AllowedOrigins = []string{} })
	tests := []struct {
		name       string
		e          *env
		origin     string
		wantStatus int
	}{
		{name: "no Origin (non-browser client)", e: def, origin: "", wantStatus: 200},
		{name: "localhost any port", e: def, origin: "http://localhost:6274", wantStatus: 200},
		{name: "localhost no port", e: def, origin: "http://localhost", wantStatus: 200},
		{name: "127.0.0.1 https", e: def, origin: "https://127.0.0.1:8443", wantStatus: 200},
		{name: "IPv6 loopback", e: def, origin: "http://[::1]:3000", wantStatus: 200},
		{name: "upper-case localhost", e: def, origin: "HTTP://LOCALHOST:3000", wantStatus: 200},
		{name: "foreign site", e: def, origin: "https://evil.example", wantStatus: 403},
		{name: "localhost lookalike", e: def, origin: "http://localhost.evil.example", wantStatus: 403},
		{name: "null origin", e: def, origin: "null", wantStatus: 403},
		{name: "file origin", e: def, origin: "file://", wantStatus: 403},
		{name: "port not a number", e: def, origin: "http://localhost:abc", wantStatus: 403},
		{name: "user info", e: def, origin: "http://evil@localhost:3000", wantStatus: 403},
		{name: "path", e: def, origin: "http://localhost:3000/x", wantStatus: 403},
		{name: "custom exact", e: custom, origin: "https://agent.example.com", wantStatus: 200},
		{name: "custom exact, explicit default port", e: custom, origin: "https://agent.example.com:443", wantStatus: 200},
		{name: "custom exact, other port", e: custom, origin: "https://agent.example.com:8443", wantStatus: 403},
		{name: "custom exact, other scheme", e: custom, origin: "http://agent.example.com", wantStatus: 403},
		{name: "custom any port", e: custom, origin: "http://dev.example.com:5173", wantStatus: 200},
		{name: "custom list replaces the default", e: custom, origin: "http://localhost:3000", wantStatus: 403},
		{name: "empty list refuses every browser", e: none, origin: "http://localhost:3000", wantStatus: 403},
		{name: "empty list still serves non-browsers", e: none, origin: "", wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key, _ := tc.e.newKey(t, "k", nil, 0, keys.Rate{})
			hdr := bearer(key)
			if tc.origin != "" {
				hdr.Set("Origin", tc.origin)
			}
			got := tc.e.initialize(t, hdr)
			if got.status != tc.wantStatus {
				t.Fatalf("POST /mcp with Origin %q: status %d, want %d; body %q", tc.origin, got.status, tc.wantStatus, got.body)
			}
			switch {
			case tc.wantStatus == 403:
				if code, _ := rpcErrorBody(t, got.body); code != -32003 {
					t.Errorf("403 body code = %d, want -32003", code)
				}
				if acao := got.header.Get("Access-Control-Allow-Origin"); acao != "" {
					t.Errorf("refused origin got Access-Control-Allow-Origin %q", acao)
				}
			case tc.origin != "":
				if acao := got.header.Get("Access-Control-Allow-Origin"); acao != tc.origin {
					t.Errorf("Access-Control-Allow-Origin = %q, want %q", acao, tc.origin)
				}
			}
		})
	}
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	e := start(t, 0, nil)
	preflight := func(origin string) response {
		return e.do(t, http.MethodOptions, "/mcp", http.Header{
			"Origin":                         {origin},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"authorization, content-type, mcp-session-id"},
		}, "")
	}
	got := preflight("http://localhost:6274")
	if got.status != http.StatusNoContent {
		t.Fatalf("preflight from an allowed origin without a key: status %d, want 204; body %q", got.status, got.body)
	}
	if h := got.header.Get("Access-Control-Allow-Headers"); !strings.Contains(h, "authorization") {
		t.Errorf("Access-Control-Allow-Headers = %q, want the requested headers", h)
	}
	if h := got.header.Get("Access-Control-Expose-Headers"); !strings.Contains(h, "Mcp-Session-Id") || !strings.Contains(h, "Retry-After") {
		t.Errorf("Access-Control-Expose-Headers = %q, want Mcp-Session-Id and Retry-After", h)
	}
	if got := preflight("https://evil.example"); got.status != http.StatusForbidden {
		t.Errorf("preflight from a foreign origin: status %d, want 403", got.status)
	}
}

// TestHostCheck: a DNS-rebinding page reaches the loopback listener under
// its own name; only loopback names and AllowedHosts get through.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	def := start(t, 0, nil)
	proxied := start(t, 0, func(o *Options) { o.AllowedHosts = []string{"mcp.example.com"} })
	tests := []struct {
		name       string
		e          *env
		host       string
		wantStatus int
	}{
		{name: "loopback IP", e: def, host: "", wantStatus: 200},
		{name: "localhost", e: def, host: "localhost:8787", wantStatus: 200},
		{name: "rebinding name", e: def, host: "evil.example:8787", wantStatus: 403},
		{name: "proxy name refused by default", e: def, host: "mcp.example.com", wantStatus: 403},
		{name: "proxy name allowed", e: proxied, host: "mcp.example.com", wantStatus: 200},
		{name: "proxy name with port allowed", e: proxied, host: "mcp.example.com:443", wantStatus: 200},
		{name: "other name still refused", e: proxied, host: "evil.example", wantStatus: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			key, _ := tc.e.newKey(t, "k", nil, 0, keys.Rate{})
			hdr := bearer(key)
			if tc.host != "" {
				hdr.Set("Host", tc.host)
			}
			if got := tc.e.initialize(t, hdr); got.status != tc.wantStatus {
				t.Errorf("POST /mcp with Host %q: status %d, want %d; body %q", tc.host, got.status, tc.wantStatus, got.body)
			}
			if got := tc.e.do(t, http.MethodGet, "/healthz", hdr, ""); got.status != tc.wantStatus {
				t.Errorf("GET /healthz with Host %q: status %d, want %d", tc.host, got.status, tc.wantStatus)
			}
		})
	}
}

func TestNewOriginPolicyRefusesBadEntries(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"localhost", "https://a.example/path", "ftp://a.example", "https://", "https://a.example?x=1", "*"} {
		if _, err := newOriginPolicy([]string{bad}); err == nil {
			t.Errorf("newOriginPolicy([%q]) error = nil, want an error", bad)
		}
	}
}
