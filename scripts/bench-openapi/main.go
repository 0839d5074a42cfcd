// The bench-openapi command measures what an operator pays for importing
// a large OpenAPI document: it spawns the keyveil binary with a services
// file that offers every operation of openapi/testdata/github.json (509
// operations of GitHub's REST API), connects the go-sdk client over the
// process's stdio, and times spawn → initialize reply and spawn →
// tools/list reply. It prints the median and spread of -n runs and the
// tools/list payload size. The first run also fills keyveil's OpenAPI
// cache; -cold clears the cache before every run.
//
// Usage (scripts/bench-openapi.sh builds the binary first):
//
//	go run ./scripts/bench-openapi [-bin ./keyveil] [-n 20] [-cold]
//
// Unlike keyveil itself, this is a program for people: it prints to stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func main() {
	bin := flag.String("bin", "./keyveil", "the keyveil binary to run")
	n := flag.Int("n", 20, "runs")
	cold := flag.Bool("cold", false, "clear keyveil's OpenAPI cache before every run")
	flag.Parse()
	if err := run(*bin, *n, *cold); err != nil {
		fmt.Fprintf(os.Stderr, "bench-openapi: %v\n", err)
		os.Exit(1)
	}
}

func run(bin string, n int, cold bool) error {
	bin, err := filepath.Abs(bin)
	if err != nil {
		return err
	}
	spec, err := filepath.Abs("openapi/testdata/github.json")
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "keyveil-bench-openapi")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "keyveil.yaml")
	body := fmt.Sprintf("services:\n  github:\n    base_url: https://api.github.com\n    auth: {type: bearer, env: GITHUB_TOKEN}\n    call_api: false\n    openapi: %s\n    operations: [\"*\"]\n", spec)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		return err
	}
	cache := filepath.Join(dir, "cache")
	var initT, listT []time.Duration
	var tools, size int
	for i := 0; i < n; i++ {
		if cold {
			_ = os.RemoveAll(cache)
		}
		a, b, nt, sz, err := once(bin, cfg, cache)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		initT, listT = append(initT, a), append(listT, b)
		tools, size = nt, sz
	}
	fmt.Printf("spawn -> tools/list, %d operations imported from %s, %d runs (cold cache: %v)\n", tools, filepath.Base(spec), n, cold)
	fmt.Printf("  initialize reply:  median %v  min %v  max %v\n", median(initT), slices.Min(initT), slices.Max(initT))
	fmt.Printf("  tools/list reply:  median %v  min %v  max %v  (first run %v)\n", median(listT), slices.Min(listT), slices.Max(listT), listT[0])
	fmt.Printf("  tools/list payload: %d tools, %d bytes\n", tools, size)
	return nil
}

func once(bin, cfg, cache string) (initT, listT time.Duration, tools, size int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(), "GITHUB_TOKEN=ghp_benchBENCHbench0123456789abcdefABCDEF", "XDG_CACHE_HOME="+cache)
	client := mcp.NewClient(&mcp.Implementation{Name: "bench-openapi", Version: "0"}, nil)
	start := time.Now()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	defer cs.Close()
	initT = time.Since(start)
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	listT = time.Since(start)
	b, err := json.Marshal(res)
	if err != nil {
		return 0, 0, 0, 0, err
	}
	return initT, listT, len(res.Tools), len(b), nil
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}
