package openapi

import (
	"fmt"
	"slices"
	"strings"
)

// OpenAPI 3.1 merge rules: keywords written beside a schema's $ref.

// merge is a schema written as a $ref with keywords beside it (OpenAPI
// 3.1): into starts as an empty placeholder and becomes a copy of target
// with the annotations of local replacing target's own, and local's other
// keywords added as one more allOf entry, as JSON Schema 2020-12 and
// kin-openapi read it.
type merge struct {
	into, target, local *schema
	annotations         []string // keywords of local that replace target's
	assertions          []string // keywords of local that add a constraint
	done, busy          bool
}

// refAnnotations are the keywords that, written next to a $ref, replace the
// referenced schema's own: they describe the value rather than constrain it.
var refAnnotations = []string{"$comment", "allowEmptyValue", "default", "deprecated", "description", "discriminator", "example", "examples", "externalDocs", "nullable", "readOnly", "title", "writeOnly", "xml"}

// refSchema decodes m, a schema object with a $ref. Keywords beside the
// $ref (OpenAPI 3.1) make it a merge, filled at the end of loading into
// into, or into a new schema when into is nil.
func (l *loader) refSchema(file string, m map[string]any, into *schema) (*schema, error) {
	f, tv, key, err := l.follow(file, m, l.schemaStop)
	if err != nil {
		return nil, err
	}
	target, err := l.shared(f, tv, key)
	if err != nil {
		return nil, fmt.Errorf("$ref %v: %w", m["$ref"], err)
	}
	local := l.siblings(m)
	if local == nil {
		return target, nil
	}
	sib := &schema{}
	if err := l.fill(sib, file, local); err != nil {
		return nil, err
	}
	if into == nil {
		into = &schema{}
	}
	mg := &merge{into: into, target: target, local: sib}
	for _, k := range sortedKeys(local) {
		if slices.Contains(refAnnotations, k) {
			mg.annotations = append(mg.annotations, k)
		} else {
			mg.assertions = append(mg.assertions, k)
		}
	}
	l.merges = append(l.merges, mg)
	return into, nil
}

// siblings returns the keywords beside m's $ref that apply (OpenAPI 3.1,
// not x- extensions), or nil when none do.
func (l *loader) siblings(m map[string]any) map[string]any {
	if !l.v31 {
		return nil
	}
	var out map[string]any
	for k, v := range m {
		if k == "$ref" || strings.HasPrefix(k, "x-") {
			continue
		}
		if out == nil {
			out = map[string]any{}
		}
		out[k] = v
	}
	return out
}

// schemaStop tells follow to stop at a schema $ref with keywords beside it:
// that schema is the merge of both, not the target alone.
func (l *loader) schemaStop(v any) bool {
	m, ok := v.(map[string]any)
	return ok && l.siblings(m) != nil
}

// apply fills a merge's placeholder, once its target (which may itself be
// a merge) is complete.
func (l *loader) apply(mg *merge) {
	if mg.done || mg.busy {
		return // done, or a loop of $refs that each add keywords: left as is
	}
	mg.busy = true
	for _, other := range l.merges {
		if other.into == mg.target {
			l.apply(other)
		}
	}
	s := *mg.target
	for _, k := range mg.annotations {
		overlay(&s, mg.local, k)
	}
	if len(mg.assertions) > 0 {
		var conj schema
		for _, k := range mg.assertions {
			overlay(&conj, mg.local, k)
		}
		s.allOf = append(slices.Clip(s.allOf), &conj)
	}
	*mg.into = s
	mg.busy, mg.done = false, true
}

// overlay copies keyword k from src to dst.
func overlay(dst, src *schema, k string) {
	switch k {
	case "type":
		dst.types = src.types
	case "title":
		dst.title = src.title
	case "description":
		dst.description = src.description
	case "format":
		dst.format = src.format
	case "pattern":
		dst.pattern = src.pattern
	case "deprecated":
		dst.deprecated = src.deprecated
	case "uniqueItems":
		dst.uniqueItems = src.uniqueItems
	case "readOnly":
		dst.readOnly = src.readOnly
	case "multipleOf":
		dst.multipleOf = src.multipleOf
	case "minimum":
		dst.minimum = src.minimum
	case "maximum":
		dst.maximum = src.maximum
	case "exclusiveMinimum":
		dst.exclusiveMinimum = src.exclusiveMinimum
	case "exclusiveMaximum":
		dst.exclusiveMaximum = src.exclusiveMaximum
	case "minLength":
		dst.minLength = src.minLength
	case "maxLength":
		dst.maxLength = src.maxLength
	case "minItems":
		dst.minItems = src.minItems
	case "maxItems":
		dst.maxItems = src.maxItems
	case "enum":
		dst.enum = src.enum
	case "const":
		dst.cnst = src.cnst
	case "default":
		dst.deflt = src.deflt
	case "items":
		dst.items = src.items
	case "properties":
		dst.props = src.props
	case "required":
		dst.req = src.req
	case "additionalProperties":
		dst.addl, dst.noAddl = src.addl, src.noAddl
	case "allOf":
		dst.allOf = src.allOf
	case "anyOf":
		dst.anyOf = src.anyOf
	case "oneOf":
		dst.oneOf = src.oneOf
	}
}
