package config

import (
	"errors"
	"fmt"
	"os"
	"reflect"

	"go.yaml.in/yaml/v3"
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

func readFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
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
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		// yaml's syntax errors quote no values, only "line N: ...".
		return nil, fmt.Errorf("%s: not valid YAML: %w", path, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		// An empty file: nothing to validate either.
		return nil, fmt.Errorf("%s: no services; add a services: section (see examples/)", path)
	}
	root := resolve(doc.Content[0])
	d := &decoder{file: path}
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
			if isNull(v) {
				d.errorf(k, "service %s is empty; give it a base_url and auth", quote(k.Value))
				continue
			}
			s := Service{Name: k.Value, CallAPI: true}
			s.pos = positions{file: path, line: k.Line, keys: map[string]int{}}
			d.decodeStruct(v, reflectValue(&s), "services."+k.Value, "", &s.pos)
			c.Services = append(c.Services, s)
		}
	}
	if toolsNode != nil && !isNull(toolsNode) {
		if toolsNode.Kind != yaml.SequenceNode {
			d.errorf(toolsNode, "tools must be a list (each item starts with \"- name: ...\"), not %s", describe(toolsNode))
		} else {
			for i, n := range toolsNode.Content {
				n = resolve(n)
				t := Tool{}
				t.pos = positions{file: path, line: n.Line, keys: map[string]int{}}
				where := fmt.Sprintf("tools[%d]", i)
				d.decodeStruct(n, reflectValue(&t), where, "", &t.pos)
				t.Origin = fmt.Sprintf("%s:%d", path, n.Line)
				c.Tools = append(c.Tools, t)
			}
		}
	}
	if len(d.errs) > 0 {
		return c, &decodeErrors{errs: d.errs}
	}
	return c, nil
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
