package credentials

import (
	"encoding/binary"
	"math/bits"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"
	"unsafe"
)

// Redactor removes every secret it knows from text, in every encoding listed
// in redact_variants.go, ignoring ASCII case, and replaces each one with
// "[REDACTED:NAME]". It is the choke point that stdout, stderr and the audit
// file pass through: content-level redaction elsewhere makes output nicer,
// this makes it safe.
//
// Text is searched twice. The first pass looks for every variant of every
// secret as it stands. The second looks again in copies with one, two and
// three layers of escaping undone (percent, \uXXXX, \xXX, JSON and HTML
// escapes) and base64 lines joined, and maps what it finds back to whole
// escape sequences of the original: this catches a key that is only partly
// encoded, or encoded again (a JSON-escaped "\u0073k-..." inside a JSON
// string becomes "\\u0073k-..."). Overlapping and touching matches are
// merged, so no tail of one match survives next to another.
//
// A replacement never starts or ends inside an escape sequence or a UTF-8
// character of the original: a match that does is widened to the whole
// sequence. Redacting valid JSON therefore yields valid JSON — a bare
// "\" left before the marker would otherwise escape it.
//
// The zero Redactor and a nil *Redactor know no secrets and return text
// untouched. All methods are safe for concurrent use; [Redactor.Add] may run
// while other goroutines redact.
type Redactor struct {
	mu      sync.Mutex // serializes Add
	secrets []Secret   // guarded by mu; every secret known, in order added

	// state is rebuilt from secrets on every Add and swapped in whole, so
	// Redact never takes a lock and never sees half a secret list.
	state atomic.Pointer[redactState]
}

// NewRedactor returns a Redactor that knows secrets. Secrets with an empty
// value are ignored: an empty string would match everywhere.
func NewRedactor(secrets ...Secret) *Redactor {
	r := &Redactor{}
	r.Add(secrets...)
	return r
}

// Add teaches the Redactor more secrets, such as an OAuth token obtained
// while running. It is safe to call while other goroutines redact: they see
// either the old set or the new one, never a mix. Empty secrets and values
// already known are skipped (the first name given to a value is the one its
// marker shows).
func (r *Redactor) Add(secrets ...Secret) {
	r.mu.Lock()
	defer r.mu.Unlock()
	added := false
	for _, s := range secrets {
		if s.IsZero() || slices.ContainsFunc(r.secrets, s.Equal) {
			continue
		}
		r.secrets = append(r.secrets, s)
		added = true
	}
	if added {
		r.state.Store(newRedactState(r.secrets))
	}
}

// Redact returns p with every secret replaced by its marker. When nothing
// matched it returns p itself, without copying or allocating, so clean text
// costs one read. It never writes into p: the result of a redaction is a
// new slice, and p may be shared with the caller.
func (r *Redactor) Redact(p []byte) []byte {
	st := r.current()
	if st == nil {
		return p
	}
	sc := st.scratch()
	defer st.keep(sc)
	ss := st.spans(p, sc)
	if len(ss) == 0 {
		return p
	}
	return st.apply(p, ss)
}

// RedactString is [Redactor.Redact] for strings; it returns s itself when
// nothing matched.
func (r *Redactor) RedactString(s string) string {
	st := r.current()
	if st == nil || s == "" {
		return s
	}
	// A read-only view of s: spans and apply never write into their input.
	p := unsafe.Slice(unsafe.StringData(s), len(s))
	sc := st.scratch()
	defer st.keep(sc)
	ss := st.spans(p, sc)
	if len(ss) == 0 {
		return s
	}
	var b strings.Builder // one allocation, not zeroed, not copied again
	b.Grow(st.redactedLen(p, ss))
	prev := 0
	for _, sp := range ss {
		b.Write(p[prev:sp.start])
		b.WriteString(st.markers[sp.id])
		prev = sp.end
	}
	b.Write(p[prev:])
	return b.String()
}

// current returns the matcher state, or nil when no secret is known.
func (r *Redactor) current() *redactState {
	if r == nil {
		return nil
	}
	return r.state.Load()
}

// redactState is everything Redact needs, built once per secret list and
// never modified afterwards.
type redactState struct {
	m       *matcher
	markers []string // by secret index: "[REDACTED:NAME]"

	// relevant holds the (lower-case) bytes that occur in some variant. An
	// escape that decodes to none of them cannot be part of a match, so the
	// second pass need not look around it.
	relevant [256]bool

	// holdback is how many trailing bytes a streaming Writer keeps back so
	// that a match still arriving is not cut: the longest original text a
	// match can span with one layer of escaping (a key escaped in several
	// layers can span more; see Writer).
	holdback int

	// spare is working memory for one call at a time: taken by a call,
	// given back after. A concurrent call makes its own.
	spare atomic.Pointer[redactScratch]
}

// maxSpare is the most working memory per layer of decoding kept between
// calls; a larger text's is left to the garbage collector.
const maxSpare = 4 << 20

// scratch returns working memory for one call; keep gives it back.
func (st *redactState) scratch() *redactScratch {
	if sc := st.spare.Swap(nil); sc != nil {
		return sc
	}
	return new(redactScratch)
}

func (st *redactState) keep(sc *redactScratch) {
	for i := range sc.layers {
		if lv := &sc.layers[i]; cap(lv.out)+cap(lv.buf)+cap(lv.dec) > maxSpare {
			sc.layers[i] = layerScratch{}
		}
	}
	st.spare.Store(sc)
}

func newRedactState(secrets []Secret) *redactState {
	st := &redactState{markers: make([]string, len(secrets))}
	seen := make(map[string]bool)
	var pats []matchPatternSpec
	for id, s := range secrets {
		st.markers[id] = s.String()
		for _, v := range variantsOf(s.Reveal()) {
			f := foldString(v.text)
			if seen[f] {
				continue
			}
			seen[f] = true
			pats = append(pats, matchPatternSpec{text: f, id: int32(id)})
			for i := 0; i < len(f); i++ {
				st.relevant[f[i]] = true
			}
		}
	}
	st.m = newMatcher(pats)
	// A match in the decoded text is at most maxLen bytes, each from at
	// most maxEscapeLen original ones, plus the line breaks joined inside
	// it (one per minBase64Line bytes, 4 bytes each) and widening.
	st.holdback = (maxEscapeLen+1)*st.m.maxLen + 4*maxEscapeLen
	return st
}

// redactSpan is a byte range [start, end) of the text to replace by the
// marker of secret id; size is the length of the variant that matched, so
// that merged spans are named after their longest match.
type redactSpan struct {
	start, end int
	id         int32
	size       int32
}

// spans returns the merged, sorted ranges of p to replace, in memory of
// sc; empty when p holds no secret.
func (st *redactState) spans(p []byte, sc *redactScratch) []redactSpan {
	ss := st.m.find(p, sc.spans[:0])
	first := len(ss)
	ss = st.decodedPass(p, ss, sc)
	sc.spans = ss
	if len(ss) == 0 {
		return ss
	}
	for i := range ss {
		ss[i].start, ss[i].end = widenSpan(p, ss[i].start, ss[i].end)
	}
	// Each pass finds its spans almost in order; sort each, then merge.
	sortSpans(ss[:first])
	sortSpans(ss[first:])
	sc.merged = mergeSpans(ss[:first], ss[first:], sc.merged[:0])
	return sc.merged
}

// mergeSpans appends to out the spans of a and b, each sorted by spanLess,
// with overlapping and touching spans merged. A merged span carries the
// name of its longest match (of the secret added first, on a tie); what
// matters is that no byte of any of them survives.
func mergeSpans(a, b, out []redactSpan) []redactSpan {
	for len(a) > 0 || len(b) > 0 {
		var s redactSpan
		if len(b) == 0 || len(a) > 0 && !spanLess(b[0], a[0]) {
			s, a = a[0], a[1:]
		} else {
			s, b = b[0], b[1:]
		}
		if len(out) == 0 || s.start > out[len(out)-1].end {
			out = append(out, s)
			continue
		}
		last := &out[len(out)-1]
		last.end = max(last.end, s.end)
		if s.size > last.size || s.size == last.size && s.id < last.id {
			last.id, last.size = s.id, s.size
		}
	}
	return out
}

// spanLess orders spans by start, then longest first, then by secret.
func spanLess(a, b redactSpan) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	if a.size != b.size {
		return a.size > b.size
	}
	return a.id < b.id
}

// sortSpans sorts ss by spanLess. The matcher finds spans almost in order,
// so an insertion sort usually does it in one pass; text built to defeat
// that (many overlapping matches) falls back to a general sort.
func sortSpans(ss []redactSpan) {
	budget := 8 * len(ss)
	for i := 1; i < len(ss); i++ {
		for j := i; j > 0 && spanLess(ss[j], ss[j-1]); j-- {
			ss[j], ss[j-1] = ss[j-1], ss[j]
			if budget--; budget == 0 {
				slices.SortFunc(ss, func(a, b redactSpan) int {
					if spanLess(a, b) {
						return -1
					}
					if spanLess(b, a) {
						return 1
					}
					return 0
				})
				return
			}
		}
	}
}

// widenSpan grows [s, e) until neither end falls inside an escape sequence or a
// UTF-8 character of p. Cutting "\n" after its backslash would leave a "\"
// that escapes the marker's "[" and breaks the JSON around it.
func widenSpan(p []byte, s, e int) (int, int) {
	for {
		j := coveringEscape(p, s)
		if j < 0 {
			break
		}
		s = j
	}
	for {
		j := coveringEscape(p, e)
		if j < 0 {
			break
		}
		e = j + escapeLen(p, j)
	}
	for k := 0; k < utf8.UTFMax-1 && s > 0 && s < len(p) && !utf8.RuneStart(p[s]); k++ {
		s--
	}
	for k := 0; k < utf8.UTFMax-1 && e < len(p) && !utf8.RuneStart(p[e]); k++ {
		e++
	}
	return s, e
}

// redactedLen returns the length of p with each span replaced.
func (st *redactState) redactedLen(p []byte, ss []redactSpan) int {
	n := len(p)
	for _, s := range ss {
		n += len(st.markers[s.id]) - (s.end - s.start)
	}
	return n
}

// apply returns a copy of p with each span replaced by its marker.
func (st *redactState) apply(p []byte, ss []redactSpan) []byte {
	out := make([]byte, 0, st.redactedLen(p, ss))
	prev := 0
	for _, s := range ss {
		out = append(out, p[prev:s.start]...)
		out = append(out, st.markers[s.id]...)
		prev = s.end
	}
	return append(out, p[prev:]...)
}

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
}

type matchPatternSpec struct {
	text string // folded to lower case
	id   int32  // secret index
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
	for _, s := range specs {
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
	freq := make(map[uint64]int32)
	for _, p := range m.pats {
		text := m.data[p.off : p.off+p.n]
		for off := 0; off+m.q <= len(text); off++ {
			freq[m.key(loadWord(text, off))]++
		}
	}
	grams := make(map[uint64][]gramRef)
	var keys []uint64 // in first-seen order, so that builds are reproducible
	var cost []int32
	for _, p := range m.pats {
		text := m.data[p.off : p.off+p.n]
		cost = cost[:0]
		for off := 0; off+m.q <= len(text); off++ {
			cost = append(cost, freq[m.key(loadWord(text, off))])
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
		for off := best; off < best+m.step; off++ {
			k := m.key(loadWord(text, off))
			if _, ok := grams[k]; !ok {
				keys = append(keys, k)
			}
			var last uint64
			if len(text) >= 8 {
				last = binary.LittleEndian.Uint64(text[len(text)-8:])
			}
			grams[k] = append(grams[k], gramRef{data: p.off, n: p.n, off: uint32(off), id: p.id, last: last})
		}
	}

	// About 32 bits per q-gram keeps clean-text hits near 3% while the
	// bitmap still fits in L2 for a few hundred keys.
	bbits := max(12, min(26, bits.Len(uint(32*len(m.pats)*m.step))))
	m.bitmap = make([]uint64, 1<<bbits/64)
	m.bshift = uint(64 - bbits)
	tbits := max(4, bits.Len(uint(2*len(keys))))
	size := 1 << tbits
	m.slots = make([]gramSlot, size)
	m.tshift = uint(64 - tbits)
	m.tmask = uint64(size - 1)
	for _, k := range keys {
		h := (k * hashMul) >> m.bshift
		m.bitmap[h>>6] |= 1 << (h & 63)
		i := (k * tableMul) >> m.tshift
		for m.slots[i].end != 0 {
			i = (i + 1) & m.tmask
		}
		start := uint32(len(m.refs))
		m.refs = append(m.refs, grams[k]...)
		m.slots[i] = gramSlot{key: k, start: start, end: uint32(len(m.refs))}
	}
	return m
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
