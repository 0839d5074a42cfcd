package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckFirstRun runs keyveil check the way a new user first does and
// checks that one run reports every problem (configuration and
// credentials together), leads with the message that says what to do, and
// warns about a Basic-auth user name left out.
func TestCheckFirstRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	typo := filepath.Join(dir, "typo.yaml")
	if err := os.WriteFile(typo, []byte("services:\n  crm:\n    base-url: https://crm.example.com\n    auth: {type: bearer, env: CRM_KEY}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  []string
		env   []string
		code  int
		first string   // the first problem line, when not ready
		want  []string // in stdout
		never []string // not in stdout
	}{
		{
			name: "nothing set", env: nil, code: 1,
			first: "  - MCP_API_BASE_URL is not set",
			want:  []string{"MCP_API_KEY is not set"},
		},
		{
			name: "key but no base URL", env: []string{"MCP_API_KEY=" + fakeKey}, code: 1,
			first: "  - MCP_API_BASE_URL is not set",
			never: []string{"MCP_API_KEY is not set"},
		},
		{
			name: "file typo and missing key", args: []string{"--config", typo}, code: 1,
			first: "  - " + typo + `:3: services.crm: unknown key "base-url" (did you mean "base_url"?)`,
			want:  []string{"CRM_KEY is not set"},
			never: []string{"base_url is empty"},
		},
		{
			name: "basic without a user name", env: []string{"MCP_API_BASE_URL=https://api.example.com", "MCP_API_KEY=" + fakeKey, "MCP_API_AUTH=basic"}, code: 0,
			want: []string{"Warnings:", "MCP_API_USERNAME is not set", "READY"},
		},
		{
			name: "basic with a user name", env: []string{"MCP_API_BASE_URL=https://api.example.com", "MCP_API_KEY=" + fakeKey, "MCP_API_AUTH=basic", "MCP_API_USERNAME=me"}, code: 0,
			never: []string{"MCP_API_USERNAME is not set"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := append([]string{"HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}, tc.env...)
			code, out, stderr := runKeyveil(t, env, append([]string{"check"}, tc.args...)...)
			if code != tc.code {
				t.Errorf("keyveil check exited %d, want %d; stdout:\n%s\nstderr:\n%s", code, tc.code, out, stderr)
			}
			if tc.first != "" {
				lines := strings.Split(out, "\n")
				if len(lines) < 3 || !strings.HasPrefix(lines[2], tc.first) {
					t.Errorf("keyveil check's first problem = %q, want it to start %q; stdout:\n%s", lines[min(2, len(lines)-1)], tc.first, out)
				}
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("keyveil check stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tc.never {
				if strings.Contains(out, w) {
					t.Errorf("keyveil check stdout has %q:\n%s", w, out)
				}
			}
			assertNoLeak(t, "check stdout", []byte(out))
			assertNoLeak(t, "check stderr", []byte(stderr))
		})
	}
}
