package remote

// Benchmarks for the HTTP mode; scripts/bench-http.sh runs them with sizes
// that finish in seconds. Compare sub-benchmarks side by side: the absolute
// numbers depend on the machine, the ratios much less.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyveil/keyveil/keys"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkAuthenticate measures Registry.Authenticate alone: a good key,
// and the two refusals that must cost the same (unknown id, wrong secret).
func BenchmarkAuthenticate(b *testing.B) {
	reg, err := keys.Open(filepath.Join(b.TempDir(), "keys.json"), &keys.Options{CreateMissing: true})
	if err != nil {
		b.Fatal(err)
	}
	var good, other string
	for i := range 100 { // a registry of realistic size
		k, _, err := reg.Create(fmt.Sprintf("k%d", i), []string{"read"}, 0, keys.Rate{})
		if err != nil {
			b.Fatal(err)
		}
		good, other = k, good
	}
	parts, otherParts := strings.Split(good, "_"), strings.Split(other, "_")
	cases := []struct{ name, key string }{
		{"valid", good},
		{"unknown-id", "kv_aaaaaaaa_" + parts[2]},
		{"wrong-secret", "kv_" + parts[1] + "_" + otherParts[2]},
		{"malformed", "sk-test-LEAKCHECK-0123456789"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_, _ = reg.Authenticate(c.key)
			}
		})
	}
}

// discardWriter is a ResponseWriter that costs next to nothing, so the
// middleware benchmark measures the middleware.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkMiddleware runs the same trivial handler bare, behind
// authentication (key and rate limit), behind authentication and session
// binding, and behind every check a request to /mcp passes (Host, Origin,
// body limit, key, rate limit, session binding), from an agent (no Origin)
// and from a browser page (Origin, CORS headers). The difference between
// "bare" and the others is the per-request cost; the target for
// authentication is at most 5 µs.
func BenchmarkMiddleware(b *testing.B) {
	e := start(b, time.Second, quiet)
	key, _ := e.newKey(b, "bench", []string{"read"}, 0, keys.Rate{Events: 1 << 30, Per: time.Second})
	o, _ := (&Options{Keys: e.keys, NewServer: e.servers.newServer, DefaultRate: keys.Rate{}}).withDefaults()
	h, err := newHandler(o)
	if err != nil {
		b.Fatal(err)
	}
	noop := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(200) })
	variants := []struct {
		name string
		h    http.Handler
	}{
		{"bare", noop},
		{"auth", h.authenticate(noop)},
		{"auth+bind", h.authenticate(bindSession(noop))},
		{"chain", h.checkHost(h.checkOrigin(h.limitBody(h.authenticate(bindSession(noop)))))},
		{"chain-browser", h.checkHost(h.checkOrigin(h.limitBody(h.authenticate(bindSession(noop)))))},
	}
	local := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8787}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			req := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8787/mcp", http.NoBody)
			req = req.WithContext(context.WithValue(req.Context(), http.LocalAddrContextKey, local))
			if v.name == "chain-browser" {
				req.Header.Set("Origin", "http://localhost:6274") // adds the CORS work
			}
			w := &discardWriter{h: http.Header{}}
			auth := []string{"Bearer " + key}
			b.ReportAllocs()
			for b.Loop() {
				req.Header["Authorization"] = auth // authenticate replaces it
				clear(w.h)                         // CORS headers would pile up
				v.h.ServeHTTP(w, req)
			}
		})
	}
}

// BenchmarkToolsList measures requests per second for tools/list and a
// tools/call over loopback with 1, 8 and 64 concurrent clients, each with
// its own session and connection, with authentication on and off.
func BenchmarkToolsList(b *testing.B) {
	for _, method := range []string{"tools/list", "tools/call"} {
		for _, clients := range []int{1, 8, 64} {
			for _, authOn := range []bool{true, false} {
				name := fmt.Sprintf("%s/clients=%d/auth=%v", method, clients, authOn)
				b.Run(name, func(b *testing.B) { benchCalls(b, method, clients, authOn) })
			}
		}
	}
}

func benchCalls(b *testing.B, method string, clients int, authOn bool) {
	e := start(b, time.Second, quiet)
	key, k := e.newKey(b, "bench", nil, 0, keys.Rate{})
	url := e.url
	if !authOn {
		// The same MCP handler with the key put in place directly: what
		// remains is the go-sdk and HTTP cost.
		o, _ := (&Options{Keys: e.keys, NewServer: e.servers.newServer}).withDefaults()
		h, _ := newHandler(o)
		inner := h.mcpHandler()
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			inner.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContextKey{}, k)))
		}))
		b.Cleanup(srv.Close)
		url = srv.URL
	}
	sessions := make([]*mcp.ClientSession, clients)
	for i := range sessions {
		cs, err := (&env{url: url}).connect(b, "Authorization", key, protoStable)
		if err != nil {
			b.Fatal(err)
		}
		sessions[i] = cs
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	ctx := context.Background()
	b.ResetTimer()
	begin := time.Now()
	for _, cs := range sessions {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				var err error
				if method == "tools/list" {
					_, err = cs.ListTools(ctx, nil)
				} else {
					_, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "echo_headers"})
				}
				if err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(begin).Seconds(), "req/s")
}

// BenchmarkSessions1000 opens 1,000 initialized sessions (initialize plus
// notifications/initialized, as a client does) and reports the server's
// retained heap and goroutines per session. The client side is raw HTTP
// with no event stream, so nearly all of the growth is server state.
func BenchmarkSessions1000(b *testing.B) {
	const n = 1000
	for b.Loop() {
		e := start(b, time.Second, quiet)
		key, _ := e.newKey(b, "bench", nil, 0, keys.Rate{})
		e.tr.MaxIdleConnsPerHost = 16
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		goroutines := runtime.NumGoroutine()
		for range n {
			got := e.initialize(b, bearer(key))
			sid := got.header.Get("Mcp-Session-Id")
			if got.status != 200 || sid == "" {
				b.Fatalf("initialize: %d %q", got.status, got.body)
			}
			hdr := bearer(key)
			hdr.Set("Mcp-Session-Id", sid)
			hdr.Set("Mcp-Protocol-Version", protoStable)
			if got := e.do(b, http.MethodPost, "/mcp", hdr, `{"jsonrpc":"2.0","method":"notifications/initialized"}`); got.status != http.StatusAccepted {
				b.Fatalf("initialized: %d %q", got.status, got.body)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-B/session")
		b.ReportMetric(float64(runtime.NumGoroutine()-goroutines)/n, "goroutines/session")
	}
}

// quiet drops the test env's audit and debug logger, which the other side
// of each comparison does not have either.
func quiet(o *Options) {
	o.Audit = nil
	o.Logger = nil
}
