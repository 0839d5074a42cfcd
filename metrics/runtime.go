package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// runtimeFamilies returns the Go runtime's metrics under the names, types
// and help texts of Prometheus's Go collector (client_golang 1.25, default
// options), so dashboards and alerts built on it keep working. They come
// from runtime.ReadMemStats and debug.ReadGCStats, not runtime/metrics,
// whose package initialisation alone costs 0.3 ms of every cold start.
func runtimeFamilies() []constFamily {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gc := debug.GCStats{PauseQuantiles: make([]time.Duration, 5)}
	debug.ReadGCStats(&gc)
	threads, _ := runtime.ThreadCreateProfile(nil)

	pause := constFamily{name: "go_gc_duration_seconds", typ: typeSummary,
		help: "A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles."}
	for i, q := range []string{"0", "0.25", "0.5", "0.75", "1"} {
		v := 0.0
		if gc.NumGC > 0 {
			v = gc.PauseQuantiles[i].Seconds()
		}
		pause.samples = append(pause.samples, constSample{extra: "quantile", extraValue: q, value: v})
	}
	pause.samples = append(pause.samples,
		constSample{suffix: "_sum", value: gc.PauseTotal.Seconds()},
		constSample{suffix: "_count", value: float64(gc.NumGC)})

	mem := func(name, help string, v uint64) constFamily {
		return gauge("go_memstats_"+name, help, float64(v))
	}
	memTotal := func(name, help string, v uint64) constFamily {
		return counter("go_memstats_"+name, help, float64(v))
	}
	return []constFamily{
		pause,
		gauge("go_gc_gogc_percent", "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent.", gogcPercent()),
		gauge("go_gc_gomemlimit_bytes", "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from /gc/gomemlimit:bytes.", float64(debug.SetMemoryLimit(-1))),
		gauge("go_goroutines", "Number of goroutines that currently exist.", float64(runtime.NumGoroutine())),
		{name: "go_info", typ: typeGauge, help: "Information about the Go environment.",
			samples: []constSample{{labels: [][2]string{{"version", runtime.Version()}}, value: 1}}},
		mem("alloc_bytes", "Number of bytes allocated in heap and currently in use. Equals to /memory/classes/heap/objects:bytes.", ms.Alloc),
		memTotal("alloc_bytes_total", "Total number of bytes allocated in heap until now, even if released already. Equals to /gc/heap/allocs:bytes.", ms.TotalAlloc),
		mem("buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table. Equals to /memory/classes/profiling/buckets:bytes.", ms.BuckHashSys),
		memTotal("frees_total", "Total number of heap objects frees. Equals to /gc/heap/frees:objects + /gc/heap/tiny/allocs:objects.", ms.Frees),
		mem("gc_sys_bytes", "Number of bytes used for garbage collection system metadata. Equals to /memory/classes/metadata/other:bytes.", ms.GCSys),
		mem("heap_alloc_bytes", "Number of heap bytes allocated and currently in use, same as go_memstats_alloc_bytes. Equals to /memory/classes/heap/objects:bytes.", ms.HeapAlloc),
		mem("heap_idle_bytes", "Number of heap bytes waiting to be used. Equals to /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", ms.HeapIdle),
		mem("heap_inuse_bytes", "Number of heap bytes that are in use. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes", ms.HeapInuse),
		mem("heap_objects", "Number of currently allocated objects. Equals to /gc/heap/objects:objects.", ms.HeapObjects),
		mem("heap_released_bytes", "Number of heap bytes released to OS. Equals to /memory/classes/heap/released:bytes.", ms.HeapReleased),
		mem("heap_sys_bytes", "Number of heap bytes obtained from system. Equals to /memory/classes/heap/objects:bytes + /memory/classes/heap/unused:bytes + /memory/classes/heap/released:bytes + /memory/classes/heap/free:bytes.", ms.HeapSys),
		gauge("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.", float64(ms.LastGC)/1e9),
		memTotal("mallocs_total", "Total number of heap objects allocated, both live and gc-ed. Semantically a counter version for go_memstats_heap_objects gauge. Equals to /gc/heap/allocs:objects + /gc/heap/tiny/allocs:objects.", ms.Mallocs),
		mem("mcache_inuse_bytes", "Number of bytes in use by mcache structures. Equals to /memory/classes/metadata/mcache/inuse:bytes.", ms.MCacheInuse),
		mem("mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system. Equals to /memory/classes/metadata/mcache/inuse:bytes + /memory/classes/metadata/mcache/free:bytes.", ms.MCacheSys),
		mem("mspan_inuse_bytes", "Number of bytes in use by mspan structures. Equals to /memory/classes/metadata/mspan/inuse:bytes.", ms.MSpanInuse),
		mem("mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system. Equals to /memory/classes/metadata/mspan/inuse:bytes + /memory/classes/metadata/mspan/free:bytes.", ms.MSpanSys),
		mem("next_gc_bytes", "Number of heap bytes when next garbage collection will take place. Equals to /gc/heap/goal:bytes.", ms.NextGC),
		mem("other_sys_bytes", "Number of bytes used for other system allocations. Equals to /memory/classes/other:bytes.", ms.OtherSys),
		mem("stack_inuse_bytes", "Number of bytes obtained from system for stack allocator in non-CGO environments. Equals to /memory/classes/heap/stacks:bytes.", ms.StackInuse),
		mem("stack_sys_bytes", "Number of bytes obtained from system for stack allocator. Equals to /memory/classes/heap/stacks:bytes + /memory/classes/os-stacks:bytes.", ms.StackSys),
		mem("sys_bytes", "Number of bytes obtained from system. Equals to /memory/classes/total:byte.", ms.Sys),
		gauge("go_sched_gomaxprocs_threads", "The current runtime.GOMAXPROCS setting, or the number of operating system threads that can execute user-level Go code simultaneously. Sourced from /sched/gomaxprocs:threads.", float64(runtime.GOMAXPROCS(0))),
		gauge("go_threads", "Number of OS threads created.", float64(threads)),
	}
}

// gogcPercent is the garbage collector's target as GOGC sets it: 100 when
// unset, -1 for "off". Only runtime/metrics can read the live value, and
// keyveil changes it only during serve's start-up (relaxGC), before
// /metrics is served.
func gogcPercent() float64 {
	s := os.Getenv("GOGC")
	if s == "off" {
		return -1
	}
	if n, err := strconv.Atoi(s); err == nil {
		return float64(n)
	}
	return 100
}

// userHZ is the kernel's clock tick for /proc times; Prometheus's procfs
// assumes the same 100 on every Linux.
const userHZ = 100

// processFamilies returns what Prometheus's process collector reports on
// Linux, from /proc/self; where a file cannot be read (another OS, a
// sandbox without /proc) its metrics are left out, not reported as zero.
func processFamilies() []constFamily {
	var out []constFamily
	if st, err := readStat(); err == nil {
		out = append(out,
			counter("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", float64(st.utime+st.stime)/userHZ),
			gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.", float64(st.vsize)),
			gauge("process_resident_memory_bytes", "Resident memory size in bytes.", float64(st.rss*int64(os.Getpagesize()))))
		if boot, err := bootTime(); err == nil {
			out = append(out, gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.", float64(boot)+float64(st.starttime)/userHZ))
		}
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		// ReadDir's own descriptor is closed again before it returns,
		// but listed: Prometheus's procfs counts the same way.
		out = append(out, gauge("process_open_fds", "Number of open file descriptors.", float64(len(fds))))
	}
	var lim syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim) == nil {
		out = append(out, gauge("process_max_fds", "Maximum number of open file descriptors.", float64(lim.Cur)))
	}
	if syscall.Getrlimit(syscall.RLIMIT_AS, &lim) == nil {
		out = append(out, gauge("process_virtual_memory_max_bytes", "Maximum amount of virtual memory available in bytes.", float64(lim.Cur)))
	}
	if in, outB, err := netOctets(); err == nil {
		out = append(out,
			counter("process_network_receive_bytes_total", "Number of bytes received by the process over the network.", in),
			counter("process_network_transmit_bytes_total", "Number of bytes sent by the process over the network.", outB))
	}
	return out
}

// procStat holds the fields of /proc/self/stat that the metrics use.
type procStat struct {
	utime, stime, starttime uint64 // clock ticks
	vsize                   uint64 // bytes
	rss                     int64  // pages
}

// readStat parses /proc/self/stat. The command name (field 2) is in
// parentheses and may hold spaces or parentheses itself, so the fields
// are counted from the last ')'.
func readStat() (procStat, error) {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return procStat{}, err
	}
	return parseStat(b)
}

func parseStat(b []byte) (procStat, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, errMalformed("/proc/self/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); field n is f[n-3].
	if len(f) < 22 {
		return procStat{}, errMalformed("/proc/self/stat")
	}
	var st procStat
	var errs [5]error
	st.utime, errs[0] = strconv.ParseUint(f[14-3], 10, 64)
	st.stime, errs[1] = strconv.ParseUint(f[15-3], 10, 64)
	st.starttime, errs[2] = strconv.ParseUint(f[22-3], 10, 64)
	st.vsize, errs[3] = strconv.ParseUint(f[23-3], 10, 64)
	st.rss, errs[4] = strconv.ParseInt(f[24-3], 10, 64)
	for _, err := range errs {
		if err != nil {
			return procStat{}, errMalformed("/proc/self/stat")
		}
	}
	return st, nil
}

// bootTime is the btime line of /proc/stat: boot time in Unix seconds.
func bootTime() (uint64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("btime ")); ok {
			return strconv.ParseUint(string(bytes.TrimSpace(v)), 10, 64)
		}
	}
	return 0, errMalformed("/proc/stat")
}

// netOctets returns InOctets and OutOctets of the IpExt lines of
// /proc/self/net/netstat (the network namespace's IP traffic), which is
// what Prometheus's process collector reports as the process's.
func netOctets() (in, out float64, err error) {
	f, err := os.Open("/proc/self/net/netstat")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	return parseNetstat(f)
}

func parseNetstat(r io.Reader) (in, out float64, err error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(nil, 1<<20)
	var names []string
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "IpExt:" {
			continue
		}
		if names == nil {
			names = fields[1:]
			continue
		}
		// The second IpExt line holds the values, in the order of the
		// names on the first; a counter the kernel lacks stays 0.
		for i, v := range fields[1:] {
			if i >= len(names) || (names[i] != "InOctets" && names[i] != "OutOctets") {
				continue
			}
			f, perr := strconv.ParseFloat(v, 64)
			if perr != nil {
				return 0, 0, errMalformed("/proc/self/net/netstat")
			}
			if names[i] == "InOctets" {
				in = f
			} else {
				out = f
			}
		}
		return in, out, nil
	}
	if err := sc.Err(); err != nil {
		return 0, 0, err
	}
	return 0, 0, errMalformed("/proc/self/net/netstat")
}

// errMalformed says which /proc file could not be parsed.
func errMalformed(path string) error {
	return fmt.Errorf("parsing %s: unexpected format", path)
}
