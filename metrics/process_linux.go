package metrics

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// userHZ is the kernel's clock tick for /proc times; Prometheus's procfs
// assumes the same 100 on every Linux.
const userHZ = 100

// processFamilies returns what Prometheus's process collector reports on
// Linux, from /proc/self; where a file cannot be read (a sandbox without
// /proc) its metrics are left out, not reported as zero.
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
