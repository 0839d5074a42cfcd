package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestMain lets this test binary stand in for a leaky keyveil: one that
// calls the API with the key but hands the response to the model as is.
func TestMain(m *testing.M) {
	if os.Getenv("KEYVEIL_DEMO_FAKE") == "leaky" {
		serveLeaky()
		return
	}
	os.Exit(m.Run())
}

// TestDemo runs the demo against keyveil built from this tree.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds keyveil")
	}
	t.Parallel()
	bin := filepath.Join(t.TempDir(), "keyveil")
	build := exec.Command("go", "build", "-o", bin, "github.com/keyveil/keyveil")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build keyveil: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, bin, &out); err != nil {
		t.Fatalf("run(keyveil) = %v\ntranscript:\n%s", err, out.String())
	}
	for _, want := range []string{"list_services", "call_api", "status 200", "Bearer [REDACTED:MCP_API_KEY]", "refused:",
		"demo ok: the model saw the data, never the key"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("run(keyveil) transcript lacks %q:\n%s", want, out.String())
		}
	}
}

// TestDemoCatchesLeak checks that the demo fails, rather than saying ok,
// when the server it drives lets the key through.
func TestDemoCatchesLeak(t *testing.T) {
	t.Parallel()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(t.TempDir(), "leaky-keyveil")
	script := "#!/bin/sh\nKEYVEIL_DEMO_FAKE=leaky exec '" + self + "' \"$@\"\n"
	if err := os.WriteFile(wrapper, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err = run(ctx, wrapper, &out)
	if err == nil {
		t.Fatalf("run(leaky server) = nil, want an error\ntranscript:\n%s", out.String())
	}
	if msg := err.Error(); !strings.Contains(msg, "want [REDACTED:MCP_API_KEY]") && !strings.Contains(msg, "the key") {
		t.Errorf("run(leaky server) = %v, want an error about the key", err)
	}
	if strings.Contains(out.String(), "demo ok") {
		t.Errorf("run(leaky server) printed demo ok:\n%s", out.String())
	}
}

func TestFindKey(t *testing.T) {
	t.Parallel()
	const key = "sk-test-LEAKCHECK-0123456789"
	tests := []struct {
		name, text, want string
	}{
		{"clean", "Bearer [REDACTED:MCP_API_KEY]", ""},
		{"raw", "token " + key + " end", "raw"},
		{"raw in other case", strings.ToUpper(key), "raw"},
		{"hex", "736b2d746573742d4c45414b434845434b2d30313233343536373839", "hex"},
		{"base64", "c2stdGVzdC1MRUFLQ0hFQ0stMDEyMzQ1Njc4OQ==", "base64"},
		{"base64 of the header", "QmVhcmVyIHNrLXRlc3QtTEVBS0NIRUNLLTAxMjM0NTY3ODk=", "base64 of the Authorization header"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := findKey(tc.text, key); got != tc.want {
				t.Errorf("findKey(%q) = %q, want %q", tc.text, got, tc.want)
			}
		})
	}
}

// serveLeaky serves list_services and call_api over stdio the naive way:
// the key goes out with the request and whatever comes back goes to the
// model.
func serveLeaky() {
	key, base := os.Getenv("MCP_API_KEY"), os.Getenv("MCP_API_BASE_URL")
	s := mcp.NewServer(&mcp.Implementation{Name: "leaky", Version: "0"}, nil)
	s.AddTool(&mcp.Tool{Name: "list_services", InputSchema: map[string]any{"type": "object"}},
		func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return &mcp.CallToolResult{StructuredContent: map[string]any{"services": []any{
				map[string]any{"name": "api", "base_url": base, "auth": "bearer", "allow": []string{"GET /**"}},
			}}, Content: []mcp.Content{&mcp.TextContent{Text: "api"}}}, nil
		})
	s.AddTool(&mcp.Tool{Name: "call_api", InputSchema: map[string]any{"type": "object"}},
		func(ctx context.Context, req *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			var in struct{ Method, Path string }
			if err := json.Unmarshal(req.Params.Arguments, &in); err != nil {
				return nil, err
			}
			hr, err := http.NewRequestWithContext(ctx, in.Method, base+in.Path, nil)
			if err != nil {
				return nil, err
			}
			hr.Header.Set("Authorization", "Bearer "+key)
			resp, err := http.DefaultClient.Do(hr)
			if err != nil {
				return nil, err
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				return nil, err
			}
			headers := map[string]string{}
			for k := range resp.Header {
				headers[k] = resp.Header.Get(k)
			}
			return &mcp.CallToolResult{
				StructuredContent: map[string]any{"status": resp.StatusCode, "headers": headers, "body": json.RawMessage(body), "truncated": false},
				Content:           []mcp.Content{&mcp.TextContent{Text: string(body)}},
			}, nil
		})
	_ = s.Run(context.Background(), &mcp.StdioTransport{})
}
