package remote

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyveil/keyveil/internal/clocktest"
	"github.com/keyveil/keyveil/internal/logtest"
	"github.com/keyveil/keyveil/keys"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Protocol versions tested end to end: the one most clients speak today and
// the newest the SDK speaks.
const (
	protoStable = "2025-11-25"
	protoNewest = "2026-07-28"
)

// toolServers is a NewServer that mimics tools.Register's scope filter: a
// tool needing "write" is registered only when the scopes allow it. It
// counts how often each scope set was built.
type toolServers struct {
	mu    sync.Mutex
	built map[string]int
}

type echoOut struct {
	Authorization string `json:"authorization"`
	APIKey        string `json:"api_key"`
	KeyID         string `json:"key_id"`
}

func (ts *toolServers) newServer(scopes []string) *mcp.Server {
	ts.mu.Lock()
	if ts.built == nil {
		ts.built = map[string]int{}
	}
	ts.built[scopeKey(scopes)]++
	ts.mu.Unlock()
	s := mcp.NewServer(&mcp.Implementation{Name: "keyveil-test", Version: "0"}, nil)
	mcp.AddTool(s, &mcp.Tool{Name: "echo_headers", Description: "Reports what a tool can see of the request."},
		func(_ context.Context, req *mcp.CallToolRequest, _ struct{}) (*mcp.CallToolResult, echoOut, error) {
			var out echoOut
			if req.Extra != nil {
				out.Authorization = req.Extra.Header.Get("Authorization")
				out.APIKey = req.Extra.Header.Get("X-API-Key")
				if req.Extra.TokenInfo != nil {
					out.KeyID, _ = req.Extra.TokenInfo.Extra["key_id"].(string)
				}
			}
			return nil, out, nil
		})
	if scopes == nil || slices.Contains(scopes, "write") {
		mcp.AddTool(s, &mcp.Tool{Name: "write_thing", Description: "Needs the write scope."},
			func(context.Context, *mcp.CallToolRequest, struct{}) (*mcp.CallToolResult, any, error) {
				return &mcp.CallToolResult{Content: []mcp.Content{&mcp.TextContent{Text: "written"}}}, nil, nil
			})
	}
	return s
}

func (ts *toolServers) builds() map[string]int {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return maps.Clone(ts.built)
}

// auditLog collects AccessRecords.
type auditLog struct {
	mu   sync.Mutex
	recs []AccessRecord
}

func (a *auditLog) record(r AccessRecord) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.recs = append(a.recs, r)
}

func (a *auditLog) all() []AccessRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.recs)
}

// env is one running server with its registry, clock and captures.
type env struct {
	url     string
	keys    *keys.Registry
	clock   *clocktest.Clock
	logs    *logtest.Buffer
	audit   *auditLog
	servers *toolServers
	client  *http.Client
	tr      *http.Transport
}

// start runs a handler under httptest with a fresh registry; mod adjusts
// the options before the handler is built.
func start(t testing.TB, poll time.Duration, mod func(*Options)) *env {
	t.Helper()
	e := &env{
		clock:   clocktest.New(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)),
		logs:    &logtest.Buffer{},
		audit:   &auditLog{},
		servers: &toolServers{},
	}
	if poll == 0 {
		poll = -1
	}
	reg, err := keys.Open(filepath.Join(t.TempDir(), "keys.json"), &keys.Options{Now: e.clock.Now, PollInterval: poll, CreateMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	e.keys = reg
	opts := &Options{
		Keys:      reg,
		NewServer: e.servers.newServer,
		Logger:    slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Audit:     e.audit.record,
		Now:       e.clock.Now,
	}
	if mod != nil {
		mod(opts)
	}
	e.url = serveHandler(t, opts)
	e.tr = &http.Transport{}
	t.Cleanup(e.tr.CloseIdleConnections)
	e.client = &http.Client{Transport: e.tr}
	return e
}

// serveHandler builds the handler opts describe (defaults filled in) and
// serves it under httptest until the test ends; it returns the URL.
func serveHandler(t testing.TB, opts *Options) string {
	t.Helper()
	o, err := opts.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHandler(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// newKey creates a key in the env's registry.
func (e *env) newKey(t testing.TB, name string, scopes []string, lifetime time.Duration, rate keys.Rate) (string, *keys.Key) {
	t.Helper()
	plain, k, err := e.keys.Create(name, scopes, lifetime, rate)
	if err != nil {
		t.Fatalf("Create(%q) = %v", name, err)
	}
	return plain, k
}

// response is what a raw request got back.
type response struct {
	status int
	header http.Header
	body   string
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`

// do sends one request. hdr values are added, so a header may be given
// twice.
func (e *env) do(t testing.TB, method, path string, hdr http.Header, body string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	for k, vs := range hdr {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if h := hdr.Get("Host"); h != "" {
		req.Host = h
	}
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// initialize posts an initialize request with the given headers.
func (e *env) initialize(t testing.TB, hdr http.Header) response {
	t.Helper()
	return e.do(t, http.MethodPost, "/mcp", hdr, initializeBody)
}

func bearer(key string) http.Header { return http.Header{"Authorization": {"Bearer " + key}} }

// rpcErrorBody decodes a JSON-RPC error body, failing on any other shape.
func rpcErrorBody(t testing.TB, body string) (code int, message string) {
	t.Helper()
	var got struct {
		JSONRPC string          `json:"jsonrpc"`
		Error   json.RawMessage `json:"error"`
		ID      json.RawMessage `json:"id"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil || got.JSONRPC != "2.0" || string(got.ID) != "null" {
		t.Fatalf("body %q is not a JSON-RPC 2.0 error with a null id (%v)", body, err)
	}
	var e struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	dec = json.NewDecoder(bytes.NewReader(got.Error))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&e); err != nil {
		t.Fatalf("error object %s: %v", got.Error, err)
	}
	return e.Code, e.Message
}

// headerTransport adds one header to every request, the way a remote agent
// configures its key.
type headerTransport struct {
	base        http.RoundTripper
	name, value string
}

func (h *headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set(h.name, h.value)
	return h.base.RoundTrip(r)
}

// connect opens a go-sdk client session over Streamable HTTP, sending the
// key in header, asking for protocol version.
func (e *env) connect(t testing.TB, header, key, version string) (*mcp.ClientSession, error) {
	t.Helper()
	return e.connectWith(t, header, key, version, nil)
}

// connectWith is connect with client options, such as a list-changed
// handler that makes a 2026-07-28 client hold a subscriptions/listen open.
func (e *env) connectWith(t testing.TB, header, key, version string, copts *mcp.ClientOptions) (*mcp.ClientSession, error) {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	value := key
	if header == "Authorization" {
		value = "Bearer " + key
	}
	transport := &mcp.StreamableClientTransport{
		Endpoint:   e.url + "/mcp",
		HTTPClient: &http.Client{Transport: &headerTransport{base: tr, name: header, value: value}},
		MaxRetries: -1,
	}
	client := mcp.NewClient(&mcp.Implementation{Name: "remote-test", Version: "0"}, copts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := client.Connect(ctx, transport, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { cs.Close() })
	return cs, nil
}

// toolNames lists the session's tools.
func toolNames(t testing.TB, cs *mcp.ClientSession) []string {
	t.Helper()
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatalf("ListTools() = %v", err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
	}
	slices.Sort(names)
	return names
}

// waitFor polls cond for up to two seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
