package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/credentials"
)

// TestCheckShowsEachPart: keyveil check prints one line per part of a
// service's auth, each with its scheme, variable, source, fingerprint and
// the origin its key is bound to (the token endpoint's for OAuth).
func TestCheckShowsEachPart(t *testing.T) {
	t.Parallel()
	const (
		apiKey = "dd-api-LEAKCHECK-0123456789abcdef"
		appKey = "dd-app-LEAKCHECK-fedcba9876543210"
		secret = "oauth-LEAKCHECK-secret-0123456789"
	)
	dir := t.TempDir()
	services := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(services, []byte(`services:
  datadog:
    base_url: https://api.datadoghq.com/api
    auth:
      - { type: header, name: DD-API-KEY, env: DD_API_KEY }
      - { type: header, name: DD-APPLICATION-KEY, env: DD_APP_KEY }
  pub:
    base_url: https://pub.example.com
    auth: { type: none }
  reports:
    base_url: https://reports.example.com
    auth: { type: oauth2_client_credentials, token_url: https://auth.example.com/token, client_id_env: R_ID, client_secret_env: R_SECRET }
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "check", "--config", services)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir(),
		"DD_API_KEY=" + apiKey, "DD_APP_KEY=" + appKey, "R_ID=client", "R_SECRET=" + secret}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("keyveil check: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	fp := func(v string) string { return credentials.NewSecret("", v).Fingerprint() }
	tests := []struct {
		name string
		want []string // the line's fields, in order
	}{
		{"first part", []string{"datadog", "https://api.datadoghq.com/api", "header:DD-API-KEY", "DD_API_KEY", "env", "set", "(33", "bytes)", fp(apiKey), "https://api.datadoghq.com"}},
		{"second part", []string{"header:DD-APPLICATION-KEY", "DD_APP_KEY", "env", "set", "(33", "bytes)", fp(appKey), "https://api.datadoghq.com"}},
		{"none", []string{"pub", "https://pub.example.com", "none", "-", "none", "not", "needed", "-", "-"}},
		{"oauth bound to the token endpoint", []string{"reports", "https://reports.example.com", "oauth2_client_credentials", "R_SECRET", "env", "set", "(33", "bytes)", fp(secret), "https://auth.example.com"}},
	}
	lines := strings.Split(stdout.String(), "\n")
	for _, tc := range tests {
		found := false
		for _, l := range lines {
			if strings.Join(strings.Fields(l), " ") == strings.Join(tc.want, " ") {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("%s: no line %q in keyveil check's output:\n%s", tc.name, strings.Join(tc.want, " "), stdout.String())
		}
	}
	assertNoLeak(t, "check stdout", stdout.Bytes())
	for _, v := range []string{apiKey, appKey, secret} {
		if strings.Contains(stdout.String()+stderr.String(), v) {
			t.Errorf("keyveil check shows a key")
		}
	}
}
