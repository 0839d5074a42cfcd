package tools

import (
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDecodeRounds bounds how many times a path is percent-decoded when
// looking for hidden "..", backslashes or control characters. A path that is
// still changing after this many rounds is refused rather than trusted.
const maxDecodeRounds = 8

// schemeLike reports whether p starts like an absolute URL: a scheme
// ([A-Za-z][A-Za-z0-9+.-]*) and a colon. It is written out rather than as a
// regular expression because it runs on every call_api call.
func schemeLike(p string) bool {
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-'):
		case i > 0 && c == ':':
			return true
		default:
			return false
		}
	}
	return false
}

// relativePath checks the path the model gave and returns it in escaped
// form, ready to be appended to the base URL's path and matched against
// allow rules.
//
// The threat is a path that leaves the base URL: an absolute URL or
// "//host" that a naive join would resolve to another origin, or a ".."
// segment, in any encoding, that walks up out of /api/v2 on the server or a
// proxy in front of it. Appending (never RFC 3986 resolution) already keeps
// the origin; the checks below also keep the path under the base path,
// whatever layer decodes it.
func relativePath(p string) (string, *refusal) {
	const like = "give a path relative to the service's base URL, like /quotes/1"
	switch {
	case p == "":
		return "", refuse(reasonPath, `path is empty; %s (use "/" for the base URL itself)`, like)
	case schemeLike(p):
		return "", refuse(reasonPath, "path %s is an absolute URL; %s: the base URL is fixed by the operator", shortQuote(p), like)
	case strings.HasPrefix(p, "//"):
		return "", refuse(reasonPath, "path %s starts with \"//\", which names another host; %s", shortQuote(p), like)
	case !strings.HasPrefix(p, "/"):
		return "", refuse(reasonPath, "path %s must begin with \"/\"; %s", shortQuote(p), like)
	case strings.ContainsAny(p, "?#"):
		return "", refuse(reasonPath, "path may not contain \"?\" or \"#\"; put query parameters in the query object instead, like {\"path\": \"/quotes\", \"query\": {\"page\": \"2\"}}")
	}
	if hasControl(p) {
		return "", refuse(reasonPath, "path contains a control character; remove it (percent-encode data that belongs in a segment)")
	}
	escaped, ok := escapePath(p)
	if !ok {
		return "", refuse(reasonPath, "path has a %% not followed by two hex digits; write %%25 for a literal %%")
	}
	cur := escaped
	for round := 0; ; round++ {
		if strings.Contains(cur, `\`) {
			return "", refuse(reasonPath, "path contains a backslash (perhaps encoded as %%5C); use \"/\" between segments")
		}
		if hasControl(cur) {
			return "", refuse(reasonPath, "path contains an encoded control character (like %%00 or %%0A); remove it")
		}
		if hasDotSegment(cur) {
			return "", refuse(reasonPath, "path contains a \".\" or \"..\" segment (perhaps percent-encoded); it may not leave the base URL, so give the full path below it, like /quotes/1")
		}
		if !utf8.ValidString(cur) {
			return "", refuse(reasonPath, "path decodes to bytes that are not valid UTF-8 (like the overlong %%C0%%AE for \".\"); percent-encode the UTF-8 of the characters you mean")
		}
		if r, ok := lookAlike(cur); ok {
			return "", refuse(reasonPath, "path contains %U, which some servers read as %q and so could leave the base URL or cross a segment; use the ASCII character, percent-encoded if it is data", r, lookAlikes[r])
		}
		if round > 0 && (strings.Contains(cur, "%2F") || strings.Contains(cur, "%2f")) {
			return "", refuse(reasonPath, "path encodes a \"/\" more than once (%%252F); encode it once (%%2F), or use \"/\" between segments")
		}
		next, err := url.PathUnescape(cur)
		if err != nil || next == cur {
			break
		}
		if round == maxDecodeRounds {
			return "", refuse(reasonPath, "path is percent-encoded too many times over; send it encoded once")
		}
		cur = next
	}
	if strings.Contains(escaped, "//") {
		return "", refuse(reasonPath, "path contains an empty segment (\"//\"); remove it")
	}
	return escaped, nil
}

// hasDotSegment reports whether any segment of p, split on "/", is "." or
// "..", also once a ";parameter" suffix is cut off (some servers treat
// "..;" as "..").
func hasDotSegment(p string) bool {
	for _, seg := range strings.Split(p, "/") {
		if i := strings.IndexByte(seg, ';'); i >= 0 {
			seg = seg[:i]
		}
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}

// lookAlikes are the characters that some servers, proxies or file
// systems fold onto "." or "/" (Unicode compatibility normalisation, IIS's
// "best fit" mapping): a fullwidth "．．" segment would pass the dot-segment
// check and then walk up on such a server.
var lookAlikes = map[rune]string{
	'\uFF0E': ".",  // FULLWIDTH FULL STOP
	'\u3002': ".",  // IDEOGRAPHIC FULL STOP
	'\uFF61': ".",  // HALFWIDTH IDEOGRAPHIC FULL STOP
	'\uFE52': ".",  // SMALL FULL STOP
	'\u2024': ".",  // ONE DOT LEADER
	'\u2025': "..", // TWO DOT LEADER
	'\u2026': "...",
	'\uFF0F': "/", // FULLWIDTH SOLIDUS
	'\u2215': "/", // DIVISION SLASH
	'\u2044': "/", // FRACTION SLASH
	'\u29F8': "/", // BIG SOLIDUS
	'\uFF3C': `\`, // FULLWIDTH REVERSE SOLIDUS
	'\uFE68': `\`, // SMALL REVERSE SOLIDUS
	'\u2216': `\`, // SET MINUS
}

// lookAlike returns the first rune of s that folds onto "." or "/".
func lookAlike(s string) (rune, bool) {
	for _, r := range s {
		if _, ok := lookAlikes[r]; ok {
			return r, true
		}
	}
	return 0, false
}

func hasControl(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			return true
		}
	}
	return false
}

// escapePath percent-encodes every byte of p that may not appear in a path
// as is (space, quotes, non-ASCII), keeping existing %XX escapes. It reports
// false for a "%" that does not start an escape.
func escapePath(p string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			if i+2 >= len(p) || !isHex(p[i+1]) || !isHex(p[i+2]) {
				return "", false
			}
			b.WriteString(p[i : i+3])
			i += 2
		case pathByte(c):
			b.WriteByte(c)
		default:
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String(), true
}

// pathByte reports whether c may appear unescaped in a path (RFC 3986
// pchar, plus "/").
func pathByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*+,;=:@/", c) >= 0
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// shortQuote quotes s for a message, cut at any "?" or "#" (a query string
// might carry a value the model was asked to hide) and at 80 bytes.
func shortQuote(s string) string {
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		s = s[:i] + "…"
	}
	return strconv.Quote(shorten(s, 80))
}
