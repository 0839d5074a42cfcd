// Package yamljson reads the YAML and JSON files an operator hands keyveil
// (the services file, OpenAPI documents and the files their $refs name)
// into plain JSON values, within bounds.
//
// These files are often copied from a vendor, so they are untrusted input.
// A few kilobytes of YAML aliases that refer to aliases (a "billion laughs"
// bomb) stand for gigabytes of values; a $ref can name /dev/zero or a FIFO.
// Every conversion here draws on one budget per file, proportional to the
// file's size, so no file can stand for much more than it holds; and
// [ReadFile] reads regular files of bounded size only, without blocking on
// anything else.
//
// Both config and openapi use this one converter, so the two agree on what
// YAML means: merge keys (<<) merge, timestamps stay text, and numbers,
// booleans and null are JSON's.
package yamljson

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"
)

// MaxDepth is how deeply values may nest. Real services files and OpenAPI
// documents nest a few dozen levels; deeper is a mistake or an attack on
// the stack.
const MaxDepth = 256

// Expansion budget: converting a file may produce at most baseBudget plus
// sizeFactor times the file's size in cost units (about a byte each: a
// scalar costs its length plus nodeCost). Without aliases a file produces
// less than sizeFactor units per byte it holds (the densest YAML, a flow
// list of one-letter items, is under 9), so only aliases that multiply the
// file reach the bound.
const (
	baseBudget = 1 << 20
	sizeFactor = 16
	nodeCost   = 8
)

// Error is a problem at one line of a file, written file:line: message (or
// line N: message when the file is not named) so that editors can jump to
// it.
type Error struct {
	File string // "" when the caller names the file itself
	Line int
	Err  error
}

func (e *Error) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %v", e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrTooLarge is wrapped by the error of a conversion whose expanded value
// would exceed the file's budget.
var ErrTooLarge = errors.New("YAML aliases expand to too much")

// Converter turns the YAML nodes of one file into JSON values. Everything
// it converts, and every node a caller charges with [Converter.Charge],
// draws on one budget for the file. A Converter is not safe for concurrent
// use.
type Converter struct {
	file  string
	left  int64
	limit int64
	alias *yaml.Node // the outermost alias being expanded, for messages
}

// NewConverter returns a Converter for a file of size bytes, named file in
// errors ("": errors say only "line N").
func NewConverter(file string, size int) *Converter {
	limit := int64(baseBudget) + sizeFactor*int64(size)
	return &Converter{file: file, left: limit, limit: limit}
}

// Charge counts n, a node the caller decodes itself, against the budget.
// config's typed decoder charges each node it visits, so that aliases of
// whole services or tools are bounded too.
func (c *Converter) Charge(n *yaml.Node) error {
	c.left -= int64(nodeCost + len(n.Value))
	if c.left >= 0 {
		return nil
	}
	line := n.Line
	if c.alias != nil {
		line = c.alias.Line
	}
	return c.errorf(line, "%w: more than %d KiB of values from a file of %d bytes (an alias bomb?); write the repeated part out once, or refer to it fewer times",
		ErrTooLarge, c.limit>>10, (c.limit-baseBudget)/sizeFactor)
}

func (c *Converter) errorf(line int, format string, args ...any) error {
	return &Error{File: c.file, Line: line, Err: fmt.Errorf(format, args...)}
}

// Value converts n into the JSON value it stands for: map[string]any,
// []any, string, float64, bool or nil. Every scalar that is not a number,
// boolean or null is a string (timestamps included). A merge key (<<)
// adds the keys of the mapping (or list of mappings) it names that the
// mapping does not have itself.
func (c *Converter) Value(n *yaml.Node) (any, error) { return c.value(n, 0) }

func (c *Converter) value(n *yaml.Node, depth int) (any, error) {
	if depth > MaxDepth {
		return nil, c.errorf(n.Line, "values nest more than %d levels deep; flatten them", MaxDepth)
	}
	if err := c.Charge(n); err != nil {
		return nil, err
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, c.errorf(n.Line, "alias *%s names no anchor", n.Value)
		}
		if c.alias == nil {
			c.alias = n
			defer func() { c.alias = nil }()
		}
		return c.value(n.Alias, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0], depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		var merges []*yaml.Node
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if err := c.Charge(k); err != nil {
				return nil, err
			}
			if k.Kind == yaml.AliasNode && k.Alias != nil {
				k = k.Alias
			}
			if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
				merges = append(merges, v)
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, c.errorf(k.Line, "a mapping key must be a name, not a list or mapping")
			}
			val, err := c.value(v, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		for _, v := range merges {
			if err := c.merge(m, v, depth); err != nil {
				return nil, err
			}
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			v, err := c.value(e, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	return c.scalar(n)
}

// merge applies a merge key's value v to m: keys already in m win, and of
// a list of mappings the first that has a key wins, as YAML 1.1 says.
func (c *Converter) merge(m map[string]any, v *yaml.Node, depth int) error {
	srcs := []*yaml.Node{v}
	if r := resolve(v); r.Kind == yaml.SequenceNode {
		srcs = r.Content
	}
	for _, s := range srcs {
		val, err := c.value(s, depth+1)
		if err != nil {
			return err
		}
		sm, ok := val.(map[string]any)
		if !ok {
			return c.errorf(s.Line, "a merge key (<<) needs a mapping or a list of mappings")
		}
		for k, x := range sm {
			if _, ok := m[k]; !ok {
				m[k] = x
			}
		}
	}
	return nil
}

func (c *Converter) scalar(n *yaml.Node) (any, error) {
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, c.errorf(n.Line, "not true or false")
		}
		return b, nil
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, c.errorf(n.Line, "not a number JSON can hold")
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, c.errorf(n.Line, "%s has no JSON form", n.Value)
		}
		return f, nil
	}
	return n.Value, nil
}

// resolve follows aliases to the node they name.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// Decode parses data, the contents of file, as JSON or else as YAML, and
// converts it with a fresh [Converter]. An empty document is an error.
func Decode(file string, data []byte) (any, error) {
	var v any
	if json.Unmarshal(data, &v) == nil {
		return v, nil
	}
	n, err := Parse(file, data)
	if err != nil {
		return nil, err
	}
	if len(n.Content) == 0 {
		return nil, errors.New("the file is empty")
	}
	return NewConverter(file, len(data)).Value(n.Content[0])
}
