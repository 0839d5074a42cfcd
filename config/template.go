package config

import (
	"errors"
	"fmt"
	"strings"
)

// A Template is a tool's path with {param} placeholders, such as
// "/quotes/{quote_id}/followups". A placeholder stands for part or all of
// one path segment; its value is percent-encoded when the path is built,
// so a value can never add a "/", make a "." or ".." segment, or change the
// host: whatever the model sends stays inside the segment the operator
// wrote.
type Template struct {
	raw   string
	parts []templatePart
}

type templatePart struct {
	lit   string // literal text, escaped form as written
	param string // placeholder name; lit is empty when set
}

// ParseTemplate parses a tool path. It must begin with "/", have balanced
// braces around parameter names, no "." or ".." segments, no query and no
// fragment. The error says what to write instead.
func ParseTemplate(s string) (Template, error) {
	if !strings.HasPrefix(s, "/") {
		return Template{}, fmt.Errorf("path %q must begin with \"/\" (it is appended to the service's base_url)", s)
	}
	if strings.ContainsAny(s, "?#") {
		return Template{}, fmt.Errorf("path %q must not contain a query or fragment; map inputs to the query string with mapping (in: query)", s)
	}
	if strings.ContainsAny(s, "\\ \t\r\n") {
		return Template{}, fmt.Errorf("path %q contains a backslash or white space", s)
	}
	t := Template{raw: s}
	seen := map[string]bool{}
	rest := s
	for rest != "" {
		open := strings.IndexByte(rest, '{')
		if close := strings.IndexByte(rest, '}'); close >= 0 && (open < 0 || close < open) {
			return Template{}, fmt.Errorf("path %q has a \"}\" without its \"{\"", s)
		}
		if open < 0 {
			t.parts = append(t.parts, templatePart{lit: rest})
			break
		}
		if open > 0 {
			t.parts = append(t.parts, templatePart{lit: rest[:open]})
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return Template{}, fmt.Errorf("path %q has a \"{\" without its \"}\"", s)
		}
		name := rest[open+1 : open+end]
		if strings.ContainsAny(name, "{/") {
			return Template{}, fmt.Errorf("path %q has a \"{\" without its \"}\"", s)
		}
		if !isParamName(name) {
			return Template{}, fmt.Errorf("path %q: parameter {%s} must be a name of letters, digits, '_', '-' or '.'", s, name)
		}
		if seen[name] {
			return Template{}, fmt.Errorf("path %q uses {%s} twice; each parameter may appear once", s, name)
		}
		seen[name] = true
		if n := len(t.parts); n > 0 && t.parts[n-1].param != "" {
			return Template{}, fmt.Errorf("path %q puts {%s} right after another parameter; separate them with literal text so a value cannot be split between them", s, name)
		}
		t.parts = append(t.parts, templatePart{param: name})
		rest = rest[open+end+1:]
	}
	// Check literal segments with placeholders stood in by a letter.
	var shape strings.Builder
	for _, p := range t.parts {
		if p.param != "" {
			shape.WriteString("x")
		} else {
			shape.WriteString(p.lit)
		}
	}
	for _, seg := range strings.Split(shape.String()[1:], "/") {
		if seg == "." || seg == ".." {
			return Template{}, fmt.Errorf("path %q has a \".\" or \"..\" segment", s)
		}
	}
	return t, nil
}

// String returns the template as written.
func (t Template) String() string { return t.raw }

// Params returns the placeholder names in the order they appear.
func (t Template) Params() []string {
	var out []string
	for _, p := range t.parts {
		if p.param != "" {
			out = append(out, p.param)
		}
	}
	return out
}

// ErrBadPathValue is returned by [Template.Expand] for a value that would
// leave an empty, "." or ".." segment once the server decodes it.
var ErrBadPathValue = errors.New("path parameter value makes an empty, \".\" or \"..\" path segment")

// Expand returns the escaped path with each placeholder replaced by its
// value from values, percent-encoded so that only unreserved characters
// (letters, digits, "-", ".", "_", "~") pass as they are. A value that is
// missing, empty, or that would make its segment "." or ".." is refused
// with an error naming the parameter (never quoting the value).
func (t Template) Expand(values map[string]string) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.param == "" {
			b.WriteString(p.lit)
			continue
		}
		v, ok := values[p.param]
		if !ok || v == "" {
			return "", fmt.Errorf("path parameter %s: %w", p.param, ErrBadPathValue)
		}
		b.WriteString(escapeSegment(v))
	}
	out := b.String()
	// A segment may consist of literal text and a value ("v{n}"), so check
	// the decoded shape of each segment, not only each value.
	for _, seg := range strings.Split(out[1:], "/") {
		if d := strings.ReplaceAll(seg, "%2E", "."); d == "." || d == ".." {
			return "", fmt.Errorf("path parameter in %s: %w", t.raw, ErrBadPathValue)
		}
	}
	for _, p := range t.Params() {
		if v := values[p]; v == "." || v == ".." {
			return "", fmt.Errorf("path parameter %s: %w", p, ErrBadPathValue)
		}
	}
	return out, nil
}

// escapeSegment percent-encodes every byte except RFC 3986 unreserved
// characters. It is stricter than url.PathEscape, which leaves sub-delims
// such as ";" and "=" alone; some servers give those meaning.
func escapeSegment(v string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
