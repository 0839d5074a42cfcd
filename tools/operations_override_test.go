package tools

import (
	"strings"
	"testing"
)

// TestOperationWholeBodyMethodOverride gives a declared POST tool whose
// whole_body input is an open object (what the OpenAPI loader makes of a
// requestBody schema) a top-level _method field. Laravel reads a JSON
// body's _method as the request's method, so {"_method":"DELETE"} would
// run a DELETE the tool never declared; call_api refuses the same body, and
// so must every declared tool. A _method deeper in the body is data.
func TestOperationWholeBodyMethodOverride(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, nil)
	cfg := loadConfig(t, `
services:
  crm:
    base_url: `+srv.URL+`/api
    auth: { type: none }
    allow: ["POST /quotes"]
tools:
  - name: create_quote
    description: Create a quote.
    service: crm
    method: POST
    path: /quotes
    input:
      type: object
      properties:
        quote: { type: object }
      required: [quote]
    mapping:
      quote: whole_body
`)
	cs := connect(t, Deps{Config: cfg, Client: testClient(t)}, protocolVersions[1])
	tests := []struct {
		name  string
		quote map[string]any
		sent  bool
	}{
		{"plain", map[string]any{"title": "Q"}, true},
		{"nested _method is data", map[string]any{"meta": map[string]any{"_method": "DELETE"}}, true},
		{"_method", map[string]any{"title": "Q", "_method": "DELETE"}, false},
		{"_METHOD", map[string]any{"_METHOD": "delete"}, false},
	}
	for _, tc := range tests {
		before := len(srv.requests())
		res := call(t, cs, "create_quote", map[string]any{"quote": tc.quote})
		sent := len(srv.requests()) > before
		if sent != tc.sent || res.IsError == tc.sent {
			t.Errorf("%s: sent %v, error %v (%s), want sent %v", tc.name, sent, res.IsError, text(res), tc.sent)
		}
		if !tc.sent && !strings.Contains(text(res), "_method") {
			t.Errorf("%s: refusal %q does not name _method", tc.name, text(res))
		}
	}
}
