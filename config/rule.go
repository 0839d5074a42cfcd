package config

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/keyveil/keyveil/internal/valid"
)

// A Rule allows one HTTP method on the paths that match one glob, such as
// "GET /**" or "POST /quotes/*/followups". Paths are relative to the
// service's base URL. In a pattern, "*" matches exactly one path segment and
// "**" matches any number of segments, including none. Method "*" matches
// every method.
//
// Rules are the operator's allowlist: a request that matches no rule of its
// service is refused before it leaves the process.
type Rule struct {
	Method  string // upper case, or "*"
	Pattern string // begins with "/"
	segs    []string
}

// ParseRule parses "METHOD /path/glob". The error says what a rule looks like,
// so it can be shown to the operator as is.
func ParseRule(s string) (Rule, error) {
	fields := strings.Fields(s)
	q := quote(s)
	if len(fields) != 2 {
		return Rule{}, fmt.Errorf("allow rule %s is not of the form \"METHOD /path/glob\" (for example \"GET /**\")", q)
	}
	method := strings.ToUpper(fields[0])
	if method != "*" && !isToken(method) {
		return Rule{}, fmt.Errorf("allow rule %s: %s is not an HTTP method", q, quote(fields[0]))
	}
	pattern := fields[1]
	if !strings.HasPrefix(pattern, "/") {
		return Rule{}, fmt.Errorf("allow rule %s: the path must begin with \"/\"", q)
	}
	segs := strings.Split(pattern[1:], "/")
	for _, seg := range segs {
		if seg == "." || seg == ".." {
			return Rule{}, fmt.Errorf("allow rule %s: \".\" and \"..\" segments are not allowed", q)
		}
		if seg != "*" && seg != "**" && strings.Contains(seg, "*") {
			return Rule{}, fmt.Errorf("allow rule %s: \"*\" must be a whole path segment (use \"/*/\" or \"/**\")", q)
		}
	}
	return Rule{Method: method, Pattern: pattern, segs: segs}, nil
}

// String returns the rule as it is written in configuration.
func (r Rule) String() string { return r.Method + " " + r.Pattern }

// Matches reports whether the rule allows method on path. path is the
// request path relative to the base URL in its escaped form, beginning with
// "/". It must match twice: with each segment unescaped on its own (so
// "%2F" stays inside its segment, as servers that route on the raw path
// read it), and with every "%2F" read as "/" (as servers that decode
// before they route read it). Otherwise "*" would span two segments on the
// second kind: "GET /projects/*" would allow /projects/1%2Fadmin.
func (r Rule) Matches(method, path string) bool {
	if r.Method != "*" && r.Method != strings.ToUpper(method) {
		return false
	}
	if !strings.HasPrefix(path, "/") {
		return false
	}
	if !r.matchesSegments(path) {
		return false
	}
	if decoded := decodeSlashes(path); decoded != path {
		return r.matchesSegments(decoded)
	}
	return true
}

// matchesSegments matches path split on "/", each segment unescaped.
func (r Rule) matchesSegments(path string) bool {
	raw := strings.Split(path[1:], "/")
	segs := make([]string, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return false
		}
		segs[i] = u
	}
	return matchSegs(r.segs, segs)
}

// decodeSlashes returns path with every "%2F" (any case) turned into "/".
func decodeSlashes(path string) string {
	if !strings.Contains(path, "%2F") && !strings.Contains(path, "%2f") {
		return path
	}
	return strings.NewReplacer("%2F", "/", "%2f", "/").Replace(path)
}

func matchSegs(pat, segs []string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case "**":
			rest := pat[1:]
			for i := 0; i <= len(segs); i++ {
				if matchSegs(rest, segs[i:]) {
					return true
				}
			}
			return false
		case "*":
			if len(segs) == 0 || segs[0] == "" {
				return false
			}
		default:
			if len(segs) == 0 || segs[0] != pat[0] {
				return false
			}
		}
		pat, segs = pat[1:], segs[1:]
	}
	return len(segs) == 0
}

// isToken reports whether s is an RFC 9110 token, the syntax of a method
// or header name.
func isToken(s string) bool { return valid.Token(s) }
