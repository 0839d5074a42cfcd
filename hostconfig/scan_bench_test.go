package hostconfig

import (
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkScan measures what `keyveil serve` adds to start-up: the known
// files of a home directory with no host installed (ten stats), and one
// with a 2 MiB ~/.claude.json (Claude Code's file keeps project history)
// plus two small configs, none holding the key.
func BenchmarkScan(b *testing.B) {
	keys := []Key{{"MCP_API_KEY", sha256.Sum256([]byte("sk-test-LEAKCHECK-0123456789abcdef")), 34}}
	for _, bc := range []struct {
		name  string
		files map[string]string
	}{
		{"no hosts", nil},
		{"claude.json 2MiB + 2 small", map[string]string{
			".claude.json":          bigClaudeJSON(2 << 20),
			".cursor/mcp.json":      `{"mcpServers":{"crm":{"command":"/usr/local/bin/keyveil","env":{"MCP_API_KEY":"keychain:crm"}}}}`,
			".gemini/settings.json": `{"theme":"Default","mcpServers":{"crm":{"command":"keyveil","args":["--env-file","/home/u/.config/keyveil/crm.env"]}}}`,
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			home := b.TempDir()
			for p, c := range bc.files {
				p = filepath.Join(home, p)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					b.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(c), 0o600); err != nil {
					b.Fatal(err)
				}
			}
			files := Known(Dirs{Home: home, Config: filepath.Join(home, ".config"), Work: filepath.Join(home, "project"), CodexHome: filepath.Join(home, ".codex")})
			b.ResetTimer()
			for b.Loop() {
				if got := Scan(files, keys); len(got) != 0 {
					b.Fatalf("Scan = %+v, want nothing", got)
				}
			}
		})
	}
}

// bigClaudeJSON returns about n bytes shaped like ~/.claude.json: many
// projects, each with a history of prompts.
func bigClaudeJSON(n int) string {
	var s strings.Builder
	s.WriteString(`{"numStartups":42,"projects":{`)
	for i := 0; s.Len() < n; i++ {
		fmt.Fprintf(&s, `"/home/u/src/project-%d":{"allowedTools":[],"history":[{"display":"fix the failing test in pkg/%d and explain why it failed","pastedContents":{}},{"display":"run the linter","pastedContents":{}}],"mcpServers":{}},`, i, i)
	}
	s.WriteString(`"/": {}}}`)
	return s.String()
}
