package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	neturl "net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/state/statetest"
)

// replica is one `keyveil serve --http` process.
type replica struct {
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	stderr strings.Builder
}

func (r *replica) logs() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stderr.String()
}

var listening = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startReplica runs keyveil serve --http on a free loopback port with env
// added to a clean environment, and waits until it listens. It is stopped
// with the test.
func startReplica(t testing.TB, env []string, args ...string) *replica {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve", "--http", "127.0.0.1:0"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := &replica{cmd: cmd}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			line := sc.Text()
			r.mu.Lock()
			r.stderr.WriteString(line + "\n")
			r.mu.Unlock()
			if m := listening.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		close(addr)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("keyveil exited before listening:\n%s", r.logs())
		}
		r.addr = a
	case <-time.After(15 * time.Second):
		t.Fatalf("keyveil did not listen within 15 s:\n%s", r.logs())
	}
	return r
}

// newKeysFile creates a key registry with one key and returns its path
// and the key.
func newKeysFile(t testing.TB, args ...string) (path, key string) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "keys.json")
	out, err := exec.Command(binPath, append([]string{"keys", "create", "--name", "agent", "--keys", path}, args...)...).Output()
	if err != nil {
		t.Fatalf("keys create: %v", err)
	}
	m := regexp.MustCompile(`kv_\S+`).FindString(string(out))
	if m == "" {
		t.Fatalf("keys create printed no key: %q", out)
	}
	return path, m
}

// TestServeStatePassword: the Redis password, from the URL or from
// KEYVEIL_STATE_PASSWORD_FILE, never reaches keyveil's output, which
// names the server as host:port/db only.
func TestServeStatePassword(t *testing.T) {
	const pw = "sk-test-LEAKCHECK-redis-pw"
	redis := statetest.StartWith(t, "--requirepass", pw)
	keysPath, _ := newKeysFile(t)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte(pw+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=http://127.0.0.1:9", "KEYVEIL_KEYS=" + keysPath, "KEYVEIL_LOG_LEVEL=debug"}
	tests := []struct {
		name      string
		env       []string
		reachable bool
	}{
		{"password in the URL", []string{"KEYVEIL_STATE=redis://:" + pw + "@" + redis.Addr() + "/0"}, true},
		{"password in a file", []string{"KEYVEIL_STATE=redis://" + redis.Addr() + "/0", "KEYVEIL_STATE_PASSWORD_FILE=" + pwFile}, true},
		{"wrong password", []string{"KEYVEIL_STATE=redis://:wrong-" + pw + "@" + redis.Addr() + "/0"}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := startReplica(t, append(base, tc.env...))
			logs := r.logs()
			want := "shared state\" state=redis://" + redis.Addr() + "/0"
			if !tc.reachable {
				want = "shared state not reachable yet"
			}
			if !strings.Contains(logs, want) {
				t.Errorf("start-up log does not say %q:\n%s", want, logs)
			}
			if strings.Contains(logs, pw) {
				t.Errorf("the Redis password is in keyveil's output:\n%s", logs)
			}
		})
	}
}

// keyHeader adds the keyveil key to every request of an MCP client.
type keyHeader struct {
	key  string
	base http.RoundTripper
}

func (k keyHeader) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+k.key)
	return k.base.RoundTrip(r)
}

// mcpClient connects the go-sdk client to url with key, speaking version.
func mcpClient(t testing.TB, url, key, version string, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	c := mcp.NewClient(&mcp.Implementation{Name: "fleet-test", Version: "0"}, opts)
	cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
		Endpoint: url, HTTPClient: &http.Client{Transport: keyHeader{key, tr}}, DisableStandaloneSSE: true, MaxRetries: -1,
	}, &mcp.ClientSessionOptions{ProtocolVersion: version})
	if err != nil {
		t.Fatalf("connecting to %s: %v", url, err)
	}
	t.Cleanup(func() { _ = cs.Close() })
	return cs
}

// fetch sends one request and returns status, header and body.
func fetch(t *testing.T, method, url, key, body string) (int, http.Header, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequestWithContext(ctx, method, url, rd)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// freeAddr returns a loopback address nobody listens on, for --metrics.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeMetrics: a tool call and a refused key show up in /metrics,
// served to a valid key and on the --metrics loopback listener; nothing
// the client sent (a path, an argument, a made-up tool name) and no key
// becomes a label.
func TestServeMetrics(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(api.Close)
	keysPath, key := newKeysFile(t)
	maddr := freeAddr(t)
	r := startReplica(t, []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + api.URL, "KEYVEIL_KEYS=" + keysPath}, "--metrics", maddr)
	url := "http://" + r.addr
	cs := mcpClient(t, url+"/mcp", key, "2025-11-25", nil)
	leak := "sk-test-LEAKCHECK-arg"
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"method": "GET", "path": "/items/" + leak, "query": map[string]any{"q": leak}}})
	if err != nil || res.IsError {
		t.Fatalf("call_api: %v %v", err, res)
	}
	_, _ = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "tool_" + leak, Arguments: map[string]any{}})
	fetch(t, "POST", url+"/mcp", "kv_bad_"+leak, `{}`)

	if status, _, _ := fetch(t, "GET", url+"/metrics", "", ""); status != http.StatusUnauthorized {
		t.Errorf("GET /metrics without a key: status %d, want 401", status)
	}
	for _, where := range []struct{ name, url, key string }{
		{"with a key", url + "/metrics", key},
		{"--metrics listener", "http://" + maddr + "/metrics", ""},
	} {
		status, _, body := fetch(t, "GET", where.url, where.key, "")
		if status != 200 {
			t.Fatalf("%s: status %d", where.name, status)
		}
		for _, want := range []string{
			`keyveil_tool_calls_total{outcome="ok",service="api",tool="call_api"} 1`,
			`keyveil_upstream_request_duration_seconds_count{code="2xx",service="api"} 1`,
			`keyveil_auth_failures_total{reason="invalid"} 1`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("%s: /metrics lacks %s", where.name, want)
			}
		}
		if strings.Contains(body, "LEAKCHECK") || strings.Contains(body, key) {
			t.Errorf("%s: /metrics carries a key, path or argument value", where.name)
		}
	}
}

// roundRobin is a small load balancer: each request goes to the next
// replica in turn, with no session affinity.
func roundRobin(t testing.TB, rs []*replica) string {
	t.Helper()
	var n atomic.Int64
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			r := rs[int(n.Add(1)-1)%len(rs)]
			pr.SetURL(&neturl.URL{Scheme: "http", Host: r.addr})
			pr.Out.Host = r.addr
		},
		FlushInterval: -1,
		// Clients closing their connections at the end are not news.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFleet runs three replicas on one Redis behind a round-robin proxy
// (issue 12): the fleet admits exactly a key's rate, an idempotent call
// reaches the API once whichever replicas it goes through, a confirmation
// state is single-use across replicas, a revocation reaches every replica
// within about a second, and Redis going away gives clear refusals and no
// crash, with recovery when it returns.
func TestFleet(t *testing.T) {
	redis := statetest.Start(t)
	var hits atomic.Int64
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/slow" {
			<-release
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(api.Close)
	dir := t.TempDir()
	keysPath := filepath.Join(dir, "keys.json")
	create := func(args ...string) (id, key string) {
		t.Helper()
		out, err := exec.Command(binPath, append([]string{"keys", "create", "--keys", keysPath}, args...)...).Output()
		if err != nil {
			t.Fatalf("keys create: %v", err)
		}
		key = strings.TrimSpace(string(out))
		return strings.Split(key, "_")[1], key
	}
	_, limited := create("--name", "limited", "--rate", "6/h")
	agentID, agent := create("--name", "agent")
	// delete_quote is never replayed, so only the nonce stops a second send.
	services := `
services:
  api:
    base_url: ` + api.URL + `
    auth: { type: bearer, env: MCP_API_KEY }
    allow: ["GET /**", "POST /**", "DELETE /**"]
tools:
  - name: delete_quote
    description: Delete a quote.
    service: api
    method: DELETE
    path: /quotes/{id}
    idempotency: false
    input:
      type: object
      properties: { id: { type: string } }
      required: [id]
`
	cfgPath := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(cfgPath, []byte(services), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{"MCP_API_KEY=" + fakeKey, "KEYVEIL_CONFIG=" + cfgPath, "KEYVEIL_KEYS=" + keysPath, "KEYVEIL_STATE=" + redis.URL()}
	var rs []*replica
	for range 3 {
		rs = append(rs, startReplica(t, env))
	}
	lb := roundRobin(t, rs)
	const initialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"0"}}}`

	t.Run("the fleet admits exactly a key's rate", func(t *testing.T) {
		admitted := 0
		for range 15 {
			status, _, _ := fetch(t, "POST", lb+"/mcp", limited, initialize)
			if status == 200 {
				admitted++
			}
		}
		if admitted != 6 {
			t.Errorf("15 requests over 3 replicas with a 6/h key: %d admitted, want 6", admitted)
		}
	})

	t.Run("one upstream request for an idempotent call through different replicas", func(t *testing.T) {
		before := hits.Load()
		args := map[string]any{"method": "POST", "path": "/slow", "body": map[string]any{"n": 1}}
		var wg sync.WaitGroup
		results := make([]*mcp.CallToolResult, 3)
		for i, r := range rs {
			cs := mcpClient(t, "http://"+r.addr+"/mcp", agent, "2025-11-25", nil)
			wg.Go(func() {
				res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "call_api", Arguments: args})
				if err != nil {
					t.Error(err)
				}
				results[i] = res
			})
		}
		for hits.Load() == before {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(200 * time.Millisecond) // the other two wait on the leader
		close(release)
		wg.Wait()
		// And again later through the round-robin proxy, statelessly.
		cs := mcpClient(t, lb+"/mcp", agent, mcp.SupportedProtocolVersions()[0], nil)
		for range 3 {
			res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "call_api", Arguments: args})
			if err != nil || res.IsError {
				t.Fatalf("call through the proxy: %v %v", err, res)
			}
		}
		if got := hits.Load() - before; got != 1 {
			t.Errorf("6 identical calls through 3 replicas reached the API %d times, want once", got)
		}
	})

	t.Run("a confirmation state cannot be replayed on another replica", func(t *testing.T) {
		before := hits.Load()
		opts := &mcp.ClientOptions{
			MultiRoundTrip: &mcp.MultiRoundTripOptions{Disabled: true},
			ElicitationHandler: func(context.Context, *mcp.ElicitRequest) (*mcp.ElicitResult, error) {
				return &mcp.ElicitResult{Action: "decline"}, nil
			},
		}
		var css []*mcp.ClientSession
		for _, r := range rs {
			css = append(css, mcpClient(t, "http://"+r.addr+"/mcp", agent, mcp.SupportedProtocolVersions()[0], opts))
		}
		args := map[string]any{"id": "Q-1"}
		accept := mcp.InputResponseMap{"confirm": &mcp.ElicitResult{Action: "accept"}}
		q, err := css[0].CallTool(context.Background(), &mcp.CallToolParams{Name: "delete_quote", Arguments: args})
		if err != nil || !q.NeedsInput() {
			t.Fatalf("DELETE: %v, needs input %v; want a confirmation question", err, q != nil && q.NeedsInput())
		}
		res, err := css[1].CallTool(context.Background(), &mcp.CallToolParams{Name: "delete_quote", Arguments: args, InputResponses: accept, RequestState: q.RequestState})
		if err != nil || res.IsError || res.NeedsInput() {
			t.Fatalf("answer on another replica: %v %v", err, res)
		}
		res, err = css[2].CallTool(context.Background(), &mcp.CallToolParams{Name: "delete_quote", Arguments: args, InputResponses: accept, RequestState: q.RequestState})
		if err != nil || !res.NeedsInput() {
			t.Errorf("the same state on a third replica: %v, needs input %v; want asked again", err, res != nil && res.NeedsInput())
		}
		if got := hits.Load() - before; got != 1 {
			t.Errorf("the API saw %d DELETEs, want 1", got)
		}
	})

	t.Run("Redis going away gives clear errors and no crash, and recovery", func(t *testing.T) {
		redis.Stop()
		cs := mcpClient(t, "http://"+rs[0].addr+"/mcp", agent, "2025-11-25", nil)
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"method": "POST", "path": "/down", "body": map[string]any{}}})
		if err != nil || !res.IsError || !strings.Contains(fmt.Sprint(res.Content[0]), "shared state (Redis)") {
			t.Errorf("idempotent write with Redis down: %v %+v; want a refusal naming the shared state", err, res)
		}
		status, h, _ := fetch(t, "POST", "http://"+rs[1].addr+"/mcp", limited, initialize)
		if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" {
			t.Errorf("rate-limited key with Redis down: status %d Retry-After %q; want 503 with Retry-After", status, h.Get("Retry-After"))
		}
		for _, r := range rs {
			if status, _, _ := fetch(t, "GET", "http://"+r.addr+"/healthz", "", ""); status != 200 {
				t.Errorf("replica %s: /healthz %d with Redis down", r.addr, status)
			}
		}
		redis.Restart()
		res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"method": "POST", "path": "/down", "body": map[string]any{}}})
		if err != nil || res.IsError {
			t.Errorf("after Redis returned: %v %+v; want sent", err, res)
		}
	})

	t.Run("revocation reaches every replica within a second", func(t *testing.T) {
		if out, err := exec.Command(binPath, "keys", "revoke", agentID, "--keys", keysPath).CombinedOutput(); err != nil {
			t.Fatalf("keys revoke: %v %s", err, out)
		}
		revoked := time.Now()
		for _, r := range rs {
			for {
				status, _, _ := fetch(t, "POST", "http://"+r.addr+"/mcp", agent, initialize)
				if status == http.StatusUnauthorized {
					break
				}
				// The registry is polled once a second; allow scheduling slack.
				if time.Since(revoked) > 3*time.Second {
					t.Fatalf("replica %s still admits a revoked key after %v", r.addr, time.Since(revoked))
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		t.Logf("every replica refused the revoked key %v after the revocation", time.Since(revoked).Round(time.Millisecond))
	})
}

// sticky is a load balancer with session affinity on Mcp-Session-Id, as
// the README asks for 2025 clients: a request without a session goes
// round-robin, one with a session to the replica that created it.
func sticky(t testing.TB, rs []*replica) string {
	t.Helper()
	var n atomic.Int64
	var mu sync.Mutex
	owner := map[string]string{}
	p := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			mu.Lock()
			addr, ok := owner[pr.In.Header.Get("Mcp-Session-Id")]
			mu.Unlock()
			if !ok {
				addr = rs[int(n.Add(1)-1)%len(rs)].addr
			}
			pr.SetURL(&neturl.URL{Scheme: "http", Host: addr})
			pr.Out.Host = addr
		},
		ModifyResponse: func(resp *http.Response) error {
			if id := resp.Header.Get("Mcp-Session-Id"); id != "" {
				mu.Lock()
				owner[id] = resp.Request.URL.Host
				mu.Unlock()
			}
			return nil
		},
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestFleetSessions: a 2025 client keeps working behind a load balancer
// with session affinity and loses its session behind plain round-robin
// (the cost the README documents); a 2026-07-28 client works behind
// either.
func TestFleetSessions(t *testing.T) {
	redis := statetest.Start(t)
	keysPath, key := newKeysFile(t)
	env := []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=http://127.0.0.1:9", "KEYVEIL_KEYS=" + keysPath, "KEYVEIL_STATE=" + redis.URL()}
	var rs []*replica
	for range 3 {
		rs = append(rs, startReplica(t, env))
	}
	rr, st := roundRobin(t, rs), sticky(t, rs)
	tests := []struct {
		name, lb, version string
		wantOK            bool
	}{
		{"2025 behind sticky sessions", st, "2025-11-25", true},
		{"2025 behind round-robin", rr, "2025-11-25", false},
		{"2026-07-28 behind round-robin", rr, mcp.SupportedProtocolVersions()[0], true},
		{"2026-07-28 behind sticky sessions", st, mcp.SupportedProtocolVersions()[0], true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := &http.Transport{}
			t.Cleanup(tr.CloseIdleConnections)
			c := mcp.NewClient(&mcp.Implementation{Name: "fleet-test", Version: "0"}, nil)
			cs, err := c.Connect(context.Background(), &mcp.StreamableClientTransport{
				Endpoint: tc.lb + "/mcp", HTTPClient: &http.Client{Transport: keyHeader{key, tr}}, DisableStandaloneSSE: true, MaxRetries: -1,
			}, &mcp.ClientSessionOptions{ProtocolVersion: tc.version})
			ok := err == nil
			for i := 0; ok && i < 6; i++ {
				if _, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "list_services", Arguments: map[string]any{}}); err != nil {
					ok = false
				}
			}
			if cs != nil {
				_ = cs.Close()
			}
			t.Logf("last error: %v", err)
			if ok != tc.wantOK {
				t.Errorf("6 tools/list calls: all succeeded = %v, want %v", ok, tc.wantOK)
			}
		})
	}
}
