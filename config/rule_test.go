package config

import "testing"

func TestRuleMatches(t *testing.T) {
	t.Parallel()
	tests := []struct {
		rule, method, path string
		want               bool
	}{
		{"GET /**", "GET", "/", true},
		{"GET /**", "GET", "/quotes/1", true},
		{"GET /**", "get", "/a/b/c/d", true},
		{"GET /**", "POST", "/quotes/1", false},
		{"* /**", "DELETE", "/x", true},
		{"POST /quotes/*/followups", "POST", "/quotes/Q-1/followups", true},
		{"POST /quotes/*/followups", "POST", "/quotes/followups", false},
		{"POST /quotes/*/followups", "POST", "/quotes/a/b/followups", false},
		{"POST /quotes/*/followups", "POST", "/quotes//followups", false},
		{"POST /quotes/*/followups", "POST", "/quotes/Q-1/followups/x", false},
		{"GET /quotes/**", "GET", "/quotes", true},
		{"GET /quotes/**", "GET", "/quotes/1/2", true},
		{"GET /quotes/**", "GET", "/quotesx", false},
		{"GET /a/**/z", "GET", "/a/z", true},
		{"GET /a/**/z", "GET", "/a/b/c/z", true},
		{"GET /a/**/z", "GET", "/a/b/c/y", false},
		// An encoded slash must match both where it stays inside its
		// segment and where the server decodes it before routing, so
		// "*" never spans two segments.
		{"GET /files/*", "GET", "/files/a%2Fb", false},
		{"GET /files/*", "GET", "/files/a%2fb", false},
		{"GET /projects/*", "GET", "/projects/1%2F..%2Fadmin", false},
		{"GET /files/**", "GET", "/files/a%2Fb", true},
		{"GET /files/a/b", "GET", "/files/a%2Fb", false},
		{"GET /files/*/raw", "GET", "/files/a%2Fb/raw", false},
		{"GET /files/*", "GET", "/files/a%252Fb", true},
		{"GET /files/*", "GET", "/files/%zz", false},
		{"GET /x", "GET", "x", false},
	}
	for _, tc := range tests {
		r, err := ParseRule(tc.rule)
		if err != nil {
			t.Fatalf("ParseRule(%q): %v", tc.rule, err)
		}
		if got := r.Matches(tc.method, tc.path); got != tc.want {
			t.Errorf("ParseRule(%q).Matches(%q, %q) = %v, want %v", tc.rule, tc.method, tc.path, got, tc.want)
		}
	}
}

func TestParseRuleErrors(t *testing.T) {
	t.Parallel()
	for _, bad := range []string{"", "GET", "GET /a /b", "GET a/b", "G(T /a", "GET /a/../b", "GET /a/./b", "GET /a*b", "GET /**x"} {
		if r, err := ParseRule(bad); err == nil {
			t.Errorf("ParseRule(%q) = %v, want an error", bad, r)
		}
	}
}

func FuzzRuleMatches(f *testing.F) {
	f.Add("GET /a/**/z", "GET", "/a/b/z")
	f.Add("POST /q/*/f", "POST", "/q/%2F/f")
	f.Fuzz(func(t *testing.T, rule, method, path string) {
		r, err := ParseRule(rule)
		if err != nil {
			return
		}
		_ = r.Matches(method, path) // must not panic
	})
}
