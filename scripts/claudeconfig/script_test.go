package main

// Tests of the shell scripts beside this program: install-claude-desktop.sh,
// which drives it, and op-run-example.sh. Each runs the real script with
// bash and an environment built from scratch, so nothing of the caller's
// MCP_* or KEYVEIL_* settings leaks in.

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// needBash skips the test when bash is missing and returns its path.
func needBash(t *testing.T) string {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	return bash
}

// goEnv returns the variables that keep the go command of a script run
// under a fake HOME on this machine's build and module caches and settings;
// without them every run would rebuild and re-download everything.
func goEnv(t *testing.T) []string {
	t.Helper()
	out, err := exec.Command("go", "env", "-json", "GOCACHE", "GOMODCACHE", "GOPATH", "GOENV").Output()
	if err != nil {
		t.Fatalf("go env: %v", err)
	}
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("go env -json: %v", err)
	}
	var env []string
	for k, v := range m {
		env = append(env, k+"="+v)
	}
	return env
}

func TestInstallScript(t *testing.T) {
	t.Parallel()
	bash := needBash(t)
	if testing.Short() {
		t.Skip("builds keyveil")
	}
	script, err := filepath.Abs("../install-claude-desktop.sh")
	if err != nil {
		t.Fatal(err)
	}
	envFile, err := filepath.Abs("../op-run-example.env")
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(api.Close)
	goenv := goEnv(t)
	const existing = `{"globalShortcut": "", "mcpServers": {"fs": {"command": "npx", "args": ["-y", "server-filesystem"]}}}`

	tests := []struct {
		name     string
		args     []string
		env      []string // besides PATH, HOME, the go settings, BIN_DIR
		config   string   // CLAUDE_CONFIG relative to the temp dir; "": the default
		existing bool     // write `existing` there first
		wantOK   bool
		wantOut  []string
		fakeOp   bool           // put a fake op, which "resolves" the key to fakeKey, on PATH
		wantEnv  map[string]any // mcpServers[name].env afterwards; nil: file unchanged
	}{
		{
			name:     "installs next to other servers",
			args:     []string{"--name", "crm"},
			env:      []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + api.URL, "MCP_API_ALLOW=GET /quotes/**"},
			config:   "cfg/claude_desktop_config.json",
			existing: true,
			wantOK:   true,
			wantOut:  []string{"keyveil check: READY", `"MCP_API_KEY": "[REDACTED]"`, "Restart Claude Desktop", "previous version saved as"},
			wantEnv:  map[string]any{"MCP_API_KEY": fakeKey, "MCP_API_BASE_URL": api.URL, "MCP_API_ALLOW": "GET /quotes/**"},
		},
		{
			name:    "default config path for this OS",
			env:     []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + api.URL},
			wantOK:  true,
			wantOut: []string{`added mcpServers["keyveil"]`},
			wantEnv: map[string]any{"MCP_API_KEY": fakeKey, "MCP_API_BASE_URL": api.URL},
		},
		{
			name: "failing check leaves the file alone",
			args: []string{"--name", "crm"},
			// http to a host that is not loopback: keyveil check refuses it.
			env:      []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=http://crm.example.com"},
			config:   "cfg/claude_desktop_config.json",
			existing: true,
			wantOut:  []string{"keyveil check: NOT READY", "use https", "was not changed"},
		},
		{
			name:    "a stray KEYVEIL_CONFIG is not what check tests",
			args:    []string{"--name", "crm"},
			env:     []string{"MCP_API_KEY=" + fakeKey, "MCP_API_BASE_URL=" + api.URL, "KEYVEIL_CONFIG=/nonexistent.yaml"},
			config:  "c.json",
			wantOK:  true,
			wantOut: []string{"keyveil check: READY"},
			wantEnv: map[string]any{"MCP_API_KEY": fakeKey, "MCP_API_BASE_URL": api.URL},
		},
		{
			name:    "no key and no terminal to ask on",
			env:     []string{"MCP_API_BASE_URL=" + api.URL},
			config:  "c.json",
			wantOut: []string{"MCP_API_KEY is not set and stdin is not a terminal"},
		},
		{
			name:    "key as an argument",
			args:    []string{fakeKey},
			env:     []string{"MCP_API_BASE_URL=" + api.URL},
			config:  "c.json",
			wantOut: []string{"not shown in case it is a key"},
		},
		{
			name: "op env file form",
			args: []string{"--name", "crm", "--op-env-file", envFile},
			// The key in this shell must not be what check tests, nor land in the file.
			env:     []string{"MCP_API_KEY=sk-test-WRONG-0123456789", "MCP_API_BASE_URL=" + api.URL},
			config:  "c.json",
			fakeOp:  true,
			wantOK:  true,
			wantOut: []string{"keyveil check: READY", "/fakeop/op"},
			wantEnv: map[string]any{"MCP_API_BASE_URL": api.URL},
		},
		{
			name:    "op env file without op installed",
			args:    []string{"--op-env-file", envFile},
			env:     []string{"MCP_API_BASE_URL=" + api.URL},
			config:  "c.json",
			wantOut: []string{"the 1Password CLI (op) is not installed"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			home := filepath.Join(dir, "home")
			config := filepath.Join(dir, tc.config)
			switch {
			case tc.config != "":
				tc.env = append(tc.env, "CLAUDE_CONFIG="+config)
			case runtime.GOOS == "darwin":
				config = filepath.Join(home, "Library/Application Support/Claude/claude_desktop_config.json")
			case runtime.GOOS == "linux":
				config = filepath.Join(home, ".config/Claude/claude_desktop_config.json")
			default:
				t.Skipf("no default Claude Desktop config path known for %s", runtime.GOOS)
			}
			if tc.existing {
				if err := os.MkdirAll(filepath.Dir(config), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(config, []byte(existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			// PATH is the test's own, minus any op, so the op case is the
			// same on a machine that has the 1Password CLI.
			var path []string
			for _, d := range filepath.SplitList(os.Getenv("PATH")) {
				if _, err := os.Stat(filepath.Join(d, "op")); err != nil {
					path = append(path, d)
				}
			}
			if tc.fakeOp {
				fake := filepath.Join(dir, "fakeop")
				op := "#!/bin/sh\nwhile [ \"$1\" != -- ]; do shift; done; shift\nMCP_API_KEY=" + fakeKey + " exec \"$@\"\n"
				if err := os.Mkdir(fake, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(fake, "op"), []byte(op), 0o755); err != nil {
					t.Fatal(err)
				}
				path = append([]string{fake}, path...)
			}
			cmd := exec.Command(bash, append([]string{script}, tc.args...)...)
			cmd.Dir = dir
			cmd.Env = append(append([]string{"PATH=" + strings.Join(path, string(os.PathListSeparator)),
				"HOME=" + home, "BIN_DIR=" + filepath.Join(dir, "bin")}, goenv...), tc.env...)
			out, err := cmd.CombinedOutput()
			if ok := err == nil; ok != tc.wantOK {
				t.Fatalf("install-claude-desktop.sh %q: err = %v, want ok = %v\n%s", tc.args, err, tc.wantOK, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(string(out), w) {
					t.Errorf("install-claude-desktop.sh %q printed\n%s\nwant it to contain %q", tc.args, out, w)
				}
			}
			if strings.Contains(string(out), fakeKey) || strings.Contains(string(out), "sk-test-WRONG") {
				t.Errorf("install-claude-desktop.sh %q printed the key:\n%s", tc.args, out)
			}

			data, err := os.ReadFile(config)
			if tc.wantEnv == nil {
				want := ""
				if tc.existing {
					want = existing
				}
				if string(data) != want {
					t.Errorf("install-claude-desktop.sh %q: config = %q, want %q", tc.args, data, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("install-claude-desktop.sh %q: %v", tc.args, err)
			}
			if fi, _ := os.Stat(config); fi.Mode().Perm() != 0o600 {
				t.Errorf("install-claude-desktop.sh %q: config mode %#o, want 0600", tc.args, fi.Mode().Perm())
			}
			var got struct {
				MCPServers map[string]map[string]any `json:"mcpServers"`
			}
			if err := json.Unmarshal(data, &got); err != nil {
				t.Fatalf("install-claude-desktop.sh %q wrote invalid JSON: %v\n%s", tc.args, err, data)
			}
			name := "keyveil"
			for i, a := range tc.args[:max(len(tc.args)-1, 0)] {
				if a == "--name" {
					name = tc.args[i+1]
				}
			}
			want := map[string]any{"command": filepath.Join(dir, "bin", "keyveil"), "env": tc.wantEnv}
			if tc.fakeOp {
				want["command"] = filepath.Join(dir, "fakeop", "op")
				want["args"] = []any{"run", "--env-file=" + envFile, "--", filepath.Join(dir, "bin", "keyveil")}
			}
			if diff := cmp.Diff(want, got.MCPServers[name]); diff != "" {
				t.Errorf("install-claude-desktop.sh %q: mcpServers[%q] (-want +got):\n%s", tc.args, name, diff)
			}
			if tc.existing && got.MCPServers["fs"] == nil {
				t.Errorf("install-claude-desktop.sh %q dropped the other server:\n%s", tc.args, data)
			}
			// The entry must start a keyveil that works.
			if _, err := os.Stat(filepath.Join(dir, "bin", "keyveil")); err != nil {
				t.Errorf("install-claude-desktop.sh %q: %v", tc.args, err)
			}
		})
	}
}

func TestOpRunExample(t *testing.T) {
	t.Parallel()
	bash := needBash(t)
	script, err := filepath.Abs("../op-run-example.sh")
	if err != nil {
		t.Fatal(err)
	}
	envFile, err := filepath.Abs("../op-run-example.env")
	if err != nil {
		t.Fatal(err)
	}

	// fakes returns a directory with a fake op, which records its arguments
	// and runs the command after "--" with a resolved key in its
	// environment, and a fake keyveil, which records its own.
	fakes := func(t *testing.T) string {
		dir := t.TempDir()
		op := "#!/bin/sh\nprintf '%s\\n' \"$@\" >'" + dir + "/op.args'\n" +
			"while [ \"$1\" != -- ]; do shift; done; shift\n" +
			"MCP_API_KEY=" + fakeKey + " exec \"$@\"\n"
		kv := "#!/bin/sh\nprintf '%s\\n' \"$@\" >'" + dir + "/keyveil.args'\necho 'keyveil check: READY'\n"
		for name, body := range map[string]string{"op": op, "keyveil": kv} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}

	tests := []struct {
		name    string
		withOp  bool
		wantOK  bool
		wantOut []string
		wantOp  []string // op's arguments
	}{
		{
			name:    "op not installed",
			wantOut: []string{"the 1Password CLI (op) is not installed", "op signin"},
		},
		{
			name:    "op installed",
			withOp:  true,
			wantOK:  true,
			wantOut: []string{"keyveil check: READY", `"args": ["run", "--env-file=` + envFile + `", "--", `},
			wantOp:  []string{"run", "--env-file=" + envFile, "--", "KEYVEIL", "check"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			bin := fakes(t)
			if !tc.withOp {
				if err := os.Remove(filepath.Join(bin, "op")); err != nil {
					t.Fatal(err)
				}
			}
			// PATH holds the fakes alone: the script needs nothing else,
			// and a real op on this machine must not be found.
			cmd := exec.Command(bash, script)
			cmd.Env = []string{"PATH=" + bin}
			out, err := cmd.CombinedOutput()
			if ok := err == nil; ok != tc.wantOK {
				t.Fatalf("op-run-example.sh: err = %v, want ok = %v\n%s", err, tc.wantOK, out)
			}
			for _, w := range tc.wantOut {
				if !strings.Contains(string(out), w) {
					t.Errorf("op-run-example.sh printed\n%s\nwant it to contain %q", out, w)
				}
			}
			if strings.Contains(string(out), fakeKey) {
				t.Errorf("op-run-example.sh printed the resolved key:\n%s", out)
			}
			if tc.wantOp == nil {
				return
			}
			data, err := os.ReadFile(filepath.Join(bin, "op.args"))
			if err != nil {
				t.Fatalf("op-run-example.sh did not run op: %v", err)
			}
			want := strings.ReplaceAll(strings.Join(tc.wantOp, "\n"), "KEYVEIL", filepath.Join(bin, "keyveil"))
			if diff := cmp.Diff(strings.Split(want, "\n"), strings.Fields(string(data))); diff != "" {
				t.Errorf("op-run-example.sh ran op with (-want +got):\n%s", diff)
			}
		})
	}
}
