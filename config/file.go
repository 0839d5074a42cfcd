package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"go.yaml.in/yaml/v3"
)

// fileFormat is the services file as written. Unknown keys are errors, so a
// misspelt "alow" cannot silently leave a service with the default rules.
type fileFormat struct {
	Services map[string]*Service `yaml:"services"`
}

// LoadFile reads and validates a services file. Errors name the file and,
// where the YAML parser knows it, the line.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading services file: %w", err)
	}
	return parseFile(path, data)
}

func parseFile(path string, data []byte) (*Config, error) {
	var f fileFormat
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("%s: %s", path, joinLines(te.Errors))
		}
		return nil, fmt.Errorf("%s: not valid YAML: %w", path, err)
	}
	if len(f.Services) == 0 {
		return nil, fmt.Errorf("%s: no services; add a services: section (see examples/)", path)
	}
	c := &Config{File: path}
	for name, s := range f.Services {
		if s == nil {
			return nil, fmt.Errorf("%s: service %q is empty; give it a base_url and auth", path, name)
		}
		s.Name = name
		c.Services = append(c.Services, *s)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

func joinLines(errs []string) string {
	var b bytes.Buffer
	for i, e := range errs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(e)
	}
	return b.String()
}
