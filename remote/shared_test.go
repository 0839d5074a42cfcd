package remote

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyveil/keyveil/keys"
	"github.com/keyveil/keyveil/state"
	"github.com/keyveil/keyveil/state/statetest"
)

// TestSharedKeyRate: a key's rate holds across replicas that share a
// Redis, and while Redis is away a limited key is refused with 503 and
// Retry-After, never served on a per-replica guess.
func TestSharedKeyRate(t *testing.T) {
	redis := statetest.Start(t)
	path := filepath.Join(t.TempDir(), "keys.json")
	admin, err := keys.Open(path, &keys.Options{CreateMissing: true, PollInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	limited, _, err := admin.Create("limited", nil, 0, keys.Rate{Events: 3, Per: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	free, _, err := admin.Create("free", nil, 0, keys.Rate{})
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for range 3 {
		reg, err := keys.Open(path, nil)
		if err != nil {
			t.Fatal(err)
		}
		s, err := state.Open(&state.Options{URL: redis.URL()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		ts := &toolServers{}
		urls = append(urls, serveHandler(t, &Options{Keys: reg, NewServer: ts.newServer, State: s}))
	}
	post := func(url, key string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, url+"/mcp", strings.NewReader(initializeBody))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	admitted := 0
	for i := range 9 {
		switch resp := post(urls[i%3], limited); resp.StatusCode {
		case http.StatusOK:
			admitted++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
	}
	if admitted != 3 {
		t.Errorf("9 requests over 3 replicas with 3/h admitted %d, want 3", admitted)
	}

	redis.Stop()
	resp := post(urls[1], limited)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "5" {
		t.Errorf("limited key with Redis down: status %d Retry-After %q, want 503 and 5", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp := post(urls[2], free); resp.StatusCode != http.StatusOK {
		t.Errorf("key without a rate with Redis down: status %d, want 200 (no shared decision needed)", resp.StatusCode)
	}
}
