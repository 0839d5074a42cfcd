package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// downstream is the fake API most tests call: a few endpoints below
// /api/v2 that answer JSON, text, binary and nothing.
func downstream(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/api/v2/quotes/1":
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("X-Request-Id", "req-1")
		w.Header().Set("Set-Cookie", "session=abc")
		w.Header().Set("WWW-Authenticate", `Bearer realm="crm"`)
		w.Header().Set("X-RateLimit-Remaining", "41")
		w.Header().Set("X-Internal-Debug", "yes")
		io.WriteString(w, `{"id": 1, "name": "Acme <b>", "total": 12345678901234567890}`)
	case "/api/v2/notes/1":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hello, world")
	case "/api/v2/logo.png":
		w.Header().Set("Content-Type", "image/png")
		w.Write([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"))
	case "/api/v2/empty":
		w.WriteHeader(http.StatusNoContent)
	case "/api/v2/quotes/1/followups":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"created": true}`)
	case "/api/v2/missing":
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error": "no such quote"}`)
	default:
		http.NotFound(w, r)
	}
}

// crmConfig is one service at srv below /api/v2, with a header key, a
// follow-up write rule and an operator-denied header.
func crmConfig(srvURL string) string {
	return fmt.Sprintf(`
services:
  crm:
    base_url: %s/api/v2
    auth: { type: header, name: X-API-Key, env: CRM_API_KEY }
    allow: ["GET /**", "POST /quotes/*/followups"]
    deny_headers: [X-Debug]
    headers: { X-Static: operator }
`, srvURL)
}

// twoServicesConfig adds a query-auth service to crmConfig.
func twoServicesConfig(srvURL string) string {
	return crmConfig(srvURL) + fmt.Sprintf(`
  billing:
    base_url: %s/billing
    auth: { type: query, name: api_key, env: BILLING_API_KEY }
`, srvURL)
}

func TestCallAPISuccess(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       map[string]any
		wantStatus float64
		wantBody   any
		wantHeader map[string]any
		wantReq    request // Header checked only for the keys set here
	}{
		{
			name:       "json",
			args:       map[string]any{"method": "GET", "path": "/quotes/1", "query": map[string]any{"expand": "lines", "id": []any{"1", "2"}, "limit": 10}},
			wantStatus: 200,
			wantBody:   map[string]any{"id": float64(1), "name": "Acme <b>", "total": 12345678901234567890.0},
			wantHeader: map[string]any{"Content-Type": "application/json; charset=utf-8", "X-Request-Id": "req-1", "X-Ratelimit-Remaining": "41", "Content-Length": "60"},
			wantReq:    request{Method: "GET", Path: "/api/v2/quotes/1", RawQuery: "expand=lines&id=1&id=2&limit=10", Header: http.Header{"X-Static": {"operator"}}},
		},
		{
			name:       "text",
			args:       map[string]any{"method": "get", "path": "/notes/1", "headers": map[string]any{"Accept": "text/plain"}},
			wantStatus: 200,
			wantBody:   "hello, world",
			wantHeader: map[string]any{"Content-Type": "text/plain; charset=utf-8", "Content-Length": "12"},
			wantReq:    request{Method: "GET", Path: "/api/v2/notes/1", Header: http.Header{"Accept": {"text/plain"}}},
		},
		{
			name:       "binary",
			args:       map[string]any{"method": "GET", "path": "/logo.png"},
			wantStatus: 200,
			wantBody:   map[string]any{"binary": true, "content_type": "image/png", "size": float64(16)},
			wantHeader: map[string]any{"Content-Type": "image/png", "Content-Length": "16"},
			wantReq:    request{Method: "GET", Path: "/api/v2/logo.png"},
		},
		{
			name:       "empty body",
			args:       map[string]any{"method": "GET", "path": "/empty"},
			wantStatus: 204,
			wantBody:   "",
			wantHeader: map[string]any{},
			wantReq:    request{Method: "GET", Path: "/api/v2/empty"},
		},
		{
			name:       "head allowed by a GET rule",
			args:       map[string]any{"method": "HEAD", "path": "/quotes/1"},
			wantStatus: 200,
			wantBody:   "",
			wantHeader: map[string]any{"Content-Type": "application/json; charset=utf-8", "X-Request-Id": "req-1", "X-Ratelimit-Remaining": "41", "Content-Length": "60"},
			wantReq:    request{Method: "HEAD", Path: "/api/v2/quotes/1"},
		},
		{
			name:       "json body on an allowed write",
			args:       map[string]any{"method": "POST", "path": "/quotes/1/followups", "body": map[string]any{"note": "call back"}},
			wantStatus: 201,
			wantBody:   map[string]any{"created": true},
			wantHeader: map[string]any{"Content-Type": "application/json", "Content-Length": "17"},
			wantReq:    request{Method: "POST", Path: "/api/v2/quotes/1/followups", Header: http.Header{"Content-Type": {"application/json"}}, Body: `{"note":"call back"}`},
		},
		{
			name:       "string body sent as is",
			args:       map[string]any{"method": "POST", "path": "/quotes/1/followups", "body": "call back"},
			wantStatus: 201,
			wantBody:   map[string]any{"created": true},
			wantHeader: map[string]any{"Content-Type": "application/json", "Content-Length": "17"},
			wantReq:    request{Method: "POST", Path: "/api/v2/quotes/1/followups", Header: http.Header{"Content-Type": {"text/plain; charset=utf-8"}}, Body: "call back"},
		},
		{
			name:       "string body with the model's content type",
			args:       map[string]any{"method": "POST", "path": "/quotes/1/followups", "body": "<note/>", "headers": map[string]any{"content-type": "application/xml"}},
			wantStatus: 201,
			wantBody:   map[string]any{"created": true},
			wantHeader: map[string]any{"Content-Type": "application/json", "Content-Length": "17"},
			wantReq:    request{Method: "POST", Path: "/api/v2/quotes/1/followups", Header: http.Header{"Content-Type": {"application/xml"}}, Body: "<note/>"},
		},
	}
	for _, version := range protocolVersions {
		for _, tc := range tests {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				srv := newRecorder(t, downstream)
				cs := connect(t, Deps{Config: loadConfig(t, crmConfig(srv.URL)), Client: testClient(t)}, version)
				res := call(t, cs, "call_api", tc.args)
				if res.IsError {
					t.Fatalf("call_api(%v) isError, text %q", tc.args, text(res))
				}
				got := structured(t, res)
				want := map[string]any{"status": tc.wantStatus, "headers": tc.wantHeader, "body": tc.wantBody, "truncated": false}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("call_api(%v) structuredContent (-want +got):\n%s", tc.args, diff)
				}
				var fromText map[string]any
				if err := json.Unmarshal([]byte(firstText(t, res)), &fromText); err != nil {
					t.Fatalf("text content is not JSON: %v", err)
				}
				if diff := cmp.Diff(got, fromText); diff != "" {
					t.Errorf("text content differs from structuredContent (-structured +text):\n%s", diff)
				}
				reqs := srv.requests()
				if len(reqs) != 1 {
					t.Fatalf("server saw %d requests, want 1", len(reqs))
				}
				r := reqs[0]
				if r.Method != tc.wantReq.Method || r.Path != tc.wantReq.Path || r.RawQuery != tc.wantReq.RawQuery || r.Body != tc.wantReq.Body {
					t.Errorf("server saw %s %s?%s body %q, want %s %s?%s body %q",
						r.Method, r.Path, r.RawQuery, r.Body, tc.wantReq.Method, tc.wantReq.Path, tc.wantReq.RawQuery, tc.wantReq.Body)
				}
				for k, v := range tc.wantReq.Header {
					if diff := cmp.Diff(v, r.Header.Values(k)); diff != "" {
						t.Errorf("request header %s (-want +got):\n%s", k, diff)
					}
				}
			})
		}
	}
}

// TestCallAPIKeepsNumbers checks a large integer survives as written in
// the text content (no float64 rounding).
func TestCallAPIKeepsNumbers(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, downstream)
	cs := connect(t, Deps{Config: loadConfig(t, crmConfig(srv.URL)), Client: testClient(t)}, protocolVersions[1])
	res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/quotes/1"})
	if txt := firstText(t, res); !strings.Contains(txt, "12345678901234567890") || !strings.Contains(txt, "Acme <b>") {
		t.Errorf("call_api text = %s, want the number 12345678901234567890 and unescaped <b>", txt)
	}
}

func TestCallAPIRefusals(t *testing.T) {
	t.Parallel()
	get := func(path string) map[string]any {
		return map[string]any{"service": "crm", "method": "GET", "path": path}
	}
	withHeaders := func(h map[string]any) map[string]any {
		a := get("/quotes/1")
		a["headers"] = h
		return a
	}
	tests := []struct {
		name     string
		args     map[string]any
		readOnly bool
		reason   string
		want     []string // substrings of the message
	}{
		{"absolute URL", get("https://evil.example/x"), false, "path", []string{"absolute URL", "/quotes/1"}},
		{"scheme only", get("http:/evil"), false, "path", []string{"absolute URL"}},
		{"absolute URL with a key in its query", get("https://evil.example/x?api_key=" + fakeKey), false, "path", []string{`"https://evil.example/x…"`}},
		{"path with a key in its query", get("/x?api_key=" + fakeKey), false, "path", []string{"query object"}},
		{"network path", get("//evil.example/x"), false, "path", []string{"another host"}},
		{"no leading slash", get("quotes/1"), false, "path", []string{`begin with "/"`}},
		{"backslash", get(`/quotes\1`), false, "path", []string{"backslash"}},
		{"encoded backslash", get("/quotes%5c1"), false, "path", []string{"backslash"}},
		{"dot dot", get("/quotes/../../admin"), false, "path", []string{`".."`}},
		{"encoded dot dot", get("/%2e%2e/admin"), false, "path", []string{`".."`}},
		{"double-encoded dot dot", get("/%252e%252e/admin"), false, "path", []string{`".."`}},
		{"dot", get("/./quotes"), false, "path", []string{`"."`}},
		{"question mark", get("/quotes?id=1"), false, "path", []string{"query object"}},
		{"fragment", get("/quotes#x"), false, "path", []string{"query object"}},
		{"control character", get("/quotes\x01"), false, "path", []string{"control character"}},
		{"authorization", withHeaders(map[string]any{"authorization": "Bearer x"}), false, "header", []string{"Authorization", "keyveil attaches itself", "X-Api-Key"}},
		{"AUTHORIZATION", withHeaders(map[string]any{"AUTHORIZATION": "Bearer x"}), false, "header", []string{"Authorization"}},
		{"proxy authorization", withHeaders(map[string]any{"Proxy-Authorization": "x"}), false, "header", []string{"Proxy-Authorization"}},
		{"cookie", withHeaders(map[string]any{"cookie": "a=b"}), false, "header", []string{"Cookie"}},
		{"service's own key header", withHeaders(map[string]any{"x-api-key": "k"}), false, "header", []string{"X-Api-Key", "crm service's key"}},
		{"operator-denied header", withHeaders(map[string]any{"x-debug": "1"}), false, "header", []string{"X-Debug", "denied by the operator"}},
		{"host", withHeaders(map[string]any{"Host": "evil.example"}), false, "header", []string{"Host"}},
		{"content length", withHeaders(map[string]any{"content-length": "5"}), false, "header", []string{"Content-Length"}},
		{"transfer encoding", withHeaders(map[string]any{"Transfer-Encoding": "chunked"}), false, "header", []string{"Transfer-Encoding"}},
		{"connection", withHeaders(map[string]any{"Connection": "close"}), false, "header", []string{"Connection"}},
		{"header value with newline", withHeaders(map[string]any{"X-Note": "a\r\nX-Injected: 1"}), false, "header", []string{"line break"}},
		{"bad header name", withHeaders(map[string]any{"X Note": "a"}), false, "header", []string{"not a valid HTTP header name"}},
		// A slice of an echoed request can start inside the key.
		{"range", withHeaders(map[string]any{"Range": "bytes=40-"}), false, "header", []string{"Range", "slice of the response", "whole resource"}},
		{"range lower case", withHeaders(map[string]any{"range": "bytes=0-3"}), false, "header", []string{"Range"}},
		{"if-range", withHeaders(map[string]any{"If-Range": "\"etag\""}), false, "header", []string{"If-Range", "slice"}},
		// Method override turns an allowed GET into a DELETE.
		{"x-http-method-override", withHeaders(map[string]any{"X-HTTP-Method-Override": "DELETE"}), false, "header", []string{"X-Http-Method-Override", "another method", "set method instead"}},
		{"x-http-method", withHeaders(map[string]any{"X-HTTP-Method": "DELETE"}), false, "header", []string{"X-Http-Method", "another method"}},
		{"x-method-override", withHeaders(map[string]any{"x-method-override": "PUT"}), false, "header", []string{"X-Method-Override"}},
		{"x_http_method_override", withHeaders(map[string]any{"X_HTTP_METHOD_OVERRIDE": "DELETE"}), false, "header", []string{"another method", "CGI"}},
		{"_method query parameter", map[string]any{"service": "crm", "method": "GET", "path": "/quotes/1", "query": map[string]any{"_method": "DELETE"}}, false, "query", []string{`"_method"`, "another method"}},
		{"_METHOD query parameter", map[string]any{"service": "crm", "method": "GET", "path": "/quotes/1", "query": map[string]any{"_METHOD": "DELETE"}}, false, "query", []string{"another method"}},
		{"_method JSON body field", map[string]any{"service": "crm", "method": "POST", "path": "/quotes/1/followups", "body": map[string]any{"_method": "DELETE"}}, false, "body", []string{"_method", "another method"}},
		{"_method form body field", map[string]any{"service": "crm", "method": "POST", "path": "/quotes/1/followups", "body": "note=hi&_method=DELETE", "headers": map[string]any{"Content-Type": "application/x-www-form-urlencoded"}}, false, "body", []string{"_method"}},
		{"encoded _method form field", map[string]any{"service": "crm", "method": "POST", "path": "/quotes/1/followups", "body": "%5Fmethod=DELETE"}, false, "body", []string{"_method"}},
		{"_method multipart part", map[string]any{"service": "crm", "method": "POST", "path": "/quotes/1/followups", "body": "--b\r\nContent-Disposition: form-data; name=\"_method\"\r\n\r\nDELETE\r\n--b--"}, false, "body", []string{"_method"}},
		// URL rewrite serves another path than the one checked.
		{"x-original-url", withHeaders(map[string]any{"X-Original-URL": "/admin"}), false, "header", []string{"X-Original-Url", "another path"}},
		{"x-rewrite-url", withHeaders(map[string]any{"X-Rewrite-URL": "/admin"}), false, "header", []string{"X-Rewrite-Url", "another path"}},
		// CGI and WSGI fold "_" onto "-" and case away.
		{"X_API_KEY", withHeaders(map[string]any{"X_API_KEY": "k"}), false, "header", []string{"X-Api-Key", "CGI", "crm service's key"}},
		{"x_api_key", withHeaders(map[string]any{"x_api_key": "k"}), false, "header", []string{"X-Api-Key", "crm service's key"}},
		{"X-API_Key", withHeaders(map[string]any{"X-API_Key": "k"}), false, "header", []string{"crm service's key"}},
		{"Proxy_Authorization", withHeaders(map[string]any{"Proxy_Authorization": "x"}), false, "header", []string{"Proxy-Authorization", "credentials"}},
		{"X_DEBUG", withHeaders(map[string]any{"X_DEBUG": "1"}), false, "header", []string{"X-Debug", "denied by the operator"}},
		// "*" must not span segments through an encoded slash.
		{"encoded slash spans a star", map[string]any{"service": "crm", "method": "POST", "path": "/quotes/1%2Fadmin/followups"}, false, "allow_rule", []string{"is not allowed"}},
		{"slash encoded twice", get("/quotes/1%252F2"), false, "path", []string{"more than once"}},
		{"fullwidth dots", get("/\uFF0E\uFF0E/admin"), false, "path", []string{"U+FF0E", `"."`}},
		{"encoded ideographic full stops", get("/%E3%80%82%E3%80%82/admin"), false, "path", []string{"U+3002"}},
		{"overlong dot", get("/%C0%AE%C0%AE/admin"), false, "path", []string{"not valid UTF-8"}},
		{"query auth param", map[string]any{"service": "billing", "method": "GET", "path": "/invoices", "query": map[string]any{"API_KEY": "x"}}, false, "query", []string{`"API_KEY"`, "billing service's key"}},
		{"query nested object", map[string]any{"service": "crm", "method": "GET", "path": "/quotes", "query": map[string]any{"f": map[string]any{"a": "b"}}}, false, "query", []string{"string or an array of strings"}},
		{"method not in allow rules", map[string]any{"service": "crm", "method": "POST", "path": "/quotes/1"}, false, "allow_rule", []string{"POST /quotes/1 is not allowed", "GET /**", "POST /quotes/*/followups"}},
		{"unknown method", map[string]any{"service": "crm", "method": "BREW", "path": "/quotes/1"}, false, "method", []string{`"BREW"`, "GET, HEAD, POST"}},
		{"trace", map[string]any{"service": "crm", "method": "TRACE", "path": "/quotes/1"}, false, "method", []string{`"TRACE"`}},
		{"read-only POST", map[string]any{"service": "crm", "method": "POST", "path": "/quotes/1/followups"}, true, "read_only", []string{"read-only mode", "GET and HEAD"}},
		{"unknown service", map[string]any{"service": "erp", "method": "GET", "path": "/x"}, false, "service", []string{`no service "erp"`, `"billing" and "crm"`}},
		{"service omitted with two services", map[string]any{"method": "GET", "path": "/x"}, false, "service", []string{"service is missing", `"billing" and "crm"`}},
		{"unknown argument", map[string]any{"service": "crm", "method": "GET", "path": "/x", "url": "https://h"}, false, "input", []string{`unknown argument "url"`}},
		{"method missing", map[string]any{"service": "crm", "path": "/x"}, false, "input", []string{"method is missing"}},
		{"path missing", map[string]any{"service": "crm", "method": "GET"}, false, "input", []string{"path is missing"}},
		{"path not a string", map[string]any{"service": "crm", "method": "GET", "path": 7}, false, "input", []string{"path must be a string"}},
	}
	for _, version := range protocolVersions {
		for _, tc := range tests {
			t.Run(version+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				srv := newRecorder(t, downstream)
				audit := &syncBuffer{}
				d := Deps{
					Config:   loadConfig(t, twoServicesConfig(srv.URL)),
					Client:   testClient(t),
					ReadOnly: tc.readOnly,
					Audit:    NewAuditor(audit),
				}
				cs := connect(t, d, version)
				res := call(t, cs, "call_api", tc.args)
				msg := text(res)
				if !res.IsError {
					t.Fatalf("call_api(%v) = %q, want a refusal", tc.args, msg)
				}
				// A refusal satisfies the output schema too: status 0
				// (no response) and the message as body.error.
				checkOutputSchema(t, cs, "call_api", res)
				if sc := structured(t, res); sc["status"] != float64(0) || fmt.Sprint(sc["body"]) != fmt.Sprint(map[string]any{"error": msg}) {
					t.Errorf("refusal structuredContent = %v, want status 0 and body.error %q", sc, msg)
				}
				for _, w := range tc.want {
					if !strings.Contains(msg, w) {
						t.Errorf("call_api(%v) message %q does not contain %q", tc.args, msg, w)
					}
				}
				if strings.Contains(msg, fakeKey) || strings.Contains(audit.String(), fakeKey) {
					t.Errorf("call_api(%v) refusal %q or its audit line %q carries the key", tc.args, msg, audit.String())
				}
				if n := len(srv.requests()); n != 0 {
					t.Errorf("a refused call reached the server %d times", n)
				}
				recs := audit.records(t)
				if len(recs) != 1 {
					t.Fatalf("%d audit records, want 1", len(recs))
				}
				if got, want := recs[0]["outcome"], "refused:"+tc.reason; got != want {
					t.Errorf("audit outcome = %v, want %v", got, want)
				}
				if got := recs[0]["error"]; got != msg && !strings.HasSuffix(fmt.Sprint(got), "…") {
					t.Errorf("audit error = %q, want the public message %q", got, msg)
				}
			})
		}
	}
}

// TestCallAPIOneServiceMayBeOmitted leaves service out when there is only
// one.
func TestCallAPIOneServiceMayBeOmitted(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, downstream)
	cs := connect(t, Deps{Config: loadConfig(t, crmConfig(srv.URL)), Client: testClient(t)}, protocolVersions[0])
	res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/notes/1"})
	if res.IsError {
		t.Fatalf("call_api without service: %s", text(res))
	}
}

// countingBody counts the bytes keyveil read from a response body.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c countingBody) Read(p []byte) (int, error) {
	n, err := c.ReadCloser.Read(p)
	c.n.Add(int64(n))
	return n, err
}

type countingTransport struct {
	base http.RoundTripper
	n    atomic.Int64
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(r)
	if err == nil {
		resp.Body = countingBody{resp.Body, &c.n}
	}
	return resp, err
}

func TestCallAPITruncates(t *testing.T) {
	t.Parallel()
	const size = 4 << 20
	tests := []struct {
		name        string
		contentType string
		fill        byte
		wantBinary  bool
	}{
		{"json returned as text", "application/json", '7', false},
		{"text", "text/plain", 'a', false},
		{"binary described", "application/octet-stream", 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				w.Header().Set("Content-Length", fmt.Sprint(size))
				chunk := bytes.Repeat([]byte{tc.fill}, 64<<10)
				for written := 0; written < size; written += len(chunk) {
					if _, err := w.Write(chunk); err != nil {
						return
					}
				}
			})
			cfg := fmt.Sprintf(`
services:
  big:
    base_url: %s
    auth: { type: none }
    max_response_bytes: 1024
`, srv.URL)
			ct := &countingTransport{base: &http.Transport{}}
			t.Cleanup(ct.base.(*http.Transport).CloseIdleConnections)
			audit := &syncBuffer{}
			cs := connect(t, Deps{Config: loadConfig(t, cfg), Client: &http.Client{Transport: ct}, Audit: NewAuditor(audit)}, protocolVersions[1])
			res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/big"})
			if res.IsError {
				t.Fatalf("call_api: %s", text(res))
			}
			if n := ct.n.Load(); n > 1025 {
				t.Errorf("read %d bytes of a %d-byte body, want at most cap+1 = 1025", n, size)
			}
			got := structured(t, res)
			if got["truncated"] != true {
				t.Errorf("truncated = %v, want true", got["truncated"])
			}
			switch body := got["body"].(type) {
			case string:
				if tc.wantBinary || len(body) != 1024 {
					t.Errorf("body is a string of %d bytes, want %s", len(body), map[bool]string{true: "a binary description", false: "1024 bytes"}[tc.wantBinary])
				}
			case map[string]any:
				want := map[string]any{"binary": true, "content_type": tc.contentType, "size": float64(size)}
				if diff := cmp.Diff(want, body); !tc.wantBinary || diff != "" {
					t.Errorf("body (-want +got):\n%s", diff)
				}
			default:
				t.Errorf("body is %T, want string or binary description", body)
			}
			if rb := audit.records(t)[0]["response_bytes"]; rb != float64(1024) {
				t.Errorf("audit response_bytes = %v, want 1024", rb)
			}
		})
	}
}

func TestCallAPITimeout(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	cfg := fmt.Sprintf(`
services:
  slow:
    base_url: %s
    auth: { type: none }
    timeout: 100ms
`, srv.URL)
	audit := &syncBuffer{}
	cs := connect(t, Deps{Config: loadConfig(t, cfg), Client: testClient(t), Audit: NewAuditor(audit)}, protocolVersions[1])
	res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/wait", "query": map[string]any{"token": fakeKey}})
	msg := text(res)
	if !res.IsError || !strings.Contains(msg, "the slow service did not answer within 100ms") {
		t.Errorf("call_api to a slow service = %q (isError %v), want a timeout message", msg, res.IsError)
	}
	if strings.Contains(msg, fakeKey) || strings.Contains(msg, srv.URL) {
		t.Errorf("timeout message %q leaks the URL or query", msg)
	}
	if got := audit.records(t)[0]["outcome"]; got != outcomeNetworkError {
		t.Errorf("audit outcome = %v, want %s", got, outcomeNetworkError)
	}
}

func TestCallAPIHTTPError(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, downstream)
	audit := &syncBuffer{}
	cs := connect(t, Deps{Config: loadConfig(t, crmConfig(srv.URL)), Client: testClient(t), Audit: NewAuditor(audit)}, protocolVersions[0])
	res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/missing"})
	if !res.IsError {
		t.Fatalf("call_api of a 404 isError = false, want true")
	}
	got := structured(t, res)
	if got["status"] != float64(404) || !cmp.Equal(got["body"], map[string]any{"error": "no such quote"}) {
		t.Errorf("call_api of a 404 = %v, want status 404 with the error body", got)
	}
	if msg := text(res); !strings.Contains(msg, "HTTP 404 Not Found") || !strings.Contains(msg, "check the path") {
		t.Errorf("call_api of a 404 text %q, want a hint naming the status and what to change", msg)
	}
	rec := audit.records(t)[0]
	if rec["outcome"] != outcomeHTTPError || rec["status"] != float64(404) {
		t.Errorf("audit = %v, want outcome http_error and status 404", rec)
	}
}

// TestCallAPIFiltersResponseHeaders drops cookies, challenges and any
// header not on the allowlist.
func TestCallAPIFiltersResponseHeaders(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/plain")
		h.Add("Set-Cookie", "session=abc")
		h.Add("Set-Cookie", "other=def")
		h.Set("WWW-Authenticate", "Basic realm=x")
		h.Set("Proxy-Authenticate", "Basic realm=y")
		h.Set("Authorization", "Bearer "+fakeKey)
		h.Set("X-Api-Key", fakeKey)
		h.Set("Location", "/api/v2/quotes/2")
		h.Set("Retry-After", "5")
		h.Set("ETag", `"v1"`)
		h.Set("RateLimit-Policy", "100;w=60")
		h.Set("X-Keyveil-Note", "n")
		h.Add("Link", "<a>; rel=next")
		h.Add("Link", "<b>; rel=last")
		io.WriteString(w, "ok")
	})
	cs := connect(t, Deps{Config: loadConfig(t, crmConfig(srv.URL)), Client: testClient(t)}, protocolVersions[1])
	res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/x"})
	got := structured(t, res)["headers"]
	want := map[string]any{
		"Content-Type":     "text/plain",
		"Content-Length":   "2",
		"Location":         "/api/v2/quotes/2",
		"Retry-After":      "5",
		"Etag":             `"v1"`,
		"Ratelimit-Policy": "100;w=60",
		"X-Keyveil-Note":   "n",
		"Link":             "<a>; rel=next, <b>; rel=last",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response headers (-want +got):\n%s", diff)
	}
	if txt := text(res); strings.Contains(txt, fakeKey) || strings.Contains(txt, "session=") {
		t.Errorf("result text %q carries a cookie or key", txt)
	}
}

func TestCallAPINetworkErrors(t *testing.T) {
	t.Parallel()
	closed := newRecorder(t, nil)
	closedURL := closed.URL
	closed.Close()
	untrusted := httptest.NewTLSServer(http.HandlerFunc(downstream))
	t.Cleanup(untrusted.Close)
	dnsFails := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host", Name: "crm.example", IsNotFound: true}}
	}}
	t.Cleanup(dnsFails.CloseIdleConnections)
	tests := []struct {
		name    string
		baseURL string
		client  *http.Client
		want    string
	}{
		{"connection refused", closedURL, nil, "refused the connection"},
		{"untrusted certificate", untrusted.URL, nil, "TLS handshake with the crm service failed"},
		{"host not found", closedURL, &http.Client{Transport: dnsFails}, "host name could not be resolved"},
		{"refused by the transport", closedURL, &http.Client{Transport: roundTripFunc(func(*http.Request) (*http.Response, error) {
			return nil, errors.New("origin http://127.0.0.1 is not allowed for any key")
		})}, "keyveil's transport stopped the request"},
		{"redirect policy", closedURL, &http.Client{
			Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				return &http.Response{StatusCode: 302, Header: http.Header{"Location": {"https://evil.example/?k=" + fakeKey}}, Body: http.NoBody, Request: r}, nil
			}),
			CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirect to another origin") },
		}, "keyveil's transport stopped the request"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			client := tc.client
			if client == nil {
				client = testClient(t)
			}
			logs := &syncBuffer{}
			audit := &syncBuffer{}
			d := Deps{
				Config: loadConfig(t, fmt.Sprintf(`
services:
  crm:
    base_url: %s/api/v2
    auth: { type: query, name: api_key, env: CRM_API_KEY }
`, tc.baseURL)),
				Client: client,
				Logger: testLogger(logs),
				Audit:  NewAuditor(audit),
			}
			cs := connect(t, d, protocolVersions[1])
			res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/quotes", "query": map[string]any{"q": fakeKey}})
			msg := text(res)
			if !res.IsError || !strings.Contains(msg, tc.want) {
				t.Errorf("call_api = %q (isError %v), want a message containing %q", msg, res.IsError, tc.want)
			}
			for _, leak := range []string{fakeKey, "127.0.0.1", "http://", "?", "q="} {
				if strings.Contains(msg, leak) {
					t.Errorf("network error message %q contains %q", msg, leak)
				}
			}
			if strings.Contains(logs.String(), fakeKey) || strings.Contains(audit.String(), fakeKey) {
				t.Errorf("the query value reached the log %q or the audit %q", logs.String(), audit.String())
			}
			if !strings.Contains(logs.String(), "call_api: request failed") {
				t.Errorf("log %q has no debug line with the private cause", logs.String())
			}
		})
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestCallAPIRedacts runs the Redact hook over the body and headers before
// they go into the result.
func TestCallAPIRedacts(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo.json":
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Request-Id", "id-"+fakeKey)
			fmt.Fprintf(w, `{"you_sent": %q}`, r.Header.Get("X-Echo"))
		default:
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, "bad key %s", fakeKey)
		}
	})
	redact := func(p []byte) []byte {
		return bytes.ReplaceAll(p, []byte(fakeKey), []byte("[REDACTED:CRM_API_KEY]"))
	}
	cfg := fmt.Sprintf(`
services:
  crm:
    base_url: %s
    auth: { type: none }
`, srv.URL)
	cs := connect(t, Deps{Config: loadConfig(t, cfg), Client: testClient(t), Redact: redact}, protocolVersions[1])
	tests := []struct {
		path     string
		wantBody any
		wantID   any
	}{
		{"/echo.json", map[string]any{"you_sent": "[REDACTED:CRM_API_KEY]"}, "id-[REDACTED:CRM_API_KEY]"},
		{"/text", "bad key [REDACTED:CRM_API_KEY]", nil},
	}
	for _, tc := range tests {
		res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": tc.path, "headers": map[string]any{"X-Echo": fakeKey}})
		if strings.Contains(text(res), fakeKey) {
			t.Errorf("call_api(%s) text %q contains the key", tc.path, text(res))
		}
		got := structured(t, res)
		if diff := cmp.Diff(tc.wantBody, got["body"]); diff != "" {
			t.Errorf("call_api(%s) body (-want +got):\n%s", tc.path, diff)
		}
		if id := got["headers"].(map[string]any)["X-Request-Id"]; id != tc.wantID {
			t.Errorf("call_api(%s) X-Request-Id = %v, want %v", tc.path, id, tc.wantID)
		}
	}
}

func TestCallAPIAudit(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, downstream)
	audit := &syncBuffer{}
	now := time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))
	d := Deps{
		Config:       loadConfig(t, crmConfig(srv.URL)),
		Client:       testClient(t),
		Audit:        NewAuditor(audit),
		Fingerprints: map[string]string{"crm": "a1b2c3d4"},
		Now:          func() time.Time { return now },
	}
	cs := connect(t, d, protocolVersions[0])
	call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/quotes/1", "query": map[string]any{"token": fakeKey, "page": "2"}})
	call(t, cs, "list_services", nil)
	call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/quotes/1?token=" + fakeKey})

	if strings.Contains(audit.String(), fakeKey) {
		t.Errorf("audit log carries a query value:\n%s", audit.String())
	}
	recs := audit.records(t)
	want := []map[string]any{
		{
			"time": "2026-03-01T11:00:00.123456789Z", "tool": "call_api", "service": "crm", "method": "GET",
			"path": "/quotes/1", "query_names": []any{"page", "token"}, "status": float64(200),
			"duration_ms": float64(0), "response_bytes": float64(60), "outcome": "ok", "key_fingerprint": "a1b2c3d4",
		},
		{"time": "2026-03-01T11:00:00.123456789Z", "tool": "list_services", "duration_ms": float64(0), "response_bytes": float64(0), "outcome": "ok"},
		{
			"time": "2026-03-01T11:00:00.123456789Z", "tool": "call_api", "service": "crm", "method": "GET",
			"path": "/quotes/1", "duration_ms": float64(0), "response_bytes": float64(0), "outcome": "refused:path",
			"key_fingerprint": "a1b2c3d4", "error": "path may not contain \"?\" or \"#\"; put query parameters in the query object instead, like {\"path\": \"/quotes\", \"query\": {\"page\": \"2\"}}",
		},
	}
	if diff := cmp.Diff(want, recs); diff != "" {
		t.Errorf("audit records (-want +got):\n%s", diff)
	}
}

// TestCallAPIRedirectNotFollowed explains each reason the transport gives
// for a redirect it returned instead of following.
func TestCallAPIRedirectNotFollowed(t *testing.T) {
	t.Parallel()
	tests := []struct {
		why, want string
	}{
		{"cross-origin", "keys go only to the service's own origin"},
		{"bad-location", "its Location could not be read"},
		{"outside-base-path", "it points outside the service's base URL"},
		{"not-allowed", "no allow rule of the service allows that method and path"},
		{"read-only", "keyveil is read-only"},
		{"something new", "keyveil follows only redirects a call could have made itself"},
	}
	for _, tc := range tests {
		t.Run(tc.why, func(t *testing.T) {
			t.Parallel()
			client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				h := http.Header{"Location": {"https://crm.example.com/admin"}, "X-Keyveil-Redirect-Not-Followed": {tc.why}}
				return &http.Response{StatusCode: http.StatusFound, Header: h, Body: http.NoBody, Request: r}, nil
			}), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			cs := connect(t, Deps{Config: loadConfig(t, crmConfig("https://crm.example.com")), Client: client}, protocolVersions[1])
			res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/quotes/1"})
			got := structured(t, res)
			wantHeaders := map[string]any{"Location": "https://crm.example.com/admin", "X-Keyveil-Redirect-Not-Followed": tc.why}
			if got["status"] != float64(302) || !cmp.Equal(got["headers"], wantHeaders) {
				t.Errorf("call_api = %v, want status 302 with headers %v", got, wantHeaders)
			}
			if msg := text(res); !strings.Contains(msg, "redirect that keyveil did not follow ("+tc.why+"): "+tc.want) {
				t.Errorf("call_api text %q does not explain the redirect with %q", msg, tc.want)
			}
		})
	}
}

// TestCallAPIPathEscaping checks what the server receives: the path
// appended to the base path, escapes inside a segment kept, unsafe bytes
// escaped.
func TestCallAPIPathEscaping(t *testing.T) {
	t.Parallel()
	srv := newRecorder(t, downstream)
	cs := connect(t, Deps{Config: loadConfig(t, crmConfig(srv.URL)), Client: testClient(t)}, protocolVersions[1])
	tests := []struct{ path, want string }{
		{"/files/a%2Fb", "/api/v2/files/a%2Fb"},
		{"/search/john doe", "/api/v2/search/john%20doe"},
		{"/v1/projects/p:run", "/api/v2/v1/projects/p:run"},
		{"/", "/api/v2/"},
	}
	for i, tc := range tests {
		call(t, cs, "call_api", map[string]any{"method": "GET", "path": tc.path})
		reqs := srv.requests()
		if len(reqs) != i+1 {
			t.Fatalf("call_api(%q) sent no request", tc.path)
		}
		if got := reqs[i].Path; got != tc.want {
			t.Errorf("call_api(%q) reached %q, want %q", tc.path, got, tc.want)
		}
	}
}
