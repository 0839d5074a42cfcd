// Command bench measures keyveil from the outside, the way a host sees it:
// cold start (spawn to initialize reply and to tools/list reply), the latency
// call_api adds over a direct Go HTTP call to the same loopback server, and
// resident memory after tools/list and under a large downstream body.
//
// With -floor (a do-nothing Go server) and -before (an earlier keyveil) it
// spawns them interleaved with keyveil and prints a side-by-side cold-start
// table: wall time to the initialize reply, the CPU time the process used
// by then (which a busy shared machine moves far less than wall time),
// both as a ratio to the do-nothing binary, and RSS.
//
// It prints Markdown tables for the README. Run it through
// scripts/bench.sh, which builds the binaries first.
//
//	go run ./scripts/bench -bin ./keyveil -floor ./floor -before ./keyveil-old -runs 30 -calls 0
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
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

const key = "sk-bench-0123456789abcdef0123456789"

func main() {
	bin := flag.String("bin", "./keyveil", "keyveil binary")
	runs := flag.Int("runs", 30, "cold starts to measure")
	calls := flag.Int("calls", 2000, "call_api round trips to measure; 0: cold start only")
	floor := flag.String("floor", "", "do-nothing Go binary that answers initialize (scripts/bench/floor), spawned interleaved with keyveil for the cold-start ratio; empty: not measured")
	before := flag.String("before", "", "earlier keyveil binaries, comma-separated, spawned interleaved with -bin for a side-by-side cold-start table (each column is named by its file name); empty: not measured")
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

	// Every binary is spawned once per round, in an order that rotates,
	// so all see the same machine load and none always goes first.
	bins := []*coldStarts{{name: "keyveil", bin: *bin, keyveil: true}}
	for _, b := range strings.Split(*before, ",") {
		if b != "" {
			bins = append(bins, &coldStarts{name: filepath.Base(b), bin: b, keyveil: true})
		}
	}
	if *floor != "" {
		bins = append(bins, &coldStarts{name: "do-nothing", bin: *floor})
	}
	for i := 0; i < *runs; i++ {
		for j := range bins {
			bins[(i+j)%len(bins)].spawn(srv.URL)
		}
	}
	initT, listT, rssList := bins[0].initT, bins[0].listT, bins[0].rss

	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Printf("load average after the cold starts (1, 5, 15 min): %s\n\n", strings.Join(strings.Fields(string(b))[:3], " "))
	}
	if *before != "" {
		sideBySide(bins, *runs)
	}
	if *calls <= 0 {
		return
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
		fmt.Printf("\nload average after the calls (1, 5, 15 min): %s\n\n", strings.Join(strings.Fields(string(b))[:3], " "))
	}
	fmt.Printf("| measure | median | p90 | target |\n|---|---|---|---|\n")
	fmt.Printf("| cold start: spawn → initialize reply (%d runs) | %s | %s | ≤ 8 ms |\n", *runs, ms(median(initT)), ms(pct(initT, 90)))
	fmt.Printf("| cold start: spawn → tools/list reply | %s | %s | ≤ 8 ms |\n", ms(median(listT)), ms(pct(listT, 90)))
	if f := bins[len(bins)-1]; f.name == "do-nothing" {
		fmt.Printf("| do-nothing Go binary: spawn → initialize reply (interleaved) | %s | %s | |\n", ms(median(f.initT)), ms(pct(f.initT, 90)))
		fmt.Printf("| keyveil initialize ÷ do-nothing (medians) | %.1f× | | ≤ 3× |\n", float64(median(initT))/float64(median(f.initT)))
	}
	fmt.Printf("| direct Go HTTP GET to loopback (%d calls) | %s | %s | |\n", *calls, us(median(direct)), us(pct(direct, 90)))
	fmt.Printf("| call_api through keyveil, same GET | %s | %s | |\n", us(median(via)), us(pct(via, 90)))
	fmt.Printf("| added by keyveil (median difference) | %s | | ≤ 150 µs |\n", us(median(via)-median(direct)))
	fmt.Printf("| RSS after tools/list (median of runs) | %.1f MiB | | ≤ 15 MiB |\n", mib(medianInt(rssList)))
	fmt.Printf("| peak RSS after %d calls | %.1f MiB | | |\n", *calls, mib(rssBeforeBig))
	fmt.Printf("| peak RSS after 5 × 4 MiB downstream bodies (cap 256 KiB) | %.1f MiB | | bounded by the cap |\n", mib(hwmBig))
}

// coldStarts collects one binary's cold starts.
type coldStarts struct {
	name, bin string
	keyveil   bool // false: the do-nothing binary, which answers only initialize

	initT, listT []time.Duration // spawn → initialize reply, → tools/list reply
	cpu          []time.Duration // CPU time of the process at the initialize reply
	rss          []int           // VmRSS after tools/list (keyveil) or initialize, bytes
	version      []time.Duration // keyveil --version: spawn → exit, which is mostly package initialisation
}

// spawn measures one cold start of c.bin.
func (c *coldStarts) spawn(base string) {
	p := start(c.bin, base)
	if c.keyveil {
		p.initialize()
	} else {
		p.call(1, "initialize", `{}`)
	}
	c.initT = append(c.initT, time.Since(p.started))
	c.cpu = append(c.cpu, p.cpuTime())
	if c.keyveil {
		p.call(2, "tools/list", `{}`)
		c.listT = append(c.listT, time.Since(p.started))
	}
	c.rss = append(c.rss, p.status("VmRSS"))
	p.stop()
	if c.keyveil {
		cmd := exec.Command(c.bin, "--version")
		cmd.Stdout = io.Discard
		t := time.Now()
		// An old keyveil without --version starts a server on its
		// empty stdin and exits 2; its column stays empty.
		if cmd.Run() == nil {
			c.version = append(c.version, time.Since(t))
		}
	}
}

// sideBySide prints the cold-start table of every binary measured: wall
// time, which a host waits, and CPU time, which the machine's load moves
// far less than wall time on a shared machine.
func sideBySide(bins []*coldStarts, runs int) {
	floor := bins[len(bins)-1]
	if floor.name != "do-nothing" {
		floor = nil
	}
	fmt.Printf("| medians of %d interleaved spawns |", runs)
	for _, c := range bins {
		fmt.Printf(" %s |", c.name)
	}
	fmt.Printf("\n|---|%s\n", strings.Repeat("---|", len(bins)))
	row := func(label string, f func(c *coldStarts) string) {
		fmt.Printf("| %s |", label)
		for _, c := range bins {
			fmt.Printf(" %s |", f(c))
		}
		fmt.Println()
	}
	row("spawn → initialize reply", func(c *coldStarts) string { return ms(median(c.initT)) })
	row("CPU time to the initialize reply", func(c *coldStarts) string { return ms(median(c.cpu)) })
	if floor != nil {
		ratio := func(d func(c *coldStarts) []time.Duration) func(c *coldStarts) string {
			return func(c *coldStarts) string {
				if c == floor {
					return "1×"
				}
				return fmt.Sprintf("%.1f×", float64(median(d(c)))/float64(median(d(floor))))
			}
		}
		row("÷ do-nothing, wall (target ≤ 3×)", ratio(func(c *coldStarts) []time.Duration { return c.initT }))
		row("÷ do-nothing, CPU", ratio(func(c *coldStarts) []time.Duration { return c.cpu }))
	}
	keyveilOnly := func(f func(c *coldStarts) string) func(c *coldStarts) string {
		return func(c *coldStarts) string {
			if !c.keyveil {
				return ""
			}
			return f(c)
		}
	}
	row("spawn → tools/list reply", keyveilOnly(func(c *coldStarts) string { return ms(median(c.listT)) }))
	row("`--version`: spawn → exit", keyveilOnly(func(c *coldStarts) string {
		if len(c.version) == 0 {
			return "—"
		}
		return ms(median(c.version))
	}))
	row("RSS after tools/list (target ≤ 15 MiB)", func(c *coldStarts) string { return fmt.Sprintf("%.1f MiB", mib(medianInt(c.rss))) })
	fmt.Println()
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

// cpuTime is the CPU time every thread of the process has run so far,
// from /proc/PID/task/*/schedstat (nanoseconds; /proc/PID/stat counts
// 10 ms ticks, too coarse for a start-up). 0 when unavailable.
func (p *proc) cpuTime() time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", p.cmd.Process.Pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			n, _ := strconv.ParseInt(f[0], 10, 64)
			total += time.Duration(n)
		}
	}
	return total
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
