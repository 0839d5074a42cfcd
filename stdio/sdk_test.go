package stdio

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/internal/logtest"
)

// TestWithheldMessageKeepsSession runs a real mcp.Server over the
// Transport. A tool sends a progress notification whose redaction would
// break its JSON, so the Transport withholds it and fails the Write with
// codeRejected; jsonrpc2 treats that code (its ErrRejected) as "this
// message only", any other error as a broken connection. The session must
// answer the tool's call and the next one. If the go-sdk changes the code,
// the next call goes unanswered and this test fails.
func TestWithheldMessageKeepsSession(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	h := &harness{t: t, in: pw, out: newRecorder(), logs: &logtest.Buffer{}, done: make(chan error, 1)}
	tr := &Transport{
		In:  pr,
		Out: h.out,
		// A key with a quote in it: redacting it breaks the JSON text.
		Redact: func(p []byte) []byte { return bytes.ReplaceAll(p, []byte(fakeKey), []byte(`"`)) },
		Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
	}
	server := mcp.NewServer(&mcp.Implementation{Name: "stdio-withheld", Version: "v0.0.1"}, nil)
	notified := make(chan error, 1)
	mcp.AddTool(server, &mcp.Tool{Name: "leaky_progress", Description: "Reports progress that names the key."},
		func(ctx context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			notified <- req.Session.NotifyProgress(ctx, &mcp.ProgressNotificationParams{ProgressToken: "p1", Progress: 1, Message: "working with " + fakeKey})
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "progress sent"}}}, nil, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Returns its text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	go func() { h.done <- server.Run(context.Background(), tr) }()
	t.Cleanup(func() {
		pw.Close()
		select {
		case <-h.done:
		case <-time.After(waitLimit):
			t.Errorf("server.Run did not return after input closed")
		}
	})

	h.begin(eraLegacy)
	h.send(callTool(eraLegacy, 2, "leaky_progress", nil))
	if r := h.out.response(t, "2"); r.Error != nil || !strings.Contains(string(r.Result), "progress sent") {
		t.Fatalf("leaky_progress = %s, error %+v; want its result", r.Result, r.Error)
	}
	select {
	case err := <-notified:
		var we *jsonrpc.Error
		if !errors.As(err, &we) || we.Code != codeRejected {
			t.Errorf("NotifyProgress of a message redaction breaks = %v; want the transport's rejection (code %d)", err, codeRejected)
		}
	case <-time.After(waitLimit):
		t.Fatal("the tool never reported its notification")
	}
	h.send(callTool(eraLegacy, 3, "echo", map[string]any{"text": "still here"}))
	if r := h.out.response(t, "3"); r.Error != nil || !strings.Contains(string(r.Result), "still here") {
		t.Errorf("echo after a withheld message = %s, error %+v; want an answer: the session must go on", r.Result, r.Error)
	}
	if h.out.contains("notifications/progress") {
		t.Errorf("the withheld notification was written")
	}
	h.out.check(t)
}

// TestSDKErrorCodes pins the two go-sdk codes the Transport speaks
// without being able to import them (they live in the SDK's
// internal/jsonrpc2): ErrServerClosing, which it sends for a call after
// Stop, and ErrRejected, which tells jsonrpc2 a failed Write broke one
// message and not the connection. It reads them from the SDK's source in
// the module cache, so an SDK upgrade that changes either fails here
// rather than in a session.
func TestSDKErrorCodes(t *testing.T) {
	t.Parallel()
	// go test puts its own go command first on the PATH.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/modelcontextprotocol/go-sdk").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/modelcontextprotocol/go-sdk: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "internal", "jsonrpc2", "wire.go"))
	if err != nil {
		t.Fatalf("reading the go-sdk's jsonrpc2 error codes: %v", err)
	}
	tests := []struct {
		name string
		ours int64
	}{
		{"ErrServerClosing", codeServerClosing},
		{"ErrRejected", codeRejected},
	}
	for _, tc := range tests {
		m := regexp.MustCompile(tc.name + `\s*=\s*NewError\((-?\d+),`).FindSubmatch(src)
		if m == nil {
			t.Errorf("the go-sdk no longer declares jsonrpc2.%s = NewError(code, …); check what stdio relies on", tc.name)
			continue
		}
		if got, _ := strconv.ParseInt(string(m[1]), 10, 64); got != tc.ours {
			t.Errorf("go-sdk jsonrpc2.%s has code %d, stdio uses %d; update stdio's constant", tc.name, got, tc.ours)
		}
	}
}
