package detect

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"testing"
)

// TestPackageInitIsSmall: importing detect costs every keyveil start its
// package initialisation, before main, whether or not a body is ever
// scanned; the rule table and its anchors are built on first use instead
// (issue 8's cold start). The test binary runs itself with
// GODEBUG=inittrace=1 and reads detect's line: allocations are counted
// exactly, unlike time. Before, the table made 285.
func TestPackageInitIsSmall(t *testing.T) {
	if os.Getenv("DETECT_INITTRACE_CHILD") != "" {
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestPackageInitIsSmall$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1", "DETECT_INITTRACE_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("running the test binary with inittrace: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(?m)^init github\.com/keyveil/keyveil/detect @.* (\d+) allocs$`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no inittrace line for detect in:\n%s", out)
	}
	const limit = 40
	if n, _ := strconv.Atoi(string(m[1])); n > limit {
		t.Errorf("detect's package initialisation makes %d allocations, want at most %d: build tables on first use (sync.OnceValue)", n, limit)
	}
}
