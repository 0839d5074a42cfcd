package credentials

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Fragment redaction is for text that came from an upstream API: a body, the
// headers kept from it, a Location, an error built from them. There a key
// may arrive cut short (an echo that truncates, a debug route that shows a
// slice), and a piece of a key is as much a leak as the whole. So
// [Redactor.RedactFragments] redacts, besides every whole secret, every run
// of 8 or more consecutive bytes of a secret or of one of its variants.
//
// Done naively that is an oracle. A model that knows 7 bytes of a key (many
// keys start with a public "sk_live_" or "github_pat_") can send known7+c
// for each byte c to an echo endpoint and watch which one comes back
// redacted: the whole key in 256 calls per byte. So a run is left alone
// when every 8-byte window of it also occurs in the text the model sent for
// this call (in raw form, in any encoding keyveil knows, or percent-,
// base64- or hex-decoded, as an API that decodes a parameter echoes it): the model's own
// guess, reflected, comes back as sent whether it is right or wrong. A run
// with even one window that the model did not send is redacted whole, and
// so is any run that touches a whole secret, which the model cannot have
// sent without knowing the key.
//
// What this cannot tell apart, and so does not cover: an API that cuts a
// key itself at a point the model chooses (the model can then send its guess
// of exactly that piece), and API bytes right next to a reflected guess that
// happen to continue the key. In base64 the character at each end of a
// reflected guess carries bits of the API's bytes too; it counts as the
// model's whatever those bits are (base64Edges). A whole base64 character of
// the API's that continues the key is still that coincidence, made likelier
// (1 in 32, not 1 in 64) by matching base64 without regard to case. See
// README "Security model".
//
// The choke points (stdout, stderr, the audit file) do not do this: they
// cannot know which bytes the model sent, and would become the oracle.

// fragments returns the fragment indexes of every group, building on
// first use those not built yet.
func (st *redactState) fragments() *fragSet {
	st.fragOnce.Do(func() { st.frag = newFragSet(st.groups, st.m.base) })
	return st.frag
}

// RedactFragments is [Redactor.Redact] for text that came from upstream in
// answer to one call: besides every whole secret in every encoding (the
// whole encodings of redact_transcode.go too), it
// redacts every run of 8 or more consecutive bytes of a secret or of one of
// its variants, unless each 8-byte window of that run also occurs in sent,
// the texts the model sent in that call (path, query, header values, body
// and its strings), raw or in an encoding keyveil knows. Like Redact it
// returns p itself when nothing matched and never writes into p.
func (r *Redactor) RedactFragments(p []byte, sent [][]byte) []byte {
	st := r.current()
	if st == nil {
		return p
	}
	sc := st.scratch()
	defer st.keep(sc)
	whole := st.spansWith(p, sc, true) // with the third pass: reflections
	frags := st.fragments().find(p, nil)
	if len(frags) == 0 {
		if len(whole) == 0 {
			return p
		}
		return st.apply(p, whole)
	}
	// Ask about the model's text only for runs that no whole secret
	// touches: those are redacted anyway.
	// Both lists are sorted: one walk marks the runs a whole secret
	// touches.
	touched := make([]bool, len(frags))
	for i, j := 0, 0; i < len(frags); i++ {
		for j < len(whole) && whole[j].end <= frags[i].start {
			j++
		}
		touched[i] = j < len(whole) && whole[j].start < frags[i].end
	}
	var cov sentWindows
	for i, f := range frags {
		if !touched[i] {
			cov.need(p, f.start, f.end-fragLen+1)
		}
	}
	cov.search(sent)
	keep := frags[:0]
	for i, f := range frags {
		if !touched[i] && cov.all(p, f.start, f.end-fragLen+1) {
			continue // the model's own text, reflected
		}
		f.start, f.end = widenSpan(p, f.start, f.end)
		keep = append(keep, f)
	}
	if len(keep) == 0 {
		if len(whole) == 0 {
			return p
		}
		return st.apply(p, whole)
	}
	sortSpans(keep)
	return st.apply(p, mergeSpans(whole, keep, nil))
}

// Lookahead is how many bytes past a cut a caller should read before
// redacting and cutting (see [Redactor.Cut]): enough that a secret which
// starts before the cut is seen whole, in any encoding the Redactor knows,
// and redacted as a whole rather than as a piece.
func (r *Redactor) Lookahead() int {
	st := r.current()
	if st == nil {
		return 0
	}
	return st.holdback
}

// markerPrefix starts every redaction marker.
const markerPrefix = "[REDACTED:"

// maxMarker bounds the length of a marker that Cut keeps whole.
const maxMarker = 256

// Cut returns how many leading bytes of p to keep when p must be shortened
// to at most n bytes. p must already be redacted (for upstream text, by
// [Redactor.RedactFragments] with the same sent): cutting first would turn a
// whole key, which is redacted, into a piece of one, which the choke points
// do not catch. The cut never falls inside a redaction marker, an escape
// sequence or a UTF-8 character, and the kept text never ends with 4 to 7
// bytes that begin a secret or one of its variants, unless those bytes are
// the model's own text (in sent, as RedactFragments decides), so that where
// the cut falls never depends on whether a guess of the model's was right.
// It returns len(p) when p is short enough, and works on a nil Redactor (no
// secrets, same boundaries).
func (r *Redactor) Cut(p []byte, n int, sent [][]byte) int {
	if n >= len(p) {
		return len(p)
	}
	c := max(n, 0)
	st := r.current()
	for range len(p) + 1 { // each round moves c back or stops
		prev := c
		c = safeCut(p, c)
		if st != nil && c > 0 {
			if k := st.fragments().endsWithPrefix(p[:c]); k > 0 && !modelBytes(p, c-k, c, sent) {
				c -= k
			}
		}
		if c == prev {
			break
		}
	}
	return c
}

// safeCut moves c back until it falls outside every escape sequence, UTF-8
// character and redaction marker of p.
func safeCut(p []byte, c int) int {
	for {
		prev := c
		if j := coveringEscape(p, c); j >= 0 {
			c = j
		}
		for k := 0; k < utf8.UTFMax-1 && c > 0 && c < len(p) && !utf8.RuneStart(p[c]); k++ {
			c--
		}
		lo := max(0, c-maxMarker)
		if i := bytes.LastIndexByte(p[lo:c], '['); i >= 0 {
			i += lo
			if bytes.HasPrefix(p[i:], []byte(markerPrefix)) || bytes.HasPrefix([]byte(markerPrefix), p[i:]) {
				if end := bytes.IndexByte(p[i:], ']'); end < 0 || i+end >= c {
					c = i
				}
			}
		}
		if c == prev {
			return c
		}
	}
}

// modelBytes reports whether every byte of p[lo:hi] lies in an 8-byte
// window of p that occurs in the model's text sent.
func modelBytes(p []byte, lo, hi int, sent [][]byte) bool {
	wlo, whi := max(0, lo-fragLen+1), min(hi, len(p)-fragLen+1)
	if wlo >= whi {
		return false
	}
	var cov sentWindows
	cov.need(p, wlo, whi)
	cov.search(sent)
	for b := lo; b < hi; b++ {
		in := false
		for w := max(wlo, b-fragLen+1); w <= b && w < whi; w++ {
			if cov.has(p, w) {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	return true
}

// sentWindows answers, for chosen 8-byte windows of a text, whether each
// occurs (ignoring ASCII case) in some form of the model's text: raw, in
// every variant the Redactor looks for, and as URL query and path escaping
// and JSON string escaping would carry it.
type sentWindows struct {
	found map[uint64]bool // folded window -> seen in the model's text
}

// need asks about the windows of p that start in [lo, hi).
func (c *sentWindows) need(p []byte, lo, hi int) {
	if c.found == nil {
		c.found = make(map[uint64]bool)
	}
	for w := lo; w < hi; w++ {
		c.found[lower8(binary.LittleEndian.Uint64(p[w:]))] = false
	}
}

// search looks for the needed windows in every form of sent.
func (c *sentWindows) search(sent [][]byte) {
	if len(c.found) == 0 {
		return
	}
	scan := func(f []byte) {
		for i := 0; i+fragLen <= len(f); i++ {
			k := lower8(binary.LittleEndian.Uint64(f[i:]))
			if _, ok := c.found[k]; ok {
				c.found[k] = true
			}
		}
	}
	for _, s := range sent {
		if len(s) == 0 {
			continue
		}
		scan(s)
		str := string(s)
		for _, v := range variantsOf(str) {
			scan([]byte(v.text))
		}
		for _, e := range base64Edges(str) {
			scan([]byte(e))
		}
		for _, d := range sentDecodings(s) {
			scan(d)
		}
		scan([]byte(url.QueryEscape(str)))
		scan([]byte(url.PathEscape(str)))
		if j, err := json.Marshal(str); err == nil {
			scan(j)
		}
	}
}

// has reports whether the window of p at w was found.
func (c *sentWindows) has(p []byte, w int) bool {
	return c.found[lower8(binary.LittleEndian.Uint64(p[w:]))]
}

// all reports whether every window of p starting in [lo, hi) was found.
func (c *sentWindows) all(p []byte, lo, hi int) bool {
	for w := lo; w < hi; w++ {
		if !c.has(p, w) {
			return false
		}
	}
	return true
}

// base64Edges returns the base64 windows at both ends of s, embedded at
// each alignment in text of the API's own, that no variant of s holds: the
// character at each end carries bits of s and bits of the bytes next to it,
// which the API chose. [variantsOf] keeps only the characters that depend
// on s alone (the cores), so without these a right guess at the last byte
// made a run one character longer than the model's text, whenever the API's
// next byte shared its top bits with the key's next byte, and only the right
// guess came back redacted: an oracle. Each end character is given every
// value of the bits s does not fix, with the up to 7 core characters next to
// it; a core too short for that gets both ends at once.
func base64Edges(s string) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.RawStdEncoding, base64.RawURLEncoding} {
		const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		alpha := std + "+/"
		if enc == base64.RawURLEncoding {
			alpha = std + "-_"
		}
		for k := range 3 {
			buf := make([]byte, k+len(s))
			copy(buf[k:], s)
			full := enc.EncodeToString(buf) // the bits around s are zero
			lo, hi := (8*k+5)/6, 8*(k+len(s))/6
			if lo > hi {
				continue
			}
			core := full[lo:hi]
			// The end characters' values, each with every choice of the
			// API's bits; nil where s fills the character alone.
			var leads, trails []byte
			if free := 8*k - 6*(lo-1); lo > 0 && free < 6 {
				v := strings.IndexByte(alpha, full[lo-1])
				for x := range 1 << free {
					leads = append(leads, alpha[v|x<<(6-free)])
				}
			}
			if free := 6 - (8*(k+len(s)) - 6*hi); free < 6 && hi < len(full) {
				v := strings.IndexByte(alpha, full[hi])
				for x := range 1 << free {
					trails = append(trails, alpha[v|x])
				}
			}
			for _, c := range leads {
				out = append(out, string(c)+core[:min(len(core), fragLen-1)])
			}
			for _, c := range trails {
				out = append(out, core[max(0, len(core)-fragLen+1):]+string(c))
			}
			if len(core) < fragLen-1 {
				for _, a := range leads {
					for _, b := range trails {
						out = append(out, string(a)+core+string(b))
					}
				}
			}
		}
	}
	return out
}

// sentDecodings returns what an API that decodes the model's text before
// echoing it would show: s percent-decoded (up to three times, leaving a
// stray "%" as it is), and every run of base64 (either alphabet) or hex
// digits in s and in those, decoded at each offset. Without them a guess
// sent encoded came back decoded as the API's own text, redacted only when
// right: an oracle.
func sentDecodings(s []byte) [][]byte {
	var out [][]byte
	forms := [][]byte{s}
	cur := s
	for range 3 {
		next := percentDecode(cur)
		if bytes.Equal(next, cur) {
			break
		}
		out = append(out, next)
		forms = append(forms, next)
		cur = next
	}
	for _, f := range forms {
		out = append(out, decodeRuns(f)...)
	}
	return out
}

// percentDecode decodes each valid %XX of p and "+" to a space, keeping
// anything else as it is.
func percentDecode(p []byte) []byte {
	out := make([]byte, 0, len(p))
	for i := 0; i < len(p); i++ {
		switch {
		case p[i] == '%' && i+2 < len(p) && isHex(p[i+1]) && isHex(p[i+2]):
			out = append(out, unhex(p[i+1])<<4|unhex(p[i+2]))
			i += 2
		case p[i] == '+':
			out = append(out, ' ')
		default:
			out = append(out, p[i])
		}
	}
	return out
}

func isHex(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F' }

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// decodeRuns decodes every run in p long enough to hold fragLen bytes:
// base64 in either alphabet at each of its four offsets, and hex at each
// of its two.
func decodeRuns(p []byte) [][]byte {
	var out [][]byte
	isB64 := func(c byte) bool {
		return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '+' || c == '/' || c == '-' || c == '_'
	}
	for i := 0; i < len(p); {
		if !isB64(p[i]) {
			i++
			continue
		}
		j := i
		for j < len(p) && isB64(p[j]) {
			j++
		}
		run := p[i:j]
		i = j
		if len(run) >= 4*fragLen/3 {
			std := strings.NewReplacer("-", "+", "_", "/").Replace(string(run))
			for off := range 4 {
				sub := std[off:]
				if len(sub)%4 == 1 {
					sub = sub[:len(sub)-1]
				}
				if d, err := base64.RawStdEncoding.DecodeString(sub); err == nil && len(d) >= fragLen {
					out = append(out, d)
				}
			}
		}
		for start := 0; start < len(run); {
			if !isHex(run[start]) {
				start++
				continue
			}
			end := start
			for end < len(run) && isHex(run[end]) {
				end++
			}
			for off := range 2 {
				h := run[min(start+off, end):end]
				h = h[:len(h)&^1]
				if len(h) >= 2*fragLen {
					d := make([]byte, len(h)/2)
					if _, err := hex.Decode(d, h); err == nil {
						out = append(out, d)
					}
				}
			}
			start = end
		}
	}
	return out
}
