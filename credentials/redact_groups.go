package credentials

import (
	"slices"
	"strings"
	"sync"
	"unicode/utf8"
)

// Secrets are held in groups, each with its own matcher and fragment index,
// so that teaching the Redactor one more secret does not rebuild what it
// already knows. A tls client key registers a dozen forms of 1 to 2 KB, and
// the matcher and fragment index of those take tens of milliseconds and
// megabytes to build; an OAuth access token arrives (and the one before it
// is forgotten) every few minutes or seconds. With one index for all, every
// token paid for the key again. With groups, Add builds a group of the new
// secrets alone (merged with the last group when that one is no bigger, as
// a binary counter merges, so that many small Adds do not leave many small
// groups), and Forget rebuilds only the groups that held what it forgets.
//
// A redaction consults every group of one redactState, which is still
// swapped in whole: it sees the old set of groups or the new one, never a
// mix. Groups are immutable once built and shared between states; what a
// group builds lazily (its fragment index) is built once for all of them.

// redactGroup is some of the Redactor's secrets and what matching them
// needs. Its matcher's ids index secrets; a state adds the group's base.
type redactGroup struct {
	secrets  []Secret // in the order added
	m        *matcher
	relevant [256]bool // see redactState.relevant
	weight   int       // bytes of secret values, for the merge policy

	fragOnce sync.Once
	frag     *fragIndex
}

// mergeBelow is the weight under which the last group is always merged
// into a new one: rebuilding a few hundred bytes of API keys costs less
// than scanning text once more on every redaction.
const mergeBelow = 1024

func newRedactGroup(secrets []Secret) *redactGroup {
	g := &redactGroup{secrets: secrets}
	seen := make(map[string]bool)
	var pats []matchPatternSpec
	for id, s := range secrets {
		g.weight += len(s.Reveal())
		in := containedIn(s.Reveal(), secrets)
		for _, v := range variantsOf(s.Reveal()) {
			f := foldString(v.text)
			if seen[f] {
				continue
			}
			seen[f] = true
			pats = append(pats, matchPatternSpec{text: f, id: int32(id), contained: in && bytewise[v.kind]})
			for i := 0; i < len(f); i++ {
				g.relevant[f[i]] = true
			}
		}
	}
	g.m = newMatcher(pats)
	return g
}

// bytewise holds the kinds of variant (redact_variants.go) that encode a
// secret byte by byte, each byte on its own: the variant of a piece of a
// value is then a piece of the value's variant. UTF-16 is among them when
// the piece and the value are both valid UTF-8 (containedIn checks): a
// valid piece of valid UTF-8 starts and ends on whole characters.
var bytewise = map[string]bool{
	"raw": true, "reversed": true, "hex": true, "percent": true, "json-u": true,
	"html-dec": true, "html-hex": true, "utf16le": true, "utf16be": true,
}

// containedIn reports whether v is part of a longer value among secrets,
// both valid UTF-8 or both not: then every window of v's bytewise variants
// is a window of that value's, and the fragment index need not hold v's.
// A client key's PEM lines are parts of its joined body. Only values of
// fragLen bytes or more are looked for: a shorter one has no window.
func containedIn(v string, secrets []Secret) bool {
	if len(v) < fragLen {
		return false
	}
	for _, t := range secrets {
		if w := t.Reveal(); len(w) > len(v) && utf8.ValidString(w) == utf8.ValidString(v) && strings.Contains(w, v) {
			return true
		}
	}
	return false
}

// fragments returns the group's fragment index, building it on first use.
func (g *redactGroup) fragments() *fragIndex {
	g.fragOnce.Do(func() { g.frag = g.m.fragments() })
	return g.frag
}

// withGroups returns groups with adds appended as a new group, merged with
// the trailing groups that are no heavier than it (or lighter than
// mergeBelow). Merging only at the end keeps secrets in the order added,
// which names a merged span after the secret added first.
func withGroups(groups []*redactGroup, adds []Secret) []*redactGroup {
	weight := 0
	for _, s := range adds {
		weight += len(s.Reveal())
	}
	n := len(groups)
	for n > 0 && (groups[n-1].weight <= weight || groups[n-1].weight < mergeBelow) {
		n--
		weight += groups[n].weight
	}
	var secrets []Secret
	for _, g := range groups[n:] {
		secrets = append(secrets, g.secrets...)
	}
	secrets = append(secrets, adds...)
	out := make([]*redactGroup, n, n+1)
	copy(out, groups)
	return append(out, newRedactGroup(secrets))
}

// matchSet is the matchers of every group of a state, searched as one.
type matchSet struct {
	ms             []*matcher
	base           []int32 // the state's id of each matcher's secret 0
	minLen, maxLen int     // over all patterns; minLen -1 when there are none
}

// find appends to dst every occurrence of every pattern of every group in
// text. Each group's spans come in order; the caller sorts them together.
func (s *matchSet) find(text []byte, dst []redactSpan) []redactSpan {
	for i, m := range s.ms {
		n := len(dst)
		dst = m.find(text, dst)
		if b := s.base[i]; b != 0 {
			for j := n; j < len(dst); j++ {
				dst[j].id += b
			}
		}
	}
	return dst
}

// fragSet is the fragment indexes of every group of a state.
type fragSet struct {
	fx   []*fragIndex
	base []int32

	// With several groups, probes is the union of their probe bitmaps,
	// as large as the largest: the scan probes the text once, and asks a
	// group only where it may hold the probe. A small group (the tokens)
	// then costs a bit or two more in that bitmap, not a scan of its own.
	probes []uint64
	pshift uint
}

// newFragSet returns the fragment indexes of groups, building those not
// built yet.
func newFragSet(groups []*redactGroup, base []int32) *fragSet {
	fs := &fragSet{base: base}
	for _, g := range groups {
		fs.fx = append(fs.fx, g.fragments())
	}
	if len(fs.fx) < 2 {
		return fs
	}
	big := fs.fx[0]
	for _, fx := range fs.fx[1:] {
		if len(fx.bitmap) > len(big.bitmap) {
			big = fx
		}
	}
	fs.probes, fs.pshift = slices.Clone(big.bitmap), big.bshift
	for _, fx := range fs.fx {
		if fx != big {
			fx.setProbes(fs.probes, fs.pshift)
		}
	}
	return fs
}

// find appends to dst the runs of text that are runs of a pattern of some
// group and at least fragLen long, merged where they overlap or touch, in
// order: what one index over every group's patterns would find. Each group
// finds the runs its own find would.
func (s *fragSet) find(text []byte, dst []redactSpan) []redactSpan {
	if len(s.fx) == 1 {
		return s.fx[0].find(text, dst)
	}
	n := len(text)
	runs := make([][]redactSpan, len(s.fx))
	next := make([]int, len(s.fx))
	for p := 0; n >= fragLen && p+fragProbe <= n; p += fragStride {
		k := probeKey(text, p)
		h := (k * hashMul) >> s.pshift
		if s.probes[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		for i, fx := range s.fx {
			if h := (k * hashMul) >> fx.bshift; fx.bitmap[h>>6]&(1<<(h&63)) != 0 {
				runs[i], next[i] = fx.windowsAt(text, p, next[i], runs[i])
			}
		}
	}
	var all []redactSpan
	for i, rs := range runs {
		for _, r := range rs {
			r.id += s.base[i]
			all = append(all, r)
		}
	}
	sortSpans(all)
	for _, r := range all {
		if k := len(dst) - 1; k >= 0 && r.start <= dst[k].end {
			dst[k].end = max(dst[k].end, r.end)
			dst[k].size = int32(dst[k].end - dst[k].start)
			continue
		}
		dst = append(dst, r)
	}
	return dst
}

// endsWithPrefix is fragIndex.endsWithPrefix over every group: the longest.
func (s *fragSet) endsWithPrefix(text []byte) int {
	k := 0
	for _, fx := range s.fx {
		k = max(k, fx.endsWithPrefix(text))
	}
	return k
}
