package detect

import (
	"bytes"
	"encoding/base64"
	"hash/crc32"
	"math"
	"sync"
)

// A rule is one well-known secret format: the anchors that start (or, for
// a keyword, announce) it, and a check that verifies a candidate and says
// which bytes to redact.
type rule struct {
	kind    string
	anchors []string
	// match is called with the anchor found at text[at:]; it returns the
	// span to redact, or ok false for a decoy.
	match func(text []byte, at int, anchor string) (start, end int, ok bool)
}

// Character classes, as 256-entry tables.
var (
	alnum   = class("0-9A-Za-z")
	word    = class("0-9A-Za-z_-") // base64url and most token bodies
	hexDig  = class("0-9a-fA-F")
	b32     = class("A-Z2-7")
	b64     = class("0-9A-Za-z+/")
	letters = class("A-Za-z")
)

type charClass [256]bool

func class(spec string) *charClass {
	var c charClass
	for i := 0; i < len(spec); i++ {
		if i+2 < len(spec) && spec[i+1] == '-' {
			for b := spec[i]; b <= spec[i+2]; b++ {
				c[b] = true
			}
			i += 2
			continue
		}
		c[spec[i]] = true
	}
	return &c
}

// run returns the end of the run of c's bytes in text from i.
func (c *charClass) run(text []byte, i int) int {
	for i < len(text) && c[text[i]] {
		i++
	}
	return i
}

// leftEdge reports whether a token may start at i: at the start of the
// text, after a byte that cannot be part of it, or just after a JSON or
// shell escape such as "\n" (whose letter would otherwise glue on).
func leftEdge(text []byte, i int, c *charClass) bool {
	return i == 0 || !c[text[i-1]] || (i >= 2 && text[i-2] == '\\')
}

// rightEdge reports whether a token may end at i.
func rightEdge(text []byte, i int, c *charClass) bool {
	return i >= len(text) || !c[text[i]]
}

// fixed matches anchor + exactly n bytes of body, with edges on both sides
// judged by edge.
func fixed(n int, body, edge *charClass) func([]byte, int, string) (int, int, bool) {
	return func(text []byte, at int, anchor string) (int, int, bool) {
		s := at + len(anchor)
		e := body.run(text, s)
		if e-s != n || !leftEdge(text, at, edge) || !rightEdge(text, e, edge) {
			return 0, 0, false
		}
		return at, e, true
	}
}

// between matches anchor + lo..hi bytes of body.
func between(lo, hi int, body, edge *charClass) func([]byte, int, string) (int, int, bool) {
	return func(text []byte, at int, anchor string) (int, int, bool) {
		s := at + len(anchor)
		e := body.run(text, s)
		if e-s < lo || e-s > hi || !leftEdge(text, at, edge) || !rightEdge(text, e, edge) {
			return 0, 0, false
		}
		return at, e, true
	}
}

// withChecksum matches GitHub's and npm's base62 tokens: prefix, 30
// random characters and 6 characters that encode their CRC-32 in base62.
// A real token always passes; an invented one passes one time in 57
// billion.
func withChecksum(text []byte, at int, anchor string) (int, int, bool) {
	s, e, ok := fixed(36, alnum, word)(text, at, anchor)
	if !ok || !crcOK(text[e-36:e]) {
		return 0, 0, false
	}
	return s, e, true
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// crcOK reports whether the last 6 of body's 36 characters are the base62
// CRC-32 of the first 30.
func crcOK(body []byte) bool {
	v := crc32.ChecksumIEEE(body[:30])
	for i := 35; i >= 30; i-- {
		if body[i] != base62[v%62] {
			return false
		}
		v /= 62
	}
	return true
}

// base62CRC returns the 6-character checksum of a 30-character body; the
// tests use it to make valid-looking fake tokens.
func base62CRC(body []byte) string {
	v := crc32.ChecksumIEEE(body)
	var out [6]byte
	for i := 5; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out[:])
}

// entropy returns the Shannon entropy of b in bits per byte.
func entropy(b []byte) float64 {
	var n [256]int
	for _, c := range b {
		n[c]++
	}
	var h float64
	for _, k := range n {
		if k > 0 {
			p := float64(k) / float64(len(b))
			h -= p * math.Log2(p)
		}
	}
	return h
}

// mixed reports whether b has upper- and lower-case letters and digits,
// as random keys do and words, hex digests and identifiers mostly do not.
func mixed(b []byte) bool {
	var up, lo, dig bool
	for _, c := range b {
		switch {
		case 'A' <= c && c <= 'Z':
			up = true
		case 'a' <= c && c <= 'z':
			lo = true
		case '0' <= c && c <= '9':
			dig = true
		}
	}
	return up && lo && dig
}

// withEach returns prefix followed by each byte of c: anchors for a
// three-byte prefix such as "sk-", which the scanner needs four bytes of.
func withEach(prefix string, c *charClass) []string {
	var out []string
	for b := 0; b < 256; b++ {
		if c[b] {
			out = append(out, prefix+string(rune(b)))
		}
	}
	return out
}

// builtin returns the default rules, from the formats gitleaks' rules and
// trufflehog's detectors document. Kinds are stable: they appear in
// results, audit lines and the services file's detect.disable. The table
// is made on first use: its anchors (withEach) are some 250 strings and
// closures that package initialisation built on every keyveil start,
// though start-up only looks at the rules when a services file disables
// one.
var builtin = sync.OnceValue(func() []rule {
	return []rule{
		{kind: "github-token", anchors: []string{"ghp_", "gho_", "ghu_", "ghs_", "ghr_"}, match: withChecksum},
		{kind: "github-token", anchors: []string{"github_pat_"}, match: between(82, 82, class("0-9A-Za-z_"), word)},
		{kind: "gitlab-token", anchors: []string{"glpat-", "glrt-", "gldt-", "glptt-", "glcbt-", "glft-"}, match: between(20, 255, class("0-9A-Za-z_.-"), class("0-9A-Za-z_.-"))},
		{kind: "slack-token", anchors: []string{"xoxa-", "xoxb-", "xoxp-", "xoxr-", "xoxs-", "xoxe-"}, match: slackToken},
		{kind: "stripe-key", anchors: []string{"sk_live_", "rk_live_", "sk_test_", "rk_test_"}, match: between(20, 247, alnum, word)},
		{kind: "aws-access-key-id", anchors: []string{"AKIA", "ASIA", "ABIA", "ACCA"}, match: fixed(16, b32, alnum)},
		{kind: "aws-secret-access-key", anchors: []string{
			"secret_access_key", "SECRET_ACCESS_KEY", "SecretAccessKey", "secretAccessKey",
			"secret-access-key", "Secret_Access_Key", "SECRET_KEY", "secret_key",
		}, match: awsSecret},
		{kind: "google-api-key", anchors: []string{"AIza"}, match: fixed(35, word, word)},
		{kind: "anthropic-api-key", anchors: []string{"sk-ant-"}, match: between(40, 300, word, word)},
		{kind: "openai-api-key", anchors: withEach("sk-", alnum), match: skKey},
		{kind: "npm-token", anchors: []string{"npm_"}, match: withChecksum},
		{kind: "pypi-token", anchors: []string{"pypi-AgEIcHlwaS5vcmc"}, match: between(50, 1000, word, word)},
		{kind: "sendgrid-api-key", anchors: withEach("SG.", word), match: sendgrid},
		{kind: "shopify-token", anchors: []string{"shpat_", "shpca_", "shppa_", "shpss_"}, match: fixed(32, hexDig, word)},
		{kind: "huggingface-token", anchors: withEach("hf_", letters), match: between(30, 40, alnum, word)},
		{kind: "digitalocean-token", anchors: []string{"dop_v1_", "doo_v1_", "dor_v1_"}, match: fixed(64, hexDig, word)},
		{kind: "azure-storage-key", anchors: []string{"AccountKey="}, match: azureKey},
		{kind: "private-key", anchors: []string{"PRIVATE KEY-----", "PRIVATE KEY BLOCK-----"}, match: pemBlock},
		{kind: "jwt", anchors: withEach("eyJ", word), match: jwt},
	}
})

// The password in a URL is found from its "@", which bytes.IndexByte
// finds far faster than the scanner could find every "://" of a body full
// of links; see urlPasswords.
const urlPasswordKind = "url-password"

// slackToken: xox?- then digits and dashes and a random tail, as Slack's
// bot, user, refresh and legacy tokens are.
func slackToken(text []byte, at int, anchor string) (int, int, bool) {
	body := class("0-9A-Za-z-")
	s := at + len(anchor)
	e := body.run(text, s)
	if e-s < 20 || !leftEdge(text, at, word) || !rightEdge(text, e, word) {
		return 0, 0, false
	}
	digits, dashes := 0, 0
	for _, c := range text[s:e] {
		switch {
		case '0' <= c && c <= '9':
			digits++
		case c == '-':
			dashes++
		}
	}
	if digits < 8 || dashes < 1 {
		return 0, 0, false
	}
	return at, e, true
}

// skKey: OpenAI (sk-, sk-proj-, sk-svcacct-, sk-admin-) and Anthropic
// (sk-ant-) keys: a long random run after the prefix.
func skKey(text []byte, at int, anchor string) (int, int, bool) {
	s := at + 3
	e := word.run(text, s)
	if !leftEdge(text, at, word) || !rightEdge(text, e, word) {
		return 0, 0, false
	}
	body := text[s:e]
	switch {
	case bytes.HasPrefix(body, []byte("ant-")):
		return 0, 0, false // the anthropic-api-key rule's
	case bytes.HasPrefix(body, []byte("proj-")), bytes.HasPrefix(body, []byte("svcacct-")), bytes.HasPrefix(body, []byte("admin-")):
		if len(body) < 40 || !mixed(body) {
			return 0, 0, false
		}
	default:
		// Legacy keys are 48 alphanumerics; other vendors copied the
		// shape with 32 or more. A dashed identifier is not one.
		if alnum.run(body, 0) != len(body) || len(body) < 32 || len(body) > 100 || !mixed(body) || entropy(body) < 3.5 {
			return 0, 0, false
		}
	}
	return at, e, true
}

// awsSecret: a 40-character base64 value right after one of the names AWS
// secret keys go by ("aws_secret_access_key = ...", "SecretAccessKey":"...").
func awsSecret(text []byte, at int, anchor string) (int, int, bool) {
	i := at + len(anchor)
	// Up to a few separator bytes: quotes, escapes, spaces, = or :.
	limit := min(len(text), i+8)
	for i < limit {
		c := text[i]
		if c == '"' || c == '\'' || c == '\\' || c == ' ' || c == '\t' || c == '=' || c == ':' || c == '`' {
			i++
			continue
		}
		break
	}
	e := b64.run(text, i)
	if e-i != 40 || !rightEdge(text, e, class("0-9A-Za-z+/=")) {
		return 0, 0, false
	}
	v := text[i:e]
	if !mixed(v) || entropy(v) < 4 {
		return 0, 0, false
	}
	return i, e, true
}

// sendgrid: SG. then 22 and 43 base64url characters separated by a dot.
func sendgrid(text []byte, at int, _ string) (int, int, bool) {
	s := at + 3
	m := word.run(text, s)
	if m-s != 22 || m >= len(text) || text[m] != '.' || !leftEdge(text, at, word) {
		return 0, 0, false
	}
	e := word.run(text, m+1)
	if e-m-1 != 43 || !rightEdge(text, e, word) {
		return 0, 0, false
	}
	return at, e, true
}

// azureKey: the 88-character base64 key after AccountKey= in a storage
// connection string; the marker replaces the key, not the name.
func azureKey(text []byte, at int, anchor string) (int, int, bool) {
	s := at + len(anchor)
	e := b64.run(text, s)
	n := e - s
	for e < len(text) && e-s < n+2 && text[e] == '=' {
		e++
	}
	if n < 80 || n > 100 {
		return 0, 0, false
	}
	return s, e, true
}

// maxPEM bounds how far a private-key block may run.
const maxPEM = 64 << 10

// pemBlock: the anchor is the end of a BEGIN line ("...PRIVATE KEY-----");
// the span runs from "-----BEGIN" to the matching END line, in raw text or
// inside a JSON string where the newlines are "\n". A block cut off before
// its END line is redacted to the end of its base64.
func pemBlock(text []byte, at int, anchor string) (int, int, bool) {
	lo := max(0, at-40)
	b := bytes.LastIndex(text[lo:at], []byte("-----BEGIN "))
	if b < 0 {
		return 0, 0, false
	}
	start := lo + b
	// Nothing but a key-type word may stand between BEGIN and PRIVATE.
	for _, c := range text[start+len("-----BEGIN ") : at] {
		if !(('A' <= c && c <= 'Z') || c == ' ') {
			return 0, 0, false
		}
	}
	body := at + len(anchor)
	hi := min(len(text), body+maxPEM)
	if end := bytes.Index(text[body:hi], []byte("-----END ")); end >= 0 {
		e := body + end + len("-----END ")
		if close := bytes.Index(text[e:min(len(text), e+40)], []byte("-----")); close >= 0 {
			return start, e + close + 5, true
		}
		return start, e, true
	}
	e := body
	for e < hi {
		c := text[e]
		switch {
		case b64[c] || c == '=' || c == '\n' || c == '\r' || c == ' ' || c == ':' || c == '-' || c == ',':
			e++
		case c == '\\' && e+1 < hi && (text[e+1] == 'n' || text[e+1] == 'r'):
			e += 2
		default:
			return start, e, true
		}
	}
	return start, e, true
}

// jwt: three base64url segments separated by dots, whose first decodes to
// a JSON header with an "alg".
func jwt(text []byte, at int, _ string) (int, int, bool) {
	if !leftEdge(text, at, word) {
		return 0, 0, false
	}
	h := word.run(text, at)
	if h-at < 10 || h >= len(text) || text[h] != '.' {
		return 0, 0, false
	}
	p := word.run(text, h+1)
	if p-h-1 < 4 || p >= len(text) || text[p] != '.' {
		return 0, 0, false
	}
	e := word.run(text, p+1)
	if !rightEdge(text, e, class("0-9A-Za-z_.-")) {
		return 0, 0, false
	}
	header := make([]byte, base64.RawURLEncoding.DecodedLen(h-at))
	n, err := base64.RawURLEncoding.Decode(header, bytes.TrimRight(text[at:h], "="))
	if err != nil || !bytes.Contains(header[:n], []byte(`"alg"`)) {
		return 0, 0, false
	}
	return at, e, true
}

// userinfo are the bytes allowed in the user or password of a URL.
var userinfo = class("0-9A-Za-z._~%!$&'()*+,;=-")

// urlPasswords finds the password in scheme://user:password@host, raw or
// with JSON-escaped slashes (https:\/\/), from each "@". Only the password
// is replaced, so the model still sees who and where.
func urlPasswords(text []byte, dst []span) []span {
	for i := 0; ; {
		j := bytes.IndexByte(text[i:], '@')
		if j < 0 {
			return dst
		}
		at := i + j
		i = at + 1
		// Walk back over the userinfo to the "//" before it.
		s := at - 1
		for s >= 0 && at-s <= 256 && (userinfo[text[s]] || text[s] == ':') {
			s--
		}
		if s < 2 || text[s] != '/' {
			continue
		}
		switch {
		case text[s-1] == '/' && text[s-2] == ':':
		case s >= 4 && text[s-1] == '\\' && text[s-2] == '/' && text[s-3] == '\\' && text[s-4] == ':':
		default:
			continue
		}
		colon := bytes.IndexByte(text[s+1:at], ':')
		if colon < 0 || s+1+colon+1 == at {
			continue
		}
		dst = append(dst, span{s + 1 + colon + 1, at, urlPasswordKind})
	}
}
