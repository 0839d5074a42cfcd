package openapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// loader decodes one document and the local files its $refs read.
type loader struct {
	files map[string]any    // absolute path -> parsed JSON value
	refs  map[string]string // files read through $refs -> sha256 hex
	v31   bool              // OpenAPI 3.1 or later: keywords next to a schema's $ref apply

	schemas map[string]*schema // $ref target ("file#pointer") -> its schema, shared
	merges  []*merge           // 3.1 $refs with keywords beside them, applied at the end
}

// Load reads and parses the OpenAPI document at path, a local YAML or JSON
// file. $refs to other local files are followed; references to URLs are
// not fetched, so loading a document makes no network request.
func Load(path string) (*Document, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading OpenAPI document: %w", err)
	}
	return parse(path, data)
}

// parse parses data, the document read from path: the operations of every
// path item with their parameters, request bodies and schemas, $refs
// resolved. Responses and examples are not read.
func parse(path string, data []byte) (*Document, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading OpenAPI document: %w", err)
	}
	root, err := decodeData(data)
	if err != nil {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: %w", path, err)
	}
	m, ok := root.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: it is not a mapping of keys", path)
	}
	version, ok := m["openapi"].(string)
	if _, present := m["openapi"]; present && !ok {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: openapi must be a string such as \"3.0.3\" (quote it in YAML)", path)
	}
	if !strings.HasPrefix(version, "3.") {
		return nil, fmt.Errorf("%s: OpenAPI version %q is not supported; keyveil reads 3.0 and 3.1 (convert Swagger 2.0 first)", path, version)
	}
	l := &loader{
		files:   map[string]any{abs: root},
		refs:    map[string]string{},
		v31:     !strings.HasPrefix(version, "3.0"),
		schemas: map[string]*schema{},
	}
	d := &Document{path: path, version: version, refs: l.refs}
	if err := l.document(d, abs, m); err != nil {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: %w", path, err)
	}
	return d, nil
}

// decodeData parses a document's bytes as JSON, or else as YAML, into
// plain JSON values (map[string]any, []any, string, float64, bool, nil).
func decodeData(data []byte) (any, error) {
	var v any
	jerr := json.Unmarshal(data, &v)
	if jerr == nil {
		return v, nil
	}
	var n yaml.Node
	if err := yaml.Unmarshal(data, &n); err != nil {
		return nil, err
	}
	if len(n.Content) == 0 {
		return nil, errors.New("the file is empty")
	}
	return yamlValue(n.Content[0], 0)
}
