package procguard

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSecretValues(t *testing.T) {
	t.Parallel()
	names := []string{"MCP_API_KEY", "MCP_API_KEY_FILE"}
	for _, tc := range []struct {
		name  string
		block string
		want  []span
	}{
		{"one", "HOME=/h\x00MCP_API_KEY=sk-1234\x00", []span{{20, 7}}},
		{"first entry", "MCP_API_KEY=abc\x00", []span{{12, 3}}},
		{"no final NUL", "A=b\x00MCP_API_KEY=abc", []span{{16, 3}}},
		{"NAME and NAME_FILE", "MCP_API_KEY=k\x00MCP_API_KEY_FILE=/p\x00", []span{{12, 1}, {31, 2}}},
		{"longer name is another variable", "MCP_API_KEYS=abc\x00XMCP_API_KEY=abc\x00", nil},
		{"value holding =", "MCP_API_KEY=a=b\x00", []span{{12, 3}}},
		{"every occurrence", "MCP_API_KEY=a\x00MCP_API_KEY=bc\x00", []span{{12, 1}, {26, 2}}},
		{"empty value", "MCP_API_KEY=\x00", nil},
		{"no =", "MCP_API_KEY\x00", nil},
		{"empty entries", "\x00\x00MCP_API_KEY=z\x00", []span{{14, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := secretValues([]byte(tc.block), names)
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(span{})); diff != "" {
				t.Errorf("secretValues(%q) (-want +got):\n%s", tc.block, diff)
			}
		})
	}
}

func TestNilGuard(t *testing.T) {
	t.Parallel()
	var g *Guard
	g.Scrub([]string{"MCP_API_KEY"})
	if w := g.Warnings(); w != nil {
		t.Errorf("(*Guard)(nil).Warnings() = %q, want nil", w)
	}
}
