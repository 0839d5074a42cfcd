package openapi

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"github.com/getkin/kin-openapi/openapi3"
)

// localOnly reads a $ref'd document from the local file system. It refuses
// URLs: loading the operator's document must not make network requests
// (which could be made to reach internal hosts) nor depend on them.
func localOnly(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
	if u.Scheme != "" && u.Scheme != "file" || u.Host != "" {
		return nil, fmt.Errorf("$ref to %s://%s is not followed; keyveil reads local files only (download the document and refer to the file)", u.Scheme, u.Host)
	}
	p := filepath.FromSlash(u.Path)
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("reading $ref file: %w", err)
	}
	return data, nil
}
