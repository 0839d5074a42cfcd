package stdio

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/modelcontextprotocol/go-sdk/jsonrpc"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/internal/logtest"
)

const fakeKey = "sk-test-LEAKCHECK-0123456789"

// The two protocol eras real clients use: the initialize handshake, and the
// sessionless protocol where each call carries its version in _meta.
const (
	eraLegacy = "2025-11-25"
	eraNew    = "2026-07-28"
)

// waitLimit bounds every wait in these tests; nothing here should take more
// than a fraction of it.
const waitLimit = 10 * time.Second

// reply is the wire form of any message the transport writes.
type reply struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  string          `json:"method"`
	Result  json.RawMessage `json:"result"`
	Error   *rpcError       `json:"error"`
}

type rpcError struct {
	Code    int64  `json:"code"`
	Message string `json:"message"`
}

// recorder is the transport's Out. It records each Write call as one line
// and notes any call that is not exactly one whole line, or that overlaps
// another call.
type recorder struct {
	active  atomic.Int32
	overlap atomic.Bool

	mu      sync.Mutex
	lines   []string
	partial []string
	notify  chan struct{} // closed and replaced on every Write
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{})} }

func (r *recorder) Write(p []byte) (int, error) {
	if r.active.Add(1) > 1 {
		r.overlap.Store(true)
	}
	defer r.active.Add(-1)
	runtime.Gosched() // widen the window in which an overlapping Write would show

	r.mu.Lock()
	defer r.mu.Unlock()
	if n := len(p); n == 0 || p[n-1] != '\n' || bytes.IndexByte(p[:n-1], '\n') >= 0 {
		r.partial = append(r.partial, string(p))
	} else {
		r.lines = append(r.lines, string(p[:n-1]))
	}
	close(r.notify)
	r.notify = make(chan struct{})
	return len(p), nil
}

func (r *recorder) snapshot() ([]string, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines...), r.notify
}

// await waits until a written line satisfies match, and returns it.
func (r *recorder) await(t *testing.T, what string, match func(reply) bool) reply {
	t.Helper()
	deadline := time.After(waitLimit)
	for {
		lines, notify := r.snapshot()
		for _, l := range lines {
			var m reply
			if json.Unmarshal([]byte(l), &m) == nil && match(m) {
				return m
			}
		}
		select {
		case <-notify:
		case <-deadline:
			t.Fatalf("no %s written within %v; output:\n%s", what, waitLimit, strings.Join(lines, "\n"))
		}
	}
}

// response waits for the response whose id is the JSON text id.
func (r *recorder) response(t *testing.T, id string) reply {
	t.Helper()
	return r.await(t, "response with id "+id, func(m reply) bool {
		return m.Method == "" && string(m.ID) == id
	})
}

// check reports lines that are not valid JSON-RPC and Write calls that
// were not one whole line.
func (r *recorder) check(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, p := range r.partial {
		t.Errorf("Write(%q): not exactly one newline-terminated line", p)
	}
	if r.overlap.Load() {
		t.Errorf("Out.Write was called concurrently")
	}
	for _, l := range r.lines {
		var m reply
		if err := json.Unmarshal([]byte(l), &m); err != nil || m.JSONRPC != "2.0" {
			t.Errorf("output line %q is not a JSON-RPC message (err %v)", l, err)
		}
	}
}

func (r *recorder) contains(s string) bool {
	lines, _ := r.snapshot()
	return strings.Contains(strings.Join(lines, "\n"), s)
}

type echoIn struct {
	Text string `json:"text"`
}

// harness runs a real mcp.Server on a Transport and drives it with raw lines.
type harness struct {
	t       *testing.T
	in      *io.PipeWriter
	out     *recorder
	logs    *logtest.Buffer
	done    chan error    // receives Run's result
	started chan string   // a slow or stuck tool sends its name when it starts
	release chan struct{} // closed to let the slow tool return
}

// start connects a server with the test tools to tr, filling in In, Out and
// Logger, and runs it until the test ends.
func start(t *testing.T, tr *Transport) *harness {
	t.Helper()
	pr, pw := io.Pipe()
	h := &harness{
		t:       t,
		in:      pw,
		out:     newRecorder(),
		logs:    &logtest.Buffer{},
		done:    make(chan error, 1),
		started: make(chan string, 4),
		release: make(chan struct{}),
	}
	tr.In, tr.Out = pr, h.out
	tr.Logger = slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	server := mcp.NewServer(&mcp.Implementation{Name: "stdio-test", Version: "v0.0.1"}, nil)
	mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Returns its text."},
		func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
			return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
		})
	mcp.AddTool(server, &mcp.Tool{Name: "slow", Description: "Returns when the test releases it."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			h.started <- "slow"
			select {
			case <-h.release:
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "slow done"}}}, nil, nil
			case <-ctx.Done():
				return nil, nil, ctx.Err()
			}
		})
	mcp.AddTool(server, &mcp.Tool{Name: "stuck", Description: "Returns only when cancelled."},
		func(ctx context.Context, _ *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, any, error) {
			h.started <- "stuck"
			<-ctx.Done()
			return nil, nil, ctx.Err()
		})

	go func() { h.done <- server.Run(context.Background(), tr) }()
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
		pw.Close()
		select {
		case <-h.done:
		case <-time.After(waitLimit):
			t.Errorf("server.Run did not return after input closed")
		}
		if s := h.logs.String(); strings.Contains(s, fakeKey) {
			t.Errorf("logs contain the fake key:\n%s", s)
		}
	})
	return h
}

// send writes one raw line to the server's input.
func (h *harness) send(line string) {
	h.t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := io.WriteString(h.in, line+"\n")
		errc <- err
	}()
	select {
	case err := <-errc:
		if err != nil {
			h.t.Fatalf("writing input line: %v", err)
		}
	case <-time.After(waitLimit):
		h.t.Fatalf("input line not read within %v", waitLimit)
	}
}

// request builds a JSON-RPC request line for era; a nil id makes a
// notification. In the new era the call carries its protocol version in
// _meta and needs no initialize.
func request(era string, id any, method string, params map[string]any) string {
	if params == nil {
		params = map[string]any{}
	}
	if era == eraNew && id != nil {
		params["_meta"] = map[string]any{
			mcp.MetaKeyProtocolVersion:    eraNew,
			mcp.MetaKeyClientCapabilities: map[string]any{},
			mcp.MetaKeyClientInfo:         map[string]any{"name": "raw-test", "version": "0"},
		}
	}
	msg := map[string]any{"jsonrpc": "2.0", "method": method, "params": params}
	if id != nil {
		msg["id"] = id
	}
	b, err := json.Marshal(msg)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func callTool(era string, id any, name string, args map[string]any) string {
	if args == nil {
		args = map[string]any{}
	}
	return request(era, id, "tools/call", map[string]any{"name": name, "arguments": args})
}

// begin opens the session the way a client of era does.
func (h *harness) begin(era string) {
	h.t.Helper()
	if era == eraNew {
		return
	}
	h.send(request(era, "init", "initialize", map[string]any{
		"protocolVersion": era,
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "raw-test", "version": "0"},
	}))
	if r := h.out.response(h.t, `"init"`); r.Error != nil {
		h.t.Fatalf("initialize: error %+v", r.Error)
	}
	h.send(request(era, nil, "notifications/initialized", nil))
}

// waitStarted waits for a tool to report that it is running.
func (h *harness) waitStarted(name string) {
	h.t.Helper()
	select {
	case got := <-h.started:
		if got != name {
			h.t.Fatalf("tool %q started, want %q", got, name)
		}
	case <-time.After(waitLimit):
		h.t.Fatalf("tool %q did not start within %v", name, waitLimit)
	}
}

// waitDone waits for server.Run to return and gives its result.
func (h *harness) waitDone() error {
	h.t.Helper()
	select {
	case err := <-h.done:
		h.done <- err // for Cleanup
		return err
	case <-time.After(waitLimit):
		h.t.Fatalf("server.Run did not return within %v", waitLimit)
		return nil
	}
}

func TestMalformedLineKeepsSession(t *testing.T) {
	t.Parallel()
	for _, era := range []string{eraLegacy, eraNew} {
		t.Run(era, func(t *testing.T) {
			t.Parallel()
			h := start(t, &Transport{})
			h.begin(era)

			h.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list" ` + fakeKey)
			got := h.out.response(t, "null")
			want := &rpcError{Code: jsonrpc.CodeParseError, Message: "Parse error: line is not valid JSON"}
			if diff := cmp.Diff(want, got.Error); diff != "" {
				t.Errorf("answer to a malformed line (-want +got):\n%s", diff)
			}

			h.send(request(era, 2, "tools/list", nil))
			if r := h.out.response(t, "2"); r.Error != nil || !strings.Contains(string(r.Result), `"echo"`) {
				t.Errorf("tools/list after a malformed line = %s, error %+v; want the tool list", r.Result, r.Error)
			}
			h.send(callTool(era, 3, "echo", map[string]any{"text": "still here"}))
			if r := h.out.response(t, "3"); !strings.Contains(string(r.Result), "still here") {
				t.Errorf("tools/call echo after a malformed line = %s, error %+v", r.Result, r.Error)
			}
			if era == eraNew {
				h.send(request(era, 4, "server/discover", nil))
				if r := h.out.response(t, "4"); !strings.Contains(string(r.Result), eraNew) {
					t.Errorf("server/discover = %s, error %+v; want %s among the supported versions", r.Result, r.Error, eraNew)
				}
			}
			if h.out.contains(fakeKey) {
				t.Errorf("output quotes the malformed line")
			}
			h.out.check(t)
		})
	}
}

func TestInvalidLines(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		line     string
		wantID   string // JSON text of the id the answer carries
		wantCode int64
		wantMsg  string // substring of the error message
	}{
		{"truncated object", `{"jsonrpc":"2.0","id":9,"x":"` + fakeKey, "null", -32700, "not valid JSON"},
		{"binary", "\x00\xff\xfe" + fakeKey, "null", -32700, "not valid JSON"},
		{"two values", `{"jsonrpc":"2.0","id":9,"method":"ping"} {"x":"` + fakeKey + `"}`, "null", -32700, "not valid JSON"},
		{"wrong version", `{"jsonrpc":"1.0","id":7,"method":"ping","x":"` + fakeKey + `"}`, "7", -32600, `"jsonrpc" must be "2.0"`},
		{"no version", `{"id":"abc","method":"ping","x":"` + fakeKey + `"}`, `"abc"`, -32600, `"jsonrpc" must be "2.0"`},
		{"object id", `{"jsonrpc":"2.0","id":{"k":"` + fakeKey + `"},"method":"ping"}`, "null", -32600, `"id" must be`},
		{"bool id", `{"jsonrpc":"2.0","id":true,"method":"ping"}`, "null", -32600, `"id" must be`},
		{"method not a string", `{"jsonrpc":"2.0","id":3,"method":5,"x":"` + fakeKey + `"}`, "3", -32600, `"method" must be a string`},
		{"neither method nor id", `{"jsonrpc":"2.0","x":"` + fakeKey + `"}`, "null", -32600, "neither a method nor an id"},
		{"number", `42`, "null", -32600, "not a JSON object"},
		{"string", `"` + fakeKey + `"`, "null", -32600, "not a JSON object"},
		{"null", `null`, "null", -32600, "not a JSON object"},
		{"batch", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`, "null", -32600, "batches are not supported"},
		{"empty batch", `[]`, "null", -32600, "batches are not supported"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := start(t, &Transport{})
			h.begin(eraLegacy)
			h.send(tc.line)
			got := h.out.await(t, "error response", func(m reply) bool { return m.Error != nil })
			if string(got.ID) != tc.wantID || got.Error.Code != tc.wantCode || !strings.Contains(got.Error.Message, tc.wantMsg) {
				t.Errorf("answer to %q = id %s, error %+v; want id %s, code %d, message containing %q",
					tc.line, got.ID, *got.Error, tc.wantID, tc.wantCode, tc.wantMsg)
			}
			h.send(request(eraLegacy, "after", "ping", nil))
			if r := h.out.response(t, `"after"`); r.Error != nil {
				t.Errorf("ping after %q: error %+v", tc.line, r.Error)
			}
			if h.out.contains(fakeKey) {
				t.Errorf("answer to %q quotes the line", tc.line)
			}
			h.out.check(t)
		})
	}
}

func TestBlankLinesAndCRLF(t *testing.T) {
	t.Parallel()
	h := start(t, &Transport{})
	h.send("")
	h.send("  \t\r")
	h.send(request(eraLegacy, "crlf", "ping", nil) + "\r")
	if r := h.out.response(t, `"crlf"`); r.Error != nil {
		t.Errorf("ping ending in CRLF: error %+v", r.Error)
	}
	lines, _ := h.out.snapshot()
	if len(lines) != 1 {
		t.Errorf("output = %q; want only the ping response (blank lines are not answered)", lines)
	}
}

func TestOverlongLine(t *testing.T) {
	t.Parallel()
	const limit = 1024
	h := start(t, &Transport{maxLine: limit})
	pad := func(id, n int) string {
		return request(eraLegacy, id, "ping", map[string]any{"pad": strings.Repeat("x", n)})
	}
	if l := pad(1, limit-100); len(l)+1 > limit {
		t.Fatalf("test line is %d bytes, want under %d", len(l)+1, limit)
	}
	h.send(pad(1, limit-100))
	if r := h.out.response(t, "1"); r.Error != nil {
		t.Errorf("ping under the line limit: error %+v", r.Error)
	}
	h.send(pad(2, 3*limit))
	got := h.out.response(t, "null")
	if got.Error == nil || got.Error.Code != jsonrpc.CodeInvalidRequest || !strings.Contains(got.Error.Message, "longer than") {
		t.Errorf("answer to an over-long line = %+v; want -32600 saying it is too long", got.Error)
	}
	h.send(pad(3, 10))
	if r := h.out.response(t, "3"); r.Error != nil {
		t.Errorf("ping after an over-long line: error %+v", r.Error)
	}
	h.out.check(t)
}

// ending is how a test ends a session: input closes, or Stop closes.
type ending struct {
	name string
	end  func(h *harness, stop chan struct{})
}

var endings = []ending{
	{"eof", func(h *harness, _ chan struct{}) { h.in.Close() }},
	{"stop", func(_ *harness, stop chan struct{}) { close(stop) }},
}

func TestEndDrainsInFlightCalls(t *testing.T) {
	t.Parallel()
	for _, e := range endings {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			stop := make(chan struct{})
			h := start(t, &Transport{Stop: stop})
			h.begin(eraLegacy)
			h.send(callTool(eraLegacy, 10, "slow", nil))
			h.waitStarted("slow")

			e.end(h, stop)
			if e.name == "stop" {
				// Input is still open: a new call is refused, and the session
				// does not wait for it.
				h.send(request(eraLegacy, 11, "ping", nil))
				if r := h.out.response(t, "11"); r.Error == nil || r.Error.Code != codeServerClosing {
					t.Errorf("call after Stop = %s, error %+v; want code %d", r.Result, r.Error, codeServerClosing)
				}
			}
			select {
			case err := <-h.done:
				h.done <- err // for Cleanup
				t.Fatalf("server.Run returned %v while a call was in flight", err)
			case <-time.After(100 * time.Millisecond):
			}

			close(h.release)
			if err := h.waitDone(); err != nil {
				t.Errorf("server.Run after %s = %v, want nil", e.name, err)
			}
			// Run has returned: the response must already be out.
			lines, _ := h.out.snapshot()
			found := false
			for _, l := range lines {
				found = found || strings.Contains(l, `"id":10,`) && strings.Contains(l, "slow done")
			}
			if !found {
				t.Errorf("after %s, output has no response to the in-flight call:\n%s", e.name, strings.Join(lines, "\n"))
			}
			h.out.check(t)
		})
	}
}

func TestDrainIsBounded(t *testing.T) {
	t.Parallel()
	const drain = 200 * time.Millisecond
	for _, e := range endings {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			stop := make(chan struct{})
			h := start(t, &Transport{Stop: stop, Drain: drain})
			h.begin(eraLegacy)
			h.send(callTool(eraLegacy, 20, "stuck", nil))
			h.waitStarted("stuck")

			begin := time.Now()
			e.end(h, stop)
			if err := h.waitDone(); err != nil {
				t.Errorf("server.Run after %s with a stuck call = %v, want nil", e.name, err)
			}
			if elapsed := time.Since(begin); elapsed < drain {
				t.Errorf("session ended %v after %s; want it to wait the %v drain first", elapsed, e.name, drain)
			}
			if logs := h.logs.String(); !strings.Contains(logs, "still in flight") {
				t.Errorf("logs do not report the unanswered call:\n%s", logs)
			}
			h.out.check(t)
		})
	}
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		replacement string
		check       func(t *testing.T, r reply)
	}{
		{"clean", "[REDACTED:TEST_KEY]", func(t *testing.T, r reply) {
			if r.Error != nil || !strings.Contains(string(r.Result), "key is [REDACTED:TEST_KEY]") {
				t.Errorf("echo of the key = %s, error %+v; want the redacted text", r.Result, r.Error)
			}
		}},
		{"breaks JSON", `"}`, func(t *testing.T, r reply) {
			want := &rpcError{Code: jsonrpc.CodeInternalError, Message: withheldMessage}
			if diff := cmp.Diff(want, r.Error); diff != "" {
				t.Errorf("echo of the key with JSON-breaking redaction (-want +got):\n%s", diff)
			}
		}},
		{"adds a newline", "[REDACTED]\n", func(t *testing.T, r reply) {
			if r.Error == nil || r.Error.Message != withheldMessage {
				t.Errorf("echo of the key with newline-adding redaction = %s, error %+v; want the withheld error", r.Result, r.Error)
			}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			redact := func(p []byte) []byte {
				if !bytes.Contains(p, []byte(fakeKey)) {
					return p
				}
				return bytes.ReplaceAll(p, []byte(fakeKey), []byte(tc.replacement))
			}
			h := start(t, &Transport{Redact: redact})
			h.begin(eraLegacy)
			h.send(callTool(eraLegacy, 30, "echo", map[string]any{"text": "key is " + fakeKey}))
			tc.check(t, h.out.response(t, "30"))

			h.send(request(eraLegacy, 31, "ping", nil))
			if r := h.out.response(t, "31"); r.Error != nil {
				t.Errorf("ping after a redacted response: error %+v", r.Error)
			}
			if h.out.contains(fakeKey) {
				t.Errorf("output contains the fake key")
			}
			h.out.check(t)
		})
	}
}

// connect returns a bare connection reading in and writing to a recorder.
func connect(t *testing.T, tr *Transport) (*conn, *recorder) {
	t.Helper()
	out := newRecorder()
	tr.Out = out
	c, err := tr.Connect(context.Background())
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c.(*conn), out
}

func TestWriteWithheld(t *testing.T) {
	t.Parallel()
	params := json.RawMessage(`{"level":"info","data":"` + fakeKey + `"}`)
	tests := []struct {
		name string
		msg  jsonrpc.Message
	}{
		{"notification", &jsonrpc.Request{Method: "notifications/message", Params: params}},
		{"call", &jsonrpc.Request{ID: mustID(5), Method: "sampling/createMessage", Params: params}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			pr, _ := io.Pipe()
			c, out := connect(t, &Transport{In: pr, Redact: func(p []byte) []byte {
				return bytes.ReplaceAll(p, []byte(fakeKey), []byte(`"`))
			}})
			err := c.Write(context.Background(), tc.msg)
			var we *jsonrpc.Error
			if !errors.As(err, &we) || we.Code != codeRejected {
				t.Errorf("Write(%s whose redaction breaks JSON) = %v; want a jsonrpc.Error with code %d", tc.name, err, codeRejected)
			}
			if lines, _ := out.snapshot(); len(lines) != 0 {
				t.Errorf("Write(%s whose redaction breaks JSON) wrote %q; want nothing", tc.name, lines)
			}
		})
	}
}

func TestWriteNullID(t *testing.T) {
	t.Parallel()
	pr, _ := io.Pipe()
	c, out := connect(t, &Transport{In: pr})
	// jsonrpc2 answers a duplicate request id this way; the SDK's encoder
	// would leave "id" out.
	resp := &jsonrpc.Response{Error: &jsonrpc.Error{Code: jsonrpc.CodeInvalidRequest, Message: "request ID 1 already in use"}}
	if err := c.Write(context.Background(), resp); err != nil {
		t.Fatalf("Write(response without id) = %v", err)
	}
	lines, _ := out.snapshot()
	want := []string{`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"request ID 1 already in use"}}`}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("Write(response without id) output (-want +got):\n%s", diff)
	}
}

func TestConcurrentWrites(t *testing.T) {
	t.Parallel()
	pr, _ := io.Pipe()
	c, out := connect(t, &Transport{In: pr})
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				params := fmt.Sprintf(`{"w":%d,"i":%d,"pad":%q}`, w, i, strings.Repeat("y", (w*each+i)*37%9000))
				msg := &jsonrpc.Request{Method: "notifications/message", Params: json.RawMessage(params)}
				if err := c.Write(context.Background(), msg); err != nil {
					t.Errorf("Write(notification %d/%d) = %v", w, i, err)
				}
			}
		})
	}
	wg.Wait()
	out.check(t)
	if lines, _ := out.snapshot(); len(lines) != writers*each {
		t.Errorf("%d concurrent writes produced %d lines", writers*each, len(lines))
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	defer pw.Close()
	c, _ := connect(t, &Transport{In: pr})
	if id := c.SessionID(); id != "" {
		t.Errorf("SessionID() = %q, want empty", id)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := c.Read(context.Background())
		errc <- err
	}()
	if err := c.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	select {
	case err := <-errc:
		if err != io.EOF {
			t.Errorf("Read after Close = %v, want io.EOF", err)
		}
	case <-time.After(waitLimit):
		t.Fatalf("Close did not unblock Read")
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close() = %v", err)
	}
	err := c.Write(context.Background(), &jsonrpc.Request{Method: "notifications/message"})
	if !errors.Is(err, mcp.ErrConnectionClosed) {
		t.Errorf("Write after Close = %v, want mcp.ErrConnectionClosed", err)
	}
}

func TestReadContext(t *testing.T) {
	t.Parallel()
	pr, pw := io.Pipe()
	defer pw.Close()
	c, _ := connect(t, &Transport{In: pr})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := c.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read(cancelled ctx) = %v, want context.Canceled", err)
	}
}

// TestReadEndsWhenDrainExpires covers a handler that never answers and
// ignores cancellation: the SDK cannot finish such a session, but Read must
// still report the end of input once the drain time is up.
func TestReadEndsWhenDrainExpires(t *testing.T) {
	t.Parallel()
	const drain = 200 * time.Millisecond
	pr, pw := io.Pipe()
	c, _ := connect(t, &Transport{In: pr, Drain: drain})
	go func() {
		io.WriteString(pw, `{"jsonrpc":"2.0","id":1,"method":"tools/call"}`+"\n")
		pw.Close()
	}()
	msg, err := c.Read(context.Background())
	if req, ok := msg.(*jsonrpc.Request); err != nil || !ok || req.Method != "tools/call" {
		t.Fatalf("Read() = %v, %v; want the tools/call request", msg, err)
	}
	begin := time.Now()
	msg, err = c.Read(context.Background())
	if err != io.EOF {
		t.Errorf("Read after input ended = %v, %v; want io.EOF", msg, err)
	}
	if elapsed := time.Since(begin); elapsed < drain {
		t.Errorf("Read returned io.EOF %v after input ended with a call in flight; want at least %v", elapsed, drain)
	}
}

func TestReadLine(t *testing.T) {
	t.Parallel()
	// bufio's smallest buffer is 16 bytes, so lines longer than that arrive
	// in several fragments.
	const limit = 20
	long := strings.Repeat("a", 19)
	tests := []struct {
		name string
		in   string
		want []string // lines, "ERR" for errLineTooLong; the last comes with io.EOF
	}{
		{"empty", "", []string{""}},
		{"no final newline", "ab", []string{"ab"}},
		{"lines", "a\nb\n", []string{"a\n", "b\n", ""}},
		{"at limit", long + "\nx", []string{long + "\n", "x"}},
		{"over limit", long + "b\nx\n", []string{"ERR", "x\n", ""}},
		{"far over limit", strings.Repeat(long, 5) + "\nx\n", []string{"ERR", "x\n", ""}},
		{"over limit at EOF", long + "bc", []string{"ERR", ""}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			br := bufio.NewReaderSize(strings.NewReader(tc.in), 16)
			var got []string
			for {
				line, err := readLine(br, limit)
				if errors.Is(err, errLineTooLong) {
					got = append(got, "ERR")
					continue
				}
				if err != nil && err != io.EOF {
					t.Fatalf("readLine(%q) error %v", tc.in, err)
				}
				got = append(got, string(line))
				if err == io.EOF || len(got) > 10 {
					break
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("readLine(%q) lines (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// mustID makes a request id; the jsonrpc package exports only MakeID.
func mustID(v any) jsonrpc.ID {
	if n, ok := v.(int); ok {
		v = float64(n)
	}
	id, err := jsonrpc.MakeID(v)
	if err != nil {
		panic(err)
	}
	return id
}

// TestWriteRedactionNewline covers redaction that leaves valid JSON split
// over two lines: the client would read two broken messages.
func TestWriteRedactionNewline(t *testing.T) {
	t.Parallel()
	pr, _ := io.Pipe()
	c, out := connect(t, &Transport{In: pr, Redact: func(p []byte) []byte {
		return bytes.ReplaceAll(p, []byte(`"result":`), []byte("\"result\":\n"))
	}})
	resp := &jsonrpc.Response{ID: mustID(1), Result: json.RawMessage(`{"ok":true}`)}
	if err := c.Write(context.Background(), resp); err != nil {
		t.Fatalf("Write(response) = %v", err)
	}
	lines, _ := out.snapshot()
	want := []string{`{"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"` + withheldMessage + `"}}`}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("Write(response whose redaction adds a newline) output (-want +got):\n%s", diff)
	}
	out.check(t)
}

// FuzzReadLine feeds arbitrary bytes to the input side. Whatever arrives,
// the transport must not panic, must account for every non-blank line
// (handing it to the SDK or answering it with an error), must not end the
// session before the end of input, and must write only whole lines of valid
// JSON.
func FuzzReadLine(f *testing.F) {
	for _, seed := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n",
		`{"jsonrpc":"2.0","id":"a","result":{}}` + "\r\n\n  \n" + `{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		"not json\n{\"jsonrpc\":\"1.0\",\"id\":2}\n[]\n[1,2]\n42\nnull\n",
		`{"jsonrpc":"2.0","id":{"x":1},"method":"m"}` + "\n" + `{"jsonrpc":"2.0","id":3,"method":7}`,
		`{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n" + `{"jsonrpc":"2.0","id":1,"method":"ping"}` + "\n",
		strings.Repeat("x", 300) + "\n" + strings.Repeat(" ", 300) + "\n{}",
		strings.Repeat(`{"a":`, 1100) + "1" + strings.Repeat("}", 1100),
		"\x00\xff\xfe\n\xef\xbb\xbf{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\n",
		`{"jsonrpc":"2.0","id":1e400,"method":"ping"}` + "\n" + `{"jsonrpc":"2.0","id":-0.5,"method":"ping"}`,
	} {
		f.Add([]byte(seed))
	}
	const limit = 256
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.NewReader(data)
		c, out := connect(t, &Transport{In: in, Drain: 30 * time.Second, maxLine: limit})
		ctx := context.Background()
		delivered := 0
		begin := time.Now()
		for {
			msg, err := c.Read(ctx)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Read() = %v, want a message or io.EOF", err)
			}
			delivered++
			if req, ok := msg.(*jsonrpc.Request); ok && req.IsCall() {
				resp := &jsonrpc.Response{ID: req.ID, Result: json.RawMessage(`{}`)}
				if err := c.Write(ctx, resp); err != nil {
					t.Fatalf("Write(response to %v) = %v", req.ID.Raw(), err)
				}
			}
		}
		if elapsed := time.Since(begin); elapsed > 5*time.Second {
			t.Errorf("session took %v; every call was answered at once, so it should end at once", elapsed)
		}
		if in.Len() != 0 {
			t.Errorf("session ended with %d bytes of input unread", in.Len())
		}
		out.check(t)

		want := 0
		for rest := data; len(rest) > 0; {
			line := rest
			if i := bytes.IndexByte(rest, '\n'); i >= 0 {
				line = rest[:i+1]
			}
			rest = rest[len(line):]
			if len(line) > limit || len(bytes.Trim(line, jsonSpace)) > 0 {
				want++
			}
		}
		lines, _ := out.snapshot()
		answered := 0
		for _, l := range lines {
			if strings.Contains(l, `"error":`) {
				answered++
			}
		}
		if delivered+answered != want {
			t.Errorf("%d lines delivered and %d answered with an error; want %d in all", delivered, answered, want)
		}
	})
}

// TestCancelWhileStopping checks that notifications still reach the server
// after Stop: a client cancelling its in-flight call lets the session end
// long before the drain time is up.
func TestCancelWhileStopping(t *testing.T) {
	t.Parallel()
	stop := make(chan struct{})
	h := start(t, &Transport{Stop: stop, Drain: time.Minute})
	h.begin(eraLegacy)
	h.send(callTool(eraLegacy, 40, "slow", nil))
	h.waitStarted("slow")
	close(stop)
	h.send(request(eraLegacy, nil, "notifications/cancelled", map[string]any{"requestId": 40, "reason": "test"}))
	if err := h.waitDone(); err != nil {
		t.Errorf("server.Run after Stop and a cancelled call = %v, want nil", err)
	}
	h.out.check(t)
}

// TestListenDoesNotHoldDrain checks that a 2026-07-28 subscriptions/listen
// stream, which is answered only when cancelled, does not keep a session
// that has lost its input alive for the whole drain time.
func TestListenDoesNotHoldDrain(t *testing.T) {
	t.Parallel()
	for _, e := range endings {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			stop := make(chan struct{})
			h := start(t, &Transport{Stop: stop, Drain: time.Minute})
			h.send(request(eraNew, "listen", "subscriptions/listen", map[string]any{
				"notifications": map[string]any{"toolsListChanged": true},
			}))
			h.out.await(t, "subscription acknowledgement", func(m reply) bool {
				return m.Method == "notifications/subscriptions/acknowledged"
			})
			e.end(h, stop)
			if err := h.waitDone(); err != nil {
				t.Errorf("server.Run after %s with a listen stream open = %v, want nil", e.name, err)
			}
			h.out.check(t)
		})
	}
}

// TestScriptedInput is `printf '...' | keyveil`: a whole session written at
// once and input closed straight away. Every call must be answered before
// Run returns.
func TestScriptedInput(t *testing.T) {
	t.Parallel()
	for _, era := range []string{eraLegacy, eraNew} {
		t.Run(era, func(t *testing.T) {
			t.Parallel()
			var script []string
			if era == eraLegacy {
				script = append(script,
					request(era, "init", "initialize", map[string]any{
						"protocolVersion": era,
						"capabilities":    map[string]any{},
						"clientInfo":      map[string]any{"name": "raw-test", "version": "0"},
					}),
					request(era, nil, "notifications/initialized", nil))
			}
			script = append(script,
				request(era, 1, "tools/list", nil),
				"garbage",
				callTool(era, 2, "echo", map[string]any{"text": "scripted"}))
			out := newRecorder()
			tr := &Transport{In: strings.NewReader(strings.Join(script, "\n") + "\n"), Out: out}
			server := mcp.NewServer(&mcp.Implementation{Name: "stdio-test", Version: "v0.0.1"}, nil)
			mcp.AddTool(server, &mcp.Tool{Name: "echo", Description: "Returns its text."},
				func(_ context.Context, _ *mcp.CallToolRequest, in echoIn) (*mcp.CallToolResult, any, error) {
					return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: in.Text}}}, nil, nil
				})
			if err := server.Run(context.Background(), tr); err != nil {
				t.Errorf("server.Run(scripted %s session) = %v, want nil", era, err)
			}
			lines, _ := out.snapshot()
			got := map[string]bool{}
			for _, l := range lines {
				var m reply
				if json.Unmarshal([]byte(l), &m) == nil && m.Method == "" {
					got[string(m.ID)] = m.Error == nil
				}
			}
			want := map[string]bool{"1": true, "2": true, "null": false}
			if era == eraLegacy {
				want[`"init"`] = true
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("responses by id, true if not an error (-want +got):\n%s\noutput:\n%s", diff, strings.Join(lines, "\n"))
			}
			out.check(t)
		})
	}
}
