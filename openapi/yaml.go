package openapi

import (
	"errors"
	"fmt"
	"math"

	"go.yaml.in/yaml/v3"
)

// YAML documents become the JSON values they stand for.

// yamlValue converts a YAML node into the JSON value it stands for. Every
// scalar that is not a number, boolean or null is a string (timestamps
// included), as in a YAML-to-JSON conversion.
func yamlValue(n *yaml.Node, depth int) (any, error) {
	if depth > 10000 {
		return nil, errors.New("YAML nests too deeply")
	}
	switch n.Kind {
	case yaml.AliasNode:
		return yamlValue(n.Alias, depth+1)
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return yamlValue(n.Content[0], depth+1)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.AliasNode {
				k = k.Alias
			}
			if k.Tag == "!!merge" {
				if err := yamlMerge(m, v, depth); err != nil {
					return nil, err
				}
				continue
			}
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a scalar", k.Line)
			}
			val, err := yamlValue(v, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = val
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := yamlValue(c, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil, nil
	case "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return nil, err
		}
		return b, nil
	case "!!int", "!!float":
		var f float64
		if err := n.Decode(&f); err != nil {
			return nil, err
		}
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, fmt.Errorf("line %d: %s has no JSON form", n.Line, n.Value)
		}
		return f, nil
	}
	return n.Value, nil
}

// yamlMerge applies a YAML merge key (<<: *anchor) to m: keys already in m
// win.
func yamlMerge(m map[string]any, v *yaml.Node, depth int) error {
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	for _, s := range srcs {
		val, err := yamlValue(s, depth+1)
		if err != nil {
			return err
		}
		sm, ok := val.(map[string]any)
		if !ok {
			return fmt.Errorf("line %d: a merge key needs a mapping", s.Line)
		}
		for k, x := range sm {
			if _, ok := m[k]; !ok {
				m[k] = x
			}
		}
	}
	return nil
}
