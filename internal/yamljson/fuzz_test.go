package yamljson

import "testing"

// size is what a converted value costs by the Converter's own measure: it
// can never exceed the budget of the file it came from.
func size(v any) int64 {
	switch x := v.(type) {
	case map[string]any:
		n := int64(nodeCost)
		for k, e := range x {
			n += nodeCost + int64(len(k)) + size(e)
		}
		return n
	case []any:
		n := int64(nodeCost)
		for _, e := range x {
			n += size(e)
		}
		return n
	case string:
		return nodeCost + int64(len(x))
	}
	return nodeCost
}

// FuzzYAML: converting any bytes never panics, and what comes back stays
// within the budget of a file of that size.
func FuzzYAML(f *testing.F) {
	for _, s := range []string{bomb(4, 5), "a: &a {b: 1}\nc: {<<: *a, d: [*a, *a]}\n", "[[[[]]]]", "? [a]\n: b\n", `{"a": 1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		n, err := Parse("f", data)
		if err != nil || len(n.Content) == 0 {
			return
		}
		v, err := NewConverter("f", len(data)).Value(n.Content[0])
		if err != nil {
			return
		}
		if got, limit := size(v), int64(baseBudget+sizeFactor*len(data)); got > limit {
			t.Errorf("Value(%q) is %d units, over the budget %d", data, got, limit)
		}
	})
}
