package yamljson

import (
	"errors"
	"regexp"
	"sort"
	"strconv"
	"sync"

	"go.yaml.in/yaml/v3"
)

// yamlErr matches the text of a yaml syntax error: "yaml: line N: what".
// It compiles on the first syntax error, not in package initialisation,
// which every start pays before main.
var yamlErr = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`) })

// Parse parses data, the contents of file, into a YAML node tree. Aliases
// stay references in the tree, so parsing costs what the file holds; it is
// converting (or walking) the tree that expands them, within a
// [Converter]'s budget.
//
// A syntax error is an [*Error] at the line where the file stops being
// YAML. The yaml package reports the line where the enclosing mapping
// began instead (a mis-indented key on line 5 is "line 1: did not find
// expected key"), which sends a person to the wrong place.
func Parse(file string, data []byte) (*yaml.Node, error) {
	var n yaml.Node
	err := yaml.Unmarshal(data, &n)
	if err == nil {
		return &n, nil
	}
	m := yamlErr().FindStringSubmatch(err.Error())
	if m == nil {
		return nil, &Error{File: file, Line: 1, Err: err}
	}
	line, _ := strconv.Atoi(m[1])
	if l := firstBadLine(data); l > line {
		line = l
	}
	if line == 0 {
		line = 1
	}
	return nil, &Error{File: file, Line: line, Err: errors.New(m[2])}
}

// firstBadLine returns the first line k such that the file's first k lines
// are not YAML, or 0. A prefix of a YAML file that ends at a line break is
// almost always YAML itself, so the first bad prefix ends at the line the
// mistake is on.
func firstBadLine(data []byte) int {
	var ends []int // ends[i]: length of the first i+1 lines
	for i, b := range data {
		if b == '\n' {
			ends = append(ends, i+1)
		}
	}
	if len(ends) == 0 || ends[len(ends)-1] != len(data) {
		ends = append(ends, len(data))
	}
	bad := func(k int) bool {
		var n yaml.Node
		return yaml.Unmarshal(data[:ends[k]], &n) != nil
	}
	k := sort.Search(len(ends), bad)
	if k == len(ends) {
		return 0
	}
	return k + 1
}
