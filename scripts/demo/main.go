// The demo command shows a newcomer what keyveil does, with nothing but Go
// installed: it starts a small quotes API on loopback that requires a
// randomly generated key, runs the keyveil binary with that key in its
// environment, and drives it with the go-sdk MCP client the way a host
// would. It prints what the model would see — the tools, a successful call,
// an echo of the key coming back redacted, a refused write — and exits
// non-zero if any of it is off, above all if the key shows up anywhere.
//
// Usage (scripts/demo.sh builds the binary first):
//
//	go run ./scripts/demo [-bin ./keyveil]
//
// Unlike keyveil itself, this is a program for people: it prints to stdout.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// redacted is what keyveil writes wherever the key would have been.
const redacted = "[REDACTED:MCP_API_KEY]"

func main() {
	bin := flag.String("bin", "./keyveil", "the keyveil binary to run")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := run(ctx, *bin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "demo FAILED: %v\n", err)
		os.Exit(1)
	}
}

// run performs the whole demo, writing the transcript to out. It returns an
// error for the first thing that is not as it should be.
func run(ctx context.Context, bin string, out io.Writer) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	if _, err := os.Stat(bin); err != nil {
		return fmt.Errorf("keyveil binary: %w (build it with: go build -o keyveil .)", err)
	}
	key, err := newKey()
	if err != nil {
		return err
	}

	api, err := startAPI(key)
	if err != nil {
		return err
	}
	defer api.close()
	base := api.url + "/v1"

	// The transcript is checked for the key before the demo says it is ok.
	var transcript bytes.Buffer
	w := io.MultiWriter(out, &transcript)
	p := func(format string, args ...any) { fmt.Fprintf(w, format+"\n", args...) }

	p("keyveil demo")
	p("  demo API   %s  (answers only with Authorization: Bearer <demo key>)", base)
	p("  demo key   made at random for this run; only keyveil gets it, in MCP_API_KEY")

	var stderr lockedBuffer
	cmd := exec.Command(bin)
	// Only what keyveil needs: nothing else from this environment leaks in.
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + os.Getenv("HOME"),
		"MCP_API_KEY=" + key,
		"MCP_API_BASE_URL=" + base,
	}
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "keyveil-demo", Version: "1"}, nil)
	session, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return fmt.Errorf("starting keyveil: %w\nkeyveil stderr:\n%s", err, stderr.String())
	}
	closed := false
	defer func() {
		if !closed {
			_ = session.Close()
		}
	}()
	p("  keyveil    %s, protocol %s", session.InitializeResult().ServerInfo.Name, session.InitializeResult().ProtocolVersion)

	var results []any
	tools, err := session.ListTools(ctx, nil)
	if err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	results = append(results, tools)
	p("\n1. Tools keyveil offers the model")
	var names []string
	for _, t := range tools.Tools {
		names = append(names, t.Name)
		p("   %-14s %s", t.Name, firstSentence(t.Description))
	}
	if got := strings.Join(names, ","); got != "list_services,call_api" && got != "call_api,list_services" {
		return fmt.Errorf("tools/list offered %q, want list_services and call_api", got)
	}

	p("\n2. list_services")
	res, err := session.CallTool(ctx, &mcp.CallToolParams{Name: "list_services", Arguments: map[string]any{}})
	if err := callErr("list_services", res, err); err != nil {
		return err
	}
	results = append(results, res)
	var services struct {
		Services []struct {
			Name    string   `json:"name"`
			BaseURL string   `json:"base_url"`
			Auth    string   `json:"auth"`
			Allow   []string `json:"allow"`
		} `json:"services"`
	}
	if err := remarshal(res.StructuredContent, &services); err != nil || len(services.Services) != 1 {
		return fmt.Errorf("list_services returned %s, want one service", textOf(res))
	}
	for _, s := range services.Services {
		p("   %s  %s  auth=%s  allow=%s", s.Name, s.BaseURL, s.Auth, strings.Join(s.Allow, ", "))
	}

	p("\n3. call_api GET /quotes")
	quotes, res, err := callAPI(ctx, session, "GET", "/quotes")
	if err != nil {
		return err
	}
	results = append(results, res)
	p("   status %d: %s", quotes.Status, clip(string(quotes.Body), 110))

	p("\n4. call_api GET /quotes/2")
	quote, res, err := callAPI(ctx, session, "GET", "/quotes/2")
	if err != nil {
		return err
	}
	results = append(results, res)
	p("   status %d: %s", quote.Status, clip(string(quote.Body), 110))

	p("\n5. call_api GET /debug/echo  (the API sends back the Authorization header it got)")
	echo, res, err := callAPI(ctx, session, "GET", "/debug/echo")
	if err != nil {
		return err
	}
	results = append(results, res)
	var echoed struct {
		Authorization       string `json:"authorization"`
		AuthorizationBase64 string `json:"authorization_base64"`
	}
	if err := json.Unmarshal(echo.Body, &echoed); err != nil {
		return fmt.Errorf("GET /debug/echo body is not the JSON the demo API sends: %s", clip(string(echo.Body), 200))
	}
	header := echo.header("X-Request-Id")
	p("   body.authorization          %s", echoed.Authorization)
	p("   body.authorization_base64   %s", echoed.AuthorizationBase64)
	p("   header X-Request-Id         %s", header)
	for _, c := range []struct{ what, v string }{
		{"body.authorization", echoed.Authorization},
		{"body.authorization_base64", echoed.AuthorizationBase64},
		{"header X-Request-Id", header},
	} {
		if !strings.Contains(c.v, redacted) {
			return fmt.Errorf("GET /debug/echo: %s is %q, want %s in it", c.what, c.v, redacted)
		}
	}

	p("\n6. call_api POST /quotes  (writes are not allowed: the default rule is GET /**)")
	res, err = session.CallTool(ctx, &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{
		"method": "POST", "path": "/quotes", "body": map[string]any{"author": "model", "text": "let me in"},
	}})
	if err != nil {
		return fmt.Errorf("call_api POST /quotes: %w", err)
	}
	results = append(results, res)
	if !res.IsError {
		return fmt.Errorf("call_api POST /quotes was not refused: %s", clip(textOf(res), 200))
	}
	p("   refused: %s", clip(textOf(res), 300))

	closed = true
	if err := session.Close(); err != nil {
		return fmt.Errorf("stopping keyveil: %w", err)
	}

	p("\nChecks")
	n, sawPost := api.stats()
	if n < 3 {
		return fmt.Errorf("the demo API answered %d authenticated calls, want 3", n)
	}
	if sawPost {
		return errors.New("the refused POST reached the demo API")
	}
	p("   the demo API got the key on each of its %d calls; the refused POST never reached it", n)
	resultsJSON, err := json.Marshal(results)
	if err != nil {
		return err
	}
	logLines := strings.Count(stderr.String(), "\n")
	for _, c := range []struct{ what, text string }{
		{"the tool results", string(resultsJSON)},
		{"keyveil's stderr (logs, audit)", stderr.String()},
		{"this transcript", transcript.String()},
	} {
		if leak := findKey(c.text, key); leak != "" {
			return fmt.Errorf("the key (%s) appears in %s", leak, c.what)
		}
	}
	p("   the key, raw or encoded, is in none of: tool results, this transcript, keyveil's stderr (%d lines)", logLines)
	p("\ndemo ok: the model saw the data, never the key")
	return nil
}

// newKey returns a random demo key, so no real key is ever involved and a
// leak could not come from anywhere but keyveil.
func newKey() (string, error) {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the demo key: %w", err)
	}
	return "demo-" + hex.EncodeToString(b), nil
}

// findKey reports which form of key text contains, or "" if none.
func findKey(text, key string) string {
	lower := strings.ToLower(text)
	forms := []struct {
		name    string
		v       string
		anyCase bool // the encoding does not depend on letter case
	}{
		{"raw", key, true},
		{"hex", hex.EncodeToString([]byte(key)), true},
		{"base64", base64.StdEncoding.EncodeToString([]byte(key)), false},
		{"base64 of the Authorization header", base64.StdEncoding.EncodeToString([]byte("Bearer " + key)), false},
	}
	for _, f := range forms {
		if strings.Contains(text, f.v) || f.anyCase && strings.Contains(lower, strings.ToLower(f.v)) {
			return f.name
		}
	}
	return ""
}

// apiResult is call_api's structuredContent.
type apiResult struct {
	Status    int             `json:"status"`
	Headers   map[string]any  `json:"headers"`
	Body      json.RawMessage `json:"body"`
	Truncated bool            `json:"truncated"`
}

// header returns a response header's value, whichever case and shape
// (string or list of strings) it came in.
func (r apiResult) header(name string) string {
	for k, v := range r.Headers {
		if !strings.EqualFold(k, name) {
			continue
		}
		switch v := v.(type) {
		case string:
			return v
		case []any:
			var parts []string
			for _, p := range v {
				parts = append(parts, fmt.Sprint(p))
			}
			return strings.Join(parts, ", ")
		}
	}
	return ""
}

// callAPI calls call_api and decodes its structured result; an isError
// result or a status other than 200 is an error.
func callAPI(ctx context.Context, s *mcp.ClientSession, method, path string) (apiResult, *mcp.CallToolResult, error) {
	what := "call_api " + method + " " + path
	res, err := s.CallTool(ctx, &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"method": method, "path": path}})
	if err := callErr(what, res, err); err != nil {
		return apiResult{}, nil, err
	}
	var r apiResult
	if err := remarshal(res.StructuredContent, &r); err != nil {
		return apiResult{}, nil, fmt.Errorf("%s: structuredContent is not {status, headers, body, truncated}: %w", what, err)
	}
	if r.Status != http.StatusOK {
		return apiResult{}, nil, fmt.Errorf("%s: status %d, want 200: %s", what, r.Status, clip(string(r.Body), 200))
	}
	return r, res, nil
}

// callErr turns a failed call or an isError result into an error.
func callErr(what string, res *mcp.CallToolResult, err error) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if res.IsError {
		return fmt.Errorf("%s returned an error: %s", what, clip(textOf(res), 300))
	}
	return nil
}

func remarshal(v, into any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

func textOf(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if t, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, t.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return clip(s, 90)
}

func clip(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// lockedBuffer collects the child's stderr; exec copies into it from its
// own goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// demoAPI is the quotes API keyveil calls on the demo's behalf.
type demoAPI struct {
	url    string
	server *http.Server

	mu       sync.Mutex
	authed   int  // requests that carried the key
	sawWrite bool // any request other than GET or HEAD
}

type quote struct {
	ID     int    `json:"id"`
	Author string `json:"author"`
	Text   string `json:"text"`
}

var quotes = []quote{
	{1, "Ada Lovelace", "The Analytical Engine weaves algebraical patterns just as the Jacquard loom weaves flowers and leaves."},
	{2, "Grace Hopper", "The most dangerous phrase in the language is: we've always done it this way."},
	{3, "Edsger W. Dijkstra", "Simplicity is prerequisite for reliability."},
}

// startAPI serves the demo API on a free loopback port:
//
//	GET /v1/quotes          all quotes
//	GET /v1/quotes/{id}     one quote
//	GET /v1/debug/echo      the Authorization header it received, as is
//	                        and base64-encoded, in the body and in the
//	                        X-Request-Id header (a header keyveil passes
//	                        on) — the kind of leak keyveil must catch
//
// Every route answers 401 without "Authorization: Bearer KEY".
func startAPI(key string) (*demoAPI, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the demo API: %w", err)
	}
	a := &demoAPI{url: "http://" + ln.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/quotes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, quotes)
	})
	mux.HandleFunc("GET /v1/quotes/{id}", func(w http.ResponseWriter, r *http.Request) {
		for _, q := range quotes {
			if fmt.Sprint(q.ID) == r.PathValue("id") {
				writeJSON(w, http.StatusOK, q)
				return
			}
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such quote"})
	})
	mux.HandleFunc("GET /v1/debug/echo", func(w http.ResponseWriter, r *http.Request) {
		got := r.Header.Get("Authorization")
		w.Header().Set("X-Request-Id", got) // a careless API
		writeJSON(w, http.StatusOK, map[string]string{
			"authorization":        got,
			"authorization_base64": base64.StdEncoding.EncodeToString([]byte(got)),
		})
	})
	a.server = &http.Server{
		ReadHeaderTimeout: 5 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a.mu.Lock()
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				a.sawWrite = true
			}
			ok := r.Header.Get("Authorization") == "Bearer "+key
			if ok {
				a.authed++
			}
			a.mu.Unlock()
			if !ok {
				writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "missing or wrong API key"})
				return
			}
			mux.ServeHTTP(w, r)
		}),
	}
	go func() { _ = a.server.Serve(ln) }()
	return a, nil
}

func (a *demoAPI) stats() (authed int, sawWrite bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.authed, a.sawWrite
}

func (a *demoAPI) close() { _ = a.server.Close() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
