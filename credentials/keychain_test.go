package credentials

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/keychain"
)

// fakeKeychain stands in for the OS keychain: name -> value and origin.
type fakeKeychain map[string][2]string

func (f fakeKeychain) lookup(name string) (string, keychain.Entry, error) {
	if name == "locked" {
		return "", keychain.Entry{}, errors.New("the OS keychain is not available: collection is locked")
	}
	it, ok := f[name]
	if !ok {
		return "", keychain.Entry{}, keychain.ErrNotFound
	}
	return it[0], keychain.Entry{Name: name, Origin: it[1], Created: time.Now()}, nil
}

// TestLoadKeychain: keychain:NAME in a key variable is resolved from the
// OS keychain, and a secret is refused for any origin but its own, so that
// a model that edits the base URL in the host config gets nothing.
func TestLoadKeychain(t *testing.T) {
	const key = "sk-test-LEAKCHECK-keychain-0123456789"
	kc := fakeKeychain{
		"crm":    {key, "https://api.example.com"},
		"local":  {key, "http://127.0.0.1:9999"},
		"padded": {key + " ", "https://api.example.com"},
		"oauth":  {key, "https://auth.example.com"},
	}
	bearer := func(name, base, env string) config.Service {
		return config.Service{Name: name, BaseURL: base, Auth: config.AuthList{{Type: config.AuthBearer, Env: env}}}
	}
	tests := []struct {
		name     string
		services []config.Service
		vars     map[string]string // process environment
		dotenv   map[string]string
		wantErr  []string // phrases the error must contain; nil: Load succeeds
		wantPath string   // the Credential.Path of the first service
	}{
		{name: "resolved", services: []config.Service{bearer("api", "https://api.example.com/v2", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:crm"}, wantPath: "crm"},
		{name: "default port and case", services: []config.Service{bearer("api", "https://API.example.com:443", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:crm"}, wantPath: "crm"},
		{name: "from the dotenv file", services: []config.Service{bearer("api", "http://127.0.0.1:9999", "KVTEST_KC_KEY")},
			dotenv: map[string]string{"KVTEST_KC_KEY": "keychain:local"}, wantPath: "local"},
		{name: "oauth2 binds the token endpoint", services: []config.Service{{Name: "rep", BaseURL: "https://reports.example.com",
			Auth: config.AuthList{{Type: config.AuthOAuth2, TokenURL: "https://auth.example.com/token", ClientIDEnv: "KVTEST_KC_ID", ClientSecretEnv: "KVTEST_KC_KEY"}}}},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:oauth", "KVTEST_KC_ID": "client-1"}, wantPath: "oauth"},
		{name: "base URL moved to another host", services: []config.Service{bearer("api", "http://127.0.0.1:9999", "KVTEST_KC_KEY")},
			vars:    map[string]string{"KVTEST_KC_KEY": "keychain:crm"},
			wantErr: []string{"KVTEST_KC_KEY refers to keychain:crm, which is stored for https://api.example.com only", "will not send it to http://127.0.0.1:9999", `base_url of service "api"`, "keyveil secrets set crm --origin http://127.0.0.1:9999"}},
		{name: "another port", services: []config.Service{bearer("api", "https://api.example.com:8443", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:crm"}, wantErr: []string{"will not send it to https://api.example.com:8443"}},
		{name: "another scheme", services: []config.Service{bearer("api", "http://127.0.0.1:9999", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:local"}, wantPath: "local"},
		{name: "a second service sharing the variable", services: []config.Service{
			bearer("a", "https://api.example.com", "KVTEST_KC_KEY"), bearer("b", "https://evil.example.net", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:crm"}, wantErr: []string{`service "b"`, "evil.example.net"}},
		{name: "oauth2 token endpoint moved", services: []config.Service{{Name: "rep", BaseURL: "https://auth.example.com",
			Auth: config.AuthList{{Type: config.AuthOAuth2, TokenURL: "https://evil.example.net/token", ClientIDEnv: "KVTEST_KC_ID", ClientSecretEnv: "KVTEST_KC_KEY"}}}},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:oauth", "KVTEST_KC_ID": "client-1"}, wantErr: []string{"token_url", "evil.example.net"}},
		{name: "not stored", services: []config.Service{bearer("api", "https://api.example.com/v2", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:nope"}, wantErr: []string{"KVTEST_KC_KEY refers to keychain:nope, which is not in the OS keychain", "keyveil secrets set nope --origin https://api.example.com"}},
		{name: "keychain unavailable", services: []config.Service{bearer("api", "https://api.example.com", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:locked"}, wantErr: []string{"KVTEST_KC_KEY refers to keychain:locked, which cannot be read", "collection is locked"}},
		{name: "a key pasted after the prefix", services: []config.Service{bearer("api", "https://api.example.com", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:" + key + "/+="}, wantErr: []string{"keychain: reference whose name is not valid"}},
		{name: "stored value padded", services: []config.Service{bearer("api", "https://api.example.com", "KVTEST_KC_KEY")},
			vars: map[string]string{"KVTEST_KC_KEY": "keychain:padded"}, wantErr: []string{"the keychain secret padded (named by KVTEST_KC_KEY) has leading or trailing whitespace"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.vars {
				t.Setenv(k, v)
			}
			env := &Env{dotenv: tc.dotenv, keychain: kc.lookup}
			set, err := Load(&config.Config{Services: tc.services}, env)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("Load = ok; want an error containing %q", tc.wantErr)
				}
				for _, w := range tc.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("Load error = %q; want it to contain %q", err, w)
					}
				}
				if strings.Contains(err.Error(), "LEAKCHECK") {
					t.Errorf("Load error shows the key: %q", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				c := set.Credentials()[0].Keys[0]
				if c.Source != SourceKeychain || c.Path != tc.wantPath || c.Secret.Reveal() != key {
					t.Errorf("credential = source %s, path %q, %d bytes; want keychain %q and the stored key", c.Source, c.Path, c.Secret.Len(), tc.wantPath)
				}
				if red := string(set.Redactor().Redact([]byte("x " + key))); strings.Contains(red, "LEAKCHECK") {
					t.Errorf("the Redactor does not know the keychain key: %q", red)
				}
			}
			if _, ok := os.LookupEnv("KVTEST_KC_KEY"); ok {
				t.Errorf("KVTEST_KC_KEY is still set after Load")
			}
		})
	}
}

// TestEnvSourceKeychain: keyveil check's SOURCE column says keychain for a
// reference.
func TestEnvSourceKeychain(t *testing.T) {
	tests := []struct{ value, want Source }{
		{"keychain:crm", SourceKeychain},
		{"sk-test-LEAKCHECK-0123456789", SourceEnv},
	}
	for _, tc := range tests {
		t.Setenv("KVTEST_KC_SRC", string(tc.value))
		if got := (&Env{}).Source("KVTEST_KC_SRC"); got != tc.want {
			t.Errorf("Source with %s = %s, want %s", tc.value, got, tc.want)
		}
	}
}
