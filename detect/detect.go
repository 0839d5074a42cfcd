package detect

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
)

// Options configures a [Detector]. The zero value (or nil) gives every
// built-in rule and the default sensitive field names.
type Options struct {
	// Disable lists kinds of built-in rules to turn off ("jwt",
	// "url-password"); "all" turns off every built-in rule. nil: none.
	Disable []string
	// Rules are the operator's own formats, checked beside the built-in
	// ones. nil: none.
	Rules []Rule
	// Fields adds sensitive fields: a name ("ssn") is matched anywhere
	// after normalising, like the defaults; a path from the root of a JSON
	// body ("data.*", "env[].value", "[].secret") has every string at or
	// below it redacted. nil: the defaults only.
	Fields []string
	// RemoveFields are default field names to leave readable, written as
	// in DefaultFields. nil: none.
	RemoveFields []string
}

// Rule is an operator's secret format: a literal prefix, which is what the
// prefilter looks for, and a pattern for what follows it.
type Rule struct {
	// Kind names the format in markers and audit counts: lower-case
	// letters, digits and dashes.
	Kind string
	// Prefix is the literal a token starts with, at least 4 bytes.
	Prefix string
	// Pattern is an RE2 expression for the bytes after Prefix, matched
	// there only and never over a whole body; it may match at most 1,024
	// bytes. "": 16 or more of [A-Za-z0-9_-].
	Pattern string
}

// Detector finds and redacts secrets. It is safe for concurrent use and
// never modifies the text it is given.
type Detector struct {
	disable []string // kinds of built-in rules turned off, or "all"
	custom  []rule   // the operator's rules, checked by New
	fields  map[string]bool
	paths   [][]pathElem
	urls    bool // find passwords in URLs

	// The rules in use and the anchor scanner are settled on first use:
	// config.Load builds a detector only to validate the services file's
	// detect block, on every start, and expanding every field name's
	// anchors and hashing them cost that start about 1 ms for a scanner
	// it never used.
	prepare sync.Once
	rules   []rule // the built-in rules in use, then custom
	scan    *scanner
	litRule []int // anchor index -> index in rules, or -1 for a field anchor
}

// maxCustom bounds how far an operator's pattern may match.
const maxCustom = 1024

// fieldKind is the kind of a redacted sensitive field's value.
const fieldKind = "sensitive-field"

// New builds a detector; it fails on an operator rule or field path that
// cannot work, naming it.
func New(opts *Options) (*Detector, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	d := &Detector{fields: map[string]bool{}, urls: true, disable: slices.Clone(o.Disable)}
	if len(o.Disable) > 0 {
		known := Kinds()
		for _, k := range o.Disable {
			if k != "all" && !slices.Contains(known, k) {
				return nil, fmt.Errorf("detect.disable: unknown kind %s; known kinds: all, %s", safeQuote(k), strings.Join(known, ", "))
			}
		}
	}
	d.urls = !slices.Contains(o.Disable, "all") && !slices.Contains(o.Disable, urlPasswordKind)
	for i, cr := range o.Rules {
		r, err := customRule(cr)
		if err != nil {
			return nil, fmt.Errorf("detect.rules[%d]: %w", i, err)
		}
		d.custom = append(d.custom, r)
	}
	for _, f := range DefaultFields {
		d.fields[f] = true
	}
	for _, f := range o.RemoveFields {
		n := normalise(f)
		if !d.fields[n] {
			return nil, fmt.Errorf("detect.remove_fields: %s is not a default field name; the defaults are %s", safeQuote(f), strings.Join(DefaultFields, ", "))
		}
		delete(d.fields, n)
	}
	for _, f := range o.Fields {
		if isPath(f) {
			p, err := parsePath(f)
			if err != nil {
				return nil, fmt.Errorf("detect.fields %s: %w", safeQuote(f), err)
			}
			d.paths = append(d.paths, p)
			continue
		}
		n := normalise(f)
		if len(n) < 3 {
			return nil, fmt.Errorf("detect.fields %s: a field name needs at least 3 letters or digits", safeQuote(f))
		}
		d.fields[n] = true
	}
	return d, nil
}

// scanner returns the anchor scanner, building it on the first call.
func (d *Detector) scanner() *scanner {
	d.prepare.Do(d.build)
	return d.scan
}

// build picks the rules (the built-in ones not disabled, then the
// operator's) and makes the anchor scanner and litRule from them and the
// field names New settled; only scanner calls it.
func (d *Detector) build() {
	if !slices.Contains(d.disable, "all") {
		for _, r := range builtin() {
			if !slices.Contains(d.disable, r.kind) {
				d.rules = append(d.rules, r)
			}
		}
	}
	d.rules = append(d.rules, d.custom...)
	var lits []string
	seen := map[string]bool{}
	add := func(l string, r int) {
		if !seen[l] {
			seen[l] = true
			lits = append(lits, l)
			d.litRule = append(d.litRule, r)
		}
	}
	for i, r := range d.rules {
		for _, a := range r.anchors {
			add(a, i)
		}
	}
	for n := range d.fields {
		for _, a := range fieldAnchors(n) {
			add(a, -1)
		}
	}
	d.scan = newScanner(lits)
}

// Kinds lists the kinds of the built-in rules, sorted, for docs and for
// checking the services file.
func Kinds() []string {
	out := []string{urlPasswordKind}
	for _, r := range builtin() {
		if !slices.Contains(out, r.kind) {
			out = append(out, r.kind)
		}
	}
	slices.Sort(out)
	return out
}

// kindPattern is compiled on first use: its {0,39} repetition compiles to
// a large program, which cost every keyveil start 0.8 ms in package init.
var kindPattern = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,39}$`)
})

// safeQuote quotes a services-file value in an error only when it is
// short and plain: a key pasted into the wrong place must not be echoed
// into logs.
func safeQuote(s string) string {
	plain := regexp.MustCompile(`^[A-Za-z0-9_.*\[\] -]{1,40}$`).MatchString(s)
	if !plain || (len(s) >= 16 && mixed([]byte(s))) {
		return "(a value not shown)"
	}
	return fmt.Sprintf("%q", s)
}

func customRule(cr Rule) (rule, error) {
	if !kindPattern().MatchString(cr.Kind) {
		return rule{}, fmt.Errorf("kind %s: use 1 to 40 lower-case letters, digits and dashes", safeQuote(cr.Kind))
	}
	if len(cr.Prefix) < minAnchor {
		return rule{}, fmt.Errorf("prefix of %s: give at least %d bytes, so that the prefilter stays selective", cr.Kind, minAnchor)
	}
	pat := cr.Pattern
	if pat == "" {
		pat = `[A-Za-z0-9_-]{16,}`
	}
	re, err := regexp.Compile(`^(?:` + pat + `)`)
	if err != nil {
		return rule{}, fmt.Errorf("pattern of %s: %w", cr.Kind, err)
	}
	return rule{kind: cr.Kind, anchors: []string{cr.Prefix}, match: func(text []byte, at int, anchor string) (int, int, bool) {
		s := at + len(anchor)
		loc := re.FindIndex(text[s:min(len(text), s+maxCustom)])
		if loc == nil || loc[1] == 0 {
			return 0, 0, false
		}
		return at, s + loc[1], true
	}}, nil
}

// span is one finding: text[start:end] is replaced by kind's marker.
type span struct {
	start, end int
	kind       string
}

// Redact returns text with every detected secret replaced by
// [REDACTED:kind], and how many of each kind it replaced. When nothing is
// found it returns text itself and nil.
func (d *Detector) Redact(text []byte) ([]byte, map[string]int) {
	sc := d.scanner()
	var spans []span
	var buf [64]hit
	for _, h := range sc.find(text, buf[:0]) {
		lit, at := sc.lits[h.lit], int(h.at)
		r := d.litRule[h.lit]
		if r < 0 {
			if s, e, ok := d.field(text, at, lit); ok {
				spans = append(spans, span{s, e, fieldKind})
			}
			continue
		}
		if s, e, ok := d.rules[r].match(text, at, lit); ok && e > s {
			spans = append(spans, span{s, e, d.rules[r].kind})
		}
	}
	if d.urls {
		spans = urlPasswords(text, spans)
	}
	if len(d.paths) > 0 {
		spans = append(spans, d.pathSpans(text)...)
	}
	if len(spans) == 0 {
		return text, nil
	}
	return apply(text, spans)
}

// RedactString is Redact for a string.
func (d *Detector) RedactString(s string) (string, map[string]int) {
	out, n := d.Redact([]byte(s))
	if n == nil {
		return s, nil
	}
	return string(out), n
}

// apply merges overlapping spans (the earliest, then the longest, names
// the kind) and writes the result into a new buffer.
func apply(text []byte, spans []span) ([]byte, map[string]int) {
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	merged := spans[:1]
	for _, s := range spans[1:] {
		last := &merged[len(merged)-1]
		if s.start < last.end {
			last.end = max(last.end, s.end)
			continue
		}
		merged = append(merged, s)
	}
	counts := map[string]int{}
	out := make([]byte, 0, len(text)+16*len(merged))
	prev := 0
	for _, s := range merged {
		out = append(out, text[prev:s.start]...)
		out = append(out, "[REDACTED:"...)
		out = append(out, s.kind...)
		out = append(out, ']')
		prev = s.end
		counts[s.kind]++
	}
	return append(out, text[prev:]...), counts
}
