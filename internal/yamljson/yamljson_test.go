package yamljson

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// bomb returns a billion-laughs document: levels of anchors, each a list
// of width aliases of the one before, so the last stands for
// width^levels strings.
func bomb(levels, width int) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [lol]\n")
	for i := 1; i <= levels; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := range width {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestDecode(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want any
	}{
		{"json", `{"a": [1, true, null, "x"]}`, map[string]any{"a": []any{1.0, true, nil, "x"}}},
		{"yaml scalars", "a: 1\nb: yes\nc: ~\nd: 2024-01-02\ne: 1.5\n", map[string]any{"a": 1.0, "b": "yes", "c": nil, "d": "2024-01-02", "e": 1.5}},
		{"alias", "x: &x {k: v}\ny: *x\n", map[string]any{"x": map[string]any{"k": "v"}, "y": map[string]any{"k": "v"}}},
		{"merge key merges", "base: &b {k: v, o: 1}\nitem:\n  <<: *b\n  o: 2\n", map[string]any{"base": map[string]any{"k": "v", "o": 1.0}, "item": map[string]any{"k": "v", "o": 2.0}}},
		{"merge list, first wins", "a: &a {k: 1}\nb: &b {k: 2, j: 3}\nc: {<<: [*a, *b]}\n", map[string]any{"a": map[string]any{"k": 1.0}, "b": map[string]any{"k": 2.0, "j": 3.0}, "c": map[string]any{"k": 1.0, "j": 3.0}}},
		{"small bomb fits", bomb(3, 4), nil}, // checked for no error only
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode("f.yaml", []byte(tc.in))
			if err != nil {
				t.Fatalf("Decode(%q) error: %v", tc.in, err)
			}
			if tc.want == nil {
				return
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Decode(%q) (-want +got):\n%s", tc.in, d)
			}
		})
	}
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)
	for _, tc := range []struct {
		name string
		in   string
		want string // in the error
		line int
	}{
		{"billion laughs", bomb(9, 10), "alias bomb", 6},
		{"wide then deep", "a: &a [" + strings.Repeat("x,", 1000) + "x]\nb: &b [" + strings.Repeat("*a,", 40) + "*a]\nc: [" + strings.Repeat("*b,", 40) + "*b]\n", "alias bomb", 3},
		{"too deep", "x: " + deep + "\n", "nest more than", 1},
		{"key that is a list", "? [a]\n: b\n", "key must be a name", 1},
		{"merge of a scalar", "a: &a 1\nb: {<<: *a}\n", "merge key", 2},
		{"infinity", "a: .inf\n", "no JSON form", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode("f.yaml", []byte(tc.in))
			var e *Error
			if !errors.As(err, &e) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode(%s) error = %v, want an *Error containing %q", tc.name, err, tc.want)
			}
			if e.Line != tc.line || !strings.HasPrefix(err.Error(), fmt.Sprintf("f.yaml:%d: ", tc.line)) {
				t.Errorf("Decode(%s) error = %v, want it at f.yaml:%d", tc.name, err, tc.line)
			}
		})
	}
}

// TestBombMemory bounds what refusing a bomb costs in memory (allocated
// bytes, not time): the bound is the file's budget, whatever the aliases
// stand for (a billion strings here).
func TestBombMemory(t *testing.T) {
	doc := []byte(bomb(9, 10))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Decode("bomb.yaml", doc)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Decode(bomb) error = %v, want ErrTooLarge", err)
	}
	if got := after.TotalAlloc - before.TotalAlloc; got > 64<<20 {
		t.Errorf("Decode(bomb) allocated %d MiB, want under 64 MiB", got>>20)
	}
}

func TestParseLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		line int
	}{
		{"key indented less", "services:\n  crm:\n    base_url: https://x\n    auth: {type: bearer, env: K}\n   allow: [\"GET /**\"]\n", 5},
		{"key indented more", "services:\n  crm:\n    base_url: https://x\n    auth: {type: bearer, env: K}\n      allow: [\"GET /**\"]\n", 5},
		{"list item out of place", "services:\n  crm:\n    base_url: https://x\n    allow:\n    - GET /**\n  - POST /x\n", 6},
		{"tab", "a:\n\tb: 1\n", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("s.yaml", []byte(tc.in))
			var e *Error
			if !errors.As(err, &e) || e.Line != tc.line {
				t.Errorf("Parse(%q) error = %v, want one at line %d", tc.in, err, tc.line)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	big := filepath.Join(dir, "big.yaml")
	fifo := filepath.Join(dir, "fifo")
	if err := os.WriteFile(small, []byte("a: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, 2<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       string // error text; "" for success
	}{
		{"regular", small, ""},
		{"too large", big, "larger than 1 MiB"},
		{"fifo", fifo, "a FIFO"},
		{"device", "/dev/zero", "a device"},
		{"directory", dir, "a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data, err := ReadFile(tc.path, 1<<20)
			if tc.want == "" {
				if err != nil || string(data) != "a: 1\n" {
					t.Errorf("ReadFile(%s) = %q, %v", tc.path, data, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ReadFile(%s) error = %v, want %q", tc.path, err, tc.want)
			}
		})
	}
}
