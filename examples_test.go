package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/joho/godotenv"
)

// secretName says which variables of an example's .env.example hold a
// secret, whose fake value check must not print. Client IDs, user names
// and regions are left out: check may show those.
var secretName = regexp.MustCompile(`(?i)(KEY|SECRET|TOKEN|PASSWORD|CERT|JSON)$`)

// TestExamplesPassCheck runs keyveil check on every directory under
// examples/, the way its header tells a user to: from the repository's
// root, with its services.yaml and the fake values of its .env.example
// (whose NAME_FILE paths are relative to the root). Each must come
// out READY (exit 0), so an example that rots, or that uses a key a scheme
// does not accept, fails here; and check must print none of the fake
// secrets.
func TestExamplesPassCheck(t *testing.T) {
	t.Parallel()
	dirs, err := filepath.Glob(filepath.Join("examples", "*", ""))
	if err != nil {
		t.Fatal(err)
	}
	var examples []string
	for _, d := range dirs {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			examples = append(examples, d)
		}
	}
	if len(examples) == 0 {
		t.Fatal("no example directories under examples/; this test has nothing to check")
	}
	for _, dir := range examples {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			for _, f := range []string{"services.yaml", ".env.example"} {
				if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
					t.Fatalf("example %s has no %s: every example directory has both, so that `keyveil check` can run on it", dir, f)
				}
			}
			env, err := godotenv.Read(filepath.Join(dir, ".env.example"))
			if err != nil {
				t.Fatalf("reading %s/.env.example: %v", dir, err)
			}
			cmd := exec.Command(binPath, "check", "--config", filepath.Join(dir, "services.yaml"), "--env-file", filepath.Join(dir, ".env.example"))
			cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CACHE_HOME=" + t.TempDir()}
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("keyveil check in %s: %v; stdout:\n%s\nstderr:\n%s", dir, err, stdout.String(), stderr.String())
			}
			if !strings.Contains(stdout.String(), "READY") || strings.Contains(stdout.String(), "NOT READY") {
				t.Errorf("keyveil check in %s did not say READY; stdout:\n%s", dir, stdout.String())
			}
			var secrets []string
			for name, v := range env {
				if file, ok := strings.CutSuffix(name, "_FILE"); ok && secretName.MatchString(file) {
					// NAME_FILE, relative to the root: the secret is
					// the file's text.
					b, err := os.ReadFile(v)
					if err != nil {
						t.Fatalf("%s/.env.example: %s: %v", dir, name, err)
					}
					name, v = file, string(b)
				}
				if secretName.MatchString(name) && len(v) >= 12 {
					secrets = append(secrets, documentSecrets(v)...)
				}
			}
			if len(secrets) == 0 {
				t.Errorf("%s/.env.example holds no secret (a variable named *KEY, *SECRET, *TOKEN, *PASSWORD, *CERT or *JSON); an example shows where its keys go", dir)
			}
			assertNoSecret(t, "keyveil check's stdout", stdout.Bytes(), secrets, nil)
			assertNoSecret(t, "keyveil check's stderr", stderr.Bytes(), secrets, nil)
		})
	}
}

// documentSecrets returns what of v must stay secret: v itself; for a
// PEM file the lines of its base64 body (its BEGIN and END lines are no
// secret); for a service-account JSON key the lines of its private key
// and its private_key_id, since its other fields are identifiers that
// check may show (the token endpoint's origin, in BOUND TO), as
// scheme.Var.Document says.
func documentSecrets(v string) []string {
	var key struct {
		PrivateKey   string `json:"private_key"`
		PrivateKeyID string `json:"private_key_id"`
	}
	var out []string
	switch {
	case json.Unmarshal([]byte(v), &key) == nil && key.PrivateKey != "":
		out, v = []string{key.PrivateKeyID}, key.PrivateKey
	case !strings.HasPrefix(strings.TrimSpace(v), "-----BEGIN"):
		return []string{v}
	}
	for line := range strings.SplitSeq(v, "\n") {
		if line = strings.TrimSpace(line); len(line) >= 12 && !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}
