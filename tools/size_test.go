package tools

import (
	"encoding/json"
	"testing"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/openapi"
)

// TestOpenAPIToolsCompact: the tools examples/github-openapi.yaml offers
// average at most 1.2 KB each in tools/list (github-mcp-server's
// hand-written tools average about that), and schema: full gives the
// whole descriptions back.
func TestOpenAPIToolsCompact(t *testing.T) {
	t.Parallel()
	sizes := func(full bool) (int, int, int) {
		cfg, err := config.LoadFile("../examples/github-openapi.yaml")
		if err != nil {
			t.Fatal(err)
		}
		if full {
			cfg.Services[0].Schema = config.SchemaFull
		}
		if err := openapi.Expand(cfg, &openapi.ExpandOptions{NoCache: true}); err != nil {
			t.Fatal(err)
		}
		total, most, n := 0, 0, 0
		for _, tl := range All(Deps{Config: cfg}) {
			if tl.Tool.Name == "list_services" || tl.Tool.Name == "call_api" {
				continue
			}
			b, err := json.Marshal(tl.Tool)
			if err != nil {
				t.Fatal(err)
			}
			total, most, n = total+len(b), max(most, len(b)), n+1
		}
		return total, most, n
	}
	total, most, n := sizes(false)
	fullTotal, fullMost, _ := sizes(true)
	t.Logf("github-openapi.yaml: %d tools; compact %d bytes (%d a tool, largest %d); full %d bytes (%d a tool, largest %d)",
		n, total, total/n, most, fullTotal, fullTotal/n, fullMost)
	if total > 1200*n {
		t.Errorf("compact tools average %d bytes, want at most 1,200", total/n)
	}
	if fullTotal <= total {
		t.Errorf("schema: full gives %d bytes, compact %d: full should keep more", fullTotal, total)
	}
}
