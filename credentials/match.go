package credentials

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// The matcher finds every occurrence of a set of patterns, ignoring ASCII
// case, with a q-gram filter rather than a byte-at-a-time automaton.
//
// Let m be the shortest pattern and q = min(8, m). The scan loads one q-byte
// window every step = m-q+1 bytes, folds it, and tests a hash of it against
// a bitmap. Any occurrence of a pattern is at least m bytes long, so the
// windows inside it fall at every step-th offset of the pattern, and exactly
// one of them falls in any run of step consecutive offsets. Only the q-grams
// at one such run per pattern go into the bitmap and into a table from
// q-gram to (pattern, offset), so a bitmap hit is rare in clean text, and
// each occurrence is verified once, by an exact comparison at the one place
// it can start.
//
// For keys of 20 bytes or more this reads one word per 13 or more bytes of
// text, where an automaton must take every byte: BenchmarkRedact measures it
// at 20 to 50 times the speed of github.com/petar-dambovaliev/aho-corasick
// (DFA, case folding, overlapping matches) over the same variants. A key
// shorter than 8 bytes makes the window shorter and the step 1, which is
// correct but slow.
type matcher struct {
	q, step        int
	mask           uint64 // the low q bytes of a loaded word
	minLen, maxLen int

	bitmap []uint64
	bshift uint // bitmap index: (key*hashMul) >> bshift

	// Open-addressing table from q-gram key to refs[start:end], one cache
	// line per probe; end == 0 marks an empty slot.
	slots  []gramSlot
	tshift uint
	tmask  uint64
	refs   []gramRef

	pats []matchPattern
	data []byte // the folded patterns, back to back

	contained []bool // by pattern: matchPatternSpec.contained
}

type matchPatternSpec struct {
	text string // folded to lower case
	id   int32  // secret index

	// contained says that every fragLen-byte window of text is a window of
	// another pattern, which the fragment index holds in its place.
	contained bool
}

type matchPattern struct {
	off, n uint32 // in matcher.data
	id     int32
}

type gramSlot struct {
	key        uint64
	start, end uint32
}

// gramRef says that a q-gram occurs at offset off of a pattern; it carries
// what verification needs so that a hit touches one more cache line, not
// two.
type gramRef struct {
	data, n uint32 // the pattern is m.data[data:data+n]
	off     uint32
	id      int32
	last    uint64 // the pattern's last 8 bytes (n >= 8), to reject without reading data
}

const (
	hashMul  = 0x9e3779b97f4a7c15 // bitmap hash
	tableMul = 0xff51afd7ed558ccd // table hash, independent of the bitmap's
	// foldBits sets the 0x20 bit of every byte: a lossy fold under which
	// two strings equal ignoring ASCII case are equal. The filter uses it;
	// verification folds exactly.
	foldBits = 0x2020202020202020
)

func newMatcher(specs []matchPatternSpec) *matcher {
	m := &matcher{minLen: -1}
	if len(specs) == 0 {
		return m
	}
	m.minLen = len(specs[0].text)
	total := 0
	for _, s := range specs {
		total += len(s.text)
	}
	m.pats = make([]matchPattern, 0, len(specs))
	m.data = make([]byte, 0, total)
	m.contained = make([]bool, 0, len(specs))
	for _, s := range specs {
		m.contained = append(m.contained, s.contained)
		m.minLen = min(m.minLen, len(s.text))
		m.maxLen = max(m.maxLen, len(s.text))
		m.pats = append(m.pats, matchPattern{off: uint32(len(m.data)), n: uint32(len(s.text)), id: s.id})
		m.data = append(m.data, s.text...)
	}
	m.q = min(8, m.minLen)
	m.step = m.minLen - m.q + 1
	m.mask = ^uint64(0)
	if m.q < 8 {
		m.mask = 1<<(8*m.q) - 1
	}

	// Any step consecutive offsets of a pattern will do, not just the first
	// ones. Keys share prefixes ("sk-live-", "ghp_") and so do their
	// encodings; a q-gram many patterns contain would send every hit to many
	// verifications. So each pattern indexes the run of step offsets whose
	// q-grams are rarest among all patterns.
	freq := newGramSketch(m.pats, m.q)
	for _, p := range m.pats {
		text := m.data[p.off : p.off+p.n]
		for off := 0; off+m.q <= len(text); off++ {
			freq.add(m.key(loadWord(text, off)))
		}
	}
	type gramEntry struct {
		key uint64
		ref gramRef
	}
	entries := make([]gramEntry, 0, len(m.pats)*m.step)
	var cost []int32
	for _, p := range m.pats {
		text := m.data[p.off : p.off+p.n]
		cost = cost[:0]
		for off := 0; off+m.q <= len(text); off++ {
			cost = append(cost, freq.count(m.key(loadWord(text, off))))
		}
		var sum int32
		for _, c := range cost[:m.step] {
			sum += c
		}
		best, bestSum := 0, sum
		for o := 1; o+m.step <= len(cost); o++ {
			sum += cost[o+m.step-1] - cost[o-1]
			if sum < bestSum {
				best, bestSum = o, sum
			}
		}
		var last uint64
		if len(text) >= 8 {
			last = binary.LittleEndian.Uint64(text[len(text)-8:])
		}
		for off := best; off < best+m.step; off++ {
			k := m.key(loadWord(text, off))
			entries = append(entries, gramEntry{k, gramRef{data: p.off, n: p.n, off: uint32(off), id: p.id, last: last}})
		}
	}

	// About 32 bits per q-gram keeps clean-text hits near 3% while the
	// bitmap still fits in L2 for a few hundred keys.
	bbits := max(12, min(26, bits.Len(uint(32*len(m.pats)*m.step))))
	m.bitmap = make([]uint64, 1<<bbits/64)
	m.bshift = uint(64 - bbits)
	tbits := max(4, bits.Len(uint(2*len(entries))))
	size := 1 << tbits
	m.slots = make([]gramSlot, size)
	m.tshift = uint(64 - tbits)
	m.tmask = uint64(size - 1)
	slot := func(k uint64) *gramSlot {
		i := (k * tableMul) >> m.tshift
		for m.slots[i].end != 0 && m.slots[i].key != k {
			i = (i + 1) & m.tmask
		}
		return &m.slots[i]
	}
	// Count each q-gram's refs in end, give each its range of refs, then
	// fill the ranges in pattern order, so that builds are reproducible.
	for _, e := range entries {
		sl := slot(e.key)
		if sl.end == 0 {
			h := (e.key * hashMul) >> m.bshift
			m.bitmap[h>>6] |= 1 << (h & 63)
			sl.key = e.key
		}
		sl.end++
	}
	next := uint32(0)
	for i := range m.slots {
		if sl := &m.slots[i]; sl.end != 0 {
			sl.start, sl.end, next = next, next, next+sl.end
		}
	}
	m.refs = make([]gramRef, len(entries))
	for _, e := range entries {
		sl := slot(e.key)
		m.refs[sl.end] = e.ref
		sl.end++
	}
	return m
}

// gramSketch estimates how many times each q-gram occurs among the
// patterns: a count-min sketch of saturating byte counters under two hashes,
// two to four counters per q-gram. It may count too high, never too low,
// which is all that choosing a rare run needs; an exact table of every
// q-gram of a client key's forms (a quarter of a million) cost more to build
// than the rest of the matcher.
type gramSketch struct {
	c     []uint8
	shift uint
}

func newGramSketch(pats []matchPattern, q int) *gramSketch {
	n := 0
	for _, p := range pats {
		n += max(0, int(p.n)-q+1)
	}
	b := max(12, min(22, bits.Len(uint(2*n))))
	return &gramSketch{c: make([]uint8, 1<<b), shift: uint(64 - b)}
}

func (s *gramSketch) add(k uint64) {
	i, j := (k*hashMul)>>s.shift, (k*tableMul)>>s.shift
	if s.c[i] < 255 {
		s.c[i]++
	}
	if s.c[j] < 255 {
		s.c[j]++
	}
}

func (s *gramSketch) count(k uint64) int32 {
	return int32(min(s.c[(k*hashMul)>>s.shift], s.c[(k*tableMul)>>s.shift]))
}

// key is the filter's view of a loaded word: the first q bytes, lossily
// folded.
func (m *matcher) key(w uint64) uint64 { return (w | foldBits) & m.mask }

// lookup returns where the q-gram with this key occurs in the patterns.
func (m *matcher) lookup(k uint64) []gramRef {
	i := (k * tableMul) >> m.tshift
	for {
		sl := &m.slots[i]
		if sl.end == 0 {
			return nil
		}
		if sl.key == k {
			return m.refs[sl.start:sl.end]
		}
		i = (i + 1) & m.tmask
	}
}

// find appends to dst every occurrence of every pattern in text.
func (m *matcher) find(text []byte, dst []redactSpan) []redactSpan {
	if m.minLen < 0 || len(text) < m.minLen {
		return dst
	}
	last := len(text) - m.q // the last position a window fits
	p := 0
	if m.q == 8 {
		// The hot loop: one load, fold, multiply and bit test per step.
		bitmap, shift, step := m.bitmap, m.bshift, m.step
		for ; p <= last; p += step {
			k := binary.LittleEndian.Uint64(text[p:]) | foldBits
			h := (k * hashMul) >> shift
			if bitmap[h>>6]&(1<<(h&63)) != 0 {
				dst = m.verify(text, p, k, dst)
			}
		}
		return dst
	}
	for ; p <= last; p += m.step {
		k := m.key(loadWord(text, p))
		h := (k * hashMul) >> m.bshift
		if m.bitmap[h>>6]&(1<<(h&63)) != 0 {
			dst = m.verify(text, p, k, dst)
		}
	}
	return dst
}

// verify checks each pattern whose q-gram k was seen at p.
func (m *matcher) verify(text []byte, p int, k uint64, dst []redactSpan) []redactSpan {
	for _, g := range m.lookup(k) {
		s := p - int(g.off)
		e := s + int(g.n)
		if s < 0 || e > len(text) {
			continue
		}
		// Encoded keys share long prefixes ("sk-live-" in \u00XX form is
		// 48 bytes), so the last word rejects a wrong candidate sooner than
		// the first, and without a cache miss on the pattern.
		v := m.data[g.data : g.data+g.n]
		if g.n >= 8 {
			if lower8(binary.LittleEndian.Uint64(text[e-8:])) != g.last {
				continue
			}
			// The last word matched, so whole words up to it will do.
			v = v[:(g.n-1)&^7]
		}
		if equalFold(text[s:e], v) {
			dst = append(dst, redactSpan{start: s, end: e, id: g.id, size: int32(g.n)})
		}
	}
	return dst
}

// loadWord returns up to 8 bytes of b from i, little-endian, zero-padded.
func loadWord(b []byte, i int) uint64 {
	if i+8 <= len(b) {
		return binary.LittleEndian.Uint64(b[i:])
	}
	var w [8]byte
	copy(w[:], b[i:])
	return binary.LittleEndian.Uint64(w[:])
}

// equalFold reports whether t equals the lower-case pattern v, ignoring
// ASCII case, eight bytes at a time.
func equalFold(t, v []byte) bool {
	i := 0
	for ; i+8 <= len(v); i += 8 {
		if lower8(binary.LittleEndian.Uint64(t[i:])) != binary.LittleEndian.Uint64(v[i:]) {
			return false
		}
	}
	for ; i < len(v); i++ {
		if lowerASCII[t[i]] != v[i] {
			return false
		}
	}
	return true
}

// lower8 folds the ASCII upper-case letters among eight bytes to lower case.
func lower8(x uint64) uint64 {
	const high = 0x8080808080808080
	b := x &^ high
	ge := b + 0x3f3f3f3f3f3f3f3f // high bit set where b >= 'A'
	gt := b + 0x2525252525252525 // high bit set where b > 'Z'
	upper := ge &^ gt &^ x & high
	return x | upper>>2
}

// lowerASCII maps each byte to its ASCII lower case.
var lowerASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

func foldString(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = lowerASCII[c]
	}
	return string(b)
}

// Fragments. A fragIndex finds every run of fragLen or more consecutive
// bytes of text that is also a run of some pattern, ignoring ASCII case: a
// key cut short, or a piece of one of its encodings. Such runs are exactly
// the union of the text's fragLen-byte windows that occur somewhere in a
// pattern, so the index holds every fragLen-gram of every pattern and
// reports the union.
//
// It extends the matcher's q-gram filter. Any run of fragLen bytes holds a
// whole fragProbe-byte window at an offset that is a multiple of
// fragStride (fragProbe+fragStride-1 = fragLen), so the scan probes one
// fragProbe-gram every fragStride bytes against a bitmap of all the
// patterns' fragProbe-grams. Only on a hit does it look at the fragLen-byte
// windows around the probe, in an exact table; and once a window is found,
// it follows the pattern it came from byte by byte rather than looking up
// the next window, so a planted key costs a few lookups, not one per byte.
type fragIndex struct {
	bitmap []uint64
	bshift uint

	slots  []fragSlot // open addressing on the folded fragLen-gram; n == 0: empty
	tshift uint
	tmask  uint64

	data      []byte         // the folded patterns, back to back (matcher.data)
	pats      []matchPattern // matcher.pats
	contained []bool         // matcher.contained: patterns the index leaves out

	// prefixes holds every folded prefix of 4 to fragLen-1 bytes of a
	// pattern, as a zero-padded little-endian word: what a cut must not
	// leave at the end of text.
	prefixes map[uint64]bool
}

const (
	fragLen    = 8 // the shortest run of a pattern that is redacted
	fragProbe  = 5
	fragStride = fragLen - fragProbe + 1
	fragMask   = 1<<(8*fragProbe) - 1
	minPrefix  = 4 // the shortest pattern prefix a cut must not leave
)

// fragSlot says that a fragLen-gram occurs at data[pos:] in pattern
// pats[pat-1]; pat == 0 marks an empty slot. Sixteen bytes, four to a cache
// line: with many keys the table outgrows the caches.
type fragSlot struct {
	key      uint64
	pos, pat uint32
}

// fragments builds the fragment index of m's patterns. A contained pattern
// adds no window of its own and is left out: the lines of a client key's
// PEM, and their encodings byte by byte, are pieces of its joined body's.
func (m *matcher) fragments() *fragIndex {
	fx := &fragIndex{data: m.data, pats: m.pats, contained: m.contained, prefixes: make(map[uint64]bool)}
	grams, windows := 0, 0
	for pi, p := range m.pats {
		for k := minPrefix; k < fragLen && k <= int(p.n); k++ {
			fx.prefixes[loadWord(m.data[p.off:p.off+uint32(k)], 0)] = true
		}
		if !m.contained[pi] {
			grams += max(0, int(p.n)-fragProbe+1)
			windows += max(0, int(p.n)-fragLen+1)
		}
	}
	// Eight bits per gram: the scan probes every fragStride bytes, so
	// the bitmap must stay in L2 (256 KiB for 100 keys); the few more
	// false hits cost less than missing the cache on every probe.
	bbits := max(12, min(24, bits.Len(uint(8*grams))))
	fx.bitmap = make([]uint64, 1<<bbits/64)
	fx.bshift = uint(64 - bbits)
	// The forms of one key share most of their windows (a PEM and its
	// joined body differ only where the lines break), so the table is
	// sized for the distinct windows, estimated first; too low an estimate
	// is caught while filling, and the table made for every window.
	distinct := windows
	if windows > 4096 {
		distinct = m.distinctWindows(windows)
	}
	for !fx.fill(m, distinct) {
		distinct = windows
	}
	fx.setProbes(fx.bitmap, fx.bshift)
	return fx
}

// fill makes the window table for about distinct windows, at most half
// full, and fills it with the windows of m's patterns. It reports false,
// leaving a table that must be made again, when there are more than that.
func (fx *fragIndex) fill(m *matcher, distinct int) bool {
	tbits := max(4, bits.Len(uint(2*distinct)))
	fx.slots = make([]fragSlot, 1<<tbits)
	fx.tshift = uint(64 - tbits)
	fx.tmask = uint64(1<<tbits - 1)
	limit, used := len(fx.slots)*3/4, 0
	for pi, p := range m.pats {
		if m.contained[pi] {
			continue
		}
		text := m.data[p.off : p.off+p.n]
		for off := 0; off+fragLen <= len(text); off++ {
			k := binary.LittleEndian.Uint64(text[off:])
			i := (k * tableMul) >> fx.tshift
			for fx.slots[i].pat != 0 && fx.slots[i].key != k {
				i = (i + 1) & fx.tmask
			}
			if fx.slots[i].pat == 0 { // the first pattern to hold a gram names it
				if used++; used > limit {
					return false
				}
				fx.slots[i] = fragSlot{key: k, pos: p.off + uint32(off), pat: uint32(pi + 1)}
			}
		}
	}
	return true
}

// distinctWindows estimates how many distinct fragLen-byte windows the
// patterns that are not contained hold, of windows in all, by linear
// counting: the share of a bitmap's bits that no window's hash set. With
// eight bits per window the estimate is within a few percent.
func (m *matcher) distinctWindows(windows int) int {
	b := bits.Len(uint(8 * windows))
	bm := make([]uint64, max(1, 1<<b/64))
	shift := uint(64 - b)
	for pi, p := range m.pats {
		if m.contained[pi] {
			continue
		}
		text := m.data[p.off : p.off+p.n]
		for off := 0; off+fragLen <= len(text); off++ {
			h := (binary.LittleEndian.Uint64(text[off:]) * hashMul) >> shift
			bm[h>>6] |= 1 << (h & 63)
		}
	}
	zero := 0
	for _, w := range bm {
		zero += 64 - bits.OnesCount64(w)
	}
	total := float64(len(bm) * 64)
	return int(-total*math.Log(max(float64(zero), 1)/total)) + 1
}

// window looks up the fragLen-byte window of text at w.
func (fx *fragIndex) window(text []byte, w int) *fragSlot {
	k := lower8(binary.LittleEndian.Uint64(text[w:]))
	i := (k * tableMul) >> fx.tshift
	for {
		sl := &fx.slots[i]
		if sl.pat == 0 {
			return nil
		}
		if sl.key == k {
			return sl
		}
		i = (i + 1) & fx.tmask
	}
}

// find appends to dst the runs of text that are runs of a pattern and at
// least fragLen long, merged where they overlap or touch, in order. A
// run's id is the secret of the first window found in it.
func (fx *fragIndex) find(text []byte, dst []redactSpan) []redactSpan {
	n := len(text)
	if n < fragLen {
		return dst
	}
	next := 0 // windows before next were looked at
	bitmap, shift := fx.bitmap, fx.bshift
	for p := 0; p+fragProbe <= n; p += fragStride {
		k := probeKey(text, p)
		h := (k * hashMul) >> shift
		if bitmap[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		dst, next = fx.windowsAt(text, p, next, dst)
	}
	return dst
}

// probeKey is the folded fragProbe-gram of text at p.
func probeKey(text []byte, p int) uint64 {
	if p+8 <= len(text) {
		return (binary.LittleEndian.Uint64(text[p:]) | foldBits) & fragMask
	}
	return (loadWord(text, p) | foldBits) & fragMask
}

// windowsAt looks up the windows holding text[p:p+fragProbe] from next on
// (those before were looked at), appends to dst the runs they start,
// merged with the last where they overlap or touch, and returns dst and
// the next window to look at.
func (fx *fragIndex) windowsAt(text []byte, p, next int, dst []redactSpan) ([]redactSpan, int) {
	n := len(text)
	for w := max(p-fragStride+1, next); w <= p && w+fragLen <= n; w++ {
		next = w + 1
		sl := fx.window(text, w)
		if sl == nil {
			continue
		}
		// Follow the pattern: the window at w+j is one of its grams
		// while the next byte matches too.
		pat := fx.pats[sl.pat-1]
		e, end := w+fragLen, int(pat.off+pat.n)
		for q := int(sl.pos) + fragLen; e < n && q < end && lowerASCII[text[e]] == fx.data[q]; q++ {
			e++
		}
		if k := len(dst) - 1; k >= 0 && w <= dst[k].end {
			dst[k].end = max(dst[k].end, e)
		} else {
			dst = append(dst, redactSpan{start: w, end: e, id: pat.id, size: int32(e - w)})
		}
		w = e - fragLen // the loop's w++ looks at the next window
		next = w + 1
	}
	return dst, next
}

// setProbes sets in bm, a bitmap indexed by the top 64-shift bits of a
// hash, the bit of every fragProbe-gram of the patterns the index holds.
func (fx *fragIndex) setProbes(bm []uint64, shift uint) {
	for pi, p := range fx.pats {
		if fx.contained[pi] {
			continue
		}
		text := fx.data[p.off : p.off+p.n]
		for off := 0; off+fragProbe <= len(text); off++ {
			h := (((loadWord(text, off) | foldBits) & fragMask) * hashMul) >> shift
			bm[h>>6] |= 1 << (h & 63)
		}
	}
}

// endsWithPrefix reports whether text ends with a prefix of minPrefix to
// fragLen-1 bytes of a pattern, and returns the longest such length.
func (fx *fragIndex) endsWithPrefix(text []byte) int {
	for k := min(fragLen-1, len(text)); k >= minPrefix; k-- {
		var w [8]byte
		for i, c := range text[len(text)-k:] {
			w[i] = lowerASCII[c]
		}
		if fx.prefixes[binary.LittleEndian.Uint64(w[:])] {
			return k
		}
	}
	return 0
}
