package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/state/statetest"
)

// BenchmarkFleet measures tools/call throughput of 1 and 3 replicas
// behind a round-robin proxy, with guards in memory and in Redis, at 8 and
// 64 concurrent 2026-07-28 (stateless) clients. Each call is a call_api GET
// under a service rate limit high enough never to refuse, so with Redis
// every call makes its two shared decisions. Reports req/s.
//
//	go test -run '^$' -bench Fleet -benchtime=400x .
func BenchmarkFleet(b *testing.B) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(api.Close)
	redis := statetest.Start(b)
	keysPath, key := newKeysFile(b)
	for _, st := range []string{"memory", "redis"} {
		for _, n := range []int{1, 3} {
			env := []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + api.URL, "MCP_API_RATE=1000000/s", "KEYVEIL_KEYS=" + keysPath, "KEYVEIL_AUDIT_LOG=/dev/null"}
			if st == "redis" {
				env = append(env, "KEYVEIL_STATE="+redis.URL())
			}
			var rs []*replica
			for range n {
				rs = append(rs, startReplica(b, env))
			}
			lb := roundRobin(b, rs)
			for _, clients := range []int{8, 64} {
				b.Run(fmt.Sprintf("%s/replicas=%d/clients=%d", st, n, clients), func(b *testing.B) {
					css := make([]*mcp.ClientSession, clients)
					for i := range css {
						css[i] = mcpClient(b, lb+"/mcp", key, mcp.SupportedProtocolVersions()[0], nil)
					}
					work := make(chan struct{}, b.N)
					for range b.N {
						work <- struct{}{}
					}
					close(work)
					b.ResetTimer()
					start := time.Now()
					var wg sync.WaitGroup
					for _, cs := range css {
						wg.Go(func() {
							for range work {
								res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"method": "GET", "path": "/x"}})
								if err != nil || res.IsError {
									b.Errorf("call: %v %v", err, res)
									return
								}
							}
						})
					}
					wg.Wait()
					b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
				})
			}
		}
	}
}
