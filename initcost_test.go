package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBinaryLeavesOutSlowInits: packages whose initialisation runs on
// every cold start, for features the stdio path never uses, stay out of
// the binary (issue 8: cold start within 3× a do-nothing Go binary). Each
// was linked once and measured with GODEBUG=inittrace=1; the reason says
// what replaced it.
func TestBinaryLeavesOutSlowInits(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("the go command is not on PATH: cannot list the binary's packages")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	deps := map[string]bool{}
	for _, p := range strings.Fields(string(out)) {
		deps[p] = true
	}
	if !deps["github.com/keyveil/keyveil/metrics"] {
		t.Fatalf("go list -deps . lacks keyveil's own metrics package; the list is not the binary's:\n%s", out)
	}
	tests := []struct {
		pkg, why string
	}{
		{"github.com/prometheus/client_golang/prometheus", "metrics writes the text format itself (0.9 ms of init, with protobuf, procfs, expvar and database/sql)"},
		{"google.golang.org/protobuf/proto", "came only with the Prometheus client"},
		{"github.com/prometheus/procfs", "metrics reads /proc/self itself"},
		{"runtime/metrics", "0.3 ms of init; metrics uses runtime.ReadMemStats"},
		{"expvar", "came only with the Prometheus client"},
		{"database/sql", "came only with the Prometheus client's collectors"},
		{"golang.org/x/text/encoding/htmlindex", "tools looks charset labels up in its own switch (htmlindex builds a 228-entry map at init)"},
		{"golang.org/x/text/language", "came only with htmlindex; the two cost 0.2 ms of init and 145 KB"},
	}
	for _, tc := range tests {
		if deps[tc.pkg] {
			t.Errorf("keyveil links %s: %s", tc.pkg, tc.why)
		}
	}
}
