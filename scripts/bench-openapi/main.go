// The bench-openapi command measures what an operator pays for importing
// a large OpenAPI document: it spawns the keyveil binary with a services
// file that offers every operation of openapi/testdata/github.json (509
// operations of GitHub's REST API, a 1.6 MB tools/list), and times spawn
// -> initialize reply and spawn -> tools/list reply two ways: over raw
// pipes, reading the reply line as scripts/bench does (what keyveil
// costs), and with the go-sdk client, as a Go host sees it (which adds the
// client decoding 1.6 MB). It prints the median, p90 and spread of -n runs,
// the payload size and the machine's load average. The first run also
// fills keyveil's OpenAPI cache; -cold clears the cache before every run.
//
// Usage (scripts/bench-openapi.sh builds the binary first):
//
//	go run ./scripts/bench-openapi [-bin ./keyveil] [-n 20] [-cold]
//
// Unlike keyveil itself, this is a program for people: it prints to stdout.
package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
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
	var rawInit, rawList, sdkInit, sdkList []time.Duration
	var tools, size int
	for i := 0; i < n; i++ {
		if cold {
			_ = os.RemoveAll(cache)
		}
		a, b, sz, err := raw(bin, cfg, cache)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		rawInit, rawList, size = append(rawInit, a), append(rawList, b), sz
		if cold {
			_ = os.RemoveAll(cache)
		}
		a, b, nt, err := once(bin, cfg, cache)
		if err != nil {
			return fmt.Errorf("run %d: %w", i, err)
		}
		sdkInit, sdkList, tools = append(sdkInit, a), append(sdkList, b), nt
	}
	fmt.Printf("spawn -> tools/list, every operation of %s imported (%d tools listed), %d runs each (cold cache: %v), load average %s\n", filepath.Base(spec), tools, n, cold, loadavg())
	fmt.Printf("  tools/list payload: %d tools, %d bytes\n", tools, size)
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{
		{"raw pipes:  initialize reply", rawInit},
		{"raw pipes:  tools/list reply", rawList},
		{"sdk client: initialize reply", sdkInit},
		{"sdk client: tools/list reply", sdkList},
	} {
		fmt.Printf("  %s  median %6.1f ms  p90 %6.1f ms  min %6.1f  max %6.1f  (first run %.1f)\n", m.name, ms(pct(m.d, 50)), ms(pct(m.d, 90)), ms(slices.Min(m.d)), ms(slices.Max(m.d)), ms(m.d[0]))
	}
	return nil
}

// raw times one start over plain pipes: the initialize reply and the
// tools/list reply line, as a host reads them before parsing.
func raw(bin, cfg, cache string) (initT, listT time.Duration, size int, err error) {
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(), "GITHUB_TOKEN=ghp_benchBENCHbench0123456789abcdefABCDEF", "XDG_CACHE_HOME="+cache, "KEYVEIL_LOG_LEVEL=warn")
	in, err := cmd.StdinPipe()
	if err != nil {
		return 0, 0, 0, err
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		return 0, 0, 0, err
	}
	out := bufio.NewReaderSize(outPipe, 4<<20)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, 0, err
	}
	defer func() { _ = in.Close(); _ = cmd.Wait() }()
	reply := func(id string) ([]byte, error) {
		for {
			line, err := out.ReadBytes('\n')
			if err != nil {
				return nil, err
			}
			if bytes.Contains(line[:min(len(line), 64)], []byte(`"id":`+id+`,`)) {
				return line, nil
			}
		}
	}
	_, _ = io.WriteString(in, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench-openapi","version":"0"}}}`+"\n")
	if _, err := reply("1"); err != nil {
		return 0, 0, 0, fmt.Errorf("initialize: %w", err)
	}
	initT = time.Since(start)
	_, _ = io.WriteString(in, `{"jsonrpc":"2.0","method":"notifications/initialized"}`+"\n"+`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`+"\n")
	line, err := reply("2")
	if err != nil {
		return 0, 0, 0, fmt.Errorf("tools/list: %w", err)
	}
	return initT, time.Since(start), len(line), nil
}

// once times one start with the go-sdk client, as a Go host sees it.
func once(bin, cfg, cache string) (initT, listT time.Duration, tools int, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command(bin, "--config", cfg)
	cmd.Env = append(os.Environ(), "GITHUB_TOKEN=ghp_benchBENCHbench0123456789abcdefABCDEF", "XDG_CACHE_HOME="+cache, "KEYVEIL_LOG_LEVEL=warn")
	client := mcp.NewClient(&mcp.Implementation{Name: "bench-openapi", Version: "0"}, nil)
	start := time.Now()
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	defer cs.Close()
	initT = time.Since(start)
	res, err := cs.ListTools(ctx, nil)
	if err != nil {
		return 0, 0, 0, err
	}
	return initT, time.Since(start), len(res.Tools), nil
}

func pct(d []time.Duration, q int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*q/100]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

// loadavg is the 1, 5 and 15 minute load average, to print beside times
// measured on a shared machine.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
