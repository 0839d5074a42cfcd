package tools

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/internal/logtest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// fakeKey is the key tests plant in requests and responses; it must never
// reach a result, a log line or an audit record.
const fakeKey = "sk-test-LEAKCHECK-0123456789"

// protocolVersions are the versions real clients use: 2025-11-25 and the
// newest the SDK speaks ("2026-07-28" in go-sdk v1.8.0).
var protocolVersions = []string{"2025-11-25", mcp.SupportedProtocolVersions()[0]}

// loadConfig validates a services file written to a temporary directory,
// the same way main does.
func loadConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	path := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.LoadFile(path)
	if err != nil {
		t.Fatalf("config.LoadFile: %v", err)
	}
	return c
}

// request is what the test server saw.
type request struct {
	Method   string
	Path     string // escaped
	RawQuery string
	Header   http.Header
	Body     string
}

// recorder is an httptest server that records requests and answers with
// handler.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []request
}

func newRecorder(t *testing.T, handler http.HandlerFunc) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, request{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
		rec.mu.Unlock()
		if handler != nil {
			handler(w, r)
		}
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.reqs...)
}

// testClient returns a client with its own transport, closed with the test.
func testClient(t *testing.T) *http.Client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// syncBuffer collects the audit lines and logs the server goroutines
// write while the test reads them.
type syncBuffer struct{ logtest.Buffer }

// records decodes the audit lines written so far.
func (s *syncBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(s.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

// connect serves d's tools over in-memory transports and returns a client
// session speaking version. Both sessions close with the test.
func connect(t *testing.T, d Deps, version string) *mcp.ClientSession {
	t.Helper()
	return connectWith(t, d, version, nil)
}

// call runs call_api (or another tool) and returns the result.
func call(t *testing.T, cs *mcp.ClientSession, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: tool, Arguments: args})
	if err != nil {
		t.Fatalf("CallTool(%s, %v): protocol error %v", tool, args, err)
	}
	return res
}

// text joins a result's text contents.
func text(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

// firstText returns the first text content, which carries the JSON data.
func firstText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) == 0 {
		t.Fatal("result has no content")
	}
	tc, ok := res.Content[0].(*mcp.TextContent)
	if !ok {
		t.Fatalf("content[0] is %T, want *mcp.TextContent", res.Content[0])
	}
	return tc.Text
}

// structured returns a result's structuredContent as plain JSON values.
func structured(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("structuredContent %s is not an object: %v", b, err)
	}
	return m
}

// testLogger returns a debug logger writing into buf.
func testLogger(buf io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// checkOutputSchema fails unless res carries structuredContent that
// validates against the output schema the tool declares in tools/list:
// the check the TypeScript SDK client makes (it fails the call with
// -32600 otherwise) and the Go client does not.
func checkOutputSchema(t *testing.T, cs *mcp.ClientSession, tool string, res *mcp.CallToolResult) {
	t.Helper()
	var schema any
	for tl, err := range cs.Tools(context.Background(), nil) {
		if err != nil {
			t.Fatalf("tools/list: %v", err)
		}
		if tl.Name == tool {
			schema = tl.OutputSchema
		}
	}
	if schema == nil {
		t.Fatalf("tool %s declares no output schema", tool)
	}
	b, err := json.Marshal(schema)
	if err != nil {
		t.Fatal(err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("output schema of %s: %v", tool, err)
	}
	resolved, err := s.Resolve(nil)
	if err != nil {
		t.Fatalf("output schema of %s does not resolve: %v", tool, err)
	}
	if res.StructuredContent == nil {
		t.Fatalf("%s result has no structuredContent, but the tool has an output schema; text: %s", tool, text(res))
	}
	var instance any
	b, err = json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &instance); err != nil {
		t.Fatal(err)
	}
	if err := resolved.Validate(instance); err != nil {
		t.Errorf("%s structuredContent %s does not match its output schema: %v", tool, b, err)
	}
}
