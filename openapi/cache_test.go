package openapi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyveil/keyveil/config"
)

func toolsJSON(t *testing.T, tools []config.Tool) string {
	t.Helper()
	b, err := json.Marshal(tools)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestCache checks that a second import is served from the cache with the
// same result, and that changing the document or a file it $refs misses.
func TestCache(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	spec := filepath.Join(dir, "api.yaml")
	shared := filepath.Join(dir, "shared.yaml")
	write := func(p, body string) {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(shared, "id: {name: id, in: path, required: true, schema: {type: string}}\n")
	write(spec, `openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things/{id}:
    get:
      operationId: getThing
      summary: Get a thing.
      parameters: [{$ref: "shared.yaml#/id"}]
      responses: {"200": {description: ok}}
`)
	opts := Options{Service: "api", Operations: []string{"*"}}
	fresh, _, hit, save, err := importTools(spec, cache, opts)
	if err != nil || hit {
		t.Fatalf("first import: cached %v, error %v", hit, err)
	}
	if entries, _ := filepath.Glob(filepath.Join(cache, "*.json")); len(entries) != 0 {
		t.Fatalf("cache has %d entries before save, want none", len(entries))
	}
	save()
	entries, _ := filepath.Glob(filepath.Join(cache, "*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache has %d entries after one import, want 1", len(entries))
	}
	if info, err := os.Stat(entries[0]); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("cache entry mode = %v, %v; want 0600", info.Mode().Perm(), err)
	}
	cached, _, hit, _, err := importTools(spec, cache, opts)
	if err != nil || !hit {
		t.Fatalf("second import: cached %v, error %v", hit, err)
	}
	if diff := cmp.Diff(toolsJSON(t, fresh), toolsJSON(t, cached)); diff != "" {
		t.Errorf("cached tools differ from fresh ones (-fresh +cached):\n%s", diff)
	}
	// Prove the second import came from the cache: mark the entry.
	b, _ := os.ReadFile(entries[0])
	write(entries[0], strings.Replace(string(b), "Get a thing.", "FROM CACHE", 1))
	if got, _, _, _, _ := importTools(spec, cache, opts); !strings.Contains(toolsJSON(t, got), "FROM CACHE") {
		t.Error("a second import did not use the cache")
	}
	// A changed $ref'd file misses.
	write(shared, "id: {name: id, in: path, required: true, description: changed, schema: {type: string}}\n")
	if got, _, hit, _, _ := importTools(spec, cache, opts); hit || strings.Contains(toolsJSON(t, got), "FROM CACHE") || !strings.Contains(toolsJSON(t, got), "changed") {
		t.Errorf("a changed $ref'd file was served from the cache: %s", toolsJSON(t, got))
	}
	// Other options miss too.
	other, _, _, _, err := importTools(spec, cache, Options{Service: "api", Operations: []string{"getThing"}, Taken: []string{"getThing"}})
	if err != nil || len(other) != 1 || other[0].Name != "getThing_2" {
		t.Errorf("import with other options = %v, %v", other, err)
	}
	// No cache directory: nothing written, still works.
	if _, _, _, _, err := importTools(spec, "", opts); err != nil {
		t.Errorf("import without a cache: %v", err)
	}
}

func BenchmarkImport(b *testing.B) {
	opts := Options{Service: "github", Operations: []string{"*"}}
	spec := filepath.Join("testdata", "github.json")
	b.Run("parse", func(b *testing.B) {
		for b.Loop() {
			if _, _, _, _, err := importTools(spec, "", opts); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		dir := b.TempDir()
		_, _, _, save, err := importTools(spec, dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		save()
		for b.Loop() {
			if _, _, _, _, err := importTools(spec, dir, opts); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestCacheRevalidated checks that tools read from the cache meet every
// rule of the configuration they join (only resolving their schemas is
// skipped), and that tools the configuration refuses are never cached.
// The cache key covers the document and the import options but not, say,
// the service's deny_headers, so a hit can meet a stricter configuration.
func TestCacheRevalidated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	spec := filepath.Join(dir, "api.yaml")
	if err := os.WriteFile(spec, []byte(`openapi: 3.0.3
info: {title: t, version: "1"}
paths:
  /things:
    get:
      operationId: listThings
      parameters: [{name: X-Trace, in: header, schema: {type: string}}]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	expand := func(cache, extra string) error {
		p := filepath.Join(t.TempDir(), "keyveil.yaml")
		body := "services:\n  s:\n    base_url: https://a.example\n    auth: {type: none}\n    openapi: " + spec + "\n    operations: ['*']\n" + extra
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Load(p, func(string) (string, bool) { return "", false })
		if err != nil {
			t.Fatal(err)
		}
		return Expand(cfg, &ExpandOptions{CacheDir: cache})
	}
	entries := func(cache string) int {
		m, _ := filepath.Glob(filepath.Join(cache, "*.json"))
		return len(m)
	}
	const deny = "    deny_headers: [X-Trace]\n"

	cache := filepath.Join(dir, "cache")
	if err := expand(cache, ""); err != nil || entries(cache) != 1 {
		t.Fatalf("Expand = %v with %d cache entries, want success and 1", err, entries(cache))
	}
	if err := expand(cache, deny); err == nil || !strings.Contains(err.Error(), "deny_headers") {
		t.Errorf("Expand(deny_headers) from the cache = %v, want the header refused", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := expand(empty, deny); err == nil || entries(empty) != 0 {
		t.Errorf("Expand(deny_headers) = %v with %d cache entries, want an error and none", err, entries(empty))
	}
}
