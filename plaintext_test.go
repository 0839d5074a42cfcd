//go:build unix

package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCheckWarnsKeyInHostConfig plants the key keyveil loads in host
// configs under a fake HOME and the project directory: keyveil check must
// name each file and its fix, still exit 0 (a warning, not an error), and
// never print the key or anything the redactor had to catch; serve must
// log the same warning once at start-up. The same files holding a
// different key give no warning.
func TestCheckWarnsKeyInHostConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		planted string
		warn    bool
	}{
		{"planted", fakeKey, true},
		{"another key", "sk-test-OTHERKEY-0123456789abcdef", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			home, work := t.TempDir(), t.TempDir()
			files := []struct {
				path, content string
				mode          os.FileMode
			}{
				{filepath.Join(home, ".claude.json"), `{"projects":{},"mcpServers":{"crm":{"command":"keyveil","env":{"MCP_API_KEY":"` + tc.planted + `"}}}}`, 0o600},
				{filepath.Join(home, ".gemini", "settings.json"), `{"mcpServers":{"crm":{"command":"keyveil","args":["--header","Authorization: Bearer ` + tc.planted + `"]}}}`, 0o644},
				{filepath.Join(home, ".codex", "config.toml"), "[mcp_servers.crm.env]\nMCP_API_KEY = \"" + tc.planted + "\"\n", 0o600},
				{filepath.Join(work, ".mcp.json"), `{"mcpServers":{"crm":{"env":{"MCP_API_KEY":"` + tc.planted + `"}}}}`, 0o600},
				// VS Code's input: no key in the file, never a warning.
				{filepath.Join(work, ".vscode", "mcp.json"), `{"inputs":[{"id":"k","type":"promptString","password":true}],"servers":{"crm":{"env":{"MCP_API_KEY":"${input:k}"}}}}`, 0o644},
			}
			for _, f := range files {
				if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(f.path, []byte(f.content), f.mode); err != nil {
					t.Fatal(err)
				}
				if err := os.Chmod(f.path, f.mode); err != nil {
					t.Fatal(err)
				}
			}
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "CODEX_HOME=", "XDG_CONFIG_HOME=", "MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=https://api.example.com"}

			cmd := exec.Command(binPath, "check")
			cmd.Dir, cmd.Env = work, env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("keyveil check: %v (want exit 0); stdout:\n%s\nstderr:\n%s", err, out, stderr.Bytes())
			}
			all := append(out, stderr.Bytes()...)
			assertNoLeak(t, "keyveil check's output", all)
			if bytes.Contains(all, []byte("[REDACTED")) {
				t.Errorf("keyveil check tried to print the key (the redactor caught it):\n%s", all)
			}
			for _, f := range files {
				wantWarn := tc.warn && !strings.Contains(f.path, ".vscode")
				line := lineWith(string(out), f.path)
				if (line != "") != wantWarn {
					t.Errorf("keyveil check warns about %s = %q, want a warning: %v; stdout:\n%s", f.path, line, wantWarn, out)
					continue
				}
				if wantWarn && (!strings.Contains(line, "MCP_API_KEY") || !strings.Contains(line, "Fix: ")) {
					t.Errorf("warning %q does not name MCP_API_KEY and the fix", line)
				}
				if wantWarn && (f.mode&0o077 != 0) != strings.Contains(line, "readable by other users") {
					t.Errorf("warning %q: mode %04o", line, f.mode)
				}
			}
			if !bytes.Contains(out, []byte("keyveil check: READY")) {
				t.Errorf("keyveil check is not READY:\n%s", out)
			}

			// serve logs the same warnings once at start-up (user files
			// only: startRaw starts it in this directory).
			s := startRaw(t, append(env, "KEYVEIL_LOG_LEVEL=debug"))
			s.initialize()
			// The check runs beside the session; its debug line says it
			// is done. Waiting on stderr's pipe, not on a clock.
			var logged string
			for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if logged = s.stderrText(); strings.Contains(logged, "checked for keys in plain text") {
					break
				}
			}
			if !strings.Contains(logged, "checked for keys in plain text") {
				t.Fatalf("serve never finished checking host configs; stderr:\n%s", logged)
			}
			assertNoLeak(t, "keyveil serve's stderr", []byte(logged))
			n := strings.Count(logged, filepath.Join(home, ".claude.json"))
			if want := map[bool]int{true: 1, false: 0}[tc.warn]; n != want {
				t.Errorf("serve logged the ~/.claude.json warning %d times, want %d; stderr:\n%s", n, want, logged)
			}
		})
	}
}

// lineWith returns the first line of s that contains sub, or "".
func lineWith(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}
