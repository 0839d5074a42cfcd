package scheme

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const testKey = "sk-test-LEAKCHECK-0123456789"

// values is a Values from a map.
type values map[string]string

func (v values) Get(name string) (string, bool) {
	s, ok := v[name]
	return s, ok
}

// TestSchemesAttach: each scheme, given its values, attaches exactly what
// the API expects, derives what the Redactor must know, and lists the
// carriers the Transport strips elsewhere.
func TestSchemesAttach(t *testing.T) {
	basicAlice := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+testKey))
	tests := []struct {
		name     string
		s        Settings
		vals     values
		describe string
		carriers Carriers
		vars     []string
		header   [2]string // name, value; "" name: none
		query    string
		derived  []Value
		warns    int
	}{
		{"bearer", Settings{Type: "bearer", Env: "K"}, values{"K": testKey}, "bearer", Carriers{Headers: []string{"Authorization"}}, []string{"K"},
			[2]string{"Authorization", "Bearer " + testKey}, "", nil, 0},
		{"bearer with Bearer prefix warns", Settings{Type: "bearer", Env: "K"}, values{"K": "Bearer " + testKey}, "bearer", Carriers{Headers: []string{"Authorization"}}, []string{"K"},
			[2]string{"Authorization", "Bearer Bearer " + testKey}, "", nil, 1},
		{"header", Settings{Type: "header", Name: "X-API-Key", Env: "K"}, values{"K": testKey}, "header:X-API-Key", Carriers{Headers: []string{"X-API-Key"}}, []string{"K"},
			[2]string{"X-API-Key", testKey}, "", nil, 0},
		{"query", Settings{Type: "query", Name: "api_key", Env: "K"}, values{"K": testKey}, "query:api_key", Carriers{Params: []string{"api_key"}}, []string{"K"},
			[2]string{}, "page=2&api_key=" + testKey, nil, 0},
		{"basic", Settings{Type: "basic", Env: "K", UsernameEnv: "U", KeyAs: KeyAsPassword}, values{"K": testKey, "U": "alice"}, "basic", Carriers{Headers: []string{"Authorization"}}, []string{"K", "U"},
			[2]string{"Authorization", basicAlice}, "", []Value{{Name: "K", Value: "alice:" + testKey}}, 0},
		{"basic without its user warns", Settings{Type: "basic", Env: "K", UsernameEnv: "U", KeyAs: KeyAsPassword}, values{"K": testKey}, "basic", Carriers{Headers: []string{"Authorization"}}, []string{"K", "U"},
			[2]string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(":"+testKey))}, "", []Value{{Name: "K", Value: ":" + testKey}}, 1},
		{"basic key as username", Settings{Type: "basic", Env: "K", KeyAs: KeyAsUsername}, values{"K": testKey}, "basic:key-as-username", Carriers{Headers: []string{"Authorization"}}, []string{"K"},
			[2]string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(testKey+":"))}, "", []Value{{Name: "K", Value: testKey + ":"}}, 0},
		{"none", Settings{Type: "none"}, values{}, "none", Carriers{}, nil, [2]string{}, "page=2", nil, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, ok := Lookup(tc.s.Type)
			if !ok {
				t.Fatalf("Lookup(%q): not registered", tc.s.Type)
			}
			if got := sc.Describe(&tc.s); got != tc.describe {
				t.Errorf("Describe() = %q, want %q", got, tc.describe)
			}
			if got := sc.Carriers(&tc.s); !cmp.Equal(got, tc.carriers) {
				t.Errorf("Carriers() = %+v, want %+v", got, tc.carriers)
			}
			var vars []string
			for _, v := range sc.Vars(&tc.s) {
				vars = append(vars, v.Name)
			}
			if !cmp.Equal(vars, tc.vars) {
				t.Errorf("Vars() = %q, want %q", vars, tc.vars)
			}
			p, warns, err := sc.Prepare(&tc.s, tc.vals, Runtime{Service: "crm"})
			if err != nil {
				t.Fatalf("Prepare: %v", err)
			}
			if len(warns) != tc.warns {
				t.Errorf("Prepare warnings = %q, want %d", warns, tc.warns)
			}
			for _, w := range warns {
				if strings.Contains(w, "LEAKCHECK") {
					t.Errorf("warning %q shows the key", w)
				}
			}
			if diff := cmp.Diff(tc.derived, p.Derived()); diff != "" {
				t.Errorf("Derived() (-want +got):\n%s", diff)
			}
			req, _ := http.NewRequest(http.MethodGet, "https://api.example.com/x?page=2", nil)
			if err := p.Attach(req); err != nil {
				t.Fatalf("Attach: %v", err)
			}
			if tc.header[0] != "" && req.Header.Get(tc.header[0]) != tc.header[1] {
				t.Errorf("Attach set %s = %q, want %q", tc.header[0], req.Header.Get(tc.header[0]), tc.header[1])
			}
			if tc.header[0] == "" && len(req.Header) != 0 {
				t.Errorf("Attach set headers %v, want none", req.Header)
			}
			if tc.query != "" && req.URL.RawQuery != tc.query {
				t.Errorf("Attach query = %q, want %q", req.URL.RawQuery, tc.query)
			}
			for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x"} {
				if got := fmt.Sprintf(verb, p); strings.Contains(got, "LEAKCHECK") || strings.Contains(got, hexOf(testKey)) {
					t.Errorf("Sprintf(%q, part) = %q shows the key", verb, got)
				}
			}
		})
	}
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }

// TestValidate: each scheme refuses what it does not take, naming the key
// at fault, and fills its defaults.
func TestValidate(t *testing.T) {
	tests := []struct {
		name      string
		s         Settings
		wantField string
		wantErr   string
	}{
		{"bearer ok", Settings{Type: "bearer", Env: "K"}, "", ""},
		{"bearer with name", Settings{Type: "bearer", Env: "K", Name: "X"}, "name", "takes no name"},
		{"bearer without env", Settings{Type: "bearer"}, "env", "auth needs env"},
		{"bearer env is a key", Settings{Type: "bearer", Env: "sk-live-0123456789abcdefABCDEF"}, "env", "looks like a secret written inline"},
		{"bearer with token_url", Settings{Type: "bearer", Env: "K", TokenURL: "https://a.example/t"}, "type", "only for auth type oauth2_client_credentials"},
		{"bearer with key_as", Settings{Type: "bearer", Env: "K", KeyAs: "username"}, "key_as", "key_as is only for auth type basic"},
		{"bearer with region", Settings{Type: "bearer", Env: "K", Region: "us-east-1"}, "region", "auth type bearer takes no region"},
		{"header without name", Settings{Type: "header", Env: "K"}, "name", "needs the header name"},
		{"header bad name", Settings{Type: "header", Env: "K", Name: "a b"}, "name", "needs the header name"},
		{"query with username_env", Settings{Type: "query", Env: "K", Name: "k", UsernameEnv: "U"}, "username_env", "only for auth type basic"},
		{"basic key_as unknown", Settings{Type: "basic", Env: "K", KeyAs: "both"}, "key_as", `key_as "both" is not known`},
		{"basic key_as username with user", Settings{Type: "basic", Env: "K", KeyAs: "username", UsernameEnv: "U"}, "username_env", "remove it"},
		{"basic with refresh_token_env", Settings{Type: "basic", Env: "K", RefreshTokenEnv: "R"}, "refresh_token_env", "takes no refresh_token_env"},
		{"none with env", Settings{Type: "none", Env: "K"}, "env", "takes no env"},
		{"none with name", Settings{Type: "none", Name: "X"}, "type", "takes no other keys"},
		{"oauth2 ok", Settings{Type: "oauth2_client_credentials", TokenURL: "https://a.example/t", ClientIDEnv: "I", ClientSecretEnv: "S", Scopes: []string{"a.read"}}, "", ""},
		{"oauth2 with env", Settings{Type: "oauth2_client_credentials", Env: "K"}, "env", "takes no env"},
		{"oauth2 http token_url", Settings{Type: "oauth2_client_credentials", TokenURL: "http://a.example/t", ClientIDEnv: "I", ClientSecretEnv: "S"}, "token_url", "token_url: base_url uses http"},
		{"oauth2 same variable", Settings{Type: "oauth2_client_credentials", TokenURL: "https://a.example/t", ClientIDEnv: "S", ClientSecretEnv: "S"}, "client_secret_env", "name the same variable"},
		{"oauth2 bad scope", Settings{Type: "oauth2_client_credentials", TokenURL: "https://a.example/t", ClientIDEnv: "I", ClientSecretEnv: "S", Scopes: []string{"a b"}}, "scopes", "is not an OAuth scope"},
		{"oauth2 with region", Settings{Type: "oauth2_client_credentials", TokenURL: "https://a.example/t", ClientIDEnv: "I", ClientSecretEnv: "S", Region: "x"}, "region", "takes no region"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, _ := Lookup(tc.s.Type)
			field, err := sc.Validate(&tc.s)
			if tc.wantErr == "" {
				if err != nil {
					t.Errorf("Validate(%+v) = %q, %v; want no error", tc.s, field, err)
				}
				return
			}
			if field != tc.wantField || err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Validate(%+v) = %q, %v; want %q, %q", tc.s, field, err, tc.wantField, tc.wantErr)
			}
		})
	}
	basic := Settings{Type: "basic", Env: "K"}
	if _, err := table["basic"].Validate(&basic); err != nil || basic.KeyAs != KeyAsPassword {
		t.Errorf("Validate(basic) = %v, KeyAs %q; want KeyAs filled with %q", err, basic.KeyAs, KeyAsPassword)
	}
}

// TestBasicUserWithColon: Basic auth cannot carry a user name with ':'.
func TestBasicUserWithColon(t *testing.T) {
	s := Settings{Type: "basic", Env: "K", UsernameEnv: "U", KeyAs: KeyAsPassword}
	_, _, err := basic{}.Prepare(&s, values{"K": testKey, "U": "ali:ce"}, Runtime{Service: "crm"})
	if err == nil || !strings.Contains(err.Error(), `U contains ":"`) || strings.Contains(err.Error(), "ali") {
		t.Errorf("Prepare with user ali:ce = %v, want an error naming U and not the value", err)
	}
}

// TestNamesAndSigns: the table lists the schemes that attach a value;
// none of them signs, so none is moved after the others.
func TestNamesAndSigns(t *testing.T) {
	for _, n := range []string{"basic", "bearer", "header", "none", "oauth2_client_credentials", "query"} {
		sc, ok := Lookup(n)
		if !ok {
			t.Errorf("Lookup(%q): not registered", n)
			continue
		}
		if Signs(sc) {
			t.Errorf("Signs(%s) = true, want false", n)
		}
	}
}

// TestOAuth2PartPrintsNoSecret: the client-credentials part holds the
// client secret (in its token cache's x/oauth2 config); printed, it shows
// none of it.
func TestOAuth2PartPrintsNoSecret(t *testing.T) {
	s := Settings{Type: "oauth2_client_credentials", TokenURL: "https://a.example/t", ClientIDEnv: "I", ClientSecretEnv: "S"}
	p, _, err := oauth2ClientCredentials{}.Prepare(&s, values{"I": "client", "S": testKey}, Runtime{Service: "crm"})
	if err != nil {
		t.Fatal(err)
	}
	want := []Value{{Name: "S", Value: "client:" + testKey}}
	if diff := cmp.Diff(want, p.Derived()); diff != "" {
		t.Errorf("Derived() (-want +got):\n%s", diff)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if got := fmt.Sprintf(verb, p); strings.Contains(got, "LEAKCHECK") || strings.Contains(got, hexOf(testKey)) {
			t.Errorf("Sprintf(%q, part) = %q shows the secret", verb, got)
		}
	}
}
