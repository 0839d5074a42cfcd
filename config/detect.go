package config

import (
	"github.com/keyveil/keyveil/detect"
)

// Values of [Service.Schema].
const (
	SchemaCompact = "compact"
	SchemaFull    = "full"
)

// Detect configures, per service, the detection of secrets keyveil does
// not hold in the service's results (package detect). The zero value is
// detection on with every built-in rule and the default field names.
type Detect struct {
	// Off turns detection off for this service; false: on.
	Off bool `yaml:"off"`
	// Disable lists built-in kinds to turn off ("jwt"), or "all"; nil:
	// none.
	Disable []string `yaml:"disable"`
	// Rules are the operator's own formats; nil: none.
	Rules []DetectRule `yaml:"rules"`
	// Fields adds sensitive field names ("ssn") and paths from the root
	// of a JSON body ("data.*", "env[].value"); nil: defaults only.
	Fields []string `yaml:"fields"`
	// RemoveFields are default field names to leave readable; nil: none.
	RemoveFields []string `yaml:"remove_fields"`
}

// DetectRule is an operator's secret format: a literal prefix of at least
// 4 bytes and an RE2 pattern for what follows (empty: 16 or more of
// [A-Za-z0-9_-]).
type DetectRule struct {
	Kind    string `yaml:"kind"`
	Prefix  string `yaml:"prefix"`
	Pattern string `yaml:"pattern"`
}

// Options returns the detector options, or nil when detection is off.
func (d Detect) Options() *detect.Options {
	if d.Off {
		return nil
	}
	o := &detect.Options{Disable: d.Disable, Fields: d.Fields, RemoveFields: d.RemoveFields}
	for _, r := range d.Rules {
		o.Rules = append(o.Rules, detect.Rule{Kind: r.Kind, Prefix: r.Prefix, Pattern: r.Pattern})
	}
	return o
}

// validate builds the detector once, so that a bad rule or path stops
// start-up with its line rather than failing the first call.
func (d Detect) validate() error {
	if d.Off {
		return nil
	}
	if _, err := detect.New(d.Options()); err != nil {
		return err
	}
	return nil
}
