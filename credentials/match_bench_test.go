package credentials

import (
	"testing"
)

// BenchmarkMatch measures the matcher alone, built straight from the
// variants of the benchmark corpus's secrets, without the Redactor's
// decoding pass, merging or output: the cost of the q-gram filter and its
// verifications per byte of text.
func BenchmarkMatch(b *testing.B) {
	c := benchOnce()
	var specs []matchPatternSpec
	seen := make(map[string]bool)
	for i, v := range c.variants {
		f := foldString(v)
		if !seen[f] {
			seen[f] = true
			specs = append(specs, matchPatternSpec{text: f, id: int32(c.owner[i])})
		}
	}
	m := newMatcher(specs)
	for _, in := range []struct {
		name string
		text []byte
	}{{"planted", c.planted}, {"clean", c.clean}} {
		b.Run(in.name, func(b *testing.B) {
			var found []redactSpan
			b.SetBytes(int64(len(in.text)))
			b.ReportAllocs()
			for b.Loop() {
				found = m.find(in.text, found[:0])
			}
			b.ReportMetric(float64(len(found)), "matches")
		})
	}
}
