package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/keyveil/keyveil/procguard"
)

// siblingPIDVar, set in the environment of a copy of this test binary,
// makes it the sibling process of TestSiblingCannotReadKey instead of a
// test run. init, not TestMain, catches it: TestMain builds keyveil with
// the go command, which the unprivileged sibling cannot run.
const siblingPIDVar = "KEYVEIL_TEST_SIBLING_PID"

func init() {
	if pid := os.Getenv(siblingPIDVar); pid != "" {
		os.Exit(sibling(pid, os.Getenv("KEYVEIL_TEST_SIBLING_KEY")))
	}
}

// readout is what the sibling got from one place it looked.
type readout struct {
	Err   string `json:"err,omitempty"` // why it could not read; "": it read
	Bytes int    `json:"bytes"`
	Key   bool   `json:"key"`  // the key's value was there
	Name  bool   `json:"name"` // "MCP_API_KEY=" was there: proof the read saw an environment
}

// sibling reads everything a same-user process (a model's shell) can try
// for keyveil's process pid, looks for key in each, and writes a JSON map
// of readouts to stdout.
func sibling(pid, key string) int {
	out := map[string]readout{}
	look := func(where string, b []byte, err error) {
		r := readout{Bytes: len(b), Key: bytes.Contains(b, []byte(key)), Name: bytes.Contains(b, []byte("MCP_API_KEY="))}
		if err != nil {
			r.Err = err.Error()
		}
		out[where] = r
	}
	proc := "/proc/" + pid
	for _, f := range []string{"environ", "cmdline", "maps"} {
		b, err := os.ReadFile(proc + "/" + f)
		look(f, b, err)
	}
	b, err := exec.Command("ps", "eww", "-p", pid).CombinedOutput()
	look("ps eww", b, err)
	b, err = readMem(proc, []byte(key))
	look("mem", b, err)
	enc := json.NewEncoder(os.Stdout)
	if err := enc.Encode(out); err != nil {
		return 1
	}
	return 0
}

// readMem reads the stack, the heap and every readable anonymous mapping
// of the process through /proc/PID/mem, as listed in /proc/PID/maps, and
// returns key if it was found anywhere (so that readout.Key is set), or
// what was read of the first region otherwise. Without maps it still tries
// to open mem, so that the error is mem's own.
func readMem(proc string, key []byte) ([]byte, error) {
	mem, err := os.Open(proc + "/mem")
	if err != nil {
		return nil, err
	}
	defer mem.Close()
	maps, err := os.ReadFile(proc + "/maps")
	if err != nil {
		return nil, fmt.Errorf("mem opened, maps not: %w", err)
	}
	regions, total := 0, 0
	buf := make([]byte, 1<<20)
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 5 || !strings.HasPrefix(f[1], "r") {
			continue
		}
		if len(f) > 5 && f[5] != "[heap]" && f[5] != "[stack]" && !strings.HasPrefix(f[5], "[anon") {
			continue // a file mapping, or vdso and friends
		}
		lo, hi, ok := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if !ok || err1 != nil || err2 != nil {
			continue
		}
		regions++
		// Chunks overlap by len(key)-1 bytes, so a key across a chunk
		// boundary is still found.
		for off := start; off < end; {
			n := min(uint64(len(buf)), end-off)
			got, _ := mem.ReadAt(buf[:n], int64(off))
			total += got
			if bytes.Contains(buf[:got], key) {
				return key, nil
			}
			if off+n >= end {
				break
			}
			off += n - uint64(len(key)-1)
		}
	}
	if regions == 0 || total == 0 {
		return nil, fmt.Errorf("nothing read from %d regions", regions)
	}
	return make([]byte, total), nil
}

// TestSiblingCannotReadKey runs the built keyveil the way a host does —
// stdio, a key in its environment, a loopback API it has called once —
// as an unprivileged user, and from a sibling process of the same user
// tries every place a model's shell could read the key: /proc/PID/environ,
// ps eww, /proc/PID/cmdline, /proc/PID/maps and /proc/PID/mem over the
// stack, heap and anonymous mappings. With hardening on, none may show the
// key, and maps and mem must not open at all. With hardening off
// (KEYVEIL_DEBUG_DUMPABLE=1), the same sibling must find the key in memory
// and see the (scrubbed) environment, which shows the test can fail.
//
// CI runs as root, which bypasses non-dumpable, so both processes are
// dropped to uid and gid 65534; run unprivileged, they run as the user.
func TestSiblingCannotReadKey(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("ps"); err != nil {
		t.Skip("ps (procps) is not installed; scripts/test.sh installs it")
	}
	const key = "sk-test-LEAKCHECK-sibling-9f8e7d6c5b4a"
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+key {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(api.Close)

	// Both binaries where the unprivileged user can run them.
	dir, err := os.MkdirTemp("", "keyveil-sibling")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kv, sib := filepath.Join(dir, "keyveil"), filepath.Join(dir, "sibling")
	for _, c := range [][2]string{{binPath, kv}, {self, sib}} {
		if err := copyFile(c[0], c[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		cred = &syscall.Credential{Uid: 65534, Gid: 65534}
	}

	for _, tc := range []struct {
		name   string
		debug  bool
		reads  map[string]bool // place -> the sibling can read it
		memKey bool            // the sibling finds the key in memory
	}{
		{"hardened", false, map[string]bool{"environ": false, "maps": false, "mem": false, "cmdline": true, "ps eww": true}, false},
		{"debug dumpable", true, map[string]bool{"environ": true, "maps": true, "mem": true, "cmdline": true, "ps eww": true}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.Command(kv)
			cmd.Dir = dir
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "MCP_API_KEY=" + key, "MCP_API_BASE_URL=" + api.URL, "KEYVEIL_LOG_LEVEL=warn"}
			if tc.debug {
				cmd.Env = append(cmd.Env, procguard.DebugEnv+"=1")
			}
			var stderr bytes.Buffer
			cmd.Stderr = &lockedWriter{mu: &sync.Mutex{}, w: &stderr}
			client := mcp.NewClient(&mcp.Implementation{Name: "sibling-test", Version: "0"}, nil)
			cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
			if err != nil {
				t.Fatalf("starting keyveil: %v", err)
			}
			defer cs.Close()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "call_api", Arguments: map[string]any{"method": "GET", "path": "/x"}})
			if err != nil || res.IsError {
				b, _ := json.Marshal(res)
				t.Fatalf("call_api = %s, %v; the API did not accept the key; stderr:\n%s", b, err, stderr.String())
			}
			pid := strconv.Itoa(cmd.Process.Pid)

			sc := exec.CommandContext(ctx, sib)
			sc.Dir = dir
			sc.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
			sc.Env = []string{"PATH=" + os.Getenv("PATH"), siblingPIDVar + "=" + pid, "KEYVEIL_TEST_SIBLING_KEY=" + key}
			var serr bytes.Buffer
			sc.Stderr = &serr
			out, err := sc.Output()
			if err != nil {
				t.Fatalf("sibling: %v: %s", err, serr.Bytes())
			}
			var got map[string]readout
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatalf("sibling output %q: %v", out, err)
			}
			for where, canRead := range tc.reads {
				r, ok := got[where]
				switch {
				case !ok:
					t.Errorf("sibling did not try %s", where)
				case r.Key && !(where == "mem" && tc.memKey):
					t.Errorf("sibling found the key in %s (%d bytes read)", where, r.Bytes)
				case (r.Err == "") != canRead:
					t.Errorf("sibling reading %s: error %q, want readable %v", where, r.Err, canRead)
				}
			}
			if got["mem"].Key != tc.memKey {
				t.Errorf("sibling found the key in memory = %v, want %v (mem: %+v)", got["mem"].Key, tc.memKey, got["mem"])
			}
			if tc.debug && (!got["environ"].Name || !got["ps eww"].Name) {
				t.Errorf("dumpable keyveil: environ %+v, ps eww %+v; want both to show MCP_API_KEY= (scrubbed)", got["environ"], got["ps eww"])
			}
			// Root sees through non-dumpable: the block itself must have
			// been scrubbed by the unprivileged process.
			if cred != nil {
				env, err := os.ReadFile("/proc/" + pid + "/environ")
				if err != nil {
					t.Fatal(err)
				}
				if bytes.Contains(env, []byte(key)) || !bytes.Contains(env, []byte("MCP_API_KEY=\x00")) {
					t.Errorf("/proc/%s/environ as root = %q, want MCP_API_KEY= with no value", pid, env)
				}
			}
			if err := cs.Close(); err != nil && !errors.Is(err, mcp.ErrConnectionClosed) {
				t.Logf("closing: %v", err)
			}
			if strings.Contains(stderr.String(), key) {
				t.Errorf("keyveil's stderr holds the key")
			}
		})
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		_ = out.Close()
		return err
	}
	return out.Close()
}
