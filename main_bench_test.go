package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/stdio"
)

// BenchmarkCallAPI compares, in one run, a direct Go HTTP GET to a loopback
// server with the same GET made through keyveil in-process: the go-sdk
// client over pipes, the stdio transport with the redactor, the call_api
// handler and the credentials transport. The difference is what keyveil
// adds per call (scripts/bench.sh measures it through the real binary too).
func BenchmarkCallAPI(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"Q-1","total":1200,"currency":"EUR"}`)
	}))
	defer srv.Close()

	b.Run("direct", func(b *testing.B) {
		client := &http.Client{Transport: &http.Transport{}}
		for b.Loop() {
			resp, err := client.Get(srv.URL + "/quotes/1")
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})

	// The floor: a bare go-sdk server whose one tool returns a constant,
	// over the same pipes and stdio transport, with no HTTP call. What
	// "keyveil" costs above direct+floor is keyveil's own work.
	b.Run("sdk-floor", func(b *testing.B) {
		ctx := context.Background()
		s := mcp.NewServer(&mcp.Implementation{Name: "floor", Version: "0"}, nil)
		s.AddTool(&mcp.Tool{Name: "noop", InputSchema: map[string]any{"type": "object"}},
			func(context.Context, *mcp.CallToolRequest) (*mcp.CallToolResult, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: `{"status":200}`}}}, nil
			})
		cr, sw := io.Pipe()
		sr, cw := io.Pipe()
		go func() { _ = s.Run(ctx, &stdio.Transport{In: sr, Out: sw}) }()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil).
			Connect(ctx, &mcp.IOTransport{Reader: cr, Writer: cw}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		params := &mcp.CallToolParams{Name: "noop", Arguments: map[string]any{}}
		for b.Loop() {
			if _, err := cs.CallTool(ctx, params); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("keyveil", func(b *testing.B) {
		b.Setenv("MCP_API_KEY", fakeKey)
		b.Setenv("MCP_API_BASE_URL", srv.URL)
		a, err := load(&options{}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		cr, sw := io.Pipe()
		sr, cw := io.Pipe()
		go func() {
			_ = a.newServer(nil, nil).Run(ctx, &stdio.Transport{In: sr, Out: sw, Redact: a.red.Redact})
		}()
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "0"}, nil).
			Connect(ctx, &mcp.IOTransport{Reader: cr, Writer: cw}, &mcp.ClientSessionOptions{ProtocolVersion: "2025-11-25"})
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		params := &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"method": "GET", "path": "/quotes/1"}}
		for b.Loop() {
			res, err := cs.CallTool(ctx, params)
			if err != nil || res.IsError {
				b.Fatalf("call_api: %v %v", err, res)
			}
		}
	})
}

// BenchmarkColdStart spawns the built binary and measures the time to the
// initialize reply and to the tools/list reply, as a host experiences it.
func BenchmarkColdStart(b *testing.B) {
	for b.Loop() {
		cmd := exec.Command(binPath)
		cmd.Env = []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=http://127.0.0.1:1", "KEYVEIL_LOG_LEVEL=warn"}
		in, _ := cmd.StdinPipe()
		outPipe, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		out := bufio.NewReader(outPipe)
		fmt.Fprintln(in, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}}`)
		if _, err := out.ReadBytes('\n'); err != nil {
			b.Fatal(err)
		}
		fmt.Fprintln(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
		fmt.Fprintln(in, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
		if _, err := out.ReadBytes('\n'); err != nil {
			b.Fatal(err)
		}
		_ = in.Close()
		_ = cmd.Wait()
	}
}
