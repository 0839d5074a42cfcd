package config

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/google/jsonschema-go/jsonschema"
)

func mustSchema(t *testing.T, js string) *jsonschema.Schema {
	t.Helper()
	var s jsonschema.Schema
	if err := s.UnmarshalJSON([]byte(js)); err != nil {
		t.Fatal(err)
	}
	return &s
}

func TestTemplateExpand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		tmpl string
		vals map[string]string
		want string
	}{
		{"/quotes/{id}/followups", map[string]string{"id": "Q-1"}, "/quotes/Q-1/followups"},
		{"/files/{name}.json", map[string]string{"name": "report"}, "/files/report.json"},
		{"/repos/{owner}/{repo}", map[string]string{"owner": "a b", "repo": "c"}, "/repos/a%20b/c"},
		{"/x/{id}", map[string]string{"id": "ünï"}, "/x/%C3%BCn%C3%AF"},
		{"/x/{id}", map[string]string{"id": "..."}, "/x/..."},
		{"/x/{id}", map[string]string{"id": "a.b"}, "/x/a.b"},
	}
	for _, tc := range tests {
		tp, err := ParseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("ParseTemplate(%q): %v", tc.tmpl, err)
		}
		got, err := tp.Expand(tc.vals)
		if err != nil || got != tc.want {
			t.Errorf("ParseTemplate(%q).Expand(%v) = %q, %v, want %q", tc.tmpl, tc.vals, got, err, tc.want)
		}
	}
}

// TestTemplateEscapes tries every way a parameter value could leave its
// segment: each must either be refused or stay one segment under the
// template's prefix, on the same host, after the server decodes it.
func TestTemplateEscapes(t *testing.T) {
	t.Parallel()
	tp, err := ParseTemplate("/quotes/{id}/followups")
	if err != nil {
		t.Fatal(err)
	}
	attacks := []string{
		"/", "a/b", "../admin", "..", ".", "%2e%2e", "%2E%2E/x", "..%2f..%2fadmin", "%2F", "a%2Fb",
		"\\..\\admin", "..\\", "//evil.example", "https://evil.example/x", "@evil.example", "a?b=c", "a#frag",
		"a;b=c", "a&b", "\x00", "a\r\nX-Injected: 1", " ", "%", "%%32%65", "\u2025", "\uff0e\uff0e", "a/../../b",
		"?", "#", ":", "evil.example:443", "[::1]", "~", "a%00b",
	}
	base, _ := url.Parse("https://crm.example.com/api")
	for _, a := range attacks {
		got, err := tp.Expand(map[string]string{"id": a})
		if err != nil {
			if !errors.Is(err, ErrBadPathValue) || strings.Contains(err.Error(), a) && len(a) > 2 {
				t.Errorf("Expand(%q) error = %v, want ErrBadPathValue without the value", a, err)
			}
			continue
		}
		if !strings.HasPrefix(got, "/quotes/") || !strings.HasSuffix(got, "/followups") {
			t.Errorf("Expand(%q) = %q, escaped the template", a, got)
			continue
		}
		seg := strings.TrimSuffix(strings.TrimPrefix(got, "/quotes/"), "/followups")
		if strings.ContainsAny(seg, "/\\?#%:@;&\r\n\x00 ") && strings.Trim(seg, "%0123456789ABCDEFabcdefghijklmnopqrstuvwxyzGHIJKLMNOPQRSTUVWXYZ-._~") != "" {
			t.Errorf("Expand(%q) segment %q has an unescaped delimiter", a, seg)
		}
		dec, err := url.PathUnescape(seg)
		if err != nil || dec != a {
			t.Errorf("Expand(%q) segment %q decodes to %q, %v", a, seg, dec, err)
		}
		if dec == "." || dec == ".." {
			t.Errorf("Expand(%q) = %q makes a dot segment", a, got)
		}
		u, err := base.Parse(strings.TrimPrefix(base.Path+got, "/"))
		if err == nil && u.Host != base.Host {
			t.Errorf("Expand(%q) changes the host to %q", a, u.Host)
		}
		// A value stays in its segment as a router on the raw path reads
		// it; a router that decodes %2F first sees more segments, which
		// is why tools refuses dot segments inside a path value.
		r, _ := ParseRule("POST /quotes/*/followups")
		if !r.matchesSegments(got) {
			t.Errorf("Expand(%q) = %q no longer matches the rule for the template", a, got)
		}
	}
	for _, bad := range []map[string]string{{}, {"id": ""}, {"id": "."}, {"id": ".."}} {
		if got, err := tp.Expand(bad); !errors.Is(err, ErrBadPathValue) {
			t.Errorf("Expand(%v) = %q, %v, want ErrBadPathValue", bad, got, err)
		}
	}
}

func FuzzTemplateExpand(f *testing.F) {
	f.Add("../x")
	f.Add("a/b")
	tp, err := ParseTemplate("/a/{id}/b")
	if err != nil {
		f.Fatal(err)
	}
	r, _ := ParseRule("GET /a/*/b")
	f.Fuzz(func(t *testing.T, v string) {
		got, err := tp.Expand(map[string]string{"id": v})
		if err != nil {
			return
		}
		if !r.matchesSegments(got) {
			t.Errorf("Expand(%q) = %q leaves its segment", v, got)
		}
		if dec, _ := url.PathUnescape(strings.Split(got, "/")[2]); dec != v || dec == "." || dec == ".." {
			t.Errorf("Expand(%q) = %q decodes to %q", v, got, dec)
		}
	})
}

func TestParseTemplateParams(t *testing.T) {
	t.Parallel()
	tp, err := ParseTemplate("/repos/{owner}/{repo}/compare/{base}...{head}")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(tp.Params(), ","); got != "owner,repo,base,head" {
		t.Errorf("Params() = %q", got)
	}
	for _, bad := range []string{"", "x", "/a/{", "/a/}", "/a/{}", "/a/{b/c}", "/a/{x}/{x}", "/a/./b", "/a/{b c}", "/a?x", "/a#x", "/a\\b"} {
		if _, err := ParseTemplate(bad); err == nil {
			t.Errorf("ParseTemplate(%q) = nil error, want one", bad)
		}
	}
}

func TestLooksLikeSecret(t *testing.T) {
	t.Parallel()
	for v, want := range map[string]bool{
		"CRM_API_KEY": false, "GITHUB_TOKEN_FOR_THE_DEPLOY_BOT": false, "crm_token": false, "X": false,
		"application/vnd.github+json": false, "2022-11-28": false, "keyveil-demo/1.0": false,
		"sk-test-LEAKCHECK-0123456789": true, "sk_live_0123456789abcdef": true, "ghp_0123456789abcdefABCDEF": true,
		"github_pat_11ABCDEFG0123456789": true, "xoxb-1234-5678-abcdefgh": true, "AKIAIOSFODNN7EXAMPLE": true,
		"Bearer abc.def.ghi": true, "q8Zt3LmN0vB7xW2kR5yP1sHd": true,
	} {
		if got := looksLikeSecret(v); got != want {
			t.Errorf("looksLikeSecret(%q) = %v, want %v", v, got, want)
		}
	}
}
