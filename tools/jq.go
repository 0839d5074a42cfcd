package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/itchyny/gojq"
)

// jq shapes a JSON body with a jq filter (github.com/itchyny/gojq), so
// that the model can ask for only the fields it needs.
//
// The filter runs on the body after the held keys and the detected
// secrets were redacted, never before: jq transforms text, and on a raw
// body ascii_downcase, explode|map(.+1)|implode, @base32, split("")|reverse
// or .[0:7] would hand the model a key in a form no redactor knows.

// jqArg is call_api's argument for a filter.
const jqArg = "jq"

// jqSentence tells the model, in list_services and in tool descriptions,
// that the argument exists.
const jqSentence = "call_api takes jq, a jq filter such as \"[.[] | {number, title}]\", to return only the fields you need from a JSON body."

// jqArgDesc describes the jq argument.
const jqArgDesc = "A jq filter applied to the JSON response body before it is returned, to keep only what you need: \"[.items[] | {id, name}]\". Secrets are redacted before the filter runs. Several outputs come back as an array. A filter that does not compile is refused and nothing is sent."

const (
	// maxJQFilter bounds a filter's length.
	maxJQFilter = 4096
	// jqTimeout bounds one run; a filter such as [range(1e9)] or
	// "x" * 1e9 is stopped here, and memory grows only as fast as it
	// runs.
	jqTimeout = time.Second
	// jqReadLimit is how much of a body a call with a filter reads: a
	// filter needs the whole document, and its output is cut at
	// max_response_bytes like any body.
	jqReadLimit = 4 << 20
)

// jqFilter is a compiled filter and its text.
type jqFilter struct {
	code *gojq.Code
	src  string
}

// compileJQ compiles src. The environment is empty ($ENV, env), and
// input, inputs and modules are not available: a filter sees the body
// and nothing else of the process.
func compileJQ(src string) (*jqFilter, error) {
	if len(src) > maxJQFilter {
		return nil, fmt.Errorf("the jq filter is %d bytes long; keep it under %d", len(src), maxJQFilter)
	}
	q, err := gojq.Parse(src)
	if err != nil {
		return nil, fmt.Errorf("the jq filter does not parse: %s", shorten(err.Error(), 200))
	}
	code, err := gojq.Compile(q, gojq.WithEnvironLoader(func() []string { return nil }))
	if err != nil {
		return nil, fmt.Errorf("the jq filter does not compile: %s", shorten(err.Error(), 200))
	}
	return &jqFilter{code: code, src: src}, nil
}

// errJQ marks a run that failed: the message is the filter's, already
// free of secrets (it ran on redacted text).
var errJQ = errors.New("jq")

// run applies f to the JSON document data and returns the result as
// JSON: one output as itself, several as an array, none as null. It fails
// when the filter errors, runs over jqTimeout, or writes more than limit
// bytes.
func (f *jqFilter) run(ctx context.Context, data []byte, limit int) ([]byte, error) {
	v, ok := parseJSON(data)
	if !ok {
		return nil, fmt.Errorf("%w: the response body is not complete JSON, so the jq filter was not applied", errJQ)
	}
	ctx, cancel := context.WithTimeout(ctx, jqTimeout)
	defer cancel()
	iter := f.code.RunWithContext(ctx, jqValue(v))
	var outs []any
	size := 0
	for {
		x, ok := iter.Next()
		if !ok {
			break
		}
		if err, ok := x.(error); ok {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("%w: the jq filter ran longer than %s; make it simpler", errJQ, jqTimeout)
			}
			return nil, fmt.Errorf("%w: the jq filter failed: %s", errJQ, shorten(err.Error(), 200))
		}
		b, err := gojq.Marshal(x)
		if err != nil {
			return nil, fmt.Errorf("%w: the jq filter's output is not JSON", errJQ)
		}
		if size += len(b); size > limit {
			return nil, fmt.Errorf("%w: the jq filter's output is over %d bytes; select less", errJQ, limit)
		}
		outs = append(outs, x)
	}
	switch len(outs) {
	case 0:
		return []byte("null"), nil
	case 1:
		return gojq.Marshal(outs[0])
	}
	return gojq.Marshal(outs)
}

// jqValue converts a parsed body (numbers as json.Number) into the types
// gojq takes, keeping integers exact.
func jqValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return int(i)
		}
		if !strings.ContainsAny(string(x), ".eE") {
			if b, ok := new(big.Int).SetString(string(x), 10); ok {
				return b
			}
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i := range x {
			x[i] = jqValue(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jqValue(x[k])
		}
	}
	return v
}
