package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// fakeKey is the credential every subprocess test hands keyveil. It must
// never appear, in any encoding, in anything keyveil writes.
const fakeKey = "sk-test-LEAKCHECK-0123456789abcdef"

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyveil-bin")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "keyveil")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		_, _ = os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// leakForms returns the key in every encoding a careless API might echo it
// in. The test computes them independently of the redactor.
func leakForms(key string) map[string]string {
	rev := []byte(key)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	var pct, uesc strings.Builder
	for _, c := range []byte(key) {
		fmt.Fprintf(&pct, "%%%02X", c)
		fmt.Fprintf(&uesc, `\u%04x`, c)
	}
	return map[string]string{
		"raw":       key,
		"upper":     strings.ToUpper(key),
		"reversed":  string(rev),
		"base64":    base64.StdEncoding.EncodeToString([]byte(key)),
		"base64url": base64.RawURLEncoding.EncodeToString([]byte(key)),
		"basic":     base64.StdEncoding.EncodeToString([]byte("user:" + key)),
		"hex":       hex.EncodeToString([]byte(key)),
		"percent":   pct.String(),
		"uescape":   uesc.String(),
	}
}

// assertNoLeak fails if any form of the key appears in b.
func assertNoLeak(t *testing.T, where string, b []byte) {
	t.Helper()
	assertNoKeys(t, where, b, "leakcheck", fakeKey)
}

// assertNoKeys fails if any of keys, in any form leakForms knows, is in
// b, or marker (the keys' distinctive middle, in lower case) in any case,
// in case a partial encoding slipped by.
func assertNoKeys(t *testing.T, where string, b []byte, marker string, keys ...string) {
	t.Helper()
	for _, key := range keys {
		for name, form := range leakForms(key) {
			if bytes.Contains(b, []byte(form)) {
				t.Errorf("%s contains a key (%s form of %.8s...)", where, name, key)
			}
		}
	}
	if bytes.Contains(bytes.ToLower(b), []byte(marker)) {
		t.Errorf("%s contains part of a key (%q)", where, marker)
	}
}

// hostile is a downstream that requires the key and then does everything an
// API can do to leak it back.
type hostile struct {
	t        *testing.T
	srv      *httptest.Server
	mu       sync.Mutex
	authSeen int
}

func newHostile(t *testing.T, other string) *hostile {
	h := &hostile{t: t}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		if got != "Bearer "+fakeKey {
			http.Error(w, "missing key", http.StatusUnauthorized)
			return
		}
		h.mu.Lock()
		h.authSeen++
		h.mu.Unlock()
		forms := leakForms(fakeKey)
		switch r.URL.Path {
		case "/echo/json":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"auth": got, "forms": forms, "nested": map[string]string{"k": fakeKey}})
		case "/echo/text":
			w.Header().Set("Content-Type", "text/plain")
			for name, f := range forms {
				fmt.Fprintf(w, "%s=%s\n", name, f)
			}
		case "/echo/header":
			w.Header().Set("X-Request-Id", fakeKey)
			w.Header().Set("Location", "https://x.example/?k="+fakeKey)
			w.Header().Set("Set-Cookie", "s="+fakeKey)
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"ok":true}`)
		case "/echo/500":
			http.Error(w, "internal error while checking key "+fakeKey, http.StatusInternalServerError)
		case "/echo/chunks":
			w.Header().Set("Content-Type", "text/plain")
			half := len(fakeKey) / 2
			_, _ = io.WriteString(w, "start "+fakeKey[:half])
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
			_, _ = io.WriteString(w, fakeKey[half:]+" end")
		case "/redirect":
			http.Redirect(w, r, other+"/steal?key="+fakeKey, http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// thief is a second origin; it records anything that reaches it.
func newThief(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.String()+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = io.WriteString(w, "stolen")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), seen...) }
}

// rawSession drives keyveil over real pipes one JSON line at a time, so a
// test can send what no SDK client would.
type rawSession struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan []byte
	stdout bytes.Buffer
	stderr bytes.Buffer
	mu     sync.Mutex
}

func startRaw(t *testing.T, env []string, args ...string) *rawSession {
	t.Helper()
	s := &rawSession{t: t, lines: make(chan []byte, 100)}
	s.cmd = exec.Command(binPath, args...)
	s.cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	s.cmd.Stderr = &lockedWriter{mu: &s.mu, w: &s.stderr}
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				s.mu.Lock()
				s.stdout.Write(line)
				s.mu.Unlock()
				s.lines <- line
			}
			if err != nil {
				close(s.lines)
				return
			}
		}
	}()
	t.Cleanup(func() { _ = s.cmd.Process.Kill(); _ = s.cmd.Wait() })
	return s
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// runKeyveil runs keyveil with args, env on top of a bare PATH and an
// empty stdin, and returns its exit code and what it wrote to stdout and
// stderr. A keyveil that cannot be started fails the test.
func runKeyveil(t *testing.T, env []string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, env...)
	cmd.Stdin = strings.NewReader("")
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running keyveil %q: %v", args, err)
	}
	return code, out.String(), errOut.String()
}

// finish closes keyveil's stdin, as an MCP host does when it is done,
// waits for keyveil to exit and drains what it wrote, so stdout and
// stderr are complete. It returns how keyveil exited; one that does not
// exit fails the test.
func (s *rawSession) finish() error {
	s.t.Helper()
	_ = s.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		s.t.Fatalf("keyveil did not exit after stdin closed; stderr:\n%s", s.stderrText())
	}
	for range s.lines {
	}
	return err
}

func (s *rawSession) send(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.stdin, line+"\n"); err != nil {
		s.t.Fatalf("writing to keyveil: %v", err)
	}
}

// next returns the next message on stdout, failing the test on a line that
// is not JSON (stdout pollution) or on a timeout.
func (s *rawSession) next() map[string]any {
	s.t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			s.t.Fatalf("keyveil closed stdout; stderr:\n%s", s.stderrText())
		}
		var m map[string]any
		if err := json.Unmarshal(line, &m); err != nil {
			s.t.Fatalf("stdout line is not JSON (%v): %q", err, line)
		}
		return m
	case <-time.After(20 * time.Second):
		s.t.Fatalf("no message from keyveil; stderr:\n%s", s.stderrText())
	}
	return nil
}

func (s *rawSession) stderrText() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stderr.String()
}

func (s *rawSession) call(id int, method string, params any) map[string]any {
	s.t.Helper()
	b, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	s.send(string(b))
	for {
		m := s.next()
		if v, ok := m["id"].(float64); ok && int(v) == id {
			return m
		}
	}
}

func (s *rawSession) initialize() {
	s.t.Helper()
	res := s.call(1, "initialize", map[string]any{
		"protocolVersion": "2025-11-25",
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "raw-test", "version": "0"},
	})
	if res["error"] != nil {
		s.t.Fatalf("initialize: %v", res["error"])
	}
	s.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}

// TestSubprocessHostileDownstream is the end-to-end leak check over real
// pipes: every way the downstream reflects the key, and a cross-origin
// redirect, must leave no trace on stdout, stderr or the audit file, and the
// second origin must never receive the key.
func TestSubprocessHostileDownstream(t *testing.T) {
	t.Parallel()
	thief, thiefSeen := newThief(t)
	h := newHostile(t, thief.URL)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startRaw(t, []string{
		"MCP_API_KEY=" + fakeKey,
		"MCP_API_BASE_URL=" + h.srv.URL,
	}, "serve", "--audit-log", audit, "--log-level", "debug")
	s.initialize()

	// A malformed line must get a parse error and leave the session up.
	s.send(`{"jsonrpc":"2.0","id":99,"method":`)
	if m := s.next(); m["error"] == nil || m["error"].(map[string]any)["code"].(float64) != -32700 {
		t.Fatalf("malformed line: got %v, want a -32700 parse error", m)
	}

	for i, path := range []string{"/echo/json", "/echo/text", "/echo/header", "/echo/500", "/echo/chunks", "/redirect"} {
		res := s.call(10+i, "tools/call", map[string]any{
			"name":      "call_api",
			"arguments": map[string]any{"method": "GET", "path": path},
		})
		if res["error"] != nil {
			t.Errorf("call_api %s: protocol error %v", path, res["error"])
			continue
		}
		text, _ := json.Marshal(res["result"])
		if path != "/echo/500" && path != "/redirect" && !bytes.Contains(text, []byte("REDACTED:MCP_API_KEY")) && path != "/echo/header" {
			t.Errorf("call_api %s: result shows no redaction marker: %s", path, text)
		}
	}
	h.mu.Lock()
	n := h.authSeen
	h.mu.Unlock()
	if n < 5 {
		t.Errorf("downstream saw the key on %d requests, want at least 5 (calls did not go through)", n)
	}

	// The session survived everything: tools/list still answers.
	if res := s.call(50, "tools/list", map[string]any{}); res["result"] == nil {
		t.Fatalf("tools/list after the hostile calls: %v", res)
	}
	if err := s.finish(); err != nil {
		t.Errorf("keyveil exited with %v after stdin closed, want exit 0; stderr:\n%s", err, s.stderrText())
	}

	s.mu.Lock()
	stdout, stderr := s.stdout.Bytes(), s.stderr.Bytes()
	s.mu.Unlock()
	assertNoLeak(t, "stdout", stdout)
	assertNoLeak(t, "stderr", stderr)
	auditBytes, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	assertNoLeak(t, "audit log", auditBytes)
	if lines := bytes.Count(auditBytes, []byte("\n")); lines < 6 {
		t.Errorf("audit log has %d lines, want one per tool call (>= 6):\n%s", lines, auditBytes)
	}
	if fi, err := os.Stat(audit); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("audit log mode = %v, want 0600", fi.Mode().Perm())
	}
	for _, got := range thiefSeen() {
		t.Errorf("second origin received a request: %s", got)
	}
}

// TestSubprocessStartupFailure checks that a bad environment stops keyveil
// with the variable's name and never its value.
func TestSubprocessStartupFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  []string
		want string
	}{
		{"missing key", []string{"MCP_API_BASE_URL=https://api.example.com"}, "MCP_API_KEY"},
		{"op reference", []string{"MCP_API_BASE_URL=https://api.example.com", "MCP_API_KEY=op://vault/item/LEAKCHECK"}, "op run"},
		{"padded", []string{"MCP_API_BASE_URL=https://api.example.com", "MCP_API_KEY= " + fakeKey}, "whitespace"},
		{"no base url", []string{"MCP_API_KEY=" + fakeKey}, "MCP_API_BASE_URL"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(binPath)
			cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			cmd.Stdin = strings.NewReader("")
			err := cmd.Run()
			if err == nil {
				t.Fatalf("keyveil started with %v", tc.env)
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to name %q", stderr.String(), tc.want)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout = %q, want nothing (stdout is the protocol)", stdout.String())
			}
			assertNoLeak(t, "stderr", stderr.Bytes())
		})
	}
}

// TestSubprocessGuardrailBypasses sends, over real pipes, each request
// part that would step around the allow rules or slice an echoed key
// (Range, method override, URL rewrite, a CGI-folded credential header,
// _method, a look-alike dot) to a downstream that honours them all. Each
// is refused, and none reaches the downstream.
func TestSubprocessGuardrailBypasses(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var reached []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		reached = append(reached, r.Method+" "+r.URL.String())
		mu.Unlock()
		echo := r.Header.Get("Authorization")
		if rng := r.Header.Get("Range"); strings.HasPrefix(rng, "bytes=") {
			var from int
			_, _ = fmt.Sscanf(rng, "bytes=%d-", &from)
			if from < len(echo) {
				echo = echo[from:]
			}
			w.WriteHeader(http.StatusPartialContent)
		}
		_, _ = io.WriteString(w, echo)
	}))
	t.Cleanup(srv.Close)
	s := startRaw(t, []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + srv.URL})
	s.initialize()
	tests := []struct {
		name string
		args map[string]any
		want string
	}{
		{"range", map[string]any{"method": "GET", "path": "/echo", "headers": map[string]any{"Range": "bytes=14-"}}, "Range"},
		{"if-range", map[string]any{"method": "GET", "path": "/echo", "headers": map[string]any{"If-Range": "x"}}, "If-Range"},
		{"method override", map[string]any{"method": "GET", "path": "/echo", "headers": map[string]any{"X-HTTP-Method-Override": "DELETE"}}, "another method"},
		{"CGI-folded method override", map[string]any{"method": "GET", "path": "/echo", "headers": map[string]any{"x_http_method_override": "DELETE"}}, "CGI"},
		{"_method", map[string]any{"method": "GET", "path": "/echo", "query": map[string]any{"_method": "DELETE"}}, "_method"},
		{"URL rewrite", map[string]any{"method": "GET", "path": "/echo", "headers": map[string]any{"X-Original-URL": "/admin"}}, "another path"},
		{"CGI-folded credential header", map[string]any{"method": "GET", "path": "/echo", "headers": map[string]any{"PROXY_AUTHORIZATION": "x"}}, "Proxy-Authorization"},
		{"fullwidth dots", map[string]any{"method": "GET", "path": "/\uFF0E\uFF0E/admin"}, "U+FF0E"},
	}
	for i, tc := range tests {
		res := s.call(10+i, "tools/call", map[string]any{"name": "call_api", "arguments": tc.args})
		b, _ := json.Marshal(res)
		result, _ := res["result"].(map[string]any)
		if result == nil || result["isError"] != true || !strings.Contains(string(b), tc.want) {
			t.Errorf("%s: call_api = %s, want a refusal naming %q", tc.name, b, tc.want)
		}
		assertNoLeak(t, tc.name+" result", b)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(reached) != 0 {
		t.Errorf("refused calls reached the downstream: %v", reached)
	}
}

// TestSubprocessSameOriginRedirects runs keyveil against a downstream that
// redirects, on its own origin, out of the base path and to a path no
// allow rule allows. keyveil hands the 3xx back with the reason and never
// sends the key where it pointed.
func TestSubprocessSameOriginRedirects(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var keyed []string // paths that received the key
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "Bearer "+fakeKey {
			mu.Lock()
			keyed = append(keyed, r.URL.Path)
			mu.Unlock()
		}
		switch r.URL.Path {
		case "/api/public/out":
			http.Redirect(w, r, "/admin/steal", http.StatusFound)
		case "/api/public/in":
			http.Redirect(w, r, "/api/admin/users", http.StatusFound)
		case "/api/public/ok":
			http.Redirect(w, r, "/api/public/landing", http.StatusFound)
		default:
			_, _ = io.WriteString(w, "landed at "+r.URL.Path)
		}
	}))
	t.Cleanup(srv.Close)
	s := startRaw(t, []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + srv.URL + "/api", "MCP_API_ALLOW=GET /public/**"})
	s.initialize()
	tests := []struct {
		path, want string
	}{
		{"/public/out", "(outside-base-path)"},
		{"/public/in", "(not-allowed)"},
		{"/public/ok", "landed at /api/public/landing"},
	}
	for i, tc := range tests {
		res := s.call(10+i, "tools/call", map[string]any{"name": "call_api", "arguments": map[string]any{"method": "GET", "path": tc.path}})
		b, _ := json.Marshal(res)
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("call_api GET %s = %s, want %q", tc.path, b, tc.want)
		}
		assertNoLeak(t, "result", b)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range keyed {
		if p == "/admin/steal" || p == "/api/admin/users" {
			t.Errorf("the key reached %s; keyed paths: %v", p, keyed)
		}
	}
}

// TestSubprocessOptions runs the binary with each kind of option mistake
// and each way of asking for help or the version. A mistake exits 2 and
// says on stderr what is wrong and what to do (a host shows only that the
// server closed); help and version go to stdout and exit 0.
func TestSubprocessOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string
		env        []string
		code       int
		wantStdout []string
		wantStderr []string
	}{
		{"--help", []string{"--help"}, nil, 0, []string{"Usage:", "keyveil check", "\n\nOptions of keyveil serve", "-read-only", "-http"}, nil},
		{"-h", []string{"-h"}, nil, 0, []string{"Usage:", "Options of keyveil serve"}, nil},
		{"help", []string{"help"}, nil, 0, []string{"Usage:", "Options of keyveil serve"}, nil},
		{"serve --help", []string{"serve", "--help"}, nil, 0, []string{"Usage:", "Options of keyveil serve", "-http"}, nil},
		{"check --help", []string{"check", "--help"}, nil, 0, []string{"Options of keyveil check", "-ping"}, nil},
		{"--version", []string{"--version"}, nil, 0, []string{"keyveil ", runtime.Version()}, nil},
		{"-v", []string{"-v"}, nil, 0, []string{"keyveil "}, nil},
		{"version", []string{"version"}, nil, 0, []string{"keyveil "}, nil},
		{"bad KEYVEIL_READ_ONLY", nil, []string{"KEYVEIL_READ_ONLY=yes"}, 2, nil, []string{"KEYVEIL_READ_ONLY must be true or false", `not "yes"`, "unset it"}},
		{"extra argument", []string{"serve", "extra"}, nil, 2, nil, []string{`unexpected argument "extra"`, "keyveil serve --help"}},
		{"option before the command", []string{"--read-only", "check"}, nil, 2, nil, []string{`"check" is a command`, "run keyveil check --read-only"}},
		{"options before the command", []string{"--config", "x.yaml", "--read-only", "check"}, nil, 2, nil, []string{"run keyveil check --config x.yaml --read-only"}},
		{"unknown flag", []string{"serve", "--bogus"}, nil, 2, nil, []string{"-bogus", "keyveil serve --help"}},
		{"flag without value", []string{"check", "--config"}, nil, 2, nil, []string{"-config", "keyveil check --help"}},
		{"unknown command", []string{"serv"}, nil, 2, nil, []string{`unknown command "serv"`, "serve, check"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, stdout, stderr := runKeyveil(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("keyveil %q exited %d, want %d; stderr %q", tc.args, code, tc.code, stderr)
			}
			for _, w := range tc.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("keyveil %q stdout = %q, want it to contain %q", tc.args, stdout, w)
				}
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("keyveil %q stderr = %q, want it to contain %q", tc.args, stderr, w)
				}
			}
			if tc.code == 0 && stderr != "" {
				t.Errorf("keyveil %q stderr = %q, want nothing", tc.args, stderr)
			}
			if tc.code != 0 && (stdout != "" || stderr == "") {
				t.Errorf("keyveil %q: stdout %q, stderr %q; want the reason on stderr only", tc.args, stdout, stderr)
			}
		})
	}
}

// TestSubprocessSDKClient connects the go-sdk client to the built binary at
// both protocol versions real clients use.
func TestSubprocessSDKClient(t *testing.T) {
	t.Parallel()
	h := newHostile(t, "https://unused.example")
	for _, version := range []string{"2025-11-25", mcp.SupportedProtocolVersions()[0]} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.Command(binPath)
			var stderr bytes.Buffer
			cmd.Stderr = &lockedWriter{mu: &sync.Mutex{}, w: &stderr}
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + h.srv.URL}
			client := mcp.NewClient(&mcp.Implementation{Name: "subprocess-test", Version: "0"}, nil)
			cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, &mcp.ClientSessionOptions{ProtocolVersion: version})
			if err != nil {
				t.Fatalf("Connect at %s: %v", version, err)
			}
			defer cs.Close()
			if got := cs.InitializeResult().ProtocolVersion; got != version {
				t.Errorf("negotiated protocol %q, want %q", got, version)
			}
			lt, err := cs.ListTools(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tool := range lt.Tools {
				names = append(names, tool.Name)
			}
			if strings.Join(names, ",") != "call_api,list_services" && strings.Join(names, ",") != "list_services,call_api" {
				t.Errorf("tools = %v, want list_services and call_api", names)
			}
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"method": "GET", "path": "/echo/json"}})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(res)
			if res.IsError || !bytes.Contains(b, []byte("[REDACTED:MCP_API_KEY]")) {
				t.Errorf("call_api result = %s, want success with the key redacted", b)
			}
			assertNoLeak(t, "result", b)
		})
	}
}

// TestSubprocessSIGTERMDrains sends SIGTERM while a call is in flight: the
// call must still be answered and audited, and keyveil must exit 0.
func TestSubprocessSIGTERMDrains(t *testing.T) {
	t.Parallel()
	// The downstream holds the call until keyveil has logged that it is
	// stopping, so the call is in flight when the signal is handled:
	// signals, not sleeps, order the steps.
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		_, _ = io.WriteString(w, "slow answer")
	}))
	t.Cleanup(slow.Close)
	audit := filepath.Join(t.TempDir(), "audit.jsonl")
	s := startRaw(t, []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + slow.URL}, "--audit-log", audit)
	s.initialize()
	s.send(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"call_api","arguments":{"method":"GET","path":"/slow"}}}`)
	select {
	case <-arrived:
	case <-time.After(20 * time.Second):
		t.Fatalf("the call never reached the downstream; stderr:\n%s", s.stderrText())
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "keyveil logs that it is stopping", func() bool {
		return strings.Contains(s.stderrText(), "stopping after in-flight calls")
	})
	close(release)
	var got map[string]any
	for m := range s.linesAsJSON() {
		if id, ok := m["id"].(float64); ok && id == 7 {
			got = m
		}
	}
	if got == nil || got["result"] == nil {
		t.Fatalf("in-flight call was not answered before exit; stderr:\n%s", s.stderrText())
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v, want 0; stderr:\n%s", err, s.stderrText())
	}
	b, _ := os.ReadFile(audit)
	if !bytes.Contains(b, []byte(`"/slow"`)) {
		t.Errorf("in-flight call was not audited; audit:\n%s", b)
	}
}

// waitUntil polls cond until it holds, failing the test after 20 s. It is
// for conditions a subprocess reports only through its output.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// linesAsJSON yields every remaining stdout message until keyveil closes
// stdout.
func (s *rawSession) linesAsJSON() <-chan map[string]any {
	ch := make(chan map[string]any)
	go func() {
		defer close(ch)
		timeout := time.After(20 * time.Second)
		for {
			select {
			case line, ok := <-s.lines:
				if !ok {
					return
				}
				var m map[string]any
				if json.Unmarshal(line, &m) == nil {
					ch <- m
				}
			case <-timeout:
				return
			}
		}
	}()
	return ch
}
