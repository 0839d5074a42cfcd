package openapi

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/keyveil/keyveil/internal/yamljson"
)

// Bounds on what a document may read. Documents and the files their $refs
// name are often copied from a vendor: GitHub's whole description is about
// 11 MiB of JSON, so these leave room for any real API and none for
// /dev/zero.
const (
	maxFileBytes  = 32 << 20 // the document, or one file a $ref names
	maxTotalBytes = 64 << 20 // the document and every file its $refs name
)

// loader decodes one document and the local files its $refs read.
type loader struct {
	files map[string]any    // absolute path, symlinks resolved -> parsed JSON value
	refs  map[string]string // files read through $refs -> sha256 hex
	dir   string            // the document's directory, symlinks resolved: $refs read files below it only
	read  int64             // bytes read so far, the document's included
	v31   bool              // OpenAPI 3.1 or later: keywords next to a schema's $ref apply

	schemas map[string]*schema // $ref target ("file#pointer") -> its schema, shared
	merges  []*merge           // 3.1 $refs with keywords beside them, applied at the end
}

// Load reads and parses the OpenAPI document at path, a local YAML or JSON
// file. $refs to other local files are followed; references to URLs are
// not fetched, so loading a document makes no network request.
func Load(path string) (*Document, error) {
	data, err := readDocument(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data)
}

// readDocument reads the document at path: a regular file of at most
// maxFileBytes.
func readDocument(path string) ([]byte, error) {
	data, err := yamljson.ReadFile(path, maxFileBytes)
	if err != nil {
		return nil, fmt.Errorf("reading OpenAPI document: %w", err)
	}
	return data, nil
}

// parse parses data, the document read from path: the operations of every
// path item with their parameters, request bodies and schemas, $refs
// resolved. Responses and examples are not read.
func parse(path string, data []byte) (*Document, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("reading OpenAPI document: %w", err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	root, err := yamljson.Decode(path, data)
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
		dir:     filepath.Dir(abs),
		read:    int64(len(data)),
		v31:     !strings.HasPrefix(version, "3.0"),
		schemas: map[string]*schema{},
	}
	d := &Document{path: path, version: version, refs: l.refs}
	if err := l.document(d, abs, m); err != nil {
		return nil, fmt.Errorf("%s: not a usable OpenAPI document: %w", path, err)
	}
	d.size = int(l.read)
	return d, nil
}
