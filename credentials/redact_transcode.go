package credentials

import (
	"bytes"
	"encoding/binary"
)

// The third pass: whole encodings that the escape pass cannot undo, because
// they are not escapes of single bytes in otherwise plain text. An honest
// echo or debug API produces each of them from a request that carried a
// key:
//
//   - UTF-16 text (a body in another charset, a Windows log): every byte
//     of the key is followed or preceded by a NUL.
//   - hex with separators ("73 6b 2d", "73:6B:2D", "73-6b-2d") and
//     `hexdump -C` output, whose lines break the key every 16 bytes in both
//     the hex columns and the ASCII column.
//   - base64 of a whole request dump that carries a Basic header: base64
//     inside base64. Undoing the outer layer leaves the inner one, which the
//     matcher's base64 variants catch; and the pass runs again on what it
//     decoded, so up to two layers of these encodings are undone.
//   - quoted-printable, whose soft line breaks ("=\r\n", "=\n") can fall
//     inside a key, and whose "=XX" escapes spell any byte.
//
// The pass runs for text from upstream (RedactFragments, which the tools
// pipeline applies to every body, header and error an API sends), not at
// the choke points: those stay as fast as the first two passes keep them,
// and what an API reflects reaches them only through the tools pipeline.
//
// Each is found by a cheap trigger, so that clean text costs little:
// vectorised scans for NUL, '|', '=' and '\\', and one 8-byte window every
// sampleStep bytes tested for being made only of hex digits and separators
// or only of base64 characters. Only the runs around a
// trigger are decoded, searched with the matcher and the escape pass, and
// each match is mapped back to the whole original units it came from (a
// UTF-16 code unit, a hex pair, a base64 quantum, a QP escape). A match in
// the hex columns of a hexdump also takes the same bytes out of its ASCII
// column. Line breaks inside these encodings may be real or written as the
// JSON escapes "\n" and "\r\n", so the pass works on a tool result's raw
// body and on the JSON-RPC message that carries it alike.

// maxTranscodeDepth is how many of these encodings deep the pass looks:
// base64 of a dump that holds hex, say, is two.
const maxTranscodeDepth = 2

// sampleStep is the distance between the windows the trigger tests. Any
// run of sampleStep+7 bytes or more holds a whole window, so hex with
// separators of 8 bytes or more (23 characters) and base64 of 17 bytes or
// more are found. (Hexdump lines are found by their "|".)
const sampleStep = 16

// minBase64Run is the shortest base64 run decoded: 12 bytes. A word of
// prose or an identifier is shorter, and costs no decoding.
const minBase64Run = 16

// maxHexdumpColumn is the widest ASCII column of a hexdump line.
const maxHexdumpColumn = 32

// Byte classes for the trigger.
const (
	clHex    = 1 << iota // a hex digit or a separator between hex pairs
	clBase64             // a base64 character of either alphabet
)

var transcodeClass = func() (t [256]uint8) {
	for c := range t {
		if hexDigitVal[c] >= 0 || c == ' ' || c == ':' || c == '-' {
			t[c] |= clHex
		}
		if isBase64[c] {
			t[c] |= clBase64
		}
	}
	return t
}()

// transcodeScratch is the working memory of the third pass at one depth.
type transcodeScratch struct {
	dec      []byte  // one decoded run
	from, to []int32 // the original range of dec[j] is p[from[j]:to[j]]
	// altFrom and altTo, for a hexdump, are the range of the ASCII column
	// that shows dec[j] too; altFrom[j] < 0 if none.
	altFrom, altTo []int32
	pos            []int32 // base64: where each character of a run is
	found          []redactSpan
	inner          *redactScratch // for searching dec: its own passes
}

func (ts *transcodeScratch) reset() {
	ts.dec, ts.from, ts.to = ts.dec[:0], ts.from[:0], ts.to[:0]
	ts.altFrom, ts.altTo = ts.altFrom[:0], ts.altTo[:0]
}

// add appends decoded byte c, which came from p[from:to].
func (ts *transcodeScratch) add(c byte, from, to int) {
	ts.dec = append(ts.dec, c)
	ts.from = append(ts.from, int32(from))
	ts.to = append(ts.to, int32(to))
}

// transcodedPass appends to ss, as ranges of p, what the matcher and the
// escape pass find in p with one or two of the encodings above undone.
func (st *redactState) transcodedPass(p []byte, ss []redactSpan, sc *redactScratch, depth int) []redactSpan {
	n := len(p)
	if st.m.minLen < 0 || n < st.m.minLen || depth >= maxTranscodeDepth {
		return ss
	}
	tp := transcodePass{st: st, p: p, ss: ss, sc: sc, depth: depth}
	// Every trigger runs over one block before the next block is read:
	// text larger than the cache is then read from memory once, not once
	// per trigger, which is most of what the pass would cost.
	var nul, bar, win, eq int // where each trigger goes on from
	for b := 0; b < n; b += transcodeBlock {
		e := min(n, b+transcodeBlock)
		nul = tp.scanUTF16(nul, e)
		bar = tp.scanHexdump(bar, e)
		win = tp.sample(win, e)
		eq = tp.scanQP(eq, e)
	}
	if tp.ts != nil && cap(tp.ts.dec) > maxSpare/8 {
		sc.tc = nil // do not keep a huge run's memory
	}
	return tp.ss
}

// transcodeBlock is how much text every trigger scans before the next
// block: well within a core's L2 cache.
const transcodeBlock = 32 << 10

// Each scan below looks for its trigger in p[i:e], decodes what it finds,
// and returns where the next scan goes on from (e, or beyond it when a run
// it decoded did).

// scanUTF16 finds UTF-16 text by its NULs.
func (tp *transcodePass) scanUTF16(i, e int) int {
	p := tp.p
	for i < e {
		j := bytes.IndexByte(p[i:e], 0)
		if j < 0 {
			return e
		}
		i += j
		if lo, hi, ok := utf16Run(p, i); ok {
			decodeUTF16(p, lo, hi, tp.scratch())
			tp.search()
			i = hi
		}
		i++
	}
	return i
}

// scanHexdump finds hexdump lines by the "  |" that ends their hex
// columns.
func (tp *transcodePass) scanHexdump(i, e int) int {
	p := tp.p
	for i < e {
		j := bytes.IndexByte(p[i:e], '|')
		if j < 0 {
			return e
		}
		i += j
		if i >= tp.dumpEnd && i >= 4 && p[i-1] == ' ' && p[i-2] == ' ' {
			lo := i - 2
			for lo > 0 && transcodeClass[p[lo-1]]&clHex != 0 {
				lo--
			}
			for lo < i {
				lo = decodeHex(p, lo, tp.scratch())
				tp.search()
			}
			tp.dumpEnd = lo
			i = max(i, lo-1)
		}
		i++
	}
	return i
}

// sample tests one window every sampleStep bytes for base64 runs and hex
// with separators.
// The loop is kept small and without branches but one, which clean text
// rarely takes; the windows that take it are looked at out of line.
func (tp *transcodePass) sample(i, e int) int {
	const below = 0x2b2b2b2b2b2b2b2b // '+', the least base64 character
	p := tp.p
	for ; i < e && i+8 <= len(p); i += sampleStep {
		w := binary.LittleEndian.Uint64(p[i:])
		// Four operations reject a window with a byte below '+' — a
		// space, a quote, a control character — as most clean windows
		// have, unless those bytes are spaces every third byte, as in
		// hex pairs; only the rest are classified.
		if low := (w - below) &^ w & 0x8080808080808080; low != 0 &&
			(low != every3a && low != every3b && low != every3c || !spacesAt(w, low)) {
			continue
		}
		if c := wordClass(w); c != 0 {
			tp.window(i, c)
		}
	}
	return i
}

// The high bits of every third byte of a word, at its three phases: where
// the spaces between hex pairs fall.
const (
	every3a = 0x0080000080000080 // bytes 0, 3, 6
	every3b = 0x8000008000008000 // bytes 1, 4, 7
	every3c = 0x0000800000800000 // bytes 2, 5
)

// spacesAt reports whether the bytes of w whose high bits mask marks are
// all spaces.
func spacesAt(w, mask uint64) bool {
	const (
		ones = 0x0101010101010101
		low7 = 0x7f7f7f7f7f7f7f7f
	)
	t := w ^ ones*' '
	return ^((t&low7+low7)|t)&mask == mask
}

// scanQP finds quoted-printable soft breaks and escapes by their '='.
func (tp *transcodePass) scanQP(i, e int) int {
	p := tp.p
	for i < e {
		j := bytes.IndexByte(p[i:e], '=')
		if j < 0 {
			return e
		}
		i += j
		if qpTrigger(p, i) {
			w := 3*tp.st.m.maxLen + 8
			i = decodeQP(p, max(0, i-w), i, w, tp.scratch())
			tp.search()
			continue
		}
		i++
	}
	return i
}

// transcodePass is the state of one transcodedPass over p.
type transcodePass struct {
	st      *redactState
	p       []byte
	ss      []redactSpan
	sc      *redactScratch
	ts      *transcodeScratch // nil until something is decoded
	depth   int
	hexEnd  int // hex runs the samples found are decoded up to here
	dumpEnd int // hexdumps are decoded up to here
	b64End  int // base64 is decoded up to here
}

// scratch returns the decoding memory, emptied.
func (tp *transcodePass) scratch() *transcodeScratch {
	if tp.ts == nil {
		if tp.sc.tc == nil {
			tp.sc.tc = new(transcodeScratch)
		}
		tp.ts = tp.sc.tc
	}
	tp.ts.reset()
	return tp.ts
}

// search searches what was just decoded.
func (tp *transcodePass) search() {
	tp.ss = tp.st.searchDecoded(tp.p, tp.ss, tp.ts, tp.depth)
}

// window looks at the 8 bytes at p[i], of class c, and decodes the hex or
// base64 run they are part of.
func (tp *transcodePass) window(i int, c uint8) {
	p, n := tp.p, len(tp.p)
	// A run worth decoding is at least 23 bytes long, so it goes on for 8
	// more bytes on one side of this window.
	if i >= 8 {
		c &= wordClass(binary.LittleEndian.Uint64(p[i-8:])) | nextClass(p, i+8)
	} else {
		c &= nextClass(p, i+8)
	}
	if c&clHex != 0 && i >= tp.hexEnd {
		lo := i
		for lo > 0 && transcodeClass[p[lo-1]]&clHex != 0 {
			lo--
		}
		for lo < n && lo <= i+8 {
			lo = decodeHex(p, lo, tp.scratch())
			tp.search()
		}
		tp.hexEnd = lo
	}
	if c&clBase64 != 0 && i >= tp.b64End {
		lo := base64RunStart(p, i)
		e := i + 8
		for e < n && isBase64[p[e]] {
			e++
		}
		tp.b64End = e
		if e-lo >= minBase64Run || base64JoinAt(p, e) > 0 {
			tp.b64End = decodeBase64(p, lo, tp.scratch())
			tp.search()
		}
	}
}

// searchDecoded appends to ss what every pass finds in ts.dec, mapped back
// to ranges of p.
func (st *redactState) searchDecoded(p []byte, ss []redactSpan, ts *transcodeScratch, depth int) []redactSpan {
	if len(ts.dec) < st.m.minLen {
		return ss
	}
	if ts.inner == nil {
		ts.inner = new(redactScratch)
	}
	in := ts.inner
	found := st.m.find(ts.dec, ts.found[:0])
	found = st.decodedPass(ts.dec, found, in)
	found = st.transcodedPass(ts.dec, found, in, depth+1)
	ts.found = found
	for _, f := range found {
		if len(ts.altFrom) == 0 {
			ss = append(ss, redactSpan{start: int(ts.from[f.start]), end: int(ts.to[f.end-1]), id: f.id, size: f.size})
			continue
		}
		// A hexdump: one span per line in each column, so that the dump
		// keeps its lines.
		hs, as := f.start, f.start
		for j := f.start; j < f.end; j++ {
			if j+1 == f.end || ts.from[j+1]-ts.to[j] > 2 {
				ss = append(ss, redactSpan{start: int(ts.from[hs]), end: int(ts.to[j]), id: f.id, size: f.size})
				hs = j + 1
			}
			if ts.altFrom[as] < 0 {
				as = j + 1
				continue
			}
			if j+1 == f.end || ts.altFrom[j+1] != ts.altTo[j] {
				ss = append(ss, redactSpan{start: int(ts.altFrom[as]), end: int(ts.altTo[j]), id: f.id, size: f.size})
				as = j + 1
			}
		}
	}
	return ss
}

// nextClass is wordClass of p[i:i+8], 0 past the end.
func nextClass(p []byte, i int) uint8 {
	if i+8 > len(p) {
		return 0
	}
	return wordClass(binary.LittleEndian.Uint64(p[i:]))
}

// wordClass returns clHex if all eight bytes of w are hex digits or
// separators, and clBase64 if all are base64 characters. Eight loads from
// one small table, without branches.
func wordClass(w uint64) uint8 {
	t := &transcodeClass
	return t[byte(w)] & t[byte(w>>8)] & t[byte(w>>16)] & t[byte(w>>24)] &
		t[byte(w>>32)] & t[byte(w>>40)] & t[byte(w>>48)] & t[byte(w>>56)]
}

// utf16Run finds the UTF-16 text (one byte of every two a NUL, the other
// not) around the NUL at p[z]. It returns the range of its character bytes
// — the non-NUL ones, every second byte from lo up to hi — and whether
// there are at least 8 of them.
func utf16Run(p []byte, z int) (lo, hi int, ok bool) {
	n := len(p)
	c := z + 1
	if c >= n || p[c] == 0 {
		c = z - 1
	}
	if c < 0 || p[c] == 0 {
		return 0, 0, false
	}
	lo, hi = c, c
	for lo >= 2 && p[lo-1] == 0 && p[lo-2] != 0 {
		lo -= 2
	}
	for hi+2 < n && p[hi+1] == 0 && p[hi+2] != 0 {
		hi += 2
	}
	return lo, hi + 1, (hi-lo)/2+1 >= 8
}

// decodeUTF16 decodes the character bytes p[lo], p[lo+2], … below hi. Each
// maps back to its whole code unit: with the NUL after it (little-endian)
// when there is one there, else with the NUL before it (big-endian).
func decodeUTF16(p []byte, lo, hi int, ts *transcodeScratch) {
	little := lo == 0 || p[lo-1] != 0 || hi < len(p) && p[hi] == 0
	for c := lo; c < hi; c += 2 {
		if little {
			ts.add(p[c], c, min(c+2, len(p))) // the text may end before the NUL
		} else {
			ts.add(p[c], max(0, c-1), c+1)
		}
	}
}

// decodeHex decodes the hex pairs from p[lo] on, separated by nothing or
// by up to two of ' ', ':' and '-', and continued over `hexdump -C` line
// ends ("  |ascii|" + line break + offset + two spaces). It returns where
// decoding stopped; a stray digit or separator before the first pair is
// skipped.
func decodeHex(p []byte, lo int, ts *transcodeScratch) int {
	n := len(p)
	i := lo
	for !(i+1 < n && hexDigitVal[p[i]] >= 0 && hexDigitVal[p[i+1]] >= 0) {
		if i+1 >= n || transcodeClass[p[i]]&clHex == 0 {
			return i + 1
		}
		i++
	}
	lineStart := len(ts.dec) // the first byte of the current dump line
	for i+1 < n {
		h, ok := hexByte(p[i], p[i+1])
		if !ok {
			break
		}
		ts.add(h, i, i+2)
		ts.altFrom = append(ts.altFrom, -1)
		ts.altTo = append(ts.altTo, -1)
		i += 2
		j := i
		for j < n && j-i < 2 && (p[j] == ' ' || p[j] == ':' || p[j] == '-') {
			j++
		}
		if j+1 < n && hexDigitVal[p[j]] >= 0 && hexDigitVal[p[j+1]] >= 0 {
			i = j
			continue
		}
		// The end of a hexdump line: its ASCII column shows the same bytes.
		colFrom, colTo, next, ok := hexdumpLineEnd(p, i)
		if !ok {
			break
		}
		markColumn(p, ts, lineStart, colFrom, colTo)
		lineStart = len(ts.dec)
		if next < 0 {
			return colTo + 1
		}
		i = next
	}
	return i
}

// hexdumpLineEnd parses what follows the last hex pair of a `hexdump -C`
// line at p[i]: two spaces, "|", the ASCII column p[colFrom:colTo], "|",
// and, when another line follows, a line break, an offset of 8 hex digits
// and two spaces; next is where that line's first pair starts, or -1.
func hexdumpLineEnd(p []byte, i int) (colFrom, colTo, next int, ok bool) {
	n := len(p)
	j := i
	for j < n && j-i < 50 && p[j] == ' ' { // a short last line pads with spaces
		j++
	}
	if j-i < 2 || j >= n || p[j] != '|' {
		return 0, 0, 0, false
	}
	colFrom = j + 1
	// The column may show '|' itself: its end is the last '|' in reach
	// that a line break follows, or else the first.
	colTo = -1
	for k := colFrom; k < min(n, colFrom+2*maxHexdumpColumn+1); k++ {
		if p[k] != '|' {
			continue
		}
		if colTo < 0 || k+1 == n || p[k+1] == '\n' || p[k+1] == '\r' || p[k+1] == '\\' {
			colTo = k
		}
	}
	if colTo < 0 {
		return 0, 0, 0, false
	}
	k := colTo + 1
	b := breakAt(p, k)
	if b == 0 {
		return colFrom, colTo, -1, true
	}
	k += b
	digits := 0
	for k < n && hexDigitVal[p[k]] >= 0 {
		k, digits = k+1, digits+1
	}
	if digits < 4 || k+3 >= n || p[k] != ' ' || p[k+1] != ' ' || hexDigitVal[p[k+2]] < 0 || hexDigitVal[p[k+3]] < 0 {
		return colFrom, colTo, -1, true
	}
	return colFrom, colTo, k + 2, true
}

// markColumn records which character of the ASCII column p[from:to] shows
// each of the decoded bytes of one dump line, from ts.dec[first] on. A
// column holding a backslash may be JSON-escaped, so that its characters
// and bytes no longer line up: then every byte maps to the whole column.
//
// Decoding may have started at the line's offset ("00000000"), whose
// bytes come first and have no column.
func markColumn(p []byte, ts *transcodeScratch, first, from, to int) {
	whole := bytes.IndexByte(p[from:to], '\\') >= 0 || to-from > len(ts.dec)-first
	if !whole {
		first = len(ts.dec) - (to - from)
	}
	for j := first; j < len(ts.dec); j++ {
		if whole {
			ts.altFrom[j], ts.altTo[j] = int32(from), int32(to)
		} else {
			c := from + j - first
			ts.altFrom[j], ts.altTo[j] = int32(c), int32(c+1)
		}
	}
}

// breakAt returns the length of the line break at p[i], 0 if none: LF or
// CRLF, real or JSON-escaped once, twice or three times ("\\n", "\\\\n",
// "\\\\\\\\n", and the same with "r" before).
func breakAt(p []byte, i int) int {
	n := len(p)
	if i >= n {
		return 0
	}
	switch p[i] {
	case '\n':
		return 1
	case '\r':
		if i+1 < n && p[i+1] == '\n' {
			return 2
		}
		return 0
	case '\\':
	default:
		return 0
	}
	k := 0
	for i+k < n && p[i+k] == '\\' && k < 5 {
		k++
	}
	if k == 3 || k > 4 || i+k >= n {
		return 0
	}
	switch p[i+k] {
	case 'n':
		return k + 1
	case 'r':
		j := i + k + 1
		if j+k < n && bytes.Count(p[j:j+k], []byte{'\\'}) == k && p[j+k] == 'n' {
			return 2*k + 2
		}
	}
	return 0
}

// breakEndingAt returns the start of a line break that ends at p[i], or -1.
func breakEndingAt(p []byte, i int) int {
	for _, k := range [...]int{1, 2, 3, 4, 5, 6, 10} {
		if i-k >= 0 && breakAt(p, i-k) == k {
			return i - k
		}
	}
	return -1
}

// base64JoinAt returns the length of the line break at p[i] if it wraps
// base64: at least minBase64Line base64 characters before it and one after.
func base64JoinAt(p []byte, i int) int {
	k := breakAt(p, i)
	if k == 0 || i < minBase64Line || i+k >= len(p) || !isBase64[p[i+k]] {
		return 0
	}
	for _, c := range p[i-minBase64Line : i] {
		if !isBase64[c] {
			return 0
		}
	}
	return k
}

// base64RunStart returns where the base64 run around p[i] starts, going
// back over line breaks that wrap it.
func base64RunStart(p []byte, i int) int {
	for {
		for i > 0 && isBase64[p[i-1]] {
			i--
		}
		if i > 0 && p[i-1] == '\\' {
			i++ // the letter of an escape such as "\n" is not base64
		}
		b := breakEndingAt(p, i)
		if b <= 0 || base64JoinAt(p, b) == 0 {
			return i
		}
		i = b
	}
}

// decodeBase64 decodes the base64 run from p[lo] (either alphabet, padded
// or not, wrapped or not) and returns where it ends. Each decoded byte maps
// back to the four characters it was encoded in, which carry no other bits
// than those of the three bytes of its quantum.
func decodeBase64(p []byte, lo int, ts *transcodeScratch) int {
	n := len(p)
	pos := ts.pos[:0]
	i := lo
	for i < n {
		if isBase64[p[i]] {
			pos = append(pos, int32(i))
			i++
			continue
		}
		if k := base64JoinAt(p, i); k > 0 && i > lo {
			i += k
			continue
		}
		break
	}
	ts.pos = pos
	end := i
	for end < n && p[end] == '=' && end-i < 2 {
		end++
	}
	var v uint32
	for k, at := range pos {
		v = v<<6 | uint32(base64Val[p[at]])
		if k%4 == 3 {
			q := k - 3
			from, to := int(pos[q]), int(at)+1
			ts.add(byte(v>>16), from, to)
			ts.add(byte(v>>8), from, to)
			ts.add(byte(v), from, to)
			v = 0
		}
	}
	// A last, partial quantum: 2 characters give 1 byte, 3 give 2.
	if r := len(pos) % 4; r >= 2 {
		q := len(pos) - r
		from, to := int(pos[q]), end
		v <<= 6 * uint(4-r)
		ts.add(byte(v>>16), from, to)
		if r == 3 {
			ts.add(byte(v>>8), from, to)
		}
	}
	return end
}

// base64Val maps a character of either base64 alphabet to its value.
var base64Val = func() (t [256]uint8) {
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := 0; i < len(std); i++ {
		t[std[i]] = uint8(i)
	}
	t['-'], t['_'] = 62, 63
	return t
}()

// qpTrigger reports whether the '=' at p[i] starts a quoted-printable soft
// line break or an "=XX" escape.
func qpTrigger(p []byte, i int) bool {
	if k := qpSoftBreak(p, i); k > 0 {
		return true
	}
	_, ok := qpEscape(p, i)
	return ok
}

// qpSoftBreak returns the length of the soft line break at p[i] — "=" and
// a line break, real or JSON-escaped — or 0.
func qpSoftBreak(p []byte, i int) int {
	if p[i] != '=' {
		return 0
	}
	if k := breakAt(p, i+1); k > 0 {
		return k + 1
	}
	return 0
}

// qpEscape decodes the "=XX" escape at p[i].
func qpEscape(p []byte, i int) (byte, bool) {
	if i+2 >= len(p) || p[i] != '=' {
		return 0, false
	}
	return hexByte(p[i+1], p[i+2])
}

// decodeQP decodes quoted-printable text from p[lo]: soft line breaks
// vanish, "=XX" becomes its byte, anything else stands for itself. It stops
// w bytes after the last soft break or escape seen (at least after at),
// since a key that crosses none of them is the first pass's to find, and
// returns where it stopped.
func decodeQP(p []byte, lo, at, w int, ts *transcodeScratch) int {
	n := len(p)
	stop := min(n, at+w)
	i := lo
	for i < stop {
		if p[i] == '=' {
			if k := qpSoftBreak(p, i); k > 0 {
				i += k
				stop = min(n, i+w)
				continue
			}
			if c, ok := qpEscape(p, i); ok {
				ts.add(c, i, i+3)
				i += 3
				stop = min(n, i+w)
				continue
			}
		}
		ts.add(p[i], i, i+1)
		i++
	}
	return i
}
