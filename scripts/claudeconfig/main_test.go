package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const fakeKey = "sk-test-LEAKCHECK-0123456789"

// fakeEnv is a lookupEnv over a map, so tests run in parallel without
// touching the process environment.
func fakeEnv(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// decode parses a config file into plain Go values for comparison.
func decode(t *testing.T, data []byte) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatalf("json.Unmarshal(written config) = %v\n%s", err, data)
	}
	return v
}

func TestRun(t *testing.T) {
	t.Parallel()
	const bin = "/opt/keyveil/bin/keyveil"
	// other is a config a user already has: another server and top-level
	// keys that must come through untouched.
	const other = `{
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"], "env": {"A": "<&>"}},
    "crm": {"command": "/old/keyveil", "env": {"MCP_API_KEY": "old-key-0123456789"}}
  },
  "preferences": {"n": 1.50, "nested": [true, null]}
}`
	otherServer := map[string]any{
		"command": "npx",
		"args":    []any{"-y", "@modelcontextprotocol/server-filesystem", "/tmp"},
		"env":     map[string]any{"A": "<&>"},
	}
	keyEntry := map[string]any{
		"command": bin,
		"env":     map[string]any{"MCP_API_BASE_URL": "https://crm.example.com/api", "MCP_API_KEY": fakeKey},
	}
	envArgs := []string{"--env", "MCP_API_BASE_URL=https://crm.example.com/api", "--env", "MCP_API_KEY"}

	tests := []struct {
		name     string
		existing *string // nil: no file
		args     []string
		want     map[string]any // the whole file, decoded
		wantOut  []string       // in what run printed
	}{
		{
			name: "new file",
			args: append([]string{"--name", "crm", "--command", bin}, envArgs...),
			want: map[string]any{"mcpServers": map[string]any{"crm": keyEntry}},
			wantOut: []string{`added mcpServers["crm"]`, `"MCP_API_KEY": "[REDACTED]"`,
				`"MCP_API_BASE_URL": "https://crm.example.com/api"`},
		},
		{
			name:     "blank file counts as {}",
			existing: ptr(" \n"),
			args:     append([]string{"--name", "crm", "--command", bin}, envArgs...),
			want:     map[string]any{"mcpServers": map[string]any{"crm": keyEntry}},
			wantOut:  []string{`added mcpServers["crm"]`, "previous version saved as"},
		},
		{
			name:     "other servers and top-level keys kept",
			existing: ptr(other),
			args:     append([]string{"--name", "keyveil", "--command", bin}, envArgs...),
			want: map[string]any{
				"globalShortcut": "Ctrl+Space",
				"preferences":    map[string]any{"n": 1.5, "nested": []any{true, nil}},
				"mcpServers": map[string]any{
					"filesystem": otherServer,
					"crm":        map[string]any{"command": "/old/keyveil", "env": map[string]any{"MCP_API_KEY": "old-key-0123456789"}},
					"keyveil":    keyEntry,
				},
			},
			wantOut: []string{`added mcpServers["keyveil"]`},
		},
		{
			name:     "replacing an entry",
			existing: ptr(other),
			args:     append([]string{"--name", "crm", "--command", bin}, envArgs...),
			want: map[string]any{
				"globalShortcut": "Ctrl+Space",
				"preferences":    map[string]any{"n": 1.5, "nested": []any{true, nil}},
				"mcpServers":     map[string]any{"filesystem": otherServer, "crm": keyEntry},
			},
			wantOut: []string{`replaced mcpServers["crm"]`},
		},
		{
			name:     "op env file form",
			existing: ptr(`{"mcpServers": {}}`),
			args: []string{"--name", "crm-1password", "--command", bin, "--op-env-file", "/home/u/crm.env",
				"--op-command", "/usr/local/bin/op", "--env", "MCP_API_AUTH=header:X-API-Key"},
			want: map[string]any{"mcpServers": map[string]any{"crm-1password": map[string]any{
				"command": "/usr/local/bin/op",
				"args":    []any{"run", "--env-file=/home/u/crm.env", "--", bin},
				"env":     map[string]any{"MCP_API_AUTH": "header:X-API-Key"},
			}}},
			wantOut: []string{`"command": "/usr/local/bin/op"`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "Claude", "claude_desktop_config.json")
			if tc.existing != nil {
				if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
				// 0644: the rewrite must tighten it.
				if err := os.WriteFile(path, []byte(*tc.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"--config", path}, tc.args...)
			var out bytes.Buffer
			if err := run(args, fakeEnv(map[string]string{"MCP_API_KEY": fakeKey}), &out); err != nil {
				t.Fatalf("run(%q) = %v", args, err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, decode(t, data)); diff != "" {
				t.Errorf("run(%q) wrote (-want +got):\n%s", args, diff)
			}
			for _, p := range []string{path, path + ".bak"} {
				fi, err := os.Stat(p)
				if p == path+".bak" && tc.existing == nil {
					if err == nil {
						t.Errorf("run(%q) made a backup of a file that did not exist", args)
					}
					continue
				}
				if err != nil {
					t.Fatalf("run(%q): %v", args, err)
				}
				if mode := fi.Mode().Perm(); mode != 0o600 {
					t.Errorf("run(%q): %s has mode %#o, want 0600", args, filepath.Base(p), mode)
				}
			}
			if tc.existing != nil {
				if bak, _ := os.ReadFile(path + ".bak"); string(bak) != *tc.existing {
					t.Errorf("run(%q): .bak = %q, want the previous file %q", args, bak, *tc.existing)
				}
			}
			if strings.Contains(out.String(), fakeKey) {
				t.Errorf("run(%q) printed the key:\n%s", args, out.String())
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("run(%q) printed\n%s\nwant it to contain %q", args, out.String(), w)
				}
			}
			if strings.HasPrefix(tc.name, "op") && strings.Contains(string(data), "MCP_API_KEY") {
				t.Errorf("run(%q) wrote MCP_API_KEY into an op run entry:\n%s", args, data)
			}
			leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*.tmp"))
			if len(leftovers) > 0 {
				t.Errorf("run(%q) left temp files %q", args, leftovers)
			}
		})
	}
}

// TestRunKeepsOrder checks that members keep their place, so a user's
// hand-ordered file does not get reshuffled on every install.
func TestRunKeepsOrder(t *testing.T) {
	t.Parallel()
	in := `{"z": 1, "mcpServers": {"y": {"command": "y"}, "crm": {"command": "old"}, "a": {"command": "a"}}, "b": 2}`
	path := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(path, []byte(in), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--config", path, "--name", "crm", "--command", "/bin/keyveil"}
	if err := run(args, fakeEnv(nil), &bytes.Buffer{}); err != nil {
		t.Fatalf("run(%q) = %v", args, err)
	}
	data, _ := os.ReadFile(path)
	keys := []string{`"z"`, `"mcpServers"`, `"y"`, `"crm"`, `"a"`, `"b"`}
	last := -1
	for _, k := range keys {
		i := strings.Index(string(data), k)
		if i <= last {
			t.Fatalf("run(%q) moved %s, want members in the order %v:\n%s", args, k, keys, data)
		}
		last = i
	}
}

func TestRunRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		existing string // "" : no file
		args     []string
		env      map[string]string
		wantErr  string
	}{
		{"invalid JSON", `{"mcpServers": {"x": }`, []string{"--name", "crm", "--command", "/bin/keyveil"}, nil, "not valid JSON"},
		{"top level not an object", `[1, 2]`, []string{"--name", "crm", "--command", "/bin/keyveil"}, nil, "not a JSON object"},
		{"mcpServers not an object", `{"mcpServers": []}`, []string{"--name", "crm", "--command", "/bin/keyveil"}, nil, "mcpServers: not a JSON object"},
		{"key on the command line", "", []string{"--name", "crm", "--command", "/bin/keyveil", "--env", "MCP_API_KEY=" + fakeKey}, nil, "shell history"},
		{"key not in the environment", "", []string{"--name", "crm", "--command", "/bin/keyveil", "--env", "MCP_API_KEY"}, nil, "MCP_API_KEY is not set"},
		{"key with op env file", "", []string{"--name", "crm", "--command", "/bin/keyveil", "--op-env-file", "/x.env", "--env", "MCP_API_KEY"},
			map[string]string{"MCP_API_KEY": fakeKey}, "come from 1Password"},
		{"relative command", "", []string{"--name", "crm", "--command", "keyveil"}, nil, "absolute path"},
		{"no name", "", []string{"--command", "/bin/keyveil"}, nil, "--name is required"},
		{"bad variable name", "", []string{"--name", "crm", "--command", "/bin/keyveil", "--env", "A-B=1"}, nil, "not a variable name"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "claude_desktop_config.json")
			if tc.existing != "" {
				if err := os.WriteFile(path, []byte(tc.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			args := append([]string{"--config", path}, tc.args...)
			var out bytes.Buffer
			err := run(args, fakeEnv(tc.env), &out)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("run(%q) = %v, want an error containing %q", args, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), fakeKey) {
				t.Errorf("run(%q) error contains the key: %v", args, err)
			}
			data, readErr := os.ReadFile(path)
			switch {
			case tc.existing == "" && readErr == nil:
				t.Errorf("run(%q) failed but created the file", args)
			case tc.existing != "" && string(data) != tc.existing:
				t.Errorf("run(%q) failed but changed the file to %q", args, data)
			}
			if fi, err := os.Stat(path); err == nil && tc.existing != "" && fi.Mode().Perm() != 0o644 {
				t.Errorf("run(%q) failed but changed the mode to %#o", args, fi.Mode().Perm())
			}
			if _, err := os.Stat(path + ".bak"); err == nil {
				t.Errorf("run(%q) failed but wrote a backup", args)
			}
		})
	}
}

func ptr(s string) *string { return &s }
