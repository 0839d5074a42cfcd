package tools

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestListServices is not parallel: it sets the key in the environment to
// show that nothing in list_services reaches for it.
func TestListServices(t *testing.T) {
	t.Setenv("CRM_API_KEY", fakeKey) // present in the environment, never shown
	tests := []struct {
		readOnly bool
	}{{false}, {true}}
	for _, version := range protocolVersions {
		for _, tc := range tests {
			name := version + "/read-write"
			if tc.readOnly {
				name = version + "/read-only"
			}
			t.Run(name, func(t *testing.T) {
				d := Deps{
					Config:       loadConfig(t, snapshotConfig),
					ReadOnly:     tc.readOnly,
					Fingerprints: map[string]string{"crm": "a1b2c3d4"},
				}
				cs := connect(t, d, version)
				res := call(t, cs, "list_services", nil)
				if res.IsError {
					t.Fatalf("list_services isError: %s", text(res))
				}
				want := map[string]any{
					"read_only": tc.readOnly,
					"services": []any{
						map[string]any{
							"name": "billing", "base_url": "https://billing.example.com/v1", "auth": "query:api_key",
							"allow": []any{"GET /**"}, "docs": "", "timeout_seconds": float64(30), "max_response_bytes": float64(262144),
						},
						map[string]any{
							"name": "crm", "base_url": "https://crm.example.com/api/v2", "auth": "header:X-API-Key",
							"allow": []any{"GET /**", "POST /quotes/*/followups"}, "docs": "Quotes and their follow-ups.",
							"timeout_seconds": float64(30), "max_response_bytes": float64(262144),
						},
					},
				}
				got := structured(t, res)
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("list_services (-want +got):\n%s", diff)
				}
				var fromText map[string]any
				if err := json.Unmarshal([]byte(firstText(t, res)), &fromText); err != nil {
					t.Fatalf("list_services text is not JSON: %v", err)
				}
				if diff := cmp.Diff(got, fromText); diff != "" {
					t.Errorf("list_services text differs from structuredContent:\n%s", diff)
				}
				for _, secretish := range []string{fakeKey, "CRM_API_KEY", "BILLING_API_KEY", "a1b2c3d4", "sk-"} {
					if strings.Contains(firstText(t, res), secretish) {
						t.Errorf("list_services shows %q", secretish)
					}
				}
			})
		}
	}
}
