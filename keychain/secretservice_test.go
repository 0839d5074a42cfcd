package keychain

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

// requireEnv, when set to 1, turns the skip of a test that needs a real
// Secret Service into a failure: scripts/test.sh sets it where it has
// started one under dbus-run-session, so CI cannot pass by skipping.
const requireEnv = "KEYVEIL_TEST_SECRET_SERVICE"

// needSecretService skips the test unless the OS keychain answers.
func needSecretService(t *testing.T) {
	t.Helper()
	why := ""
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		// Without it godbus may try to autolaunch a bus of its own.
		why = "DBUS_SESSION_BUS_ADDRESS is not set"
	} else if _, err := defaultStore.names(); err != nil {
		why = err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("no Secret Service, and %s=1: %s", requireEnv, why)
	}
	t.Skipf("no Secret Service to test against (%s); scripts/test.sh runs this under dbus-run-session with gnome-keyring", why)
}

// TestSecretService stores, reads, lists and deletes a secret through the
// real OS keychain (gnome-keyring on Linux CI), with the command a person
// runs.
func TestSecretService(t *testing.T) {
	needSecretService(t)
	name := fmt.Sprintf("keyveil-test-%d", os.Getpid())
	t.Cleanup(func() { _ = defaultStore.remove(name) })
	run := func(stdin string, args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := Command(args, strings.NewReader(stdin), &stdout, &stderr, testCheck)
		if strings.Contains(stdout.String()+stderr.String(), "LEAKCHECK") {
			t.Errorf("secrets %q printed the key: %q %q", args, stdout.String(), stderr.String())
		}
		return stdout.String(), err
	}
	if _, err := run(testKey+"\n", "set", name, "--origin", "https://crm.example.com/v1"); err != nil {
		t.Fatalf("secrets set: %v", err)
	}
	v, e, err := Lookup(name)
	if err != nil || v != testKey || e.Origin != "https://crm.example.com" || e.Created.IsZero() {
		t.Fatalf("Lookup(%s) = %d bytes, %+v, %v; want the key bound to https://crm.example.com", name, len(v), e, err)
	}
	out, err := run("", "list")
	if err != nil || !strings.Contains(out, name+"  https://crm.example.com") {
		t.Errorf("secrets list = %q, %v; want %s with its origin", out, err, name)
	}
	if _, err := run("", "delete", name); err != nil {
		t.Fatalf("secrets delete: %v", err)
	}
	if _, _, err := Lookup(name); !errors.Is(err, ErrNotFound) {
		t.Errorf("Lookup after delete = %v, want ErrNotFound", err)
	}
	if out, _ := run("", "list"); strings.Contains(out, name) {
		t.Errorf("secrets list after delete = %q, still names %s", out, name)
	}
}
