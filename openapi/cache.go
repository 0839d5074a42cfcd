package openapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/internal/yamljson"
)

// Importing a large OpenAPI document is slow: parsing and converting
// GitHub's 509 operations (3 MB) takes 100-200 ms on a small machine, more
// than an MCP host should wait for tools/list. So the tools an import produces are cached in a
// file named by a hash of everything they depend on: this package's
// format version, the document's bytes, the bytes of every local file its
// $refs read, and the import options. A changed document or option misses
// the cache; nothing is ever served stale. The cache holds no secret (tools
// are built from the document and the services file, never from keys),
// and cached tools pass config's validation again like fresh ones.

// cacheVersion changes whenever the conversion changes what it produces.
const cacheVersion = "keyveil-openapi-cache-3" // 3: compact schemas

// cacheEntry is one cached import.
type cacheEntry struct {
	Version string            `json:"version"`
	Refs    map[string]string `json:"refs"` // $ref'd file -> sha256 hex of its bytes
	Tools   []config.Tool     `json:"tools"`
	Warns   []string          `json:"warnings,omitempty"` // operations left out, for the operator
}

// cacheKey returns the file name for an import of data with opts.
func cacheKey(data []byte, opts Options) string {
	h := sha256.New()
	o, _ := json.Marshal(struct {
		V    string
		Opts Options
	}{cacheVersion, opts})
	h.Write(o)
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)[:16]) + ".json"
}

// readCache returns the cached tools for key, or false when there are none
// or a $ref'd file has changed since.
func readCache(dir, key string) ([]config.Tool, []string, bool) {
	if dir == "" {
		return nil, nil, false
	}
	b, err := os.ReadFile(filepath.Join(dir, key))
	if err != nil {
		return nil, nil, false
	}
	var e struct {
		Version string            `json:"version"`
		Refs    map[string]string `json:"refs"`
		Tools   []cachedTool      `json:"tools"`
		Warns   []string          `json:"warnings"`
	}
	if err := json.Unmarshal(b, &e); err != nil || e.Version != cacheVersion {
		return nil, nil, false
	}
	for path, sum := range e.Refs {
		data, err := yamljson.ReadFile(path, maxFileBytes)
		if err != nil || hashHex(data) != sum {
			return nil, nil, false
		}
	}
	tools, err := decodeTools(e.Tools)
	if err != nil {
		return nil, nil, false
	}
	return tools, e.Warns, true
}

// writeCache stores tools under key, atomically, readable by the user
// alone. Failing to write only costs the next start its speed.
func writeCache(dir, key string, refs map[string]string, tools []config.Tool, warns []string) {
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return
	}
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(cacheEntry{Version: cacheVersion, Refs: refs, Tools: tools, Warns: warns}); err != nil {
		return
	}
	f, err := os.CreateTemp(dir, "tmp-*")
	if err != nil {
		return
	}
	_, werr := f.Write(b.Bytes())
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), filepath.Join(dir, key)) != nil {
		_ = os.Remove(f.Name())
	}
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// defaultCacheDir is $XDG_CACHE_HOME/keyveil/openapi (or the platform's
// equivalent), or "" when the platform has none.
func defaultCacheDir() string {
	d, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(d, "keyveil", "openapi")
}
