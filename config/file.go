package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/keyveil/keyveil/internal/yamljson"
)

// LoadFile reads and validates a services file on its own: a tool may name
// only services the file defines. Errors name the file and the line.
func LoadFile(path string) (*Config, error) {
	c, err := readFile(path)
	if c == nil {
		return nil, err
	}
	if err := finish(c, err, c.validate); err != nil {
		return nil, err
	}
	return c, nil
}

// maxFileBytes bounds the services file. A large one with many declared
// tools is tens of kilobytes; the bound stops a path that names a device
// or a huge file by mistake (a FIFO or /dev/zero is refused outright).
const maxFileBytes = 4 << 20

func readFile(path string) (*Config, error) {
	data, err := yamljson.ReadFile(path, maxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("reading services file: %w", err)
	}
	return parseFile(path, data)
}

// parseFile decodes a services file without the checks that need the whole
// configuration (tools naming services, the zero-config service); Load runs
// those once everything is in.
//
// The file has two top-level keys: services (a mapping of names to
// [Service]) and tools (a list of [Tool]). Unknown keys are errors, so a
// misspelt "alow" cannot silently leave a service with the default rules.
func parseFile(path string, data []byte) (*Config, error) {
	doc, err := yamljson.Parse(path, data)
	if err != nil {
		// yaml's syntax errors quote no values, only what was expected.
		var ye *yamljson.Error
		if errors.As(err, &ye) {
			return nil, &lineError{file: path, line: ye.Line, err: fmt.Errorf("not valid YAML: %v%s", ye.Err, yamlHint(ye.Err.Error()))}
		}
		return nil, fmt.Errorf("%s: not valid YAML: %w", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		// An empty file: nothing to validate either.
		return nil, fmt.Errorf("%s: no services; add a services: section (see examples/)", path)
	}
	root := resolve(doc.Content[0])
	d := &decoder{file: path, cv: yamljson.NewConverter("", len(data))}
	if root.Kind != yaml.MappingNode {
		d.errorf(root, "the file must be a mapping with services: and, optionally, tools:")
		return nil, errors.Join(d.errs...)
	}
	c := &Config{File: path}
	known := []string{"services", "tools"}
	var servicesNode, toolsNode *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := resolve(root.Content[i]), resolve(root.Content[i+1])
		switch k.Value {
		case "services":
			servicesNode = v
		case "tools":
			toolsNode = v
		default:
			d.errorf(k, "unknown top-level key %s%s; the keys are services and tools", quote(k.Value), suggest(k.Value, known))
		}
	}
	if servicesNode == nil || (servicesNode.Kind == yaml.MappingNode && len(servicesNode.Content) == 0) || isNull(servicesNode) {
		line := 1
		if servicesNode != nil {
			line = servicesNode.Line
		}
		d.errs = append(d.errs, &lineError{file: path, line: line, err: errors.New("no services; add a services: section (see examples/)")})
	} else if servicesNode.Kind != yaml.MappingNode {
		d.errorf(servicesNode, "services must be a mapping of service names to settings, not %s", describe(servicesNode))
	} else {
		for i := 0; i+1 < len(servicesNode.Content); i += 2 {
			k, v := resolve(servicesNode.Content[i]), resolve(servicesNode.Content[i+1])
			if k.Value == "tools" && v.Kind == yaml.SequenceNode {
				// A service's settings are a mapping; a list here is the
				// top-level tools: block, indented by mistake.
				d.errorf(k, "tools: is indented under services:, so it reads as a service named \"tools\"; move it to the start of its line (tools: is a top-level key, like services:)")
				continue
			}
			if isNull(v) {
				d.errorf(k, "service %s is empty; give it a base_url and auth", quote(k.Value))
				continue
			}
			s := Service{Name: k.Value, CallAPI: true}
			s.pos = positions{file: path, line: k.Line, keys: map[string]int{}}
			d.decodeStruct(servicesNode.Content[i+1], reflectValue(&s), "services."+k.Value, "", &s.pos)
			c.Services = append(c.Services, s)
		}
	}
	if toolsNode != nil && !isNull(toolsNode) {
		if toolsNode.Kind != yaml.SequenceNode {
			d.errorf(toolsNode, "tools must be a list (each item starts with \"- name: ...\"), not %s", describe(toolsNode))
		} else {
			for i, raw := range toolsNode.Content {
				n := resolve(raw)
				t := Tool{}
				t.pos = positions{file: path, line: n.Line, keys: map[string]int{}}
				where := fmt.Sprintf("tools[%d]", i)
				d.decodeStruct(raw, reflectValue(&t), where, "", &t.pos)
				t.Origin = fmt.Sprintf("%s:%d", path, n.Line)
				c.Tools = append(c.Tools, t)
			}
		}
	}
	if d.spent {
		// What was decoded before the budget ran out is partial in ways
		// that would only add noise: report the bomb alone.
		return nil, errors.Join(d.errs...)
	}
	if len(d.errs) > 0 {
		return c, &decodeErrors{errs: d.errs}
	}
	return c, nil
}

// yamlHint says what usually causes a yaml syntax error, or "".
func yamlHint(msg string) string {
	switch {
	case strings.Contains(msg, "cannot start any token"):
		return "; is it a tab? YAML indents with spaces only"
	case strings.Contains(msg, "expected ',' or"):
		return "; a [ or { list on this line or above is not closed"
	case strings.Contains(msg, "expected key"), strings.Contains(msg, "mapping values are not allowed"),
		strings.Contains(msg, "expected '-'"), strings.Contains(msg, "sequence entries are not allowed"):
		return "; check this line's indentation against the lines above (keys of one mapping line up exactly)"
	}
	return ""
}

// decodeErrors are the problems found while decoding a file. The Config
// that comes with them is partial; validating it anyway finds the rest, so
// one run reports everything (see finish).
type decodeErrors struct{ errs []error }

func (e *decodeErrors) Error() string { return errors.Join(e.errs...).Error() }

// finish validates c after parseFile and returns every problem, decoding
// and validation, sorted by line. A validation error on a line that
// already has a decoding error is left out: it is the same mistake seen
// twice.
func finish(c *Config, perr error, validate func() error) error {
	var de *decodeErrors
	if perr != nil && !errors.As(perr, &de) {
		return perr
	}
	verr := validate()
	if de == nil {
		return verr
	}
	errs := de.errs
	bad := map[int]bool{}
	for _, e := range errs {
		var le *lineError
		if errors.As(e, &le) {
			bad[le.line] = true
		}
	}
	if verr != nil {
		for _, e := range unjoin(verr) {
			var le *lineError
			if errors.As(e, &le) && bad[le.line] {
				continue
			}
			errs = append(errs, e)
		}
	}
	sortErrors(errs)
	return errors.Join(errs...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// reflectValue returns the addressable value p points to.
func reflectValue[T any](p *T) reflect.Value { return reflect.ValueOf(p).Elem() }
