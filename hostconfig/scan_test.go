package hostconfig

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestEachString(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		toml bool
		want []string
	}{
		{"json", `{"a": "b", "c": ["d e", 1, true]}`, false, []string{"a", "b", "c", "d e"}},
		{"json escapes", `{"k": "x\"y\\z\u0041\/"}`, false, []string{"k", `x"y\zA/`}},
		{"jsonc comments", "{// a \"quote\n\"k\": /* \"no\" */ \"v\"}", false, []string{"k", "v"}},
		{"bad escape kept raw", `{"k": "a\qb"}`, false, []string{"k", `a\qb`}},
		{"unterminated", `{"k": "v`, false, []string{"k"}},
		{"toml basic and literal", "[mcp_servers.crm.env]\nMCP_API_KEY = \"sk\\u0041\" # \"comment\"\nB = 'lit\\eral'\n", true, []string{"skA", `lit\eral`}},
		{"toml multi-line", "a = \"\"\"\nline \"one\"\"\"\"\nb = '''\nraw\\n'''\n", true, []string{`line "one"`, `raw\n`}},
		{"# in a string is not a comment", "a = \"x#y\"\n", true, []string{"x#y"}},
		{"# is not a comment in JSON", `{"a#": "b"}`, false, []string{"a#", "b"}},
		{"single quotes are not JSON strings", `{"a": 'b'}`, false, []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			eachString([]byte(tc.in), tc.toml, func(s []byte) { got = append(got, string(s)) })
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("eachString(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	t.Parallel()
	dirs := Dirs{Home: "/h", Config: "/h/.config", Work: "/p", CodexHome: "/h/.codex"}
	var got []string
	for _, f := range Known(dirs) {
		got = append(got, f.Host+" "+f.Path)
	}
	want := []string{
		"Claude Desktop /h/.config/Claude/claude_desktop_config.json",
		"Claude Code /h/.claude.json",
		"Claude Code /p/.mcp.json",
		"Cursor /h/.cursor/mcp.json",
		"Cursor /p/.cursor/mcp.json",
		"VS Code /p/.vscode/mcp.json",
		"VS Code /h/.config/Code/User/mcp.json",
		"Windsurf /h/.codeium/windsurf/mcp_config.json",
		"Gemini CLI /h/.gemini/settings.json",
		"Codex /h/.codex/config.toml",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Known(%+v) (-want +got):\n%s", dirs, diff)
	}
	// Started in the home directory, Cursor's project file is its user file.
	dirs.Work = "/h"
	n := 0
	for _, f := range Known(dirs) {
		if f.Path == "/h/.cursor/mcp.json" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("Known with Work = Home lists /h/.cursor/mcp.json %d times, want 1", n)
	}
}

func TestScan(t *testing.T) {
	t.Parallel()
	const key = "sk-test-LEAKCHECK-hostconfig-0123456789"
	const other = "ghp_test_LEAKCHECK_other_abcdefghijkl"
	keys := []Key{{"MCP_API_KEY", sha256.Sum256([]byte(key)), len(key)}, {"GH_TOKEN", sha256.Sum256([]byte(other)), len(other)}}
	for _, tc := range []struct {
		name     string
		content  string
		toml     bool
		mode     os.FileMode
		wantKeys []string
		wantMode os.FileMode
	}{
		{"env value", `{"mcpServers":{"crm":{"env":{"MCP_API_KEY":"` + key + `"}}}}`, false, 0o600, []string{"MCP_API_KEY"}, 0},
		{"world-readable", `{"env":{"K":"` + key + `"}}`, false, 0o644, []string{"MCP_API_KEY"}, 0o644},
		{"group-readable", `{"env":{"K":"` + key + `"}}`, false, 0o640, []string{"MCP_API_KEY"}, 0o640},
		{"a word of a header argument", `{"args":["--header","Authorization: Bearer ` + key + `"]}`, false, 0o600, []string{"MCP_API_KEY"}, 0},
		{"KEY=value argument", `{"args":["MCP_API_KEY=` + key + `"]}`, false, 0o600, []string{"MCP_API_KEY"}, 0},
		{"JSON-escaped", `{"k":"` + strings.Replace(key, "s", `\u0073`, 1) + `"}`, false, 0o600, []string{"MCP_API_KEY"}, 0},
		{"both keys", `{"a":"` + other + `","b":"` + key + `"}`, false, 0o600, []string{"MCP_API_KEY", "GH_TOKEN"}, 0},
		{"codex toml", "[mcp_servers.crm.env]\nMCP_API_KEY = \"" + key + "\"\n", true, 0o600, []string{"MCP_API_KEY"}, 0},
		{"toml literal", "[mcp_servers.crm.env]\nMCP_API_KEY = '" + key + "'\n", true, 0o644, []string{"MCP_API_KEY"}, 0o644},
		{"not planted", `{"env":{"MCP_API_KEY":"keychain:crm","X":"sk-test-LEAKCHECK-hostconfig-012345678"}}`, false, 0o644, nil, 0},
		{"a longer string holding the key is not a word of it", `{"k":"x` + key + `"}`, false, 0o600, nil, 0},
		{"a reference", `{"env":{"MCP_API_KEY":"${input:crm}"}}`, false, 0o644, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := filepath.Join(t.TempDir(), "mcp.json")
			if err := os.WriteFile(p, []byte(tc.content), tc.mode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(p, tc.mode); err != nil { // past the umask
				t.Fatal(err)
			}
			got := Scan([]File{{Host: "Test", Path: p, Fix: "fix MCP_API_KEY", TOML: tc.toml}, {Host: "Absent", Path: p + ".absent"}}, keys)
			if tc.wantKeys == nil {
				if len(got) != 0 {
					t.Errorf("Scan(%q) = %+v, want nothing", tc.content, got)
				}
				return
			}
			if len(got) != 1 {
				t.Fatalf("Scan(%q) = %+v, want one finding", tc.content, got)
			}
			if diff := cmp.Diff(tc.wantKeys, got[0].Keys); diff != "" || got[0].Mode != tc.wantMode {
				t.Errorf("Scan(%q): keys (-want +got):\n%s mode %04o, want %04o", tc.content, diff, got[0].Mode, tc.wantMode)
			}
			msg := got[0].Message()
			if !strings.Contains(msg, p) || !strings.Contains(msg, "Fix: fix "+tc.wantKeys[0]) {
				t.Errorf("Message() = %q, want the path and the fix for %s", msg, tc.wantKeys[0])
			}
			if strings.Contains(msg, key) || strings.Contains(msg, other) || strings.Contains(msg, key[:12]) {
				t.Errorf("Message() = %q holds a key or part of one", msg)
			}
		})
	}
}

// TestScanSkipsWhatIsNotAConfig checks that what is not a regular file
// (a FIFO planted where a config belongs would block an open for reading;
// /dev/zero would read for ever) is not read, that a file over the size
// bound is reported as not checked, and that a config beside them is.
func TestScanSkipsWhatIsNotAConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const key = "sk-test-LEAKCHECK-0123456789"
	keys := []Key{{"MCP_API_KEY", sha256.Sum256([]byte(key)), len(key)}}
	fifo := filepath.Join(dir, "fifo.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.json")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, maxFileBytes+1); err != nil {
		t.Fatal(err)
	}
	fine := filepath.Join(dir, "fine.json")
	if err := os.WriteFile(fine, []byte(`{"env":{"MCP_API_KEY":"`+key+`"}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		want       string // "" for nothing reported, "too large", or "key"
	}{
		{"FIFO", fifo, ""},
		{"directory", dir, ""},
		{"dev zero", "/dev/zero", ""},
		{"too large", big, "too large"},
		{"a config holding the key", fine, "key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Scan([]File{{Host: "H", Path: tc.path}}, keys)
			switch tc.want {
			case "":
				if len(got) != 0 {
					t.Errorf("Scan(%s) = %+v, want nothing", tc.path, got)
				}
			case "too large":
				if len(got) != 1 || !got[0].TooLarge || !strings.Contains(got[0].Message(), "not checked") {
					t.Errorf("Scan(%s) = %+v, want it reported too large and not checked", tc.path, got)
				}
			case "key":
				if len(got) != 1 || got[0].TooLarge || !slices.Equal(got[0].Keys, []string{"MCP_API_KEY"}) {
					t.Errorf("Scan(%s) = %+v, want MCP_API_KEY found", tc.path, got)
				}
			}
		})
	}
}
