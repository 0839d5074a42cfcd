package tools

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCallAPIJQ(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/issues":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`[{"number":1,"title":"a","state":"open","body":"long"},{"number":12345678901234567890,"title":"b","state":"closed","body":"long"}]`))
		case "/text":
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("not json"))
		case "/big":
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"s":"` + strings.Repeat("x", 100) + `"}`))
		}
	})
	cfg := loadConfig(t, "services:\n  api:\n    base_url: "+srv.URL+"\n    auth: {type: none}\n    max_response_bytes: 1000\n")
	cs := connect(t, Deps{Config: cfg, Client: testClient(t)}, protocolVersions[0])
	tests := []struct {
		name, path, filter string
		wantBody           any    // when the call succeeds
		wantErr            string // in the error text otherwise
		wantSent           bool
	}{
		{"fields", "/issues", "[.[] | {number, title, state}]", []any{
			map[string]any{"number": 1.0, "title": "a", "state": "open"},
			map[string]any{"number": 12345678901234567890.0, "title": "b", "state": "closed"},
		}, "", true},
		{"several outputs become an array", "/issues", ".[].title", []any{"a", "b"}, "", true},
		{"big integers stay exact", "/issues", ".[1].number | tostring", "12345678901234567890", "", true},
		{"no output is null", "/issues", "empty", nil, "", true},
		{"does not parse", "/issues", ".[", nil, "the jq filter does not parse", false},
		{"does not compile", "/issues", "nosuchfunc", nil, "the request was not sent", false},
		{"environment is empty", "/issues", "$ENV | length", 0.0, "", true},
		{"input is not allowed", "/issues", "input", nil, "does not compile", false},
		{"too long", "/issues", strings.Repeat(" ", maxJQFilter) + ".", nil, "keep it under", false},
		{"body not json", "/text", ".", nil, "not a complete JSON document", true},
		{"filter error", "/issues", ".[0] | keys | .[0] + 1", nil, "the jq filter failed", true},
		{"output over the cap", "/big", "[range(20)] | map(.s? // \"" + strings.Repeat("y", 80) + "\")", nil, "output is over 1000 bytes", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := len(srv.requests())
			res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": tc.path, "jq": tc.filter})
			sent := len(srv.requests()) > before
			if sent != tc.wantSent {
				t.Errorf("jq %q: request sent = %v, want %v", tc.filter, sent, tc.wantSent)
			}
			if tc.wantErr != "" {
				if !res.IsError || !strings.Contains(text(res), tc.wantErr) {
					t.Errorf("jq %q: result %q (isError %v), want an error containing %q", tc.filter, text(res), res.IsError, tc.wantErr)
				}
				return
			}
			if res.IsError {
				t.Fatalf("jq %q: error %s", tc.filter, text(res))
			}
			if diff := cmp.Diff(tc.wantBody, structured(t, res)["body"]); diff != "" {
				t.Errorf("jq %q: body (-want +got):\n%s", tc.filter, diff)
			}
		})
	}
}

// TestJQRunsAfterRedaction: a filter that transforms an echoed key gets
// the marker to transform, never the key, so no form of the key that the
// redactor would not know comes back.
func TestJQRunsAfterRedaction(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		b, _ := json.Marshal(map[string]string{"authorization": "Bearer " + fakeKey})
		_, _ = w.Write(b)
	})
	cfg := loadConfig(t, "services:\n  api:\n    base_url: "+srv.URL+"\n    auth: {type: none}\n")
	marker := []byte("[REDACTED:K]")
	d := Deps{Config: cfg, Client: testClient(t), Redact: func(p []byte) []byte { return bytes.ReplaceAll(p, []byte(fakeKey), marker) }}
	cs := connect(t, d, protocolVersions[0])
	shift := func(s string) string {
		b := []byte(s)
		for i := range b {
			b[i]++
		}
		return string(b)
	}
	reverse := func(s string) string {
		b := []byte(s)
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		return string(b)
	}
	tests := []struct {
		filter string
		leak   string // the key transformed the same way, which must not appear
		want   string // the marker transformed, which must
	}{
		{".authorization | ascii_downcase", strings.ToLower(fakeKey), "bearer [redacted:k]"},
		{".authorization | explode | map(. + 1) | implode", shift(fakeKey), shift("Bearer [REDACTED:K]")},
		// gojq has no @base32; @base64 and @uri are the encoders it has.
		{".authorization | @base64", base64.StdEncoding.EncodeToString([]byte("Bearer " + fakeKey))[:16], base64.StdEncoding.EncodeToString([]byte("Bearer [REDACTED:K]"))},
		{".authorization | ascii_upcase | @uri", url.QueryEscape(strings.ToUpper(fakeKey))[:10], "BEARER%20%5BREDACTED%3AK%5D"},
		{`.authorization | split("") | reverse | join("")`, reverse(fakeKey), reverse("Bearer [REDACTED:K]")},
		{".authorization | .[7:14]", fakeKey[:7], "[REDACT"},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/echo", "jq": tc.filter})
			got, _ := json.Marshal(res)
			if res.IsError {
				t.Fatalf("jq %q: error %s", tc.filter, text(res))
			}
			if bytes.Contains(got, []byte(tc.leak)) || bytes.Contains(bytes.ToLower(got), []byte("leakcheck")) {
				t.Errorf("jq %q: the key came back transformed: %s", tc.filter, got)
			}
			if body, _ := structured(t, res)["body"].(string); body != tc.want {
				t.Errorf("jq %q: body = %q, want %q", tc.filter, body, tc.want)
			}
		})
	}
}

// TestDeclaredToolResponseJQ: a declared tool's response.jq shapes every
// result, and its outputSchema describes the shaped body.
func TestDeclaredToolResponseJQ(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`[{"number":1,"title":"a","state":"open","body":"long text"}]`))
	})
	cfg := loadConfig(t, "services:\n  gh:\n    base_url: "+srv.URL+"\n    auth: {type: none}\n"+
		"tools:\n  - name: list_issues\n    description: List issues.\n    service: gh\n    method: GET\n    path: /issues\n"+
		"    response:\n      jq: \"[.[] | {number, title, state}]\"\n"+
		"      schema: {type: array, items: {type: object, properties: {number: {type: integer}, title: {type: string}, state: {type: string}}, required: [number, title, state]}}\n")
	cs := connect(t, Deps{Config: cfg, Client: testClient(t)}, protocolVersions[1])
	res := call(t, cs, "list_issues", map[string]any{})
	if res.IsError {
		t.Fatalf("list_issues: %s", text(res))
	}
	want := []any{map[string]any{"number": 1.0, "title": "a", "state": "open"}}
	if diff := cmp.Diff(want, structured(t, res)["body"]); diff != "" {
		t.Errorf("list_issues body (-want +got):\n%s", diff)
	}
	checkOutputSchema(t, cs, "list_issues", res)
}

// TestJQSaving measures what a filter saves on a 30-issue GitHub-style
// list (detect/testdata/issues-30.json) reduced to number, title and
// state: the body as call_api returns it (compact JSON) before and after.
// `go test -run JQSaving -v ./tools/` prints the README's figures.
func TestJQSaving(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../detect/testdata/issues-30.json")
	if err != nil {
		t.Fatal(err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		t.Fatal(err)
	}
	f, err := compileJQ("[.[] | {number, title, state}]")
	if err != nil {
		t.Fatal(err)
	}
	out, err := f.run(context.Background(), compact.Bytes(), 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	before, after := compact.Len(), len(out)
	// About 4 bytes of JSON per token is the usual rule of thumb.
	t.Logf("30 issues: %d bytes (~%d tokens) -> %d bytes (~%d tokens) with [.[] | {number, title, state}]: %.1f%% of the size",
		before, before/4, after, after/4, 100*float64(after)/float64(before))
	if after*10 > before {
		t.Errorf("filtered body is %d bytes of %d, want under a tenth", after, before)
	}
}
