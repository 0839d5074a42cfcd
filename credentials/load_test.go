package credentials

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/credentials/scheme"
)

// These tests change the process environment (t.Setenv), so they cannot
// run in parallel. Each uses its own variable names.

// oneService is a config with one bearer service whose key is in name.
func oneService(name string) *config.Config {
	return &config.Config{Services: []config.Service{{
		Name: "api", BaseURL: "https://api.example.com", Auth: config.AuthList{{Type: "bearer", Env: name}},
	}}}
}

// writeFile writes a temporary file and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadRefusesBadEnvironment(t *testing.T) {
	const name = "KVTEST_BAD_KEY"
	bigFile := writeFile(t, "big", strings.Repeat("k", maxKeyFileBytes+1))
	tests := []struct {
		name  string
		value string // the key, or the path in NAME_FILE
		set   func(t *testing.T, value string)
		want  string // a phrase the message must contain
	}{
		{"missing", "", func(*testing.T, string) {}, "is not set; add it to the env block"},
		{"empty", "", setVar(name), "is empty"},
		{"leading whitespace", " sk-test-LEAKCHECK-0123456789", setVar(name), "leading or trailing whitespace"},
		{"trailing newline", "sk-test-LEAKCHECK-0123456789\n", setVar(name), "leading or trailing whitespace"},
		{"1password reference", "op://Private/LEAKCHECK vault item/credential", setVar(name), "run keyveil under `op run -- keyveil`"},
		{"unexpanded ${VAR}", "${LEAKCHECK_API_KEY}", setVar(name), "your MCP host did not expand this variable reference"},
		{"unexpanded $VAR", "$LEAKCHECK_API_KEY", setVar(name), "did not expand"},
		{"<UNKNOWN>", "<UNKNOWN>", setVar(name), "did not fill this value in"},
		{"placeholder", "<LEAKCHECK-your-key>", setVar(name), "placeholder"},
		{"short", "LEAK123", setVar(name), "is 7 bytes; keys shorter than 8 bytes are refused"},
		{"control character", "sk-test-LEAK\x1bCHECK-0123", setVar(name), "control character"},
		{"invalid UTF-8", "sk-test-LEAK\xc3CHECK-0123", setVar(name), "not valid UTF-8"},
		{"both NAME and NAME_FILE", "sk-test-LEAKCHECK-0123456789", func(t *testing.T, v string) {
			t.Setenv(name, v)
			t.Setenv(name+"_FILE", writeFile(t, "key", v))
		}, name + " and " + name + "_FILE are both set"},
		{"NAME_FILE missing file", "sk-test-LEAKCHECK-key-not-a-path", setVar(name + "_FILE"), "names a file that does not exist"},
		{"NAME_FILE missing absolute file", "/nonexistent/LEAKCHECK/key", setVar(name + "_FILE"), "names a file that does not exist"},
		{"NAME_FILE holding a long key", "eyJhbGciOiJSUzI1NiJ9.LEAKCHECK" + strings.Repeat("x", 300), setVar(name + "_FILE"), "names a file that does not exist"},
		{"NAME_FILE below a file", "", func(t *testing.T, _ string) {
			t.Setenv(name+"_FILE", writeFile(t, "f", "x")+"/sk-test-LEAKCHECK-0123456789")
		}, "names a file that does not exist"},
		{"NAME_FILE is a directory", "", func(t *testing.T, _ string) { t.Setenv(name+"_FILE", t.TempDir()) }, "which cannot be read: it is a directory, not a regular file"},
		{"NAME_FILE is a FIFO", "", func(t *testing.T, _ string) {
			p := filepath.Join(t.TempDir(), "key")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			t.Setenv(name+"_FILE", p)
		}, "which cannot be read: it is a FIFO, not a regular file"},
		{"NAME_FILE is /dev/zero", "", setVarTo(name+"_FILE", "/dev/zero"), "names /dev/zero, which cannot be read: it is a device, not a regular file"},
		{"NAME_FILE too large", "", func(t *testing.T, _ string) { t.Setenv(name+"_FILE", bigFile) }, "larger than 64 KiB"},
		{"NAME_FILE empty", "", setVar(name + "_FILE"), "_FILE is empty"},
		{"NAME_FILE two trailing newlines", "sk-test-LEAKCHECK-0123456789\n\n", func(t *testing.T, v string) {
			t.Setenv(name+"_FILE", writeFile(t, "key", v))
		}, "leading or trailing whitespace"},
		{"NAME_FILE holding a reference", "op://LEAKCHECK/item/field\n", func(t *testing.T, v string) {
			t.Setenv(name+"_FILE", writeFile(t, "key", v))
		}, "1Password reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(name, "") // restored after the test
			os.Unsetenv(name)
			t.Setenv(name+"_FILE", "")
			os.Unsetenv(name + "_FILE")
			tc.set(t, tc.value)
			set, err := Load(oneService(name), nil)
			if err == nil {
				t.Fatalf("Load with %s = %v, nil; want an error", tc.name, set)
			}
			msg := err.Error()
			if !strings.Contains(msg, name) {
				t.Errorf("Load error %q does not name %s", msg, name)
			}
			if !strings.Contains(msg, tc.want) {
				t.Errorf("Load error %q does not say %q", msg, tc.want)
			}
			if !strings.Contains(msg, `service "api", auth bearer`) {
				t.Errorf("Load error %q does not name the service and auth", msg)
			}
			if v := strings.TrimSpace(tc.value); len(v) >= 5 && strings.Contains(msg, v) {
				t.Errorf("Load error %q contains the value", msg)
			}
			if strings.Contains(msg, "LEAKCHECK") {
				t.Errorf("Load error %q contains part of the value", msg)
			}
		})
	}
}

// setVarTo sets name to value, whatever the row's value.
func setVarTo(name, value string) func(*testing.T, string) {
	return func(t *testing.T, _ string) { t.Setenv(name, value) }
}

func setVar(name string) func(*testing.T, string) {
	return func(t *testing.T, v string) { t.Setenv(name, v) }
}

func TestLoadReportsAllProblemsTogether(t *testing.T) {
	t.Setenv("KVTEST_ALL_A", "op://vault/item/LEAKCHECK")
	t.Setenv("KVTEST_ALL_B", "tiny")
	cfg := &config.Config{Services: []config.Service{
		{Name: "a", BaseURL: "https://a.example.com", Auth: config.AuthList{{Type: "bearer", Env: "KVTEST_ALL_A"}}},
		{Name: "b", BaseURL: "https://b.example.com", Auth: config.AuthList{{Type: "header", Name: "X-Key", Env: "KVTEST_ALL_B"}}},
		{Name: "c", BaseURL: "https://c.example.com", Auth: config.AuthList{{Type: "query", Name: "k", Env: "KVTEST_ALL_C"}}},
		{Name: "d", BaseURL: "https://d.example.com", Auth: config.AuthList{{Type: "none"}}},
	}}
	_, err := Load(cfg, nil)
	if err == nil {
		t.Fatal("Load with three bad keys: no error")
	}
	for _, want := range []string{"KVTEST_ALL_A", "KVTEST_ALL_B", "KVTEST_ALL_C", `service "b", auth header:X-Key`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Load error %q does not mention %s", err, want)
		}
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != 3 {
		t.Errorf("Load error has %d lines, want 3 (one per problem):\n%s", n, err)
	}
}

func TestLoadUnsetsSecretVariables(t *testing.T) {
	for _, ok := range []bool{true, false} {
		t.Run(fmt.Sprint("success=", ok), func(t *testing.T) {
			key := "sk-test-LEAKCHECK-0123456789"
			if !ok {
				key = "short"
			}
			t.Setenv("KVTEST_UNSET_KEY", key)
			t.Setenv("KVTEST_UNSET_FILE_KEY_FILE", writeFile(t, "k", "sk-test-LEAKCHECK-file-0123456789\n"))
			t.Setenv("KVTEST_UNSET_USER", "alice")
			cfg := &config.Config{Services: []config.Service{
				{Name: "a", BaseURL: "https://a.example.com", Auth: config.AuthList{{Type: "basic", Env: "KVTEST_UNSET_KEY", UsernameEnv: "KVTEST_UNSET_USER"}}},
				{Name: "b", BaseURL: "https://b.example.com", Auth: config.AuthList{{Type: "bearer", Env: "KVTEST_UNSET_FILE_KEY"}}},
			}}
			_, err := Load(cfg, nil)
			if (err == nil) != ok {
				t.Fatalf("Load = %v, want success %v", err, ok)
			}
			for _, v := range []string{"KVTEST_UNSET_KEY", "KVTEST_UNSET_FILE_KEY_FILE"} {
				if _, set := os.LookupEnv(v); set {
					t.Errorf("after Load, %s is still in the process environment", v)
				}
			}
			if got := os.Getenv("KVTEST_UNSET_USER"); got != "alice" {
				t.Errorf("after Load, KVTEST_UNSET_USER = %q, want it left alone (user names are not secret)", got)
			}
			for _, kv := range os.Environ() {
				if strings.Contains(kv, "LEAKCHECK") {
					t.Errorf("after Load, os.Environ() still holds %s", strings.SplitN(kv, "=", 2)[0])
				}
			}
		})
	}
}

func TestLoadFileTrimsExactlyOneNewline(t *testing.T) {
	const key = "sk-test-LEAKCHECK-0123456789"
	for _, content := range []string{key, key + "\n", key + "\r\n"} {
		p := writeFile(t, "key", content)
		t.Setenv("KVTEST_FILE_KEY_FILE", p)
		set, err := Load(oneService("KVTEST_FILE_KEY"), nil)
		if err != nil {
			t.Fatalf("Load with file %q: %v", content, err)
		}
		c := set.Credentials()[0].Keys[0]
		if c.Secret.Reveal() != key {
			t.Errorf("Load with file %q: key is %d bytes, want %d", content, c.Secret.Len(), len(key))
		}
		if c.Source != SourceFile || c.Path != p {
			t.Errorf("Load with file: Source, Path = %q, %q; want %q, %q", c.Source, c.Path, SourceFile, p)
		}
		if w := set.Warnings(); len(w) != 0 {
			t.Errorf("Load with an absolute file path: warnings %q, want none", w)
		}
		if c.Secret.Name() != "KVTEST_FILE_KEY" {
			t.Errorf("Load with file: secret named %q, want KVTEST_FILE_KEY (the marker names the key, not the file variable)", c.Secret.Name())
		}
	}
}

func TestLoadWarnsOnRelativeFilePath(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "key"), []byte("sk-test-LEAKCHECK-0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	t.Setenv("KVTEST_REL_KEY_FILE", "key")
	set, err := Load(oneService("KVTEST_REL_KEY"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if w := set.Warnings(); len(w) != 1 || !strings.Contains(w[0], "KVTEST_REL_KEY_FILE is a relative path") {
		t.Errorf("Warnings() = %q, want one about the relative path", w)
	}
}

func TestLoadDotenvLosesToRealEnvironment(t *testing.T) {
	p := writeFile(t, ".env", "KVTEST_DOT_A=sk-test-LEAKCHECK-from-dotenv-a\nKVTEST_DOT_B='sk-test-LEAKCHECK-from-dotenv-b'\nKVTEST_DOT_URL=https://x.example.com\n")
	t.Setenv("KVTEST_DOT_A", "sk-test-LEAKCHECK-from-real-env")
	t.Setenv("KVTEST_DOT_B", "")
	os.Unsetenv("KVTEST_DOT_B")
	env, err := ReadEnv(p)
	if err != nil {
		t.Fatalf("ReadEnv: %v", err)
	}
	if _, ok := os.LookupEnv("KVTEST_DOT_URL"); ok {
		t.Errorf("ReadEnv put KVTEST_DOT_URL into the process environment")
	}
	if v, ok := env.Lookup("KVTEST_DOT_URL"); !ok || v != "https://x.example.com" {
		t.Errorf("Lookup(KVTEST_DOT_URL) = %q, %v; want the dotenv value", v, ok)
	}
	for name, want := range map[string]Source{"KVTEST_DOT_A": SourceEnv, "KVTEST_DOT_B": SourceDotenv, "KVTEST_DOT_C": SourceNone} {
		if got := env.Source(name); got != want {
			t.Errorf("Source(%s) = %q, want %q", name, got, want)
		}
	}
	cfg := &config.Config{Services: []config.Service{
		{Name: "a", BaseURL: "https://a.example.com", Auth: config.AuthList{{Type: "bearer", Env: "KVTEST_DOT_A"}}},
		{Name: "b", BaseURL: "https://b.example.com", Auth: config.AuthList{{Type: "bearer", Env: "KVTEST_DOT_B"}}},
	}}
	set, err := Load(cfg, env)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	got := map[string]string{}
	for _, c := range set.Credentials() {
		got[c.Service] = string(c.Keys[0].Source) + " " + c.Keys[0].Secret.Reveal()
	}
	want := map[string]string{
		"a": "env sk-test-LEAKCHECK-from-real-env",
		"b": "dotenv sk-test-LEAKCHECK-from-dotenv-b",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load credentials (-want +got):\n%s", diff)
	}
	if v, ok := env.Lookup("KVTEST_DOT_B"); ok {
		t.Errorf("after Load, env.Lookup(KVTEST_DOT_B) = %d bytes; want the secret forgotten", len(v))
	}
	if _, ok := os.LookupEnv("KVTEST_DOT_B"); ok {
		t.Errorf("Load put the dotenv secret KVTEST_DOT_B into the process environment")
	}
}

func TestLoadDotenvErrorsNameTheFile(t *testing.T) {
	p := writeFile(t, ".env", "KVTEST_DOTERR_KEY=tiny\n")
	env, err := ReadEnv(p)
	if err != nil {
		t.Fatalf("ReadEnv: %v", err)
	}
	_, err = Load(oneService("KVTEST_DOTERR_KEY"), env)
	if err == nil || !strings.Contains(err.Error(), "from env file "+p) {
		t.Errorf("Load error = %v, want it to say the value came from %s", err, p)
	}
}

func TestLoadWarnsOnLowEntropyKeys(t *testing.T) {
	tests := []struct {
		value string
		weak  bool
	}{
		{"aaaaaaaaaaaaaaaa", true},
		{"password123", true},
		{"abababababababab", true},
		{"AKIAIOSFODNN7EXAMPLE", true},
		{"12345678", true},
		{"my-api-key-changeme-now", true},
		{"sk-test-LEAKCHECK-0123456789", false},
		{"ghp_8fK2mQ9xLr4TzW1vB7nC3pY6sD0hJ5aE", false},
		{"9f86d081884c7d659a2feaa0c55ad015", false},
	}
	for _, tc := range tests {
		t.Setenv("KVTEST_WEAK_KEY", tc.value)
		set, err := Load(oneService("KVTEST_WEAK_KEY"), nil)
		if err != nil {
			t.Fatalf("Load(%d-byte key): %v", len(tc.value), err)
		}
		w := set.Warnings()
		if got := len(w) > 0; got != tc.weak {
			t.Errorf("Load(%q) warnings = %q, want weak=%v", tc.value, w, tc.weak)
		}
		for _, msg := range w {
			if !strings.Contains(msg, "KVTEST_WEAK_KEY") || strings.Contains(msg, tc.value) {
				t.Errorf("warning %q must name KVTEST_WEAK_KEY and not contain the value", msg)
			}
		}
	}
}

func TestLoadWarnsOnBearerPrefix(t *testing.T) {
	t.Setenv("KVTEST_BEARER_KEY", "Bearer sk-test-LEAKCHECK-0123456789")
	set, err := Load(oneService("KVTEST_BEARER_KEY"), nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if w := set.Warnings(); !slices.ContainsFunc(w, func(s string) bool { return strings.Contains(s, `begins with "Bearer "`) }) {
		t.Errorf("Warnings() = %q, want one about the Bearer prefix", w)
	}
}

func TestLoadBasicAuthSecrets(t *testing.T) {
	const key = "sk-test-LEAKCHECK-0123456789"
	t.Setenv("KVTEST_BASIC_KEY", key)
	t.Setenv("KVTEST_BASIC_USER", "alice")
	cfg := &config.Config{Services: []config.Service{
		{Name: "b", BaseURL: "https://b.example.com", Auth: config.AuthList{{Type: "basic", Env: "KVTEST_BASIC_KEY", UsernameEnv: "KVTEST_BASIC_USER"}}},
		{Name: "n", BaseURL: "https://n.example.com", Auth: config.AuthList{{Type: "none"}}},
	}}
	set, err := Load(cfg, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	var got []string
	for _, s := range set.Secrets() {
		got = append(got, s.Name()+"="+s.Reveal())
	}
	want := []string{"KVTEST_BASIC_KEY=" + key, "KVTEST_BASIC_KEY=alice:" + key}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Secrets() (-want +got):\n%s", diff)
	}
	creds := set.Credentials()
	if len(creds) != 2 || len(creds[0].Keys) != 1 || creds[0].Keys[0].Source != SourceEnv || len(creds[1].Keys) != 0 || creds[1].Origin != "" {
		t.Errorf("Credentials() = %v, want b with one key from env and n with none", creds)
	}
	if fp := set.Fingerprint("b"); fp != NewSecret("x", key).Fingerprint() || fp == "" {
		t.Errorf("Fingerprint(b) = %q, want the key's fingerprint", fp)
	}
	for _, svc := range []string{"n", "absent"} {
		if fp := set.Fingerprint(svc); fp != "" {
			t.Errorf("Fingerprint(%s) = %q, want empty", svc, fp)
		}
	}
	if set.Redactor() == nil {
		t.Errorf("Redactor() = nil")
	}
}

func TestLoadBasicUserWithColonRefused(t *testing.T) {
	t.Setenv("KVTEST_COLON_KEY", "sk-test-LEAKCHECK-0123456789")
	t.Setenv("KVTEST_COLON_USER", "ali:ce")
	cfg := &config.Config{Services: []config.Service{
		{Name: "b", BaseURL: "https://b.example.com", Auth: config.AuthList{{Type: "basic", Env: "KVTEST_COLON_KEY", UsernameEnv: "KVTEST_COLON_USER"}}},
	}}
	if _, err := Load(cfg, nil); err == nil || !strings.Contains(err.Error(), "KVTEST_COLON_USER") {
		t.Errorf("Load with a user name containing ':' = %v, want an error naming KVTEST_COLON_USER", err)
	}
}

func TestLoadSharedVariableReadOnce(t *testing.T) {
	t.Setenv("KVTEST_SHARED_KEY", "sk-test-LEAKCHECK-0123456789")
	cfg := &config.Config{Services: []config.Service{
		{Name: "a", BaseURL: "https://a.example.com", Auth: config.AuthList{{Type: "bearer", Env: "KVTEST_SHARED_KEY"}}},
		{Name: "b", BaseURL: "https://b.example.com", Auth: config.AuthList{{Type: "header", Name: "X-Key", Env: "KVTEST_SHARED_KEY"}}},
	}}
	set, err := Load(cfg, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, c := range set.Credentials() {
		if len(c.Keys) != 1 || c.Keys[0].Secret.IsZero() {
			t.Errorf("service %s has no key; a variable shared by two services must serve both", c.Service)
		}
	}
	if n := len(set.Secrets()); n != 1 {
		t.Errorf("Secrets() has %d entries, want 1 (deduplicated)", n)
	}
}

func TestLoadErrorIsAJoin(t *testing.T) {
	// errors.Join keeps each problem reachable for callers that want them.
	t.Setenv("KVTEST_JOIN_A", "short")
	_, err := Load(oneService("KVTEST_JOIN_A"), nil)
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 1 {
		t.Errorf("Load error %v is not a join of one problem", err)
	}
}

// multilineScheme reads one multi-line secret (a PEM block, a JSON
// document), for TestLoadMultilineValue.
type multilineScheme struct{ scheme.Scheme }

func (multilineScheme) Vars(s *scheme.Settings) []scheme.Var {
	return []scheme.Var{{Name: s.Env, Secret: true, Multiline: true, Role: "private key"}}
}

// TestLoadMultilineValue: a multi-line secret may hold newlines, carriage
// returns and tabs (and loses one final newline, as a file does), and
// nothing else a key may not; a one-line key still refuses a newline.
func TestLoadMultilineValue(t *testing.T) {
	const pem = "-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw\r\n\tLEAKCHECK0123456789abcdef\n-----END PRIVATE KEY-----"
	scheme.RegisterForTest(t, "kvtest_multiline", multilineScheme{Scheme: mustLookup(t, "header")})
	tests := []struct {
		name, typ, value string
		want             string // the value loaded, or "" when refused
		wantErr          string
	}{
		{"PEM", "kvtest_multiline", pem, pem, ""},
		{"PEM with its final newline", "kvtest_multiline", pem + "\n", pem, ""},
		{"NUL in a PEM", "kvtest_multiline", pem + "\x00x", "", "contains a control character"},
		{"escape in a PEM", "kvtest_multiline", "\x1b[31m" + pem, "", "contains a control character"},
		{"newline in a one-line key", "header", "sk-test-LEAKCHECK\n0123456789", "", "contains a control character"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{Services: []config.Service{{Name: "s", BaseURL: "https://s.example.com",
				Auth: config.AuthList{{Type: tc.typ, Name: "X-Key", Env: "KVTEST_ML_KEY"}}}}}
			set, err := Load(cfg, &Env{dotenv: map[string]string{"KVTEST_ML_KEY": tc.value}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "LEAKCHECK") {
					t.Errorf("Load = %v, want %q and no value", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got := set.Credentials()[0].Keys[0].Secret.Reveal(); got != tc.want {
				t.Errorf("loaded %q, want %q", got, tc.want)
			}
		})
	}
}

func mustLookup(t *testing.T, name string) scheme.Scheme {
	t.Helper()
	sc, ok := scheme.Lookup(name)
	if !ok {
		t.Fatalf("scheme %s is not registered", name)
	}
	return sc
}

// optionalScheme reads a required key, an optional secret (an AWS session
// token) and an optional plain variable, and attaches what it got as
// headers, for TestLoadOptionalVars.
type optionalScheme struct{ scheme.Scheme }

func (optionalScheme) Vars(*scheme.Settings) []scheme.Var {
	return []scheme.Var{
		{Name: "KVTEST_OPT_KEY", Secret: true, Role: "key"},
		{Name: "KVTEST_OPT_TOKEN", Secret: true, Optional: true, Role: "session token"},
		{Name: "KVTEST_OPT_USER", Optional: true, Role: "user name"},
	}
}

func (o optionalScheme) Prepare(s *scheme.Settings, v scheme.Values, rt scheme.Runtime) (scheme.Part, []string, error) {
	p, _, _ := o.Scheme.Prepare(s, v, rt) // none's: attaches nothing
	var got []string
	for _, n := range []string{"KVTEST_OPT_KEY", "KVTEST_OPT_TOKEN", "KVTEST_OPT_USER"} {
		if _, ok := v.Get(n); ok {
			got = append(got, n)
		}
	}
	return p, []string{"set: " + strings.Join(got, " ")}, nil
}

// TestLoadOptionalVars: an optional variable left unset is no error and
// reaches Prepare as unset; set, an optional secret is checked and
// registered like any key.
func TestLoadOptionalVars(t *testing.T) {
	scheme.RegisterForTest(t, "kvtest_optional", optionalScheme{Scheme: mustLookup(t, "none")})
	const key, token = "sk-test-LEAKCHECK-0123456789", "tok-test-LEAKCHECK-9876543210"
	tests := []struct {
		name    string
		env     map[string]string
		want    string // Prepare's report, or "" when Load fails
		secrets int
		wantErr string
	}{
		{"optional ones unset", map[string]string{"KVTEST_OPT_KEY": key}, "set: KVTEST_OPT_KEY", 1, ""},
		{"all set", map[string]string{"KVTEST_OPT_KEY": key, "KVTEST_OPT_TOKEN": token, "KVTEST_OPT_USER": "me"}, "set: KVTEST_OPT_KEY KVTEST_OPT_TOKEN KVTEST_OPT_USER", 2, ""},
		{"optional secret set but short", map[string]string{"KVTEST_OPT_KEY": key, "KVTEST_OPT_TOKEN": "short"}, "", 0, "is 5 bytes; keys shorter than 8 bytes are refused"},
		{"required one unset", map[string]string{"KVTEST_OPT_TOKEN": token}, "", 0, "KVTEST_OPT_KEY is not set"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &config.Config{Services: []config.Service{{Name: "s", BaseURL: "https://s.example.com", Auth: config.AuthList{{Type: "kvtest_optional"}}}}}
			set, err := Load(cfg, &Env{dotenv: tc.env})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("Load = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if w := set.Warnings(); len(w) != 1 || w[0] != tc.want {
				t.Errorf("Prepare saw %q, want %q", w, tc.want)
			}
			if n := len(set.Secrets()); n != tc.secrets {
				t.Errorf("Secrets() has %d values, want %d", n, tc.secrets)
			}
		})
	}
}
