package keychain

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// testKey must never appear in anything the command writes.
const testKey = "sk-test-LEAKCHECK-0123456789abcdef"

// testCheck stands in for credentials.CheckKey, which this package cannot
// import (credentials imports keychain).
func testCheck(v string) string {
	switch {
	case v == "":
		return "is empty; put the key itself in it"
	case strings.TrimSpace(v) != v:
		return "has leading or trailing whitespace (often a stray newline from copy-paste); remove it"
	}
	return ""
}

func TestCommand(t *testing.T) {
	t.Parallel()
	stored := `{"v":"` + testKey + `","origin":"https://crm.example.com","created":"2026-12-01T10:00:00Z"}`
	tests := []struct {
		name       string
		preset     map[string]string // user -> item, in service "keyveil"
		broken     error             // every keychain call fails with this
		args       []string
		stdin      string
		wantErr    string
		wantOut    string
		wantStored string // the origin crm must be stored with; "" to skip
	}{
		{name: "set from stdin", args: []string{"set", "crm", "--origin", "https://CRM.example.com/api/v2"}, stdin: testKey + "\n",
			wantOut: "stored crm in the OS keychain, bound to https://crm.example.com; refer to it as keychain:crm", wantStored: "https://crm.example.com"},
		{name: "set with flags first", args: []string{"set", "--origin", "http://127.0.0.1:9000", "crm"}, stdin: testKey + "\r\n",
			wantOut: "bound to http://127.0.0.1:9000", wantStored: "http://127.0.0.1:9000"},
		{name: "set replaces", preset: map[string]string{"crm": stored}, args: []string{"set", "crm", "--origin", "https://crm.example.com"}, stdin: testKey,
			wantOut: "replaced crm", wantStored: "https://crm.example.com"},
		{name: "value on the command line", args: []string{"set", "crm", testKey, "--origin", "https://crm.example.com"}, wantErr: "never from the command line"},
		{name: "no origin", args: []string{"set", "crm"}, stdin: testKey, wantErr: "--origin is required"},
		{name: "origin over http", args: []string{"set", "crm", "--origin", "http://crm.example.com"}, stdin: testKey, wantErr: "use https"},
		{name: "origin with the key in its query", args: []string{"set", "crm", "--origin", "https://crm.example.com/?k=" + testKey}, stdin: testKey, wantErr: "no user name, query"},
		{name: "empty value", args: []string{"set", "crm", "--origin", "https://crm.example.com"}, stdin: "\n", wantErr: "the value is empty"},
		{name: "padded value", args: []string{"set", "crm", "--origin", "https://crm.example.com"}, stdin: " " + testKey + "\n", wantErr: "the value has leading or trailing whitespace"},
		{name: "two newlines", args: []string{"set", "crm", "--origin", "https://crm.example.com"}, stdin: testKey + "\n\n", wantErr: "whitespace"},
		{name: "a reference as the value", args: []string{"set", "crm", "--origin", "https://crm.example.com"}, stdin: "keychain:other", wantErr: "a keychain: reference"},
		{name: "too long", args: []string{"set", "crm", "--origin", "https://crm.example.com"}, stdin: strings.Repeat("k", MaxValueBytes+10), wantErr: "NAME_FILE"},
		{name: "bad name", args: []string{"set", "a:b", "--origin", "https://crm.example.com"}, stdin: testKey, wantErr: "1 to 64 letters"},
		{name: "locked keychain", broken: errors.New("prompt dismissed"), args: []string{"set", "crm", "--origin", "https://crm.example.com"}, stdin: testKey,
			wantErr: "OS keychain is not available"},
		{name: "list", preset: map[string]string{"crm": stored, indexUser: `["crm","gone"]`}, args: []string{"list"},
			wantOut: "crm   https://crm.example.com  2026-12-01T10:00:00Z\ngone  -                        (missing: set it again)"},
		{name: "list empty", args: []string{"list"}, wantOut: "no secrets stored"},
		{name: "list damaged index", preset: map[string]string{indexUser: testKey}, args: []string{"list"}, wantErr: "index of keyveil's secrets"},
		{name: "delete", preset: map[string]string{"crm": stored, indexUser: `["crm"]`}, args: []string{"delete", "crm"}, wantOut: "deleted crm"},
		{name: "delete missing", args: []string{"delete", "crm"}, wantErr: "no such secret"},
		{name: "no command", args: nil, wantErr: "missing command"},
		{name: "unknown command", args: []string{"get", "crm"}, wantErr: "unknown command"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, kr := newTestStore(t)
			for u, v := range tc.preset {
				kr.items[service+"\x00"+u] = v
			}
			kr.err = tc.broken
			var stdout, stderr bytes.Buffer
			err := s.command(tc.args, strings.NewReader(tc.stdin), &stdout, &stderr, testCheck)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("secrets %q = %v; want error containing %q", tc.args, err, tc.wantErr)
				}
			} else if err != nil {
				t.Errorf("secrets %q = %v; want success", tc.args, err)
			}
			if !strings.Contains(stdout.String(), tc.wantOut) {
				t.Errorf("secrets %q stdout = %q; want it to contain %q", tc.args, stdout.String(), tc.wantOut)
			}
			for where, text := range map[string]string{"stdout": stdout.String(), "stderr": stderr.String(), "error": errString(err)} {
				if strings.Contains(text, "LEAKCHECK") {
					t.Errorf("secrets %q: %s shows the key: %q", tc.args, where, text)
				}
			}
			if tc.wantStored != "" {
				v, e, err := s.get("crm")
				if err != nil || v != testKey || e.Origin != tc.wantStored {
					t.Errorf("after secrets %q: get(crm) = %d bytes, %+v, %v; want the key bound to %s", tc.args, len(v), e, err, tc.wantStored)
				}
				if names, _ := s.names(); len(names) != 1 || names[0] != "crm" {
					t.Errorf("after secrets %q: index = %q, want [crm]", tc.args, names)
				}
			}
			if tc.wantErr != "" && tc.preset == nil && tc.broken == nil {
				if len(kr.items) != 0 {
					t.Errorf("secrets %q failed but stored %d items", tc.args, len(kr.items))
				}
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
