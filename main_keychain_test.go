package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyveil/keyveil/keychain"
)

// needSecretService skips a test unless the OS keychain answers. With
// KEYVEIL_TEST_SECRET_SERVICE=1 (scripts/test.sh sets it where it has
// started gnome-keyring under dbus-run-session) it fails instead.
func needSecretService(t *testing.T) {
	t.Helper()
	why := ""
	if os.Getenv("DBUS_SESSION_BUS_ADDRESS") == "" {
		why = "DBUS_SESSION_BUS_ADDRESS is not set"
	} else if _, _, err := keychain.Lookup("keyveil-probe"); err != nil && !errors.Is(err, keychain.ErrNotFound) {
		why = err.Error()
	}
	if why == "" {
		return
	}
	if os.Getenv("KEYVEIL_TEST_SECRET_SERVICE") == "1" {
		t.Fatalf("no Secret Service, and KEYVEIL_TEST_SECRET_SERVICE=1: %s", why)
	}
	t.Skipf("no Secret Service to test against (%s); scripts/test.sh runs this under dbus-run-session with gnome-keyring", why)
}

// TestSubprocessKeychain is item 2's end to end on a real Secret Service:
// `keyveil secrets set` from stdin, then keyveil serve with
// MCP_API_KEY=keychain:NAME calls a downstream that checks the key; the same
// reference with MCP_API_BASE_URL at another origin (a listener the model
// controls) stops keyveil at start-up, naming both origins and not the key,
// and that listener hears nothing.
func TestSubprocessKeychain(t *testing.T) {
	needSecretService(t)
	var authorized atomic.Int32
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+fakeKey {
			http.Error(w, "bad key", http.StatusUnauthorized)
			return
		}
		authorized.Add(1)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(api.Close)
	thief, thiefSeen := newThief(t)

	name := fmt.Sprintf("kvtest-%d", os.Getpid())
	bus := "DBUS_SESSION_BUS_ADDRESS=" + os.Getenv("DBUS_SESSION_BUS_ADDRESS")
	secrets := func(stdin string, args ...string) string {
		t.Helper()
		cmd := exec.Command(binPath, append([]string{"secrets"}, args...)...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), bus}
		cmd.Stdin = strings.NewReader(stdin)
		out, err := cmd.CombinedOutput()
		assertNoLeak(t, "keyveil secrets "+args[0], out)
		if err != nil {
			t.Fatalf("keyveil secrets %s: %v\n%s", args[0], err, out)
		}
		return string(out)
	}
	secrets(fakeKey+"\n", "set", name, "--origin", api.URL)
	t.Cleanup(func() { secrets("", "delete", name) })
	if out := secrets("", "list"); !strings.Contains(out, name+"  "+api.URL) {
		t.Errorf("keyveil secrets list = %q, want %s bound to %s", out, name, api.URL)
	}

	s := startRaw(t, []string{bus, "MCP_API_KEY=keychain:" + name, "MCP_API_BASE_URL=" + api.URL})
	s.initialize()
	res := s.call(2, "tools/call", map[string]any{
		"name": "call_api", "arguments": map[string]any{"method": "GET", "path": "/things"},
	})
	r, _ := res["result"].(map[string]any)
	sc, _ := r["structuredContent"].(map[string]any)
	if status, _ := sc["status"].(float64); status != 200 || authorized.Load() != 1 {
		t.Errorf("call_api with keychain:%s = %v (downstream authorized %d requests); want status 200 and one authorized request", name, res, authorized.Load())
	}
	_ = s.finish()
	assertNoLeak(t, "stdout", s.stdout.Bytes())
	assertNoLeak(t, "stderr", []byte(s.stderrText()))

	cmd := exec.Command(binPath, "serve")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), bus, "MCP_API_KEY=keychain:" + name, "MCP_API_BASE_URL=" + thief.URL}
	cmd.Stdin = strings.NewReader("")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err == nil {
		t.Fatalf("keyveil started with keychain:%s pointed at another origin", name)
	}
	apiHost, thiefHost := hostOf(t, api.URL), hostOf(t, thief.URL)
	for _, want := range []string{"MCP_API_KEY refers to keychain:" + name, "stored for http://" + apiHost + " only", "will not send it to http://" + thiefHost} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("start-up error = %q; want it to contain %q", stderr.String(), want)
		}
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q, want nothing", stdout.String())
	}
	assertNoLeak(t, "stderr", stderr.Bytes())
	for _, got := range thiefSeen() {
		t.Errorf("the other origin received a request: %s", got)
	}
}

func hostOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
