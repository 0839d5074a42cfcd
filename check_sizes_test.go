package main

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestCheckToolSizes: keyveil check prints bytes and approximate tokens
// for every tool, and flags the heaviest.
func TestCheckToolSizes(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binPath, "check", "--config", "examples/github-openapi.yaml")
	cmd.Env = []string{"GITHUB_TOKEN=" + fakeKey, "HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("keyveil check: %v\n%s", err, out)
	}
	text := string(out)
	if !regexp.MustCompile(`tools/list: 40 tools, \d+ bytes, about \d+ tokens`).MatchString(text) {
		t.Errorf("check does not total tools/list in bytes and tokens:\n%s", text)
	}
	line := regexp.MustCompile(`(?m)^  (\S+)\s+(read-only|may change data)\s+(\d+) bytes\s+~(\d+) tokens(  <- heaviest)?$`)
	rows := line.FindAllStringSubmatch(text, -1)
	if len(rows) != 40 {
		t.Fatalf("check lists %d tools with sizes, want 40:\n%s", len(rows), text)
	}
	var flagged []string
	for _, r := range rows {
		if r[5] != "" {
			flagged = append(flagged, r[1])
		}
	}
	if len(flagged) == 0 || !strings.Contains(text, "Every session pays for tools/list") {
		t.Errorf("check flags no heavy tool:\n%s", text)
	}
}

func TestHeaviest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		sizes []int
		want  map[int]bool
	}{
		{"one tool is never flagged", []int{5000}, map[int]bool{}},
		{"the top tenth, at least one", []int{900, 3000, 1300, 800}, map[int]bool{1: true}},
		{"only over 1,200 bytes", []int{900, 1100, 800}, map[int]bool{}},
		{"twenty tools: two", []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 1900, 2000}, map[int]bool{18: true, 19: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, heaviest(tc.sizes)); diff != "" {
				t.Errorf("heaviest(%v) (-want +got):\n%s", tc.sizes, diff)
			}
		})
	}
}
