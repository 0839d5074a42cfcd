package remote

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyveil/keyveil/internal/logtest"
	"github.com/keyveil/keyveil/internal/tlstest"
	"github.com/keyveil/keyveil/keys"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestBodyLimit(t *testing.T) {
	t.Parallel()
	e := start(t, 0, func(o *Options) { o.MaxBodyBytes = 1024 })
	key, _ := e.newKey(t, "k", nil, 0, keys.Rate{})
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"_meta":{"pad":"` + strings.Repeat("x", 2048) + `"}}}`

	got := e.do(t, http.MethodPost, "/mcp", bearer(key), big)
	if got.status != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of 2 KiB with a 1 KiB limit: status %d, want 413", got.status)
	} else if code, _ := rpcErrorBody(t, got.body); code != -32013 {
		t.Errorf("413 body code = %d, want -32013", code)
	}

	// Without Content-Length the limit applies while reading.
	req, _ := http.NewRequest(http.MethodPost, e.url+"/mcp", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked POST of 2 KiB with a 1 KiB limit: status %d, want 413", resp.StatusCode)
	}

	if got := e.initialize(t, bearer(key)); got.status != 200 {
		t.Errorf("initialize under the limit: status %d, want 200", got.status)
	}
}

func TestRoutesAndProtectAll(t *testing.T) {
	t.Parallel()
	open := start(t, 0, nil)
	all := start(t, 0, func(o *Options) { o.ProtectAll = true })
	openKey, _ := open.newKey(t, "k", nil, 0, keys.Rate{})
	allKey, _ := all.newKey(t, "k", nil, 0, keys.Rate{})
	tests := []struct {
		name       string
		e          *env
		method     string
		path       string
		hdr        http.Header
		wantStatus int
	}{
		{name: "healthz open", e: open, method: "GET", path: "/healthz", wantStatus: 200},
		{name: "healthz HEAD", e: open, method: "HEAD", path: "/healthz", wantStatus: 200},
		{name: "healthz with a bad key still open", e: open, method: "GET", path: "/healthz", hdr: bearer("nope"), wantStatus: 200},
		{name: "mcp needs a key", e: open, method: "POST", path: "/mcp", wantStatus: 401},
		{name: "unknown path", e: open, method: "GET", path: "/admin", wantStatus: 404},
		{name: "mcp GET without session", e: open, method: "GET", path: "/mcp", hdr: bearer(openKey), wantStatus: 400},
		{name: "protect all: healthz needs a key", e: all, method: "GET", path: "/healthz", wantStatus: 401},
		{name: "protect all: healthz with key", e: all, method: "GET", path: "/healthz", hdr: bearer(allKey), wantStatus: 200},
		{name: "protect all: unknown path needs a key", e: all, method: "GET", path: "/admin", wantStatus: 401},
		{name: "protect all: unknown path with key", e: all, method: "GET", path: "/admin", hdr: bearer(allKey), wantStatus: 404},
		{name: "protect all: mcp with key", e: all, method: "POST", path: "/mcp", hdr: bearer(allKey), wantStatus: 200},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := ""
			if tc.method == "POST" {
				body = initializeBody
			}
			got := tc.e.do(t, tc.method, tc.path, tc.hdr, body)
			if got.status != tc.wantStatus {
				t.Errorf("%s %s: status %d, want %d; body %q", tc.method, tc.path, got.status, tc.wantStatus, got.body)
			}
			if tc.wantStatus == 401 && !strings.HasPrefix(got.header.Get("WWW-Authenticate"), `Bearer error="invalid_token", error_description="`) {
				t.Errorf("%s %s: 401 with WWW-Authenticate %q, want an RFC 6750 invalid_token challenge", tc.method, tc.path, got.header.Get("WWW-Authenticate"))
			}
		})
	}
	if got := open.do(t, "GET", "/healthz", nil, ""); got.body != "{\"status\":\"ok\"}\n" {
		t.Errorf("GET /healthz body = %q", got.body)
	}
}

func TestCheckBind(t *testing.T) {
	t.Parallel()
	tests := []struct {
		addr       string
		tls        bool
		insecure   bool
		wantErr    bool
		wantPublic bool
	}{
		{addr: "127.0.0.1:8787"},
		{addr: "127.0.0.2:0"},
		{addr: "localhost:8787"},
		{addr: "[::1]:8787"},
		{addr: "0.0.0.0:8787", wantErr: true, wantPublic: true},
		{addr: ":8787", wantErr: true, wantPublic: true},
		{addr: "[::]:8787", wantErr: true, wantPublic: true},
		{addr: "192.0.2.10:8787", wantErr: true, wantPublic: true},
		{addr: "mcp.example.com:8787", wantErr: true, wantPublic: true},
		{addr: "0.0.0.0:8787", tls: true, wantPublic: true},
		{addr: "0.0.0.0:8787", insecure: true, wantPublic: true},
		{addr: "8787", wantErr: true},
	}
	for _, tc := range tests {
		o := &Options{Addr: tc.addr, InsecurePublic: tc.insecure}
		if tc.tls {
			o.TLSCert, o.TLSKey = "c.pem", "k.pem"
		}
		public, err := checkBind(o)
		if (err != nil) != tc.wantErr || public != tc.wantPublic {
			t.Errorf("checkBind(%s, tls %v, insecure %v) = %v, %v; want public %v, error %v", tc.addr, tc.tls, tc.insecure, public, err, tc.wantPublic, tc.wantErr)
		}
		if err != nil && public && !strings.Contains(err.Error(), "--insecure-public") {
			t.Errorf("checkBind(%s) error %q does not say how to proceed", tc.addr, err)
		}
	}
}

// serveOptions returns Options for a real ListenAndServe on a free
// loopback port, reporting the address on the returned channel.
func serveOptions(t *testing.T, logs io.Writer) (*Options, chan net.Addr) {
	t.Helper()
	reg, err := keys.Open(filepath.Join(t.TempDir(), "keys.json"), &keys.Options{CreateMissing: true})
	if err != nil {
		t.Fatal(err)
	}
	addrs := make(chan net.Addr, 1)
	ts := &toolServers{}
	return &Options{
		Addr:            "127.0.0.1:0",
		Keys:            reg,
		NewServer:       ts.newServer,
		Logger:          slog.New(slog.NewTextHandler(logs, nil)),
		OnListen:        func(a net.Addr) { addrs <- a },
		ShutdownTimeout: 5 * time.Second,
	}, addrs
}

// runServer runs ListenAndServe until the returned stop func is called;
// stop returns how long shutdown took and ListenAndServe's error.
func runServer(t *testing.T, opts *Options) (stop func() (time.Duration, error)) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- ListenAndServe(ctx, opts) }()
	t.Cleanup(cancel)
	return func() (time.Duration, error) {
		begin := time.Now()
		cancel()
		select {
		case err := <-errc:
			return time.Since(begin), err
		case <-time.After(10 * time.Second):
			t.Fatal("ListenAndServe did not return after cancel")
			return 0, nil
		}
	}
}

// TestListenAndServeShutsDownWithOpenSessions: streams meant to stay open
// (the GET stream of a 2025-11-25 session, a 2026-07-28 subscriptions/listen)
// end when shutdown begins instead of holding it to its deadline.
func TestListenAndServeShutsDownWithOpenSessions(t *testing.T) {
	t.Parallel()
	for _, version := range []string{protoStable, protoNewest} {
		t.Run(version, func(t *testing.T) {
			t.Parallel()
			var logs logtest.Buffer
			opts, addrs := serveOptions(t, &logs)
			key, k, err := opts.Keys.Create("agent", nil, 0, keys.Rate{})
			if err != nil {
				t.Fatal(err)
			}
			stop := runServer(t, opts)
			addr := <-addrs
			e := &env{url: "http://" + addr.String()}
			listening := &mcp.ClientOptions{ToolListChangedHandler: func(context.Context, *mcp.ToolListChangedRequest) {}}
			cs, err := e.connectWith(t, "X-API-Key", key, version, listening)
			if err != nil {
				t.Fatalf("Connect = %v", err)
			}
			if got := toolNames(t, cs); len(got) != 2 {
				t.Errorf("tools/list over a real listener = %q", got)
			}
			took, err := stop()
			if err != nil {
				t.Errorf("ListenAndServe after cancel = %v, want nil", err)
			}
			if took > 3*time.Second {
				t.Errorf("shutdown with an open session took %v; its stream should end at once", took)
			}
			ks, err := opts.Keys.List()
			if err != nil || len(ks) != 1 || ks[0].LastUsed.IsZero() {
				t.Errorf("List() after shutdown = %+v, %v; want %s with a last-used time flushed", ks, err, k.ID)
			}
			if strings.Contains(logs.String(), key[len(key)-32:]) {
				t.Errorf("server log contains the key:\n%s", logs.String())
			}
		})
	}
}

func TestIsStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		method string
		hdr    map[string]string
		want   bool
	}{
		{name: "GET stream", method: "GET", want: true},
		{name: "POST tools/call", method: "POST", hdr: map[string]string{"Mcp-Method": "tools/call", "Mcp-Protocol-Version": protoNewest}},
		{name: "listen at 2026-07-28", method: "POST", hdr: map[string]string{"Mcp-Method": "subscriptions/listen", "Mcp-Protocol-Version": protoNewest}, want: true},
		{name: "listen header on an old protocol", method: "POST", hdr: map[string]string{"Mcp-Method": "subscriptions/listen", "Mcp-Protocol-Version": protoStable}},
		{name: "listen header without a version", method: "POST", hdr: map[string]string{"Mcp-Method": "subscriptions/listen"}},
	}
	for _, tc := range tests {
		r, _ := http.NewRequest(tc.method, "http://127.0.0.1/mcp", nil)
		for k, v := range tc.hdr {
			r.Header.Set(k, v)
		}
		if got := isStream(r); got != tc.want {
			t.Errorf("isStream(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestListenAndServeRefusals(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	opts, _ := serveOptions(t, &logs)
	tests := []struct {
		name   string
		mod    func(*Options)
		wantIn string
	}{
		{name: "public without TLS", mod: func(o *Options) { o.Addr = "0.0.0.0:0" }, wantIn: "without TLS"},
		{name: "cert without key", mod: func(o *Options) { o.TLSCert = "c.pem" }, wantIn: "both or neither"},
		{name: "missing cert files", mod: func(o *Options) { o.TLSCert, o.TLSKey = "/nonexistent/c.pem", "/nonexistent/k.pem" }, wantIn: "TLS certificate"},
		{name: "bad origin", mod: func(o *Options) { o.AllowedOrigins = []string{"localhost"} }, wantIn: "allowed origin"},
		{name: "no registry", mod: func(o *Options) { o.Keys = nil }, wantIn: "key registry"},
		{name: "no NewServer", mod: func(o *Options) { o.NewServer = nil }, wantIn: "NewServer"},
		{name: "bad address", mod: func(o *Options) { o.Addr = "127.0.0.1" }, wantIn: "host:port"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := *opts
			o.OnListen = func(net.Addr) { t.Errorf("%s: ListenAndServe started listening", tc.name) }
			tc.mod(&o)
			err := ListenAndServe(context.Background(), &o)
			if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("ListenAndServe(%s) = %v, want an error mentioning %q", tc.name, err, tc.wantIn)
			}
		})
	}
	if err := ListenAndServe(context.Background(), nil); err == nil {
		t.Error("ListenAndServe(nil options) = nil, want an error")
	}
}

func TestListenAndServeInsecurePublicWarns(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	opts, addrs := serveOptions(t, &logs)
	opts.Addr = "0.0.0.0:0"
	opts.InsecurePublic = true
	stop := runServer(t, opts)
	<-addrs
	if _, err := stop(); err != nil {
		t.Errorf("ListenAndServe = %v", err)
	}
	if !strings.Contains(logs.String(), "INSECURE") {
		t.Errorf("no loud warning for a public plain-HTTP listener; log:\n%s", logs.String())
	}
}

func TestListenAndServeTLS(t *testing.T) {
	t.Parallel()
	certFile, keyFile, pool := selfSigned(t)
	var logs logtest.Buffer
	opts, addrs := serveOptions(t, &logs)
	opts.Addr = "0.0.0.0:0" // allowed because of TLS
	opts.TLSCert, opts.TLSKey = certFile, keyFile
	key, _, err := opts.Keys.Create("agent", nil, 0, keys.Rate{})
	if err != nil {
		t.Fatal(err)
	}
	stop := runServer(t, opts)
	addr := <-addrs
	_, port, _ := net.SplitHostPort(addr.String())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	transport := &mcp.StreamableClientTransport{
		Endpoint:   "https://127.0.0.1:" + port + "/mcp",
		HTTPClient: &http.Client{Transport: &headerTransport{base: tr, name: "Authorization", value: "Bearer " + key}},
		MaxRetries: -1,
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "tls-test", Version: "0"}, nil).Connect(ctx, transport, nil)
	if err != nil {
		t.Fatalf("Connect over TLS = %v", err)
	}
	if got := toolNames(t, cs); len(got) != 2 {
		t.Errorf("tools/list over TLS = %q", got)
	}
	cs.Close()
	plain, err := http.Get("http://127.0.0.1:" + port + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Error("plain HTTP to the TLS listener succeeded")
		}
	}
	if _, err := stop(); err != nil {
		t.Errorf("ListenAndServe = %v", err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and returns its files and
// a pool that trusts it (through the test CA that signed it).
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	ca := tlstest.NewCA(t, "keyveil test CA")
	c := ca.Issue(t, "keyveil test", tlstest.Options{Server: true})
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, []byte(c.CertPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, []byte(c.KeyPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, ca.Pool()
}

// TestMetricsRoute: /metrics answers only to a valid key, with or without
// ProtectAll, and is absent when no handler is given.
func TestMetricsRoute(t *testing.T) {
	t.Parallel()
	h := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "keyveil_up 1\n") })
	open := start(t, 0, func(o *Options) { o.Metrics = h })
	all := start(t, 0, func(o *Options) { o.Metrics = h; o.ProtectAll = true })
	none := start(t, 0, nil)
	openKey, _ := open.newKey(t, "k", nil, 0, keys.Rate{})
	allKey, _ := all.newKey(t, "k", nil, 0, keys.Rate{})
	noneKey, _ := none.newKey(t, "k", nil, 0, keys.Rate{})
	tests := []struct {
		name       string
		e          *env
		hdr        http.Header
		wantStatus int
	}{
		{"no key", open, nil, 401},
		{"wrong key", open, bearer("kv_nope_nope"), 401},
		{"valid key", open, bearer(openKey), 200},
		{"protect all: no key", all, nil, 401},
		{"protect all: valid key", all, bearer(allKey), 200},
		{"no metrics handler", none, bearer(noneKey), 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.e.do(t, "GET", "/metrics", tc.hdr, "")
			if got.status != tc.wantStatus {
				t.Fatalf("GET /metrics: status %d, want %d; body %q", got.status, tc.wantStatus, got.body)
			}
			if (got.status == 200) != strings.Contains(got.body, "keyveil_up 1") {
				t.Errorf("GET /metrics: body %q", got.body)
			}
		})
	}
}
