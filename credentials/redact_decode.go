package credentials

import (
	"bytes"
	"unicode/utf16"
	"unicode/utf8"
)

// The second pass. A key that is only partly encoded ("sk-%74est-...",
// "\u0073k-test-..."), encoded twice (a JSON-escaped variant inside another
// JSON string: "\\u0073\\u006b..."), or base64 wrapped across lines escapes
// the first pass, which looks for whole variants. The second pass undoes a
// layer of escaping — percent (%XX), \uXXXX (surrogate pairs joined), \xXX,
// JSON's \" \\ \/ \b \f \n \r \t, HTML &#NN; and &#xNN; — and drops line
// breaks (real, or written as "\n" or "\r\n") inside base64, runs the same
// matcher over the result, and maps each match back to the whole original
// escape sequences it came from. While a layer decodes an escape into the
// start of another ("\\" into "\"), it undoes the next one too, up to
// maxLayers.
//
// Only the neighbourhood of an escape can hold a match the first pass
// missed, and only an escape that decodes to a byte some variant contains
// (or a joined line break). So the pass decodes the text, and searches only
// within one longest variant of those escapes ("islands"). Text without
// such escapes costs one scan for the four bytes that can start one, and no
// copy.

// maxEscapeLen is the longest escape sequence decoded: a surrogate pair
// "\uD83D\uDE00". HTML entities are cut at seven digits, so "&#x" + 7 + ";"
// is 11.
const maxEscapeLen = 12

// minBase64Line is how many base64 characters must precede a line break for
// it to count as a break inside wrapped base64 (PEM and MIME wrap at 64 and
// 76). Prose has shorter words, so "foo\nbar" is not joined.
const minBase64Line = 16

// maxRun caps how many escapes one escRun holds, so that mapping a match
// back into a run re-reads at most this many.
const maxRun = 32

// escRun is a stretch of consecutive escapes (and joined line breaks) found
// by the scan from the left, which alone knows which backslashes are
// escaped: on original bytes at o that decode to dn bytes at d of the
// decoded text. Between runs the decoded text is the original, verbatim.
type escRun struct {
	o, d, on, dn int
	// ek and em are the original and decoded length of every escape in the
	// run when they are all alike ("%73%6B", "\u0073\u006b"), 0 if not.
	ek, em int
	out    int // the decoded bytes are layerScratch.out[out:out+dn]
}

// redactScratch is per-call working memory, kept between calls so that
// redaction does not allocate in the steady state (a sync.Pool would be
// emptied by every garbage collection, which a stream of large outputs
// triggers often).
type redactScratch struct {
	spans  []redactSpan
	merged []redactSpan
	layers [maxLayers]layerScratch
	tc     *transcodeScratch // the third pass's, made when first needed
}

// layerScratch is the working memory of one layer of decoding.
type layerScratch struct {
	out     []byte // what the escapes decode to, run after run
	runs    []escRun
	islands [][2]int
	buf     []byte // one island, decoded
	dec     []byte // the whole decoded text, when another layer needs it
	total   int    // the length of the decoded text
	found   []redactSpan
}

// decoded appends bytes lo to hi of the decoded text of p to dst:
// verbatim stretches from p, decoded escapes from out.
func (lv *layerScratch) decoded(dst, p []byte, lo, hi int) []byte {
	// The first run that ends after lo.
	a, b := 0, len(lv.runs)
	for a < b {
		h := int(uint(a+b) >> 1)
		if r := lv.runs[h]; r.d+r.dn <= lo {
			a = h + 1
		} else {
			b = h
		}
	}
	shift := 0 // original minus decoded position, in verbatim text
	if a > 0 {
		r := lv.runs[a-1]
		shift = r.o + r.on - r.d - r.dn
	}
	for _, r := range lv.runs[a:] {
		if lo >= hi || r.d >= hi {
			break
		}
		if lo < r.d {
			dst = append(dst, p[lo+shift:r.d+shift]...)
			lo = r.d
		}
		end := min(hi, r.d+r.dn)
		dst = append(dst, lv.out[r.out+lo-r.d:r.out+end-r.d]...)
		lo, shift = end, r.o+r.on-r.d-r.dn
	}
	if lo < hi {
		dst = append(dst, p[lo+shift:hi+shift]...)
	}
	return dst
}

// maxLayers is how many layers of escaping the second pass undoes: a key
// JSON-escaped inside a JSON string inside another JSON string (a tool
// result quoting an API's error quoting the request) is three.
const maxLayers = 3

// decodedPass appends to ss what the matcher finds in p with one, two or
// three layers of escaping undone, as ranges of p. A layer is undone only
// if the one before produced something to undo.
func (st *redactState) decodedPass(p []byte, ss []redactSpan, sc *redactScratch) []redactSpan {
	text := p
	for l := range maxLayers {
		first := len(ss)
		var again bool
		lv := &sc.layers[l]
		ss, again = st.decodeLayer(text, ss, lv)
		// Map what this layer found back through the layers above it.
		for k := l - 1; k >= 0; k-- {
			up := p
			if k > 0 {
				up = sc.layers[k-1].dec
			}
			for i := first; i < len(ss); i++ {
				ss[i].start, _ = decodedOrigin(up, sc.layers[k].runs, ss[i].start)
				_, ss[i].end = decodedOrigin(up, sc.layers[k].runs, ss[i].end-1)
			}
		}
		if !again || l == maxLayers-1 {
			break
		}
		lv.dec = lv.decoded(lv.dec[:0], text, 0, lv.total)
		text = lv.dec
	}
	return ss
}

// decodeLayer undoes one layer of escaping in p and appends to ss what
// the matcher finds in the result, as ranges of p. It reports whether an
// escape decoded to a byte that can start another, so that one more layer
// may be worth undoing; lv then maps the decoded text back to p.
func (st *redactState) decodeLayer(p []byte, ss []redactSpan, lv *layerScratch) ([]redactSpan, bool) {
	n := len(p)
	if st.m.minLen < 0 || n < st.m.minLen {
		return ss, false
	}
	// Most text holds no relevant escape at all. Find that out without
	// recording anything, so that it costs no memory.
	var f escFinder
	f.init(p)
	var out [utf8.UTFMax]byte
	found := false
	for i := f.next(0); i < n && !found; {
		s, k, m, join := decodeAt(p, i, &out)
		if k == 0 {
			i = f.next(i + 1)
			continue
		}
		found = join || st.relevantBytes(out[:m])
		i = f.next(s + k)
	}
	if !found {
		return ss, false
	}

	// Decode all of p. A match that a decoded escape completes contains
	// that escape, so it lies within w decoded bytes of it: the matcher
	// need only search those islands around each relevant escape.
	w := st.m.maxLen - 1
	outs, runs, isl := lv.out[:0], lv.runs[:0], lv.islands[:0]
	again := false
	shift := 0 // how much shorter the decoded text is, up to i
	f.init(p)
	for i := f.next(0); i < n; {
		s, k, m, join := decodeAt(p, i, &out)
		if k == 0 {
			i = f.next(i + 1)
			continue
		}
		r := escRun{o: s, d: s - shift, ek: k, em: m, out: len(outs)}
		relevant := false
		for c := 1; ; c++ {
			if k != r.ek || m != r.em {
				r.ek, r.em = 0, 0
			}
			if m == 1 { // the common case, without a call to memmove
				outs = append(outs, out[0])
				relevant = relevant || st.relevant[lowerASCII[out[0]]]
				again = again || escByte[out[0]]
			} else {
				outs = append(outs, out[:m]...)
				relevant = relevant || join || st.relevantBytes(out[:m])
			}
			i = s + k
			if c == maxRun || i >= n || !escByte[p[i]] {
				break
			}
			if p[i] == '%' || p[i] == '&' { // no line break to look for
				s, join = i, false
				k, m = escapeAt(p, i, &out)
			} else {
				s, k, m, join = decodeAt(p, i, &out)
			}
			if k == 0 || s != i {
				break
			}
		}
		r.on, r.dn = i-r.o, len(outs)-r.out
		runs = append(runs, r)
		shift += r.on - r.dn
		if relevant {
			lo, hi := max(0, r.d-w), r.d+r.dn+w
			if len(isl) > 0 && lo <= isl[len(isl)-1][1] {
				isl[len(isl)-1][1] = hi
			} else {
				isl = append(isl, [2]int{lo, hi})
			}
		}
		i = f.next(i)
	}
	lv.out, lv.runs, lv.islands, lv.total = outs, runs, isl, n-shift
	for _, is := range isl {
		lo, hi := is[0], min(is[1], lv.total)
		lv.buf = lv.decoded(lv.buf[:0], p, lo, hi)
		lv.found = st.m.find(lv.buf, lv.found[:0])
		for _, m := range lv.found {
			s, _ := decodedOrigin(p, runs, lo+m.start)
			_, e := decodedOrigin(p, runs, lo+m.end-1)
			ss = append(ss, redactSpan{start: s, end: e, id: m.id, size: m.size})
		}
	}
	return ss, again
}

// relevantBytes reports whether any of b (decoded from one escape) occurs
// in some variant; if none does, no match can contain the escape.
func (st *redactState) relevantBytes(b []byte) bool {
	for _, c := range b {
		if st.relevant[lowerASCII[c]] {
			return true
		}
	}
	return false
}

// decodeAt decodes the escape sequence or joined line break at p[i] into
// out. It returns where it starts (i, or i-1 for the CR of a CRLF found at
// its LF), its length k (0 if there is none), how many bytes it decoded to,
// and whether it is a line break.
func decodeAt(p []byte, i int, out *[utf8.UTFMax]byte) (s, k, m int, join bool) {
	switch p[i] {
	case '\\':
		if k = joinAt(p, i); k > 0 {
			return i, k, 0, true
		}
	case '\n':
		if i > 0 && p[i-1] == '\r' {
			i-- // CRLF: the CR belongs to the break
		}
		k = joinAt(p, i)
		return i, k, 0, k > 0
	case '\r':
		k = joinAt(p, i)
		return i, k, 0, k > 0
	}
	k, m = escapeAt(p, i, out)
	return i, k, m, false
}

// decodedOrigin returns the range of p that byte i of the decoded text came
// from: the whole escape sequence, or the one byte copied.
func decodedOrigin(p []byte, runs []escRun, i int) (int, int) {
	a, b := 0, len(runs) // find the last run with d <= i
	for a < b {
		h := int(uint(a+b) >> 1)
		if runs[h].d <= i {
			a = h + 1
		} else {
			b = h
		}
	}
	if a == 0 {
		return i, i + 1
	}
	r := runs[a-1]
	if i >= r.d+r.dn {
		s := r.o + r.on + i - r.d - r.dn
		return s, s + 1
	}
	if r.em > 0 {
		o := r.o + (i-r.d)/r.em*r.ek
		return o, o + r.ek
	}
	var out [utf8.UTFMax]byte
	for o, d := r.o, r.d; ; {
		s, k, m, _ := decodeAt(p, o, &out)
		if k == 0 || s != o { // cannot happen inside a run; do not loop
			return o, o + 1
		}
		if i < d+m {
			return o, o + k
		}
		o, d = o+k, d+m
	}
}

// coveringEscape returns the start of the escape sequence of p that
// contains both p[i-1] and p[i], or -1 if i is not inside one.
func coveringEscape(p []byte, i int) int {
	lo := max(0, i-maxEscapeLen+1)
	if i > len(p) || bytes.IndexByte(p[lo:i], '\\') < 0 && bytes.IndexByte(p[lo:i], '&') < 0 && bytes.IndexByte(p[max(lo, i-2):i], '%') < 0 {
		return -1
	}
	var out [utf8.UTFMax]byte
	for j := i - 1; j >= lo; j-- {
		if !escByte[p[j]] {
			continue
		}
		switch p[j] {
		case '\\':
			if oddBackslashesBefore(p, j) {
				continue // p[j] is itself escaped
			}
		case '%', '&':
		default:
			continue
		}
		if k, _ := escapeAt(p, j, &out); j+k > i {
			return j
		}
	}
	return -1
}

// escapeLen returns the length of the escape sequence at p[i], 0 if none.
func escapeLen(p []byte, i int) int {
	var out [utf8.UTFMax]byte
	k, _ := escapeAt(p, i, &out)
	return k
}

// oddBackslashesBefore reports whether an odd number of backslashes
// immediately precede p[j].
func oddBackslashesBefore(p []byte, j int) bool {
	k := j
	for k > 0 && p[k-1] == '\\' {
		k--
	}
	return (j-k)%2 == 1
}

// escapeAt decodes the escape sequence at p[i] into out. It returns the
// sequence's length and the number of decoded bytes; 0, 0 if p[i] does not
// start one. The caller makes sure a backslash at p[i] is not itself
// escaped.
func escapeAt(p []byte, i int, out *[utf8.UTFMax]byte) (int, int) {
	n := len(p)
	switch p[i] {
	case '%':
		if i+3 <= n {
			if h, ok := hexByte(p[i+1], p[i+2]); ok {
				out[0] = h
				return 3, 1
			}
		}
	case '\\':
		if i+1 >= n {
			return 0, 0
		}
		switch c := p[i+1]; c {
		case 'u', 'U':
			r, ok := hexRune(p, i+2)
			if !ok {
				return 0, 0
			}
			if r < utf8.RuneSelf {
				out[0] = byte(r)
				return 6, 1
			}
			if utf16.IsSurrogate(r) && r < 0xdc00 && i+12 <= n && p[i+6] == '\\' && (p[i+7] == 'u' || p[i+7] == 'U') {
				if r2, ok := hexRune(p, i+8); ok && 0xdc00 <= r2 && r2 < 0xe000 {
					return 12, utf8.EncodeRune(out[:], utf16.DecodeRune(r, r2))
				}
			}
			return 6, utf8.EncodeRune(out[:], r)
		case 'x', 'X':
			if i+4 <= n {
				if h, ok := hexByte(p[i+2], p[i+3]); ok {
					out[0] = h
					return 4, 1
				}
			}
		case '"', '\\', '/':
			out[0] = c
			return 2, 1
		case 'b', 'f', 'n', 'r', 't':
			out[0] = jsonEscapes[c]
			return 2, 1
		}
	case '&':
		if i+3 > n || p[i+1] != '#' {
			return 0, 0
		}
		j, base := i+2, rune(10)
		if p[j] == 'x' || p[j] == 'X' {
			j, base = j+1, 16
		}
		v, digits := rune(0), 0
		for ; j < n && digits < 7; j, digits = j+1, digits+1 {
			d := hexDigitVal[p[j]]
			if d < 0 || rune(d) >= base {
				break
			}
			v = v*base + rune(d)
		}
		if digits == 0 || v > utf8.MaxRune {
			return 0, 0
		}
		if j < n && p[j] == ';' {
			j++
		}
		if v < utf8.RuneSelf {
			out[0] = byte(v)
			return j - i, 1
		}
		return j - i, utf8.EncodeRune(out[:], v)
	}
	return 0, 0
}

// joinAt returns the length of the line break at p[i] if it sits inside
// wrapped base64 — at least minBase64Line base64 characters before it and
// one after — and 0 otherwise. A break is LF or CRLF, real or written as
// the JSON escapes "\n" and "\r\n".
func joinAt(p []byte, i int) int {
	n := len(p)
	j := i
	if j < n && p[j] == '\r' {
		j++
	} else if j+1 < n && p[j] == '\\' && p[j+1] == 'r' {
		j += 2
	}
	if j < n && p[j] == '\n' {
		j++
	} else if j+1 < n && p[j] == '\\' && p[j+1] == 'n' {
		j += 2
	} else {
		return 0
	}
	if j >= n || !isBase64[p[j]] || i < minBase64Line {
		return 0
	}
	for _, c := range p[i-minBase64Line : i] {
		if !isBase64[c] {
			return 0
		}
	}
	return j - i
}

// escFinder yields the positions of the bytes that can start an escape or
// a line break, using one bytes.IndexByte (vectorised) per byte value
// rather than a byte-at-a-time loop.
type escFinder struct {
	p   []byte
	pos [len(escChars)]int
}

// escChars can start an escape or a line break; a CR is found through the
// LF after it.
const escChars = "%\\&\n"

func (f *escFinder) init(p []byte) {
	f.p = p
	for k := range f.pos {
		f.pos[k] = -1
	}
}

// next returns the first position >= from holding one of escChars, or
// len(p).
func (f *escFinder) next(from int) int {
	n := len(f.p)
	if from < n && escByte[f.p[from]] {
		return from // escapes often come in runs: "%73%6B", "\u0073\u006b"
	}
	best := n
	for k := range f.pos {
		if f.pos[k] < from {
			f.pos[k] = n
			if from < n {
				if j := bytes.IndexByte(f.p[from:], escChars[k]); j >= 0 {
					f.pos[k] = from + j
				}
			}
		}
		best = min(best, f.pos[k])
	}
	return best
}

// hexRune parses the four hex digits at p[i:i+4].
func hexRune(p []byte, i int) (rune, bool) {
	if i+4 > len(p) {
		return 0, false
	}
	a, b, c, d := hexDigitVal[p[i]], hexDigitVal[p[i+1]], hexDigitVal[p[i+2]], hexDigitVal[p[i+3]]
	if a|b|c|d < 0 { // -1 marks a non-digit
		return 0, false
	}
	return rune(a)<<12 | rune(b)<<8 | rune(c)<<4 | rune(d), true
}

func hexByte(a, b byte) (byte, bool) {
	x, y := hexDigitVal[a], hexDigitVal[b]
	if x|y < 0 {
		return 0, false
	}
	return byte(x<<4 | y), true
}

// hexDigitVal maps '0'-'9', 'a'-'f', 'A'-'F' to their values; -1 otherwise.
var hexDigitVal = func() (t [256]int8) {
	for i := range t {
		t[i] = -1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = int8(c - '0')
	}
	for c := 'a'; c <= 'f'; c++ {
		t[c] = int8(c - 'a' + 10)
		t[c-'a'+'A'] = int8(c - 'a' + 10)
	}
	return t
}()

var jsonEscapes = [256]byte{'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

// escByte marks escChars.
var escByte = func() (t [256]bool) {
	for i := 0; i < len(escChars); i++ {
		t[escChars[i]] = true
	}
	return t
}()

// isBase64 marks the characters of both base64 alphabets.
var isBase64 = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_") {
		t[c] = true
	}
	return t
}()
