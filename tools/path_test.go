package tools

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

func TestRelativePath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string // "" means refused
	}{
		{"/", "/"},
		{"/quotes/1", "/quotes/1"},
		{"/quotes/1/", "/quotes/1/"},
		{"/files/a%2Fb", "/files/a%2Fb"},
		{"/search/john doe", "/search/john%20doe"},
		{"/caf\u00e9", "/caf%C3%A9"},
		{"/v1/projects/p:run", "/v1/projects/p:run"},
		{"/files/.hidden", "/files/.hidden"},
		{"/files/a..b", "/files/a..b"},
		{"/files/%2ehidden", "/files/%2ehidden"},
		{"/files/100%25", "/files/100%25"},
		{"/files/%E2%82%AC", "/files/%E2%82%AC"},
		{"/wiki/日本", "/wiki/%E6%97%A5%E6%9C%AC"},

		{"", ""},
		{"quotes/1", ""},
		{"https://evil.example/x", ""},
		{"http:/x", ""},
		{"javascript:alert(1)", ""},
		{"//evil.example/x", ""},
		{"/a//b", ""},
		{`/a\b`, ""},
		{`\\evil.example\x`, ""},
		{"/a%5cb", ""},
		{"/a%5Cb", ""},
		{"/a%255cb", ""},
		{"/..", ""},
		{"/../admin", ""},
		{"/a/../../admin", ""},
		{"/a/./b", ""},
		{"/a/.", ""},
		{"/%2e%2e/admin", ""},
		{"/%2E%2E/admin", ""},
		{"/.%2e/admin", ""},
		{"/%252e%252e/admin", ""},
		{"/%25252e%25252e/admin", ""},
		{"/a%2f..%2fadmin", ""},
		{"/a%2f%2e%2e%2fadmin", ""},
		{"/..;/admin", ""},
		{"/quotes?id=1", ""},
		{"/quotes#frag", ""},
		{"/a\x00b", ""},
		{"/a\nb", ""},
		{"/a\x7fb", ""},
		{"/a%00b", ""},
		{"/a%0d%0aX-Injected:%201", ""},
		{"/a%zz", ""},
		{"/a%2", ""},
		// Look-alikes of "." and "/" that servers fold onto ASCII.
		{"/\uFF0E\uFF0E/admin", ""},
		{"/%EF%BC%8E%EF%BC%8E/admin", ""},
		{"/%25EF%25BC%258E%25EF%25BC%258E/admin", ""},
		{"/a/\u3002\u3002/b", ""},
		{"/a/\uFF61\uFF61/b", ""},
		{"/a\uFF0Fb", ""},
		{"/a%E2%88%95b", ""},
		{"/a\uFF3Cb", ""},
		// Invalid UTF-8, overlong encodings of "." and "/" among it.
		{"/%C0%AE%C0%AE/admin", ""},
		{"/%c0%ae/admin", ""},
		{"/a%C0%AFb", ""},
		{"/%E0%80%AE/admin", ""},
		{"/a%FFb", ""},
		{"/a%25C0%25AEb", ""},
		// A slash encoded twice.
		{"/a%252Fb", ""},
		{"/a%25252fb", ""},
	}
	for _, tc := range tests {
		got, r := relativePath(tc.in)
		if tc.want == "" {
			if r == nil {
				t.Errorf("relativePath(%q) = %q, want refused", tc.in, got)
			} else if r.reason != reasonPath {
				t.Errorf("relativePath(%q) refused with reason %q, want %q", tc.in, r.reason, reasonPath)
			}
			continue
		}
		if r != nil {
			t.Errorf("relativePath(%q) refused: %s", tc.in, r.msg)
			continue
		}
		if got != tc.want {
			t.Errorf("relativePath(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRelativePathTooDeep refuses a path still decoding after the round
// limit instead of trusting its last form.
func TestRelativePathTooDeep(t *testing.T) {
	t.Parallel()
	p := "/x%2e"
	for range maxDecodeRounds + 2 {
		p = p[:3] + "25" + p[3:] // /x%2e -> /x%252e -> /x%25252e ...
	}
	if got, r := relativePath(p); r == nil {
		t.Errorf("relativePath(%q) = %q, want refused", p, got)
	}
}

// TestShortQuote keeps query strings out of refusal messages.
func TestShortQuote(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"/a", `"/a"`},
		{"https://h/x?key=" + fakeKey, `"https://h/x…"`},
		{"/x#" + fakeKey, `"/x…"`},
	}
	for _, tc := range tests {
		if got := shortQuote(tc.in); got != tc.want {
			t.Errorf("shortQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestSchemeLike checks schemeLike against the regular expression it
// replaces.
func TestSchemeLike(t *testing.T) {
	t.Parallel()
	re := regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.\-]*:`)
	for _, p := range []string{
		"", ":", "a:", "A:", "z:x", "http://h", "HTTPS://h", "a+b.c-d:", "1a:", "+a:", "a_b:", "a b:",
		"/quotes/1", "/a:b", "a", "ab", "a/b:", "é:", "a\x00:", "mailto:x", "urn:isbn:1", "a1:", ".a:",
	} {
		if got, want := schemeLike(p), re.MatchString(p); got != want {
			t.Errorf("schemeLike(%q) = %v, want %v", p, got, want)
		}
	}
}

// FuzzRelativePath checks the confinement property for any input: a path
// relativePath accepts, appended to a base URL, keeps the origin and the
// base path, and no layer of percent-decoding turns it into a dot segment,
// a backslash or a control character.
func FuzzRelativePath(f *testing.F) {
	for _, s := range []string{"/quotes/1", "/a/%2e%2e/b", "/%252e%252e/x", "//evil.example", "/a\\b", "/ok%20space/é", "/x;..", "/a/..;/b"} {
		f.Add(s)
	}
	base, _ := url.Parse("https://api.example.com/api/v2")
	f.Fuzz(func(t *testing.T, p string) {
		rel, r := relativePath(p)
		if r != nil {
			return
		}
		u, err := url.Parse(base.String() + rel)
		if err != nil {
			t.Fatalf("relativePath(%q) = %q, which does not parse appended to the base: %v", p, rel, err)
		}
		if u.Scheme != base.Scheme || u.Host != base.Host {
			t.Fatalf("relativePath(%q) = %q leaves the origin: %s", p, rel, u)
		}
		if !strings.HasPrefix(u.EscapedPath(), base.Path+"/") {
			t.Fatalf("relativePath(%q) = %q leaves the base path: %s", p, rel, u.EscapedPath())
		}
		cur := rel
		for range maxDecodeRounds + 1 {
			if hasDotSegment(cur) || strings.Contains(cur, `\`) || hasControl(cur) {
				t.Fatalf("relativePath(%q) = %q, which decodes to %q", p, rel, cur)
			}
			next, err := url.PathUnescape(cur)
			if err != nil || next == cur {
				break
			}
			cur = next
		}
	})
}
