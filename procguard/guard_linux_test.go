package procguard

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The child process of TestScrubInitialEnvironment: with PROCGUARD_CHILD
// set, the test binary hardens itself as keyveil's main does, scrubs
// KV_SECRET, and writes what /proc/self/environ then holds to stdout.
func TestMain(m *testing.M) {
	if mode := os.Getenv("PROCGUARD_CHILD"); mode != "" {
		os.Exit(child(mode))
	}
	os.Exit(m.Run())
}

func child(mode string) int {
	before := os.Getenv("KV_SECRET")
	switch mode {
	case "proc":
		g := Start(Options{})
		if d, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0); err != nil || d != 0 {
			fmt.Fprintf(os.Stderr, "dumpable = %d, %v after Start; want 0\n", d, err)
			return 4
		}
		g.Scrub([]string{"KV_SECRET", "KV_SECRET_FILE"})
		if w := g.Warnings(); len(w) > 0 {
			fmt.Fprintf(os.Stderr, "warnings: %q\n", w)
			return 4
		}
		// Dumpable again, only so that an unprivileged test can read its
		// own environ below; the scrub ran while it was not.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
	case "argv":
		b, err := argvEnvBlock(os.Args, os.Environ())
		if err == nil {
			err = scrub(b, []string{"KV_SECRET", "KV_SECRET_FILE"})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 4
		}
	}
	if os.Getenv("KV_SECRET") != before {
		fmt.Fprintln(os.Stderr, "os.Getenv(KV_SECRET) changed")
		return 3
	}
	environ, err := os.ReadFile("/proc/self/environ")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 4
	}
	_, _ = os.Stdout.Write(environ)
	return 0
}

// TestScrubInitialEnvironment checks, in a child process started with a
// key in its environment, that the key's value is gone from its own
// /proc/self/environ (what `ps eww` and a same-user shell read) after
// Start and Scrub, that every other variable is intact, and that the
// process's own os.Getenv still sees the value. "none" shows that the
// check can fail: without a scrub the key is there.
func TestScrubInitialEnvironment(t *testing.T) {
	t.Parallel()
	const key = "sk-test-LEAKCHECK-procguard-0123456789"
	for _, tc := range []struct {
		mode     string
		wantLeak bool
	}{
		{"none", true},
		{"proc", false}, // /proc/self/mem, opened before non-dumpable
		{"argv", false}, // through os.Args, as on macOS
	} {
		t.Run(tc.mode, func(t *testing.T) {
			t.Parallel()
			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = []string{
				"PROCGUARD_CHILD=" + tc.mode,
				"KV_PLAIN=visible-value",
				"KV_SECRET=" + key,
				"KV_SECRET_FILE=/run/secrets/" + key,
				"KV_AFTER=also-visible",
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("child %s: %v: %s", tc.mode, err, stderr.Bytes())
			}
			if got := bytes.Contains(out, []byte(key)); got != tc.wantLeak {
				t.Errorf("child %s: key in /proc/self/environ = %v, want %v; environ %q", tc.mode, got, tc.wantLeak, out)
			}
			entries := strings.Split(string(out), "\x00")
			for _, want := range []string{"KV_PLAIN=visible-value", "KV_AFTER=also-visible", "PROCGUARD_CHILD=" + tc.mode} {
				if !contains(entries, want) {
					t.Errorf("child %s: /proc/self/environ lost %q; environ %q", tc.mode, want, out)
				}
			}
			if !tc.wantLeak && !strings.Contains(string(out), "KV_SECRET=\x00") {
				t.Errorf("child %s: /proc/self/environ has no empty KV_SECRET=; environ %q", tc.mode, out)
			}
		})
	}
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func TestEnvBounds(t *testing.T) {
	t.Parallel()
	tail := func(start, end string) string {
		f := make([]string, 50) // fields 3..52
		for i := range f {
			f[i] = "0"
		}
		f[0] = "S"
		f[48-3], f[49-3] = "1", "2" // the arguments' bounds
		f[50-3], f[51-3] = start, end
		return strings.Join(f, " ")
	}
	for _, tc := range []struct {
		name       string
		stat       string
		start, end int64
		ok         bool
	}{
		{"plain", "1 (keyveil) " + tail("1000", "2000"), 1000, 2000, true},
		{"name with ) and spaces", "1 (a) b (c) " + tail("10", "20"), 10, 20, true},
		{"empty block", "1 (k) " + tail("10", "10"), 10, 10, true},
		{"no name", "1 k " + tail("10", "20"), 0, 0, false},
		{"old kernel", "1 (k) S 0 0", 0, 0, false},
		{"hidden (zero)", "1 (k) " + tail("0", "0"), 0, 0, false},
		{"end before start", "1 (k) " + tail("20", "10"), 0, 0, false},
		{"not a number", "1 (k) " + tail("x", "10"), 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start, end, err := envBounds([]byte(tc.stat))
			if (err == nil) != tc.ok || start != tc.start || end != tc.end {
				t.Errorf("envBounds(%q) = %d, %d, %v; want %d, %d, ok %v", tc.stat, start, end, err, tc.start, tc.end, tc.ok)
			}
		})
	}
}
