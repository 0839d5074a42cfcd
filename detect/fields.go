package detect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
)

// DefaultFields are the normalised names of JSON fields whose string
// values are redacted wherever they appear. A name matches exactly after
// normalising (lower case, "-", "_", "." and spaces dropped), never as a
// substring: next_page_token, password_changed_at and token_type stay
// readable.
var DefaultFields = []string{
	"password", "passwd", "pwd", "passphrase", "secret", "clientsecret",
	"privatekey", "apikey", "xapikey", "apitoken", "apisecret", "secretkey",
	"accesstoken", "refreshtoken", "idtoken", "authtoken", "sessiontoken",
	"bearertoken", "token", "secretaccesskey", "accountkey", "webhooksecret",
	"signingsecret", "encryptionkey", "connectionstring", "authorization",
	"proxyauthorization", "cookie", "setcookie",
}

// normalise folds a field name: lower case, without "-", "_", "." and
// spaces, so that clientSecret, client_secret and CLIENT-SECRET agree.
func normalise(name string) string {
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '-' || c == '_' || c == '.' || c == ' ':
		case 'A' <= c && c <= 'Z':
			b.WriteByte(c + 'a' - 'A')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// fieldAnchors are the literals that announce a field called n: its last
// three letters in every mix of case, with or without a "_" or "-" between
// them (user_id's "r_id"), then the closing quote, raw or escaped inside
// another JSON string. The tail is what every spelling of the name shares.
func fieldAnchors(n string) []string {
	tail := n[len(n)-3:]
	forms := []string{tail}
	for i := 1; i < len(tail); i++ {
		for _, sep := range []string{"_", "-"} {
			forms = append(forms, tail[:i]+sep+tail[i:])
		}
	}
	var out []string
	for _, f := range forms {
		for mask := 0; mask < 1<<len(f); mask++ {
			b := []byte(f)
			for i := range b {
				if mask&(1<<i) != 0 && 'a' <= b[i] && b[i] <= 'z' {
					b[i] -= 'a' - 'A'
				}
			}
			if slices.Contains(out, string(b)+`"`) {
				continue // a digit or separator: no upper case to try
			}
			out = append(out, string(b)+`"`, string(b)+`\"`)
		}
	}
	return out
}

// keyByte are the bytes a sensitive field's name may hold.
var keyByte = class("0-9A-Za-z_.$@ -")

// field checks a field-name anchor at text[at:]: the quoted name around
// it must normalise to a sensitive name and be followed by a colon and a
// string, whose contents are the span.
func (d *Detector) field(text []byte, at int, anchor string) (int, int, bool) {
	escaped := strings.HasSuffix(anchor, `\"`)
	closeQ := at + len(anchor) - 1 // the closing quote
	nameEnd := closeQ
	if escaped {
		nameEnd--
	}
	o := nameEnd - 1
	for o >= 0 && nameEnd-o <= 64 && keyByte[text[o]] {
		o--
	}
	if o < 0 || text[o] != '"' || (escaped && (o == 0 || text[o-1] != '\\')) {
		return 0, 0, false
	}
	if !d.fields[normalise(string(text[o+1:nameEnd]))] {
		return 0, 0, false
	}
	i := skipSpace(text, closeQ+1)
	if i >= len(text) || text[i] != ':' {
		return 0, 0, false
	}
	i = skipSpace(text, i+1)
	if escaped {
		if i+1 >= len(text) || text[i] != '\\' || text[i+1] != '"' {
			return 0, 0, false
		}
		s := i + 2
		e := endEscapedString(text, s)
		return s, e, e > s && !redacted(text[s:e])
	}
	if i >= len(text) || text[i] != '"' {
		return 0, 0, false
	}
	s := i + 1
	e := endString(text, s)
	return s, e, e > s && !redacted(text[s:e])
}

// redacted reports whether a value already holds a marker: the
// credentials Redactor, which runs first, has replaced a key keyveil holds
// there ("Bearer [REDACTED:MCP_API_KEY]"), and its marker says more than
// this one would.
func redacted(v []byte) bool {
	return bytes.Contains(v, []byte("[REDACTED:"))
}

func skipSpace(text []byte, i int) int {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r') {
		i++
	}
	return i
}

// endString returns the index of the quote that closes the JSON string
// whose contents start at s, or len(text) when the text stops first.
func endString(text []byte, s int) int {
	for i := s; i < len(text); i++ {
		switch text[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return len(text)
}

// endEscapedString is endString for a JSON string written inside another
// JSON string, whose quotes are \" and whose own escapes are doubled.
func endEscapedString(text []byte, s int) int {
	for i := s; i < len(text); {
		if text[i] != '\\' || i+1 >= len(text) {
			i++
			continue
		}
		switch text[i+1] {
		case '"':
			return i
		case '\\':
			// An escape of the inner string: skip the character it
			// escapes too, itself written with or without an outer escape.
			if i+2 < len(text) && text[i+2] == '\\' {
				i += 4
			} else {
				i += 3
			}
		default:
			i += 2
		}
	}
	return len(text)
}

// A field path is a list of elements from the root: a key (or "*" for any
// key) or "[]" for every element of an array.
type pathElem struct {
	key   string
	array bool
}

// isPath reports whether a fields entry is a path rather than a name.
func isPath(f string) bool {
	return strings.ContainsAny(f, ".*[]")
}

func parsePath(f string) ([]pathElem, error) {
	var p []pathElem
	for part := range strings.SplitSeq(f, ".") {
		name, arrays := part, 0
		for strings.HasSuffix(name, "[]") {
			name = strings.TrimSuffix(name, "[]")
			arrays++
		}
		if strings.ContainsAny(name, "[]") || (name == "" && arrays == 0) {
			return nil, fmt.Errorf("write a path as keys separated by dots, \"*\" for any key and \"[]\" after a key for each element of its array, as in env[].value or data.*")
		}
		if name != "" {
			p = append(p, pathElem{key: name})
		}
		for range arrays {
			p = append(p, pathElem{array: true})
		}
	}
	return p, nil
}

// frame is one open object or array while pathSpans walks a body.
type frame struct {
	object  bool
	wantKey bool
}

// pathSpans finds the strings at or below the operator's field paths.
// It tokenises the text as JSON and stops quietly where it stops being
// JSON, so a body cut off at the size cap is handled up to the cut.
func (d *Detector) pathSpans(text []byte) []span {
	dec := json.NewDecoder(bytes.NewReader(text))
	dec.UseNumber()
	var stack []frame
	var path []pathElem
	var out []span
	for {
		tok, err := dec.Token()
		if err != nil {
			// io.EOF, or where the text stops being JSON.
			return out
		}
		var top *frame
		if len(stack) > 0 {
			top = &stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if k, ok := tok.(string); ok {
				path = append(path[:len(stack)-1], pathElem{key: k})
				top.wantKey = false
				continue
			}
		}
		// A value (or the end of a container) at path[:len(stack)].
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '{', '[':
				if top != nil && !top.object {
					path = append(path[:len(stack)-1], pathElem{array: true})
				}
				stack = append(stack, frame{object: v == '{', wantKey: v == '{'})
				continue
			case '}', ']':
				stack = stack[:len(stack)-1]
			}
		case string:
			if top != nil && !top.object {
				path = append(path[:len(stack)-1], pathElem{array: true})
			}
			if d.pathMatches(path[:len(stack)]) {
				if s, e, ok := stringBefore(text, int(dec.InputOffset())); ok && e > s {
					out = append(out, span{s, e, fieldKind})
				}
			}
		}
		if len(stack) > 0 && stack[len(stack)-1].object {
			stack[len(stack)-1].wantKey = true
		}
	}
}

// pathMatches reports whether some operator path is a prefix of p.
func (d *Detector) pathMatches(p []pathElem) bool {
	for _, want := range d.paths {
		if len(want) > len(p) {
			continue
		}
		ok := true
		for i, w := range want {
			if w.array != p[i].array || (!w.array && w.key != "*" && w.key != p[i].key) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// stringBefore returns the contents of the JSON string that ends just
// before end (its closing quote is text[end-1]).
func stringBefore(text []byte, end int) (int, int, bool) {
	q := end - 1
	if q < 1 || q >= len(text) || text[q] != '"' {
		return 0, 0, false
	}
	for i := q - 1; i >= 0; i-- {
		if text[i] != '"' {
			continue
		}
		n := 0
		for j := i - 1; j >= 0 && text[j] == '\\'; j-- {
			n++
		}
		if n%2 == 0 {
			return i + 1, q, true
		}
	}
	return 0, 0, false
}
