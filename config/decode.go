package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
	"go.yaml.in/yaml/v3"

	"github.com/keyveil/keyveil/internal/yamljson"
)

// The services file is decoded from a yaml.Node tree by hand rather than
// with yaml's struct decoder, for three reasons: every error can carry the
// line of the key it is about; an unknown key can be answered with the key
// that was probably meant; and a value in the wrong place is reported
// without being quoted, because the value in the wrong place is sometimes
// the secret itself.

// fieldError is a validation error about one key of a service or tool. The
// file loader uses field to find the key's line; Error is the message
// alone, so that errors about the zero-config service read the same as
// before.
type fieldError struct {
	field string // "base_url", "auth.env", "input", …
	err   error
}

func (e *fieldError) Error() string { return e.err.Error() }
func (e *fieldError) Unwrap() error { return e.err }

// positions remembers where an item and each of its keys were written.
// The zero value (an item from the environment or an OpenAPI import) locates
// nothing.
type positions struct {
	file string
	line int            // the line of the item's first key
	keys map[string]int // "auth.env" -> line
	// misspelt are keys an unknown key was probably meant to be
	// ("base-url" -> "base_url"). A problem with one of them (base_url is
	// empty) is the same mistake as the typo, whose message says what to
	// write; it is not repeated.
	misspelt map[string]bool
}

// locate prefixes err with file:line, choosing the line of the key a
// [fieldError] names when the file had it.
func (p positions) locate(err error) error {
	if p.file == "" || err == nil {
		return err
	}
	line := p.line
	var fe *fieldError
	if errors.As(err, &fe) && p.misspelt[fe.field] {
		return nil // errors.Join drops it
	}
	if errors.As(err, &fe) {
		for k := fe.field; k != ""; k = parentKey(k) {
			if l, ok := p.keys[k]; ok {
				line = l
				break
			}
		}
	}
	return &lineError{file: p.file, line: line, err: err}
}

// dir returns the directory of the file the item came from, against which
// its relative paths resolve; "" for an item from the environment.
func (p positions) dir() string {
	if p.file == "" {
		return ""
	}
	return filepath.Dir(p.file)
}

func parentKey(k string) string {
	i := strings.LastIndexByte(k, '.')
	if i < 0 {
		return ""
	}
	return k[:i]
}

// lineError is an error at one line of a file, written file:line: message
// like a compiler's, so editors can jump to it.
type lineError struct {
	file string
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("%s:%d: %v", e.file, e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

// decoder fills structs from yaml nodes and collects every problem, so one
// run of keyveil check shows them all.
type decoder struct {
	file string
	errs []error
	// cv converts JSON Schemas and is charged for every node decoded, so
	// that aliases of aliases (a "billion laughs" bomb) cannot make a
	// small file stand for gigabytes. Once its budget is spent, decoding
	// stops with one error.
	cv    *yamljson.Converter
	spent bool
	alias *yaml.Node // the outermost alias being decoded, where a bomb is reported
}

// enter notes n when it is the outermost alias being decoded; the caller
// defers the func it returns.
func (d *decoder) enter(n *yaml.Node) func() {
	if n.Kind != yaml.AliasNode || d.alias != nil {
		return func() {}
	}
	d.alias = n
	return func() { d.alias = nil }
}

// charge counts n against the file's budget, and reports whether
// decoding may go on.
func (d *decoder) charge(n *yaml.Node) bool {
	if d.spent {
		return false
	}
	if err := d.cv.Charge(n); err != nil {
		d.converterError(err)
		return false
	}
	return true
}

// converterError records an error of the YAML converter at its own line.
func (d *decoder) converterError(err error) {
	var ye *yamljson.Error
	if !errors.As(err, &ye) {
		d.errs = append(d.errs, err)
		return
	}
	line := ye.Line
	if errors.Is(err, yamljson.ErrTooLarge) {
		if d.spent {
			return
		}
		d.spent = true
		if d.alias != nil {
			line = d.alias.Line
		}
	}
	d.errs = append(d.errs, &lineError{file: d.file, line: line, err: ye.Err})
}

func (d *decoder) errorf(n *yaml.Node, format string, args ...any) {
	d.errs = append(d.errs, &lineError{file: d.file, line: n.Line, err: fmt.Errorf(format, args...)})
}

var (
	durationType = reflect.TypeFor[time.Duration]()
	schemaType   = reflect.TypeFor[*jsonschema.Schema]()
	mappingType  = reflect.TypeFor[Mapping]()
	authListType = reflect.TypeFor[AuthList]()
)

// resolve follows aliases, so anchors and *references work as in any YAML.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// decodeStruct fills the struct v points to from mapping node n. where
// names the item for messages ("services.crm"); rel is the key prefix
// recorded in pos ("" for the item itself, "auth." inside auth).
func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, where, rel string, pos *positions) {
	defer d.enter(n)()
	n = resolve(n)
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping of keys (key: value), not %s", where, describe(n))
		return
	}
	t := v.Type()
	fields := map[string]int{}
	var names []string
	for i := range t.NumField() {
		tag, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		if tag == "" || tag == "-" {
			continue
		}
		fields[tag] = i
		names = append(names, tag)
	}
	seen := map[string]bool{}
	for _, kv := range d.pairs(n, 0) {
		k, val := resolve(kv[0]), resolve(kv[1])
		key := k.Value
		if !d.charge(k) {
			return
		}
		if k.Kind != yaml.ScalarNode {
			d.errorf(k, "%s has a key that is not a name", where)
			continue
		}
		fi, ok := fields[key]
		if !ok {
			d.errorf(k, "%s: unknown key %s%s; the keys are %s", where, quote(key), suggest(key, names), strings.Join(names, ", "))
			if meant := closest(key, names); meant != "" && pos != nil {
				if pos.misspelt == nil {
					pos.misspelt = map[string]bool{}
				}
				pos.misspelt[rel+meant] = true
			}
			continue
		}
		if seen[key] {
			d.errorf(k, "%s: key %s is written twice; keep one", where, quote(key))
			continue
		}
		seen[key] = true
		if pos != nil {
			pos.keys[rel+key] = k.Line
		}
		d.decodeValue(val, v.Field(fi), where+"."+key, rel+key+".", pos)
	}
}

// decodeValue fills v from n according to v's type.
func (d *decoder) decodeValue(n *yaml.Node, v reflect.Value, where, rel string, pos *positions) {
	defer d.enter(n)()
	n = resolve(n)
	if !d.charge(n) {
		return
	}
	switch v.Type() {
	case durationType:
		if !isStr(n) {
			d.errorf(n, "%s must be a duration like 30s or 2m, not %s", where, describe(n))
			return
		}
		dur, err := time.ParseDuration(n.Value)
		if err != nil {
			d.errorf(n, "%s must be a duration like 30s or 2m", where)
			return
		}
		v.SetInt(int64(dur))
		return
	case schemaType:
		s, err := d.schema(n)
		var ye *yamljson.Error
		if errors.As(err, &ye) {
			d.converterError(err)
			return
		}
		if err != nil {
			d.errorf(n, "%s: %v", where, err)
			return
		}
		v.Set(reflect.ValueOf(s))
		return
	case authListType:
		d.decodeAuth(n, v, where, rel, pos)
		return
	case mappingType:
		if isStr(n) {
			v.Set(reflect.ValueOf(Mapping{In: n.Value}))
			return
		}
		d.decodeStruct(n, v, where, rel, pos)
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.decodeStruct(n, v, where, rel, pos)
	case reflect.Pointer:
		if isNull(n) {
			return
		}
		p := reflect.New(v.Type().Elem())
		d.decodeValue(n, p.Elem(), where, rel, pos)
		v.Set(p)
	case reflect.String:
		if !isStr(n) {
			d.errorf(n, "%s must be text, not %s", where, describe(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			d.errorf(n, "%s must be true or false, not %s", where, describe(n))
			return
		}
		var b bool
		_ = n.Decode(&b)
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			d.errorf(n, "%s must be a whole number, not %s", where, describe(n))
			return
		}
		var i int64
		if err := n.Decode(&i); err != nil {
			d.errorf(n, "%s must be a whole number", where)
			return
		}
		v.SetInt(i)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, "%s must be a list, like [a, b], not %s", where, describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.decodeValue(item, s.Index(i), fmt.Sprintf("%s[%d]", where, i), rel, pos)
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, "%s must be a mapping (name: value), not %s", where, describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for _, kv := range d.pairs(n, 0) {
			k := resolve(kv[0])
			if !isStr(k) {
				d.errorf(k, "%s has a key that is not a name", where)
				continue
			}
			if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
				d.errorf(k, "%s: %s is written twice; keep one", where, quote(k.Value))
				continue
			}
			e := reflect.New(v.Type().Elem()).Elem()
			d.decodeValue(kv[1], e, where+"."+k.Value, rel, pos)
			m.SetMapIndex(reflect.ValueOf(k.Value), e)
		}
		v.Set(m)
	default:
		panic(fmt.Sprintf("config: no decoder for %s", v.Type()))
	}
}

// decodeAuth fills an [AuthList] from a mapping (one part, whose keys are
// recorded as "auth.env") or a list of mappings (several parts, recorded
// as "auth[1].env", so that an error about the second part's env points
// at its line). A list of one part is recorded like a mapping, as
// [AuthList] names its keys.
func (d *decoder) decodeAuth(n *yaml.Node, v reflect.Value, where, rel string, pos *positions) {
	switch n.Kind {
	case yaml.MappingNode:
		l := make(AuthList, 1)
		d.decodeStruct(n, reflect.ValueOf(&l[0]).Elem(), where, rel, pos)
		v.Set(reflect.ValueOf(l))
	case yaml.SequenceNode:
		l := make(AuthList, len(n.Content))
		for i, item := range n.Content {
			itemRel, itemWhere := rel, fmt.Sprintf("%s[%d]", where, i)
			if len(n.Content) > 1 {
				key := fmt.Sprintf("%s[%d]", strings.TrimSuffix(rel, "."), i)
				itemRel = key + "."
				if pos != nil {
					pos.keys[key] = resolve(item).Line
				}
			}
			d.decodeStruct(item, reflect.ValueOf(&l[i]).Elem(), itemWhere, itemRel, pos)
		}
		v.Set(reflect.ValueOf(l))
	default:
		d.errorf(n, "%s must be a mapping ({type: bearer, env: API_KEY}) or a list of them, one per part, not %s", where, describe(n))
	}
}

// pairs returns the key/value nodes of mapping n with YAML merge keys
// applied, as the JSON converter reads them: "<<: *base" (or a list of
// anchors) adds the keys of the mappings it names that n does not write
// itself, the first mapping in the list winning. Every merged key is
// charged to the file's budget, so merges of merges cannot multiply.
func (d *decoder) pairs(n *yaml.Node, depth int) [][2]*yaml.Node {
	var out [][2]*yaml.Node
	var merges []*yaml.Node
	own := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := resolve(n.Content[i])
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			merges = append(merges, n.Content[i+1])
			continue
		}
		out = append(out, [2]*yaml.Node{n.Content[i], n.Content[i+1]})
		own[k.Value] = true
	}
	if depth > yamljson.MaxDepth {
		d.errorf(n, "merge keys (<<) nest more than %d levels deep", yamljson.MaxDepth)
		return out
	}
	for _, mv := range merges {
		srcs := []*yaml.Node{mv}
		if r := resolve(mv); r.Kind == yaml.SequenceNode {
			srcs = r.Content
		}
		for _, src := range srcs {
			r := resolve(src)
			if r.Kind != yaml.MappingNode {
				d.errorf(r, "a merge key (<<) needs a mapping or a list of mappings, not %s", describe(r))
				continue
			}
			for _, kv := range d.pairs(r, depth+1) {
				k := resolve(kv[0])
				if !d.charge(k) {
					return out
				}
				if !own[k.Value] {
					own[k.Value] = true
					out = append(out, kv)
				}
			}
		}
	}
	return out
}

func isStr(n *yaml.Node) bool  { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str" }
func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names what a node is without quoting it.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	switch n.ShortTag() {
	case "!!null":
		return "empty"
	case "!!bool":
		return "true/false"
	case "!!int", "!!float":
		return "a number"
	case "!!str":
		return "text"
	}
	return "a " + strings.TrimPrefix(n.ShortTag(), "!!")
}

// suggest returns `, did you mean "x"?` for the closest known key within
// two edits, or "".
func suggest(key string, names []string) string {
	best := closest(key, names)
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// closest returns the known key within two edits of key, or "".
func closest(key string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := 1
			if a[i-1] == b[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// schema turns a YAML JSON Schema into a [jsonschema.Schema] by way of
// JSON, which is what the schema type reads.
func (d *decoder) schema(n *yaml.Node) (*jsonschema.Schema, error) {
	if n.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("must be a JSON Schema object (type: object, properties: …), not %s", describe(n))
	}
	v, err := d.cv.Value(n)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("not a JSON value: %w", err)
	}
	var s jsonschema.Schema
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("not a JSON Schema: %w", err)
	}
	return &s, nil
}

// sortErrors orders located errors by file and line, so the report reads
// top to bottom.
func sortErrors(errs []error) {
	slices.SortStableFunc(errs, func(a, b error) int {
		var la, lb *lineError
		okA, okB := errors.As(a, &la), errors.As(b, &lb)
		switch {
		case okA && okB:
			if c := strings.Compare(la.file, lb.file); c != 0 {
				return c
			}
			return la.line - lb.line
		case okA:
			return -1
		case okB:
			return 1
		}
		return 0
	})
}
