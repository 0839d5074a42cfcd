package tools

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/state"
	"github.com/keyveil/keyveil/state/statetest"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkGuardState measures what --state adds to one tool call, side by
// side with the in-memory guards: a GET under a service rate limit (peek
// and take: two Redis round trips) and a POST that is idempotent (acquire
// and finish, plus the rate limit). The downstream is a loopback
// httptest server. Run: go test -run '^$' -bench GuardState ./tools/
func BenchmarkGuardState(b *testing.B) {
	srv := statetest.Start(b)
	api := newBenchAPI(b)
	path := filepath.Join(b.TempDir(), "services.yaml")
	if err := os.WriteFile(path, []byte(guardConfig(api, "    rate: 1000000/s\n    burst: 1000000\n")), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.LoadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	shared, err := state.Open(&state.Options{URL: srv.URL()})
	if err != nil {
		b.Fatal(err)
	}
	defer shared.Close()
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	defer tr.CloseIdleConnections()
	for _, guards := range []struct {
		name string
		g    func() *Guards
	}{
		{"memory", NewGuards},
		{"redis", func() *Guards { return NewSharedGuards(shared) }},
	} {
		d := Deps{Config: cfg, Client: &http.Client{Transport: tr}, Redact: redactFake, Guards: guards.g()}.withDefaults()
		for _, call := range []struct{ tool, args string }{
			{"get_quote", `{"id":"Q-1"}`},
			{"send_payment", `{"to":"ann@example.com","amount":%d,"currency":"EUR"}`},
		} {
			var h mcp.ToolHandler
			for _, tl := range All(d) {
				if tl.Tool.Name == call.tool {
					h = tl.Handler
				}
			}
			b.Run(guards.name+"/"+call.tool, func(b *testing.B) {
				var n atomic.Int64
				for b.Loop() {
					args := call.args
					if call.tool == "send_payment" {
						// A new operation each time: measure sending, not replaying.
						args = `{"to":"ann@example.com","amount":` + strconv.FormatInt(n.Add(1)%999+1, 10) + `.` + strconv.FormatInt(n.Load(), 10) + `,"currency":"EUR"}`
					}
					res, err := h(context.Background(), &mcp.CallToolRequest{Params: &mcp.CallToolParamsRaw{Name: call.tool, Arguments: json.RawMessage(args)}})
					if err != nil || res.IsError {
						b.Fatalf("%s: %v %v", call.tool, err, res)
					}
				}
			})
		}
	}
}

// newBenchAPI is a downstream that answers 200 {"ok":true}.
func newBenchAPI(b *testing.B) string {
	s := newBenchServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	b.Cleanup(s.Close)
	return s.URL
}

func newBenchServer(h http.Handler) *httptest.Server { return httptest.NewServer(h) }
