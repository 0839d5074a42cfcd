package metrics

import (
	"bytes"
	"compress/gzip"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// This file writes the Prometheus text exposition format (version 0.0.4)
// itself. The client library it replaces linked protobuf, procfs, expvar,
// database/sql and runtime/metrics into every keyveil binary, and their
// package initialisation (about 2.5 ms) ran on every stdio cold start,
// where /metrics is never served. The format is small and stable: HELP
// and TYPE lines, then one line per sample; counters, gauges, summaries
// and histograms with _bucket, _sum and _count.

// contentType is what Prometheus's own handler sends for this format;
// escaping=underscores says metric names are legacy names (ours all are).
const contentType = "text/plain; version=0.0.4; charset=utf-8; escaping=underscores"

// Metric types, as the TYPE line spells them.
const (
	typeCounter   = "counter"
	typeGauge     = "gauge"
	typeHistogram = "histogram"
	typeSummary   = "summary"
)

// vec is a family of counters or histograms with fixed label names. Series
// appear on first use, as in Prometheus's client: a family nobody has
// touched is not written at all. Its methods are safe for concurrent use.
type vec struct {
	name, help, typ string
	labels          []string  // label names, in the order values are given
	buckets         []float64 // histogram upper bounds, ascending; nil for a counter

	mu     sync.Mutex
	series map[string]*series // by the label values joined with "\xff"
}

// series is one labelled sample of a vec.
type series struct {
	values []string // label values, in vec.labels order
	value  float64  // a counter's value, or a histogram's sum
	counts []uint64 // histogram: observations per bucket (not cumulative), then +Inf
	count  uint64   // histogram: observations
}

func newCounterVec(name, help string, labels ...string) *vec {
	return &vec{name: name, help: help, typ: typeCounter, labels: labels, series: map[string]*series{}}
}

func newHistogramVec(name, help string, buckets []float64, labels ...string) *vec {
	return &vec{name: name, help: help, typ: typeHistogram, labels: labels, buckets: buckets, series: map[string]*series{}}
}

// get returns the series for values, creating it; v.mu must be held.
func (v *vec) get(values []string) *series {
	if len(values) != len(v.labels) {
		// Programmer error: every call site passes a fixed number.
		panic("metrics: " + v.name + " takes " + strconv.Itoa(len(v.labels)) + " label values")
	}
	k := strings.Join(values, "\xff")
	s := v.series[k]
	if s == nil {
		s = &series{values: slices.Clone(values)}
		if v.buckets != nil {
			s.counts = make([]uint64, len(v.buckets)+1)
		}
		v.series[k] = s
	}
	return s
}

// add adds d to the counter with the given label values.
func (v *vec) add(d float64, values ...string) {
	v.mu.Lock()
	v.get(values).value += d
	v.mu.Unlock()
}

// observe records x in the histogram with the given label values.
func (v *vec) observe(x float64, values ...string) {
	i, _ := slices.BinarySearch(v.buckets, x) // first bound >= x: le is inclusive
	v.mu.Lock()
	s := v.get(values)
	s.counts[i]++
	s.count++
	s.value += x
	v.mu.Unlock()
}

// write appends the family to b; nothing when it has no series.
func (v *vec) write(b []byte) []byte {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.series) == 0 {
		return b
	}
	all := make([]*series, 0, len(v.series))
	for _, s := range v.series {
		all = append(all, s)
	}
	// Prometheus's client sorts samples by label values in the order of
	// the sorted label names; keep that order so scrapes diff cleanly.
	order := sortedIndex(v.labels)
	slices.SortFunc(all, func(a, c *series) int {
		for _, i := range order {
			if r := strings.Compare(a.values[i], c.values[i]); r != 0 {
				return r
			}
		}
		return 0
	})
	b = header(b, v.name, v.help, v.typ)
	for _, s := range all {
		pairs := labelPairs(v.labels, s.values, order)
		if v.typ != typeHistogram {
			b = sample(b, v.name, pairs, "", "", s.value)
			continue
		}
		var cum uint64
		for i, bound := range v.buckets {
			cum += s.counts[i]
			b = sample(b, v.name+"_bucket", pairs, "le", formatFloat(bound), float64(cum))
		}
		b = sample(b, v.name+"_bucket", pairs, "le", "+Inf", float64(s.count))
		b = sample(b, v.name+"_sum", pairs, "", "", s.value)
		b = sample(b, v.name+"_count", pairs, "", "", float64(s.count))
	}
	return b
}

// sortedIndex returns the indexes of names in sorted order of the names.
func sortedIndex(names []string) []int {
	idx := make([]int, len(names))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, c int) int { return strings.Compare(names[a], names[c]) })
	return idx
}

// labelPairs returns name/value pairs sorted by name.
func labelPairs(names, values []string, order []int) [][2]string {
	pairs := make([][2]string, len(order))
	for j, i := range order {
		pairs[j] = [2]string{names[i], values[i]}
	}
	return pairs
}

// header appends the HELP and TYPE lines of a family.
func header(b []byte, name, help, typ string) []byte {
	b = append(b, "# HELP "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = escape(b, help, false)
	b = append(b, "\n# TYPE "...)
	b = append(b, name...)
	b = append(b, ' ')
	b = append(b, typ...)
	return append(b, '\n')
}

// sample appends one sample line: name, the label pairs, then extra (le or
// quantile, written last as Prometheus's client does) when it is not "".
func sample(b []byte, name string, pairs [][2]string, extra, extraValue string, value float64) []byte {
	b = append(b, name...)
	if len(pairs) > 0 || extra != "" {
		b = append(b, '{')
		for i, p := range pairs {
			if i > 0 {
				b = append(b, ',')
			}
			b = labelPair(b, p[0], p[1])
		}
		if extra != "" {
			if len(pairs) > 0 {
				b = append(b, ',')
			}
			b = labelPair(b, extra, extraValue)
		}
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = append(b, formatFloat(value)...)
	return append(b, '\n')
}

func labelPair(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, `="`...)
	b = escape(b, value, true)
	return append(b, '"')
}

// escape appends s escaped as the format asks: a backslash and a line feed
// everywhere, a double quote inside a label value. A label value is always
// one of keyveil's closed set, but the writer must not trust that: an
// unescaped quote or newline would let a value forge a sample.
func escape(b []byte, s string, quote bool) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			b = append(b, `\\`...)
		case c == '\n':
			b = append(b, `\n`...)
		case c == '"' && quote:
			b = append(b, `\"`...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// formatFloat writes a value as Prometheus's client does: the shortest
// representation that reads back exactly, and +Inf, -Inf, NaN spelled so.
func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// constFamily is a family whose samples are computed at scrape time (the
// Go runtime and the process): written as read, with no state kept.
type constFamily struct {
	name, help, typ string
	samples         []constSample
}

// constSample is one sample of a constFamily: the value of name plus
// suffix, with its labels (already sorted by name) and an optional extra
// label written last (a summary's quantile).
type constSample struct {
	suffix            string
	labels            [][2]string
	extra, extraValue string
	value             float64
}

func (f constFamily) write(b []byte) []byte {
	if len(f.samples) == 0 {
		return b
	}
	b = header(b, f.name, f.help, f.typ)
	for _, s := range f.samples {
		b = sample(b, f.name+s.suffix, s.labels, s.extra, s.extraValue, s.value)
	}
	return b
}

// gauge and counter make a one-sample family without labels.
func gauge(name, help string, v float64) constFamily {
	return constFamily{name: name, help: help, typ: typeGauge, samples: []constSample{{value: v}}}
}

func counter(name, help string, v float64) constFamily {
	return constFamily{name: name, help: help, typ: typeCounter, samples: []constSample{{value: v}}}
}

// family is what a scrape writes: a vec or a constFamily.
type family interface {
	write(b []byte) []byte
}

// named pairs a family with its name, for sorting.
type named struct {
	name string
	f    family
}

// exposition returns the text of every family, sorted by name as
// Prometheus's client sorts them.
func (m *Metrics) exposition() []byte {
	var all []named
	for _, v := range m.vecs {
		all = append(all, named{v.name, v})
	}
	for _, f := range runtimeFamilies() {
		all = append(all, named{f.name, f})
	}
	for _, f := range processFamilies() {
		all = append(all, named{f.name, f})
	}
	slices.SortFunc(all, func(a, c named) int { return strings.Compare(a.name, c.name) })
	var b []byte
	for _, n := range all {
		b = n.f.write(b)
	}
	return b
}

// serveHTTP writes the exposition, gzip-compressed when the client accepts
// it (Prometheus asks for gzip by default; a scrape is mostly repeated
// text). The protobuf and OpenMetrics formats are not offered: Prometheus
// falls back to this one, which every scraper reads.
func (m *Metrics) serveHTTP(w http.ResponseWriter, r *http.Request) {
	body := m.exposition()
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		_, _ = w.Write(body)
		return
	}
	var z bytes.Buffer
	zw := gzip.NewWriter(&z)
	_, _ = zw.Write(body)
	_ = zw.Close()
	h.Set("Content-Encoding", "gzip")
	_, _ = w.Write(z.Bytes())
}

// acceptsGzip reports whether an Accept-Encoding header offers gzip with a
// non-zero quality.
func acceptsGzip(header string) bool {
	for part := range strings.SplitSeq(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q, ok := strings.CutPrefix(strings.TrimSpace(params), "q=")
		if !ok {
			return true
		}
		f, err := strconv.ParseFloat(q, 64)
		return err == nil && f > 0
	}
	return false
}
