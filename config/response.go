package config

import (
	"errors"
	"fmt"

	"github.com/google/jsonschema-go/jsonschema"
	"github.com/itchyny/gojq"
)

// Response shapes a declared tool's result.
type Response struct {
	// JQ is a jq filter applied to the JSON body after every secret in it
	// was redacted, before it is cut to max_response_bytes; "": none.
	JQ string `yaml:"jq"`
	// Schema describes the body the filter returns, for the tool's
	// outputSchema; nil: any JSON value. Only with JQ.
	Schema *jsonschema.Schema `yaml:"schema"`
}

// validate compiles the filter the way tools runs it (no environment),
// so a mistake stops start-up with its line rather than failing calls.
func (r Response) validate() error {
	if r.JQ == "" {
		if r.Schema != nil {
			return errors.New("response.schema describes what response.jq returns; add jq or remove schema")
		}
		return nil
	}
	q, err := gojq.Parse(r.JQ)
	if err != nil {
		return fmt.Errorf("response.jq does not parse: %v", err)
	}
	if _, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil })); err != nil {
		return fmt.Errorf("response.jq does not compile: %v", err)
	}
	if r.Schema != nil {
		if _, err := r.Schema.Resolve(nil); err != nil {
			return fmt.Errorf("response.schema: %v", err)
		}
	}
	return nil
}
