package credentials

import (
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
// merged, so no tail of one match survives next to another. For text
// from upstream, [Redactor.RedactFragments] adds a third pass
// (redact_transcode.go) that undoes whole encodings an echo or debug API
// produces — UTF-16, hexdumps, base64 inside base64, quoted-printable.
//
// Text that came from an API in answer to one call goes through
// [Redactor.RedactFragments] instead, which also removes pieces of keys
// (8 or more bytes of any variant) that the model did not send itself, and
// is shortened only after that, with [Redactor.Cut] (redact_fragment.go).
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
	mu     sync.Mutex     // serializes Add and Forget
	groups []*redactGroup // guarded by mu; every secret known, in order added

	// state is built from groups on every change and swapped in whole, so
	// Redact never takes a lock and never sees half a secret list. Only the
	// groups a change touches are rebuilt (redact_groups.go).
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
	var adds []Secret
	for _, s := range secrets {
		if s.IsZero() || slices.ContainsFunc(adds, s.Equal) || r.knows(s) {
			continue
		}
		adds = append(adds, s)
	}
	if len(adds) > 0 {
		r.groups = withGroups(r.groups, adds)
		r.state.Store(newRedactState(r.groups))
	}
}

// knows reports whether s's value is among the secrets known. r.mu is held.
func (r *Redactor) knows(s Secret) bool {
	for _, g := range r.groups {
		if slices.ContainsFunc(g.secrets, s.Equal) {
			return true
		}
	}
	return false
}

// Forget makes the Redactor stop looking for secrets it was taught with
// [Redactor.Add]: those with the same name and value. It exists for
// short-lived secrets such as OAuth access tokens, which would otherwise
// pile up (a token that lives one second is replaced every second) and
// slow every redaction. Forget only a value that keyveil no longer holds
// and that no longer grants access: the Redactor's guarantee covers what
// it knows.
func (r *Redactor) Forget(secrets ...Secret) {
	r.mu.Lock()
	defer r.mu.Unlock()
	forgotten := func(k Secret) bool {
		return slices.ContainsFunc(secrets, func(s Secret) bool { return s.Name() == k.Name() && s.Equal(k) })
	}
	changed := false
	groups := make([]*redactGroup, 0, len(r.groups))
	for _, g := range r.groups {
		if !slices.ContainsFunc(g.secrets, forgotten) {
			groups = append(groups, g)
			continue
		}
		changed = true
		if rest := slices.DeleteFunc(slices.Clone(g.secrets), forgotten); len(rest) > 0 {
			groups = append(groups, newRedactGroup(rest))
		}
	}
	switch {
	case !changed:
	case len(groups) == 0:
		r.groups = nil
		r.state.Store(nil)
	default:
		r.groups = groups
		r.state.Store(newRedactState(groups))
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

// redactState is everything Redact needs, built once per set of groups
// and never modified afterwards.
type redactState struct {
	groups  []*redactGroup
	m       *matchSet
	markers []string // by secret index over all groups: "[REDACTED:NAME]"

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

	// frag is the fragment indexes of every group (see
	// redact_fragment.go), built on first use: only the tools pipeline asks
	// for fragments, so the choke points and start-up never pay for it. A
	// group's index, once built, serves every state that holds the group.
	fragOnce sync.Once
	frag     *fragSet
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

func newRedactState(groups []*redactGroup) *redactState {
	st := &redactState{groups: groups, m: &matchSet{minLen: -1}}
	for _, g := range groups {
		st.m.ms = append(st.m.ms, g.m)
		st.m.base = append(st.m.base, int32(len(st.markers)))
		for _, s := range g.secrets {
			st.markers = append(st.markers, s.String())
		}
		for c, ok := range g.relevant {
			st.relevant[c] = st.relevant[c] || ok
		}
		if g.m.minLen >= 0 && (st.m.minLen < 0 || g.m.minLen < st.m.minLen) {
			st.m.minLen = g.m.minLen
		}
		st.m.maxLen = max(st.m.maxLen, g.m.maxLen)
	}
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
	return st.spansWith(p, sc, false)
}

// spansWith is spans, with the third pass (redact_transcode.go) too when
// third is set: for text from upstream, where reflections arrive.
func (st *redactState) spansWith(p []byte, sc *redactScratch, third bool) []redactSpan {
	ss := st.m.find(p, sc.spans[:0])
	first := len(ss)
	ss = st.decodedPass(p, ss, sc)
	if third {
		ss = st.transcodedPass(p, ss, sc, 0)
	}
	sc.spans = ss
	if len(ss) == 0 {
		return ss
	}
	for i := range ss {
		// A pass that maps a match back through a decoding must stay
		// inside p; if one ever does not, redact to the end rather than
		// panic on the choke point.
		ss[i].start, ss[i].end = max(0, min(ss[i].start, len(p))), min(ss[i].end, len(p))
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
