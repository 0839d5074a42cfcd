package tools

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/config"
)

// TestUpstreamRedactsBeforeCut pads a response so that max_response_bytes
// falls at every offset of the key: the key must be redacted whole and the
// cut moved before its marker, never leaving a piece of it (issue 8 item 1).
// Redact stands in for the Redactor: it replaces the whole key only.
func TestUpstreamRedactsBeforeCut(t *testing.T) {
	t.Parallel()
	const limit = 64
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(r.URL.Query().Get("pad") + fakeKey + " after"))
	})
	cfg := loadConfig(t, "services:\n  api:\n    base_url: "+srv.URL+"\n    auth: {type: none}\n    max_response_bytes: 64\n")
	d := Deps{
		Config:    cfg,
		Client:    testClient(t),
		Redact:    func(p []byte) []byte { return bytes.ReplaceAll(p, []byte(fakeKey), []byte("[REDACTED:K]")) },
		Lookahead: func() int { return len(fakeKey) },
	}
	cs := connect(t, d, protocolVersions[0])
	for j := 0; j <= len(fakeKey); j++ {
		res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/x",
			"query": map[string]any{"pad": strings.Repeat("p", limit-j)}})
		sc := structured(t, res)
		body, _ := sc["body"].(string)
		pad := strings.Repeat("p", limit-j)
		rest, ok := strings.CutPrefix(body, pad)
		if !ok || !strings.HasPrefix("[REDACTED:K] after", rest) || strings.Contains(body, fakeKey[:4]) {
			t.Errorf("offset %d: body %q, want the padding, then a prefix of the marker and what follows", j, body)
		}
		if len(body) > limit {
			t.Errorf("offset %d: body is %d bytes, more than %d", j, len(body), limit)
		}
		if whole := len(pad+"[REDACTED:K] after") <= limit; sc["truncated"] == whole {
			t.Errorf("offset %d: truncated = %v, want %v", j, sc["truncated"], !whole)
		}
	}
}

func TestSentTexts(t *testing.T) {
	t.Parallel()
	svc := config.Service{Headers: map[string]string{"X-Tenant": "operator-set"}}
	req, err := newRequest(t.Context(), config.Service{BaseURL: "https://h/api", Headers: svc.Headers},
		"POST", "/a%20b/c", "q=one&r=two+three", strings.NewReader(`{"k":"v\u00e9","n":[1,"s"]}`), http.Header{"X-Guess": {"guess-value"}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	sent, ok := sentTexts(req, svc)
	if !ok {
		t.Fatal("sentTexts could not read the body back")
	}
	for _, s := range sent {
		got[string(s)] = true
	}
	for _, tc := range []struct {
		text string
		want bool
	}{
		{"/api/a%20b/c", true},
		{"/api/a b/c", true},
		{"q=one&r=two+three", true},
		{"two three", true},
		{"guess-value", true},
		{"X-Guess: guess-value", true},
		{`{"k":"v\u00e9","n":[1,"s"]}`, true},
		{"vé", true},
		{"s", true},
		{"operator-set", false},
	} {
		if got[tc.text] != tc.want {
			t.Errorf("sentTexts holds %q: %v, want %v (all: %v)", tc.text, got[tc.text], tc.want, got)
		}
	}
}

func TestShorten(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"ab\u00e9cd", 3, "ab…"},
		{"error: [REDACTED:MCP_API_KEY] refused", 12, "error: …"},
		{"error: [REDACTED:MCP_API_KEY] refused", 29, "error: [REDACTED:MCP_API_KEY]…"},
		{"error: [RED", 9, "error: …"},
		{"a [b] c", 5, "a [b]…"},
	} {
		if got := shorten(tc.in, tc.n); got != tc.want {
			t.Errorf("shorten(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}
