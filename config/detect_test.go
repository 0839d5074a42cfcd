package config

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetectKeys(t *testing.T) {
	t.Parallel()
	body := "services:\n  k8s:\n    base_url: https://k.example\n    auth: {type: bearer, env: K8S_TOKEN}\n" +
		"    detect:\n      disable: [jwt]\n      fields: [\"data.*\", ssn]\n      remove_fields: [token]\n" +
		"      rules: [{kind: acme-key, prefix: acme_, pattern: \"[0-9a-f]{32}\"}]\n" +
		"  off:\n    base_url: https://o.example\n    auth: {type: none}\n    detect: {off: true}\n"
	c, err := Load(writeFile(t, body), lookupMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	k8s, _ := c.Service("k8s")
	want := Detect{Disable: []string{"jwt"}, Fields: []string{"data.*", "ssn"}, RemoveFields: []string{"token"},
		Rules: []DetectRule{{Kind: "acme-key", Prefix: "acme_", Pattern: "[0-9a-f]{32}"}}}
	if diff := cmp.Diff(want, k8s.Detect); diff != "" {
		t.Errorf("k8s detect (-want +got):\n%s", diff)
	}
	if o := k8s.Detect.Options(); o == nil || len(o.Rules) != 1 || o.Rules[0].Prefix != "acme_" {
		t.Errorf("k8s Detect.Options() = %+v, want the acme rule", o)
	}
	off, _ := c.Service("off")
	if o := off.Detect.Options(); o != nil {
		t.Errorf("off Detect.Options() = %+v, want nil", o)
	}
}

func TestDetectErrors(t *testing.T) {
	t.Parallel()
	const svc = "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: none}\n"
	tests := []struct {
		name, body string
		line       int
		want       string
	}{
		{"unknown key", svc + "    detect: {of: true}\n", 5, `unknown key "of" (did you mean "off"?)`},
		{"unknown kind", svc + "    detect:\n      disable: [githubtoken]\n", 5, `unknown kind "githubtoken"`},
		{"pasted key as kind", svc + "    detect:\n      disable: [ghp_LEAKCHECKaB3dE5gH7jK9mN1pQ3sT5vX7zA9c]\n", 5, "unknown kind (a value not shown)"},
		{"short prefix", svc + "    detect:\n      rules: [{kind: acme, prefix: ac}]\n", 5, "prefix of acme: give at least 4 bytes"},
		{"bad pattern", svc + "    detect:\n      rules: [{kind: acme, prefix: acme_, pattern: \"(\"}]\n", 5, "pattern of acme"},
		{"bad path", svc + "    detect:\n      fields: [\"a.[x]\"]\n", 5, "write a path as keys"},
		{"remove unknown", svc + "    detect:\n      remove_fields: [cursor]\n", 5, `"cursor" is not a default field name`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := loadErrorAt(t, tc.body, tc.line, tc.want)
			if strings.Contains(err.Error(), "LEAKCHECK") {
				t.Errorf("Load(%q) error quotes a pasted key: %v", tc.body, err)
			}
		})
	}
}

func TestResponseErrors(t *testing.T) {
	t.Parallel()
	const head = "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: none}\n" +
		"tools:\n  - name: t1\n    description: Do it.\n    service: crm\n    method: GET\n    path: /x\n"
	tests := []struct {
		name, body string
		line       int
		want       string
	}{
		{"jq does not parse", head + "    response: {jq: \".[\"}\n", 11, "response.jq does not parse"},
		{"jq does not compile", head + "    response: {jq: nosuch}\n", 11, "response.jq does not compile"},
		{"schema without jq", head + "    response: {schema: {type: object}}\n", 11, "add jq or remove schema"},
		{"unknown key", head + "    response: {filter: .}\n", 11, `unknown key "filter"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loadErrorAt(t, tc.body, tc.line, tc.want)
		})
	}
}
