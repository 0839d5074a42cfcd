// Command bench measures keyveil from the outside, the way a host sees it:
// cold start (spawn to initialize reply and to tools/list reply), the latency
// call_api adds over a direct Go HTTP call to the same loopback server, and
// resident memory after tools/list and under a large downstream body.
//
// It prints a Markdown table for the README. Run it through
// scripts/bench.sh, which builds the binary first.
//
//	go run ./scripts/bench -bin ./keyveil -runs 30 -calls 2000
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

const key = "sk-bench-0123456789abcdef0123456789"

func main() {
	bin := flag.String("bin", "./keyveil", "keyveil binary")
	runs := flag.Int("runs", 30, "cold starts to measure")
	calls := flag.Int("calls", 2000, "call_api round trips to measure")
	floor := flag.String("floor", "", "do-nothing Go binary that answers initialize (scripts/bench/floor), spawned interleaved with keyveil for the cold-start ratio; empty: not measured")
	flag.Parse()

	big := strings.Repeat("x", 4<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, big)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"Q-1","total":1200,"currency":"EUR"}`)
	}))
	defer srv.Close()

	var initT, listT, floorT []time.Duration
	var rssList []int
	for i := 0; i < *runs; i++ {
		if *floor != "" {
			// Interleaved, so both see the same machine load.
			f := start(*floor, srv.URL)
			f.call(1, "initialize", `{}`)
			floorT = append(floorT, time.Since(f.started))
			f.stop()
		}
		p := start(*bin, srv.URL)
		t0 := p.started
		p.initialize()
		initT = append(initT, time.Since(t0))
		p.call(2, "tools/list", `{}`)
		listT = append(listT, time.Since(t0))
		rssList = append(rssList, p.status("VmRSS"))
		p.stop()
	}

	// call_api: through keyveil vs direct, interleaved so both see the
	// same machine load.
	p := start(*bin, srv.URL)
	p.initialize()
	client := &http.Client{}
	var via, direct []time.Duration
	for i := 0; i < *calls; i++ {
		t := time.Now()
		resp, err := client.Get(srv.URL + "/quotes/1")
		if err != nil {
			fail(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		direct = append(direct, time.Since(t))

		t = time.Now()
		p.call(10+i, "tools/call", `{"name":"call_api","arguments":{"method":"GET","path":"/quotes/1"}}`)
		via = append(via, time.Since(t))
	}
	rssBeforeBig := p.status("VmHWM")
	for i := 0; i < 5; i++ {
		p.call(100000+i, "tools/call", `{"name":"call_api","arguments":{"method":"GET","path":"/big"}}`)
	}
	hwmBig := p.status("VmHWM")
	p.stop()

	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average during the run (1, 5, 15 min): %s\n\n", strings.Join(strings.Fields(string(b))[:3], " "))
	}
	fmt.Printf("| measure | median | p90 | target |\n|---|---|---|---|\n")
	fmt.Printf("| cold start: spawn → initialize reply (%d runs) | %s | %s | ≤ 8 ms |\n", *runs, ms(median(initT)), ms(pct(initT, 90)))
	fmt.Printf("| cold start: spawn → tools/list reply | %s | %s | ≤ 8 ms |\n", ms(median(listT)), ms(pct(listT, 90)))
	if len(floorT) > 0 {
		fmt.Printf("| do-nothing Go binary: spawn → initialize reply (interleaved) | %s | %s | |\n", ms(median(floorT)), ms(pct(floorT, 90)))
		fmt.Printf("| keyveil initialize ÷ do-nothing (medians) | %.1f× | | ≤ 3× |\n", float64(median(initT))/float64(median(floorT)))
	}
	fmt.Printf("| direct Go HTTP GET to loopback (%d calls) | %s | %s | |\n", *calls, us(median(direct)), us(pct(direct, 90)))
	fmt.Printf("| call_api through keyveil, same GET | %s | %s | |\n", us(median(via)), us(pct(via, 90)))
	fmt.Printf("| added by keyveil (median difference) | %s | | ≤ 150 µs |\n", us(median(via)-median(direct)))
	fmt.Printf("| RSS after tools/list (median of runs) | %.1f MiB | | ≤ 15 MiB |\n", mib(medianInt(rssList)))
	fmt.Printf("| peak RSS after %d calls | %.1f MiB | | |\n", *calls, mib(rssBeforeBig))
	fmt.Printf("| peak RSS after 5 × 4 MiB downstream bodies (cap 256 KiB) | %.1f MiB | | bounded by the cap |\n", mib(hwmBig))
}

type proc struct {
	cmd     *exec.Cmd
	in      io.WriteCloser
	out     *bufio.Reader
	started time.Time
}

func start(bin, base string) *proc {
	cmd := exec.Command(bin)
	cmd.Env = []string{"MCP_API_KEY=" + key, "MCP_API_BASE_URL=" + base, "KEYVEIL_LOG_LEVEL=warn", "KEYVEIL_AUDIT_LOG=/dev/null"}
	in, err := cmd.StdinPipe()
	if err != nil {
		fail(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		fail(err)
	}
	cmd.Stderr = os.Stderr
	p := &proc{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), started: time.Now()}
	if err := cmd.Start(); err != nil {
		fail(err)
	}
	return p
}

func (p *proc) initialize() {
	p.call(1, "initialize", `{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"bench","version":"0"}}`)
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
}

func (p *proc) send(line string) {
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		fail(err)
	}
}

func (p *proc) call(id int, method, params string) {
	p.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":%q,"params":%s}`, id, method, params))
	for {
		line, err := p.out.ReadBytes('\n')
		if err != nil {
			fail(fmt.Errorf("reading reply to %s: %w", method, err))
		}
		var m struct {
			ID    *int            `json:"id"`
			Error json.RawMessage `json:"error"`
		}
		if json.Unmarshal(line, &m) == nil && m.ID != nil && *m.ID == id {
			if m.Error != nil {
				fail(fmt.Errorf("%s: %s", method, m.Error))
			}
			return
		}
	}
}

// status reads a kB field of /proc/PID/status, in bytes.
func (p *proc) status(field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, field+":") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n * 1024
		}
	}
	return 0
}

func (p *proc) stop() {
	_ = p.in.Close()
	_ = p.cmd.Wait()
}

func median(d []time.Duration) time.Duration { return pct(d, 50) }

func pct(d []time.Duration, q int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*q/100]
}

func medianInt(v []int) int {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/1e6) }
func us(d time.Duration) string { return fmt.Sprintf("%.0f µs", float64(d)/1e3) }
func mib(b int) float64         { return float64(b) / (1 << 20) }
func fail(err error)            { fmt.Fprintln(os.Stderr, "bench:", err); os.Exit(1) }
