package keys

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCommand runs Command and returns what it wrote.
func runCommand(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = Command(args, &out, &errOut)
	return out.String(), errOut.String(), err
}

var keyLine = regexp.MustCompile(`^kv_[a-z2-7]{8}_[a-z2-7]{32}\n$`)

func TestCommandLifecycle(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")

	out, errOut, err := runCommand(t, "create", "--keys", path, "--name", "ci", "--scopes", "write, read", "--expires", "90d", "--rate", "60/min")
	if err != nil {
		t.Fatalf("keys create = %v; stderr:\n%s", err, errOut)
	}
	if !keyLine.MatchString(out) {
		t.Fatalf("keys create stdout = %q, want the key alone on one line", out)
	}
	key := strings.TrimSpace(out)
	id, secret, _ := split(key)
	if !strings.Contains(errOut, id) || !strings.Contains(errOut, "only time") {
		t.Errorf("keys create stderr = %q, want the id and a warning that the key is shown once", errOut)
	}
	if strings.Contains(errOut, secret) {
		t.Errorf("keys create stderr contains the secret: %q", errOut)
	}

	out, _, err = runCommand(t, "list", "--keys", path)
	if err != nil {
		t.Fatalf("keys list = %v", err)
	}
	for _, want := range []string{id, "ci", "active", "read,write", "60/min"} {
		if !strings.Contains(out, want) {
			t.Errorf("keys list = %q, want it to mention %q", out, want)
		}
	}
	if strings.Contains(out, secret) {
		t.Errorf("keys list shows the secret: %q", out)
	}

	out, _, err = runCommand(t, "list", "--json", "--keys", path)
	if err != nil {
		t.Fatalf("keys list --json = %v", err)
	}
	var listed []Key
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 1 || listed[0].ID != id || listed[0].Rate != (Rate{60, 60e9}) {
		t.Errorf("keys list --json = %s (%v), want one key %s at 60/min", out, err, id)
	}
	if strings.Contains(out, secret) || strings.Contains(out, "sha256") {
		t.Errorf("keys list --json shows the secret or its hash: %s", out)
	}

	// Flags may follow the id.
	out, errOut, err = runCommand(t, "rotate", id, "--keys", path, "--overlap", "1h")
	if err != nil {
		t.Fatalf("keys rotate = %v; stderr:\n%s", err, errOut)
	}
	if !keyLine.MatchString(out) || strings.TrimSpace(out) == key {
		t.Fatalf("keys rotate stdout = %q, want a new key alone on one line", out)
	}
	newID, _, _ := split(strings.TrimSpace(out))

	if _, errOut, err = runCommand(t, "revoke", newID, "--keys", path); err != nil {
		t.Fatalf("keys revoke = %v; stderr:\n%s", err, errOut)
	}
	r, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Authenticate(strings.TrimSpace(out)); !errors.Is(err, ErrRevoked) {
		t.Errorf("Authenticate(revoked by keys revoke) = %v, want ErrRevoked", err)
	}
	if _, err := r.Authenticate(key); err != nil {
		t.Errorf("Authenticate(old key during overlap) = %v, want nil", err)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("registry mode after commands = %04o, want 0600", fi.Mode().Perm())
	}
}

func TestCommandErrors(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	if _, _, err := runCommand(t, "create", "--keys", path, "--name", "seed"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		args   []string
		wantIn string
	}{
		{name: "no command", args: nil, wantIn: "missing command"},
		{name: "unknown command", args: []string{"delete"}, wantIn: "unknown command"},
		{name: "create without name", args: []string{"create", "--keys", path}, wantIn: "--name"},
		{name: "bad rate", args: []string{"create", "--keys", path, "--name", "x", "--rate", "lots"}, wantIn: "--rate"},
		{name: "bad expiry", args: []string{"create", "--keys", path, "--name", "x", "--expires", "later"}, wantIn: "--expires"},
		{name: "unknown flag", args: []string{"list", "--keys", path, "--secrets"}, wantIn: "secrets"},
		{name: "revoke without id", args: []string{"revoke", "--keys", path}, wantIn: "key id"},
		{name: "revoke unknown id", args: []string{"revoke", "aaaaaaaa", "--keys", path}, wantIn: "no key"},
		{name: "rotate bad overlap", args: []string{"rotate", "aaaaaaaa", "--keys", path, "--overlap", "x"}, wantIn: "--overlap"},
		{name: "list missing file", args: []string{"list", "--keys", path + ".nope"}, wantIn: "keys create"},
		{name: "stray argument", args: []string{"list", "--keys", path, "extra"}, wantIn: "extra"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, _, err := runCommand(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
				t.Errorf("Command(%q) = %v, want an error mentioning %q", tc.args, err, tc.wantIn)
			}
			if out != "" {
				t.Errorf("Command(%q) wrote %q to stdout, want nothing", tc.args, out)
			}
		})
	}
}

// TestCommandRegistryFromEnv cannot run in parallel: it sets KEYVEIL_KEYS.
func TestCommandRegistryFromEnv(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys.json")
	t.Setenv(EnvKeys, "")
	if _, _, err := runCommand(t, "list"); err == nil || !strings.Contains(err.Error(), EnvKeys) {
		t.Errorf("keys list without --keys or %s = %v, want an error naming both", EnvKeys, err)
	}
	t.Setenv(EnvKeys, path)
	out, _, err := runCommand(t, "create", "--name", "env")
	if err != nil || !keyLine.MatchString(out) {
		t.Fatalf("keys create with %s set = %q, %v", EnvKeys, out, err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Errorf("keys create did not write %s from %s: %v", path, EnvKeys, err)
	}
}

// TestCommandDoesNotEchoAPastedKey: a whole key given where an id belongs
// is refused without repeating its secret.
func TestCommandDoesNotEchoAPastedKey(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "keys.json")
	out, _, err := runCommand(t, "create", "--keys", path, "--name", "leaked")
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(out)
	id, secret, _ := split(key)
	for _, args := range [][]string{
		{"revoke", key, "--keys", path},
		{"rotate", key, "--keys", path},
		{"list", key, "--keys", path},
	} {
		out, errOut, err := runCommand(t, args...)
		if err == nil || !strings.Contains(err.Error(), id) {
			t.Errorf("Command(%s KEY) = %v, want an error naming the key's id %s", args[0], err, id)
		}
		if strings.Contains(out+errOut+fmt.Sprint(err), secret) {
			t.Errorf("Command(%s KEY) repeated the key's secret: %v; stderr %q", args[0], err, errOut)
		}
	}
}
