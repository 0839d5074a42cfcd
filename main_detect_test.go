package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"hash/crc32"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// githubFake returns a fake classic GitHub token with a valid checksum
// (30 characters and the base62 CRC-32 of them), computed here rather
// than by the detector under test.
func githubFake(body string) string {
	const b62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	v := crc32.ChecksumIEEE([]byte(body))
	sum := make([]byte, 6)
	for i := 5; i >= 0; i-- {
		sum[i] = b62[v%62]
		v /= 62
	}
	return "ghp_" + body + string(sum)
}

// TestSubprocessDetectsSecrets runs the binary against a downstream that
// returns a deployment-style payload full of secrets keyveil never held,
// beside decoys: every secret comes back as its kind's marker, every decoy
// unchanged, and the audit line counts the kinds without a value.
func TestSubprocessDetectsSecrets(t *testing.T) {
	t.Parallel()
	jwtHeader := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`))
	// No value shares 8 bytes with fakeKey: such a run would be redacted
	// as a fragment of the held key first, and the kind would not show.
	secrets := map[string]string{
		"github-token":       githubFake("Zq8rT2vX5mN1pL7kW3cB9dF4gH6jY0"),
		"aws-access-key-id":  "AKIAZ7QXW3RTY5UVP2KS",
		"slack-token":        "xoxb-204897531642-9753186420975-QwErTyUiOpAsDfGhJkLzXcVb",
		"stripe-key":         "sk_live_4eC39HqLyjWDarjtT1zdp7dcQw8rT",
		"private-key":        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq98u2Fz\n-----END RSA PRIVATE KEY-----",
		"jwt":                jwtHeader + ".eyJzdWIiOiJkZXBsb3kiLCJpYXQiOjE3MDB9.c2lnbmF0dXJlLW9mLWEtZmFrZS1qd3Q",
		"url-password":       "Pg-S3cr3t-Passw0rd",
		"sensitive-field":    "hunter2-field-value",
		"digitalocean-token": "dop_v1_" + strings.Repeat("a1b2c3d4", 8),
	}
	decoys := []string{
		"6f1c2a9e-0b7d-4c1e-9a55-3f2b8d7e6c10",
		"9fceb02d0ae598e95dc970b74767f19372d61af8",
		"sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
		"CiAKGjBpNDd2Nmp2Zml2cXRwYjBpOXA2MTRkOGQ0EgIIAQ",
		"rename the ghp_ check",
		"iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk",
	}
	payload := map[string]any{
		"kind": "Deployment", "metadata": map[string]any{"name": "web", "uid": decoys[0]},
		"spec": map[string]any{"template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{
			"image": "ghcr.io/acme/web@" + decoys[2],
			"env": []any{
				map[string]any{"name": "GITHUB_TOKEN", "value": secrets["github-token"]},
				map[string]any{"name": "AWS_ACCESS_KEY_ID", "value": secrets["aws-access-key-id"]},
				map[string]any{"name": "SLACK_BOT", "value": secrets["slack-token"]},
				map[string]any{"name": "STRIPE", "value": secrets["stripe-key"]},
				map[string]any{"name": "TLS_KEY", "value": secrets["private-key"]},
				map[string]any{"name": "DATABASE_URL", "value": "postgres://app:" + secrets["url-password"] + "@db:5432/app"},
				map[string]any{"name": "DO_TOKEN", "value": secrets["digitalocean-token"]},
				map[string]any{"name": "GIT_SHA", "value": decoys[1]},
			},
		}}}}},
		"status":          map[string]any{"note": decoys[4], "session": secrets["jwt"], "icon": decoys[5]},
		"next_page_token": decoys[3],
		"admin":           map[string]any{"user": "ops", "password": secrets["sensitive-field"]},
		"secret":          map[string]any{"data": map[string]any{"db": "cGFzc3dvcmQtaW4tYS1rOHMtc2VjcmV0"}},
	}
	body, _ := json.Marshal(payload)
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(down.Close)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "services.yaml")
	yaml := "services:\n  k8s:\n    base_url: " + down.URL + "\n    auth: {type: bearer, env: K8S_TOKEN}\n" +
		"    detect:\n      fields: [\"secret.data.*\"]\n" +
		"  raw:\n    base_url: " + down.URL + "/raw\n    auth: {type: bearer, env: K8S_TOKEN}\n    detect: {off: true}\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, "audit.jsonl")
	s := startRaw(t, []string{"K8S_TOKEN=" + fakeKey}, "serve", "--config", cfg, "--audit-log", audit)
	s.initialize()

	res := s.call(2, "tools/call", map[string]any{"name": "call_api", "arguments": map[string]any{"service": "k8s", "method": "GET", "path": "/apis/apps/v1/deployments/web"}})
	out, _ := json.Marshal(res["result"])
	if res["error"] != nil || bytes.Contains(out, []byte(`"isError":true`)) {
		t.Fatalf("call_api: %s %v", out, res["error"])
	}
	for kind, secret := range secrets {
		enc, _ := json.Marshal(secret)
		inner := enc[1 : len(enc)-1]
		if bytes.Contains(out, inner) {
			t.Errorf("result shows the %s secret: %s", kind, out)
		}
		if !bytes.Contains(out, []byte("[REDACTED:"+kind+"]")) {
			t.Errorf("result has no [REDACTED:%s] marker", kind)
		}
	}
	if bytes.Contains(out, []byte("cGFzc3dvcmQtaW4tYS1rOHMtc2VjcmV0")) {
		t.Errorf("result shows a value under the operator's path secret.data.*")
	}
	for _, d := range decoys {
		if !bytes.Contains(out, []byte(d)) {
			t.Errorf("result lost the decoy %q", d)
		}
	}

	// Detection off for a service leaves the same payload alone.
	res = s.call(3, "tools/call", map[string]any{"name": "call_api", "arguments": map[string]any{"service": "raw", "method": "GET", "path": "/x"}})
	if out, _ := json.Marshal(res["result"]); !bytes.Contains(out, []byte(secrets["aws-access-key-id"])) {
		t.Errorf("detect off: the payload was changed: %s", out)
	}

	_ = s.stdin.Close()
	_ = s.cmd.Wait()
	lines, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	first, _, _ := bytes.Cut(lines, []byte("\n"))
	var rec struct {
		Redacted map[string]int `json:"redacted"`
	}
	if err := json.Unmarshal(first, &rec); err != nil {
		t.Fatalf("audit line %s: %v", first, err)
	}
	for kind := range secrets {
		if rec.Redacted[kind] < 1 {
			t.Errorf("audit redacted = %v, want a count for %s", rec.Redacted, kind)
		}
	}
	for kind, secret := range secrets {
		if bytes.Contains(lines, []byte(secret[:min(len(secret), 20)])) && kind != "private-key" {
			t.Errorf("audit log holds the %s value", kind)
		}
	}
}
