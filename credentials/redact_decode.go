package credentials

import (
	"bytes"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// The second pass. A key that is only partly encoded ("sk-%74est-...",
// "\u0073k-test-..."), encoded twice (a JSON-escaped variant inside another
// JSON string: "\\u0073\\u006b..."), or base64 wrapped across lines escapes
// the first pass, which looks for whole variants. The second pass undoes one
// layer of escaping — percent (%XX), \uXXXX (surrogate pairs joined), \xXX,
// JSON's \" \\ \/ \b \f \n \r \t, HTML &#NN; and &#xNN; — and drops line
// breaks (real, or written as "\n" or "\r\n") inside base64, then runs the
// same matcher over the result and maps each match back to the whole
// original escape sequences it came from.
//
// Only the neighbourhood of an escape can hold a match the first pass
// missed, and only an escape that decodes to a byte some variant contains
// (or a joined line break). So the pass finds those escapes, decodes the
// text within one longest-variant length of them ("islands"), and searches
// the islands alone. Text without such escapes costs one scan for the five
// bytes that can start one.

// maxEscapeLen is the longest escape sequence decoded: a surrogate pair
// "\uD83D\uDE00". HTML entities are cut at seven digits, so "&#x" + 7 + ";"
// is 11.
const maxEscapeLen = 12

// minBase64Line is how many base64 characters must precede a line break for
// it to count as a break inside wrapped base64 (PEM and MIME wrap at 64 and
// 76). Prose has shorter words, so "foo\nbar" is not joined.
const minBase64Line = 16

// decRec records one place where the decoded copy differs from the
// original: on original bytes at o became dn decoded bytes at d (dn is 0
// for a dropped line break).
type decRec struct {
	d, o   int
	dn, on uint8
}

// redactScratch is per-call working memory, pooled so that the second pass does
// not allocate in the steady state.
type redactScratch struct {
	islands [][2]int
	buf     []byte
	recs    []decRec
	found   []redactSpan
}

var scratchPool = sync.Pool{New: func() any { return new(redactScratch) }}

// decodedPass appends to ss what the matcher finds in the decoded copy of
// p, as ranges of p.
func (st *redactState) decodedPass(p []byte, ss []redactSpan) []redactSpan {
	n := len(p)
	if st.m.minLen < 0 || n < st.m.minLen {
		return ss
	}
	var f escFinder
	f.init(p)
	i := f.next(0)
	if i >= n {
		return ss
	}
	sc := scratchPool.Get().(*redactScratch)
	defer scratchPool.Put(sc)

	w := st.m.maxLen - 1 // a match reaches at most this far from an escape it contains
	isl := sc.islands[:0]
	for i < n {
		k, relevant := st.eventAt(p, i)
		if k == 0 {
			i = f.next(i + 1)
			continue
		}
		if relevant {
			lo, hi := max(0, i-w), min(n, i+k+w)
			if len(isl) > 0 && lo <= isl[len(isl)-1][1] {
				isl[len(isl)-1][1] = hi
			} else {
				isl = append(isl, [2]int{lo, hi})
			}
		}
		i = f.next(i + k)
	}
	sc.islands = isl
	for _, is := range isl {
		ss = st.searchIsland(p, is[0], is[1], sc, ss)
	}
	return ss
}

// eventAt reports how many bytes the escape or joined line break at p[i]
// spans (0 if there is none), and whether decoding it can complete a match.
func (st *redactState) eventAt(p []byte, i int) (int, bool) {
	switch p[i] {
	case '\n', '\r':
		k := joinAt(p, i)
		return k, k > 0
	case '\\':
		if k := joinAt(p, i); k > 0 {
			return k, true
		}
	}
	var out [utf8.UTFMax]byte
	k, m := escapeAt(p, i, &out)
	for _, c := range out[:m] {
		if st.relevant[lowerASCII[c]] {
			return k, true
		}
	}
	return k, false
}

// searchIsland decodes p[lo:hi] (extended to whole escapes), runs the
// matcher over it, and appends the matches as ranges of p.
func (st *redactState) searchIsland(p []byte, lo, hi int, sc *redactScratch, ss []redactSpan) []redactSpan {
	lo = syncStart(p, lo)
	buf, recs := sc.buf[:0], sc.recs[:0]
	var out [utf8.UTFMax]byte
	for i := lo; i < hi; {
		c := p[i]
		if !escStart[c] {
			buf = append(buf, c)
			i++
			continue
		}
		if c == '\n' || c == '\r' || c == '\\' {
			if k := joinAt(p, i); k > 0 {
				recs = append(recs, decRec{d: len(buf), o: i, on: uint8(k)})
				i += k
				continue
			}
		}
		if k, m := escapeAt(p, i, &out); k > 0 {
			recs = append(recs, decRec{d: len(buf), o: i, dn: uint8(m), on: uint8(k)})
			buf = append(buf, out[:m]...)
			i += k
			continue
		}
		buf = append(buf, c)
		i++
	}
	found := st.m.find(buf, sc.found[:0])
	for _, m := range found {
		s, _ := decodedOrigin(recs, lo, m.start)
		_, e := decodedOrigin(recs, lo, m.end-1)
		ss = append(ss, redactSpan{start: s, end: e, id: m.id, size: m.size})
	}
	sc.buf, sc.recs, sc.found = buf, recs, found
	return ss
}

// decodedOrigin returns the range of p that decoded byte i of an island starting
// at lo came from: the whole escape sequence, or the one byte copied.
func decodedOrigin(recs []decRec, lo, i int) (int, int) {
	// The last record with d <= i; among records at the same d (a dropped
	// line break, then an escape) the later one is the one holding i.
	a, b := 0, len(recs)
	for a < b {
		h := int(uint(a+b) >> 1)
		if recs[h].d <= i {
			a = h + 1
		} else {
			b = h
		}
	}
	if a == 0 {
		return lo + i, lo + i + 1
	}
	r := recs[a-1]
	if i < r.d+int(r.dn) {
		return r.o, r.o + int(r.on)
	}
	s := r.o + int(r.on) + i - r.d - int(r.dn)
	return s, s + 1
}

// syncStart moves lo back to a place where decoding from the left of the
// text would also be: not inside an escape, nor inside a run of backslashes
// (whose pairing decides which of them escape), nor inside a line break.
func syncStart(p []byte, lo int) int {
	for {
		for lo > 0 && (p[lo-1] == '\\' || p[lo-1] == '\n' || p[lo-1] == '\r') {
			lo--
		}
		j := coveringEscape(p, lo)
		if j < 0 {
			return lo
		}
		lo = j
	}
}

// coveringEscape returns the start of the escape sequence of p that
// contains both p[i-1] and p[i], or -1 if i is not inside one.
func coveringEscape(p []byte, i int) int {
	var out [utf8.UTFMax]byte
	for j := i - 1; j >= 0 && j > i-maxEscapeLen; j-- {
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
		return j - i, utf8.EncodeRune(out[:], v)
	}
	return 0, 0
}

// joinAt returns the length of the line break at p[i] if it sits inside
// wrapped base64 — at least minBase64Line base64 characters before it and
// one after — and 0 otherwise. A break is CR, LF or CRLF, real or written as
// the JSON escapes "\r", "\n", "\r\n".
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
	}
	if j == i || j >= n || !isBase64[p[j]] {
		return 0
	}
	if i < minBase64Line {
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

const escChars = "%\\&\n\r"

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
	var r rune
	for _, c := range p[i : i+4] {
		d := hexDigitVal[c]
		if d < 0 || d > 15 {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func hexByte(a, b byte) (byte, bool) {
	x, y := hexDigitVal[a], hexDigitVal[b]
	if x < 0 || x > 15 || y < 0 || y > 15 {
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

// escStart marks the bytes that can start an escape or a line break.
var escStart = func() (t [256]bool) {
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
