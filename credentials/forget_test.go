package credentials

import (
	"strings"
	"testing"
)

func TestRedactorForget(t *testing.T) {
	t.Parallel()
	const tok, key = "tok-LEAKCHECK-forget-0123456789", "sk-test-LEAKCHECK-static-0123456789"
	for _, tc := range []struct {
		name     string
		forget   []Secret
		tokenRed bool // the token is still redacted afterwards
	}{
		{"the token", []Secret{NewSecret("OAUTH_TOKEN_x", tok)}, false},
		{"same value, other name", []Secret{NewSecret("OTHER", tok)}, true},
		{"other value", []Secret{NewSecret("OAUTH_TOKEN_x", tok+"x")}, true},
		{"nothing", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := NewRedactor(NewSecret("MCP_API_KEY", key), NewSecret("OAUTH_TOKEN_x", tok))
			r.Forget(tc.forget...)
			got := r.RedactString(tok + " " + key)
			if red := !strings.Contains(got, tok); red != tc.tokenRed {
				t.Errorf("after Forget(%s), RedactString(token) = %q; redacted %v, want %v", tc.name, got, red, tc.tokenRed)
			}
			if strings.Contains(got, key) {
				t.Errorf("after Forget(%s), the static key is no longer redacted: %q", tc.name, got)
			}
		})
	}
	r := NewRedactor(NewSecret("OAUTH_TOKEN_x", tok))
	r.Forget(NewSecret("OAUTH_TOKEN_x", tok))
	if got := r.RedactString("a " + tok); got != "a "+tok || secretCount(r) != 0 {
		t.Errorf("a Redactor that forgot its only secret: RedactString = %q, %d secrets", got, secretCount(r))
	}
}

func secretCount(r *Redactor) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, g := range r.groups {
		n += len(g.secrets)
	}
	return n
}
