package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"github.com/keyveil/keyveil/internal/yamljson"
)

// TestFirstRunErrors: the mistakes a new user makes are reported where
// they are, leading with what to do.
func TestFirstRunErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		body  string
		first string // the first line of the error, after the file name
		never string // must not appear anywhere in the error
	}{
		{
			name:  "mis-indented allow",
			body:  "services:\n  crm:\n    base_url: https://crm.example.com\n    auth: {type: bearer, env: CRM_KEY}\n   allow: [\"GET /**\"]\n",
			first: ":5: not valid YAML: did not find expected key; check this line's indentation",
			never: ":1:",
		},
		{
			name:  "tab",
			body:  "services:\n  crm:\n\tbase_url: https://crm.example.com\n",
			first: ":3: not valid YAML: found character that cannot start any token; is it a tab?",
		},
		{
			name:  "list not closed",
			body:  "services:\n  crm:\n    base_url: https://crm.example.com\n    allow: [\"GET /**\"\n    auth: {type: none}\n",
			first: ":4: not valid YAML: did not find expected ',' or ']'; a [ or { list on this line or above is not closed",
		},
		{
			name:  "base-url typo",
			body:  "services:\n  crm:\n    base-url: https://crm.example.com\n    auth: {type: bearer, env: CRM_KEY}\n",
			first: `:3: services.crm: unknown key "base-url" (did you mean "base_url"?)`,
			never: "base_url is empty",
		},
		{
			name:  "auth env typo",
			body:  "services:\n  crm:\n    base_url: https://crm.example.com\n    auth: {type: bearer, evn: CRM_KEY}\n",
			first: `:4: services.crm.auth: unknown key "evn" (did you mean "env"?)`,
			never: "needs env",
		},
		{
			name:  "tools under services",
			body:  "services:\n  crm:\n    base_url: https://crm.example.com\n    auth: {type: bearer, env: CRM_KEY}\n  tools:\n    - name: get_quote\n      service: crm\n      method: GET\n      path: /quotes/{id}\n",
			first: `:5: tools: is indented under services:`,
			never: `service "tools"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, tc.body)
			_, err := Load(p, lookupMap(nil))
			if err == nil {
				t.Fatalf("Load(%q) succeeded", tc.body)
			}
			first, _, _ := strings.Cut(err.Error(), "\n")
			if !strings.HasPrefix(first, p+tc.first) {
				t.Errorf("Load(%q) error starts %q, want %q", tc.body, first, p+tc.first)
			}
			if tc.never != "" && strings.Contains(err.Error(), tc.never) {
				t.Errorf("Load(%q) error = %v, want no %q", tc.body, err, tc.never)
			}
		})
	}
}

// aliasBomb returns a services file whose tool's input schema is a
// billion-laughs bomb: nine levels of ten aliases each.
func aliasBomb() string {
	var b strings.Builder
	b.WriteString("services:\n  crm:\n    base_url: https://crm.example.com\n    auth: {type: bearer, env: CRM_KEY}\ntools:\n  - name: lol\n    service: crm\n    method: GET\n    path: /x\n    input:\n      type: object\n      x-a0: &a0 [lol]\n")
	for i := 1; i <= 9; i++ {
		fmt.Fprintf(&b, "      x-a%d: &a%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*a%d,", i-1), 10), ","))
	}
	return b.String()
}

// serviceBomb returns a services file that aliases a whole service with
// a long allow list many times: the typed decoder, not the schema
// converter, would expand it.
func serviceBomb() string {
	var b strings.Builder
	b.WriteString("services:\n  s0: &s\n    base_url: https://s.example.com\n    auth: {type: none}\n    allow:\n")
	for range 20000 {
		b.WriteString("      - GET /a\n")
	}
	for i := 1; i <= 2000; i++ {
		fmt.Fprintf(&b, "  s%d: *s\n", i)
	}
	return b.String()
}

// TestHostileFile: alias bombs in a services file are refused at their
// line with what to do, allocating a bounded amount of memory (bytes
// allocated, not time); a FIFO, a device and an oversized file are
// refused without being read.
func TestHostileFile(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"schema bomb", aliasBomb()},
		{"typed bomb", serviceBomb()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := Load(p, lookupMap(nil))
			runtime.ReadMemStats(&after)
			var le *lineError
			if !errors.Is(err, yamljson.ErrTooLarge) || !errors.As(err, &le) || !strings.Contains(err.Error(), "refer to it fewer times") {
				t.Fatalf("Load(%s) error = %v, want ErrTooLarge", tc.name, err)
			}
			// The line reported is one of the aliases that expand.
			if lines := strings.Split(tc.body, "\n"); le.line < 1 || !strings.Contains(lines[le.line-1], "*") {
				t.Errorf("Load(%s) error = %v, want it at a line with an alias", tc.name, err)
			}
			if strings.Count(err.Error(), "\n") > 5 {
				t.Errorf("Load(%s) error has %d lines, want the bomb reported once", tc.name, strings.Count(err.Error(), "\n")+1)
			}
			// Unbounded, these files allocate gigabytes. The bound leaves
			// room for the race detector, which roughly doubles what the
			// YAML parser allocates for the same file.
			if got := after.TotalAlloc - before.TotalAlloc; got > 160<<20 {
				t.Errorf("Load(%s) allocated %d MiB, want under 160 MiB", tc.name, got>>20)
			}
		})
	}

	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.yaml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("# "+strings.Repeat("x", maxFileBytes)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ path, want string }{
		{fifo, "a FIFO"},
		{"/dev/zero", "a device"},
		{big, "larger than 4 MiB"},
	} {
		if _, err := Load(tc.path, lookupMap(nil)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Load(%s) error = %v, want %q", tc.path, err, tc.want)
		}
	}
}

// TestMergeKeys: a YAML merge key (<<) in a service merges the anchored
// settings, as the JSON converter does, instead of being an unknown key.
// The service's own keys win, and of a list of mappings the first does.
func TestMergeKeys(t *testing.T) {
	t.Parallel()
	body := "services:\n" +
		"  crm:\n    <<: &d {auth: {type: bearer, env: CRM_KEY}, timeout: 5s, allow: [\"GET /a/**\"]}\n    base_url: https://crm.example.com\n    timeout: 9s\n" +
		"  other:\n    <<: [*d, {allow: [\"GET /b\"], docs: merged}]\n    base_url: https://other.example.com\n"
	c, err := Load(writeFile(t, body), lookupMap(nil))
	if err != nil {
		t.Fatalf("Load with merge keys: %v", err)
	}
	for _, tc := range []struct {
		name, timeout, env, allow, docs string
	}{
		{"crm", "9s", "CRM_KEY", "GET /a/**", ""},
		{"other", "5s", "CRM_KEY", "GET /a/**", "merged"},
	} {
		s, ok := c.Service(tc.name)
		if !ok || s.Timeout.String() != tc.timeout || s.Auth[0].Env != tc.env || len(s.Allow) != 1 || s.Allow[0] != tc.allow || s.Docs != tc.docs {
			t.Errorf("service %s = timeout %v, env %q, allow %q, docs %q; want %s, %q, [%s], %q", tc.name, s.Timeout, s.Auth[0].Env, s.Allow, s.Docs, tc.timeout, tc.env, tc.allow, tc.docs)
		}
	}
}
