package config

import (
	"maps"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keyveil/keyveil/credentials/scheme"
)

const datadog = `services:
  datadog:
    base_url: https://api.datadoghq.com/api
    auth:
      - { type: header, name: DD-API-KEY, env: DD_API_KEY }
      - { type: header, name: DD-APPLICATION-KEY, env: DD_APP_KEY }
`

// TestAuthListDecoding: auth is one part written as a mapping, or several
// written as a list, and either reads the same way after validation.
func TestAuthListDecoding(t *testing.T) {
	tests := []struct {
		name     string
		auth     string // the auth: value, indented under a service
		want     AuthList
		describe string
		headers  []string
		params   []string
	}{
		{"mapping", "{type: bearer, env: KEY}", AuthList{{Type: "bearer", Env: "KEY"}}, "bearer", []string{"Authorization"}, nil},
		{"list of one", "[{type: query, name: api_key, env: KEY}]", AuthList{{Type: "query", Name: "api_key", Env: "KEY"}}, "query:api_key", nil, []string{"api_key"}},
		{"block list of two", "\n      - {type: header, name: DD-API-KEY, env: DD_API_KEY}\n      - {type: header, name: DD-APPLICATION-KEY, env: DD_APP_KEY}",
			AuthList{{Type: "header", Name: "DD-API-KEY", Env: "DD_API_KEY"}, {Type: "header", Name: "DD-APPLICATION-KEY", Env: "DD_APP_KEY"}},
			"header:DD-API-KEY + header:DD-APPLICATION-KEY", []string{"DD-API-KEY", "DD-APPLICATION-KEY"}, nil},
		{"header and query", "[{type: header, name: X-App, env: APP}, {type: query, name: key, env: KEY}]",
			AuthList{{Type: "header", Name: "X-App", Env: "APP"}, {Type: "query", Name: "key", Env: "KEY"}},
			"header:X-App + query:key", []string{"X-App"}, []string{"key"}},
		{"none", "{type: none}", AuthList{{Type: "none"}}, "none", nil, nil},
		{"basic fills key_as", "{type: BASIC, env: KEY}", AuthList{{Type: "basic", Env: "KEY", KeyAs: KeyAsPassword}}, "basic", []string{"Authorization"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := writeFile(t, "services:\n  crm:\n    base_url: https://c.example\n    auth: "+tc.auth+"\n")
			c, err := Load(p, lookupMap(nil))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			s, _ := c.Service("crm")
			if diff := cmp.Diff(tc.want, s.Auth); diff != "" {
				t.Errorf("Auth (-want +got):\n%s", diff)
			}
			if got := s.Auth.Describe(); got != tc.describe {
				t.Errorf("Describe() = %q, want %q", got, tc.describe)
			}
			if got := s.Auth.Headers(); !cmp.Equal(got, tc.headers) {
				t.Errorf("Headers() = %q, want %q", got, tc.headers)
			}
			if got := s.Auth.Params(); !cmp.Equal(got, tc.params) {
				t.Errorf("Params() = %q, want %q", got, tc.params)
			}
		})
	}
}

// TestAuthListErrors: every problem with a part points at the line of its
// key, a second part's as auth[1], and the rules about parts together
// say which parts and what to do.
func TestAuthListErrors(t *testing.T) {
	const head = "services:\n  crm:\n    base_url: https://c.example\n    auth:\n"
	tests := []struct {
		name string
		body string
		line int
		want string
	}{
		{"second part's name", head + "      - {type: header, name: X-A, env: A}\n      - type: header\n        env: B\n        name: \"bad name\"\n", 8, "auth[1]: auth type header needs the header name"},
		{"second part's env", head + "      - {type: header, name: X-A, env: A}\n      - type: header\n        name: X-B\n", 6, "auth[1]: auth needs env"},
		{"first part's type", head + "      - {type: token, env: A}\n      - {type: bearer, env: B}\n", 5, `auth[0]: auth type "token" is not known; use aws_sigv4, basic, bearer, `},
		{"none with another part", head + "      - {type: none}\n      - {type: bearer, env: B}\n", 5, "auth[0]: auth type none cannot be combined with other parts"},
		{"two parts on one header", head + "      - {type: header, name: X-Key, env: A}\n      - {type: header, name: x-key, env: B}\n", 6, "auth[1]: auth[0] and auth[1] both send their key in header x-key"},
		{"bearer and basic share Authorization", head + "      - {type: bearer, env: A}\n      - {type: basic, env: B}\n", 6, "both send their key in header Authorization"},
		{"two parts on one parameter", head + "      - {type: query, name: key, env: A}\n      - {type: query, name: KEY, env: B}\n", 6, "both send their key in query parameter KEY"},
		{"empty list", head + "      []\n", 4, "auth type is missing"},
		{"list of text", head + "      - bearer\n", 5, "must be a mapping of keys"},
		{"text", "services:\n  crm:\n    base_url: https://c.example\n    auth: bearer\n", 4, "must be a mapping ({type: bearer, env: API_KEY}) or a list of them"},
		{"unknown key in a part", head + "      - {type: header, name: X-A, env: A}\n      - {type: header, name: X-B, envv: B}\n", 6, `unknown key "envv" (did you mean "env"?)`},
		{"other scheme's key", "services:\n  crm:\n    base_url: https://c.example\n    auth: {type: header, name: X-A, env: A, region: us-east-1}\n", 4, "auth type header takes no region"},
		{"static header is a part's", head + "      - {type: header, name: X-A, env: A}\n      - {type: header, name: X-B, env: B}\n    headers: {X-B: plain}\n", 7, "X-B is the header auth attaches the key to"},
		{"scopes_env is a part's variable", head + "      - {type: header, name: X-A, env: A}\n      - {type: header, name: X-B, env: B}\n    scopes_env: B\n", 7, "scopes_env must name its own variable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			loadErrorAt(t, tc.body, tc.line, tc.want)
		})
	}
}

// TestDatadogRefusesBothHeaders: the model may set neither part's header,
// in call_api's headers or a declared tool's mapping.
func TestDatadogRefusesBothHeaders(t *testing.T) {
	p := writeFile(t, datadog)
	c, err := Load(p, lookupMap(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	s, _ := c.Service("datadog")
	for _, h := range []string{"DD-API-KEY", "dd-application-key", "DD_APPLICATION_KEY"} {
		if why := s.HeaderRefusal(h); !strings.Contains(why, "key") {
			t.Errorf("HeaderRefusal(%q) = %q, want it refused as the service's key", h, why)
		}
	}
	if got := s.ReservedHeaderNames(); !strings.Contains(strings.Join(got, ","), "Dd-Api-Key,Dd-Application-Key") {
		t.Errorf("ReservedHeaderNames() = %q, want both parts' headers", got)
	}
}

// fakeSigner is a scheme whose parts sign, for the rule no registered
// scheme exercised before aws_sigv4.
type fakeSigner struct{}

func (fakeSigner) Validate(*scheme.Settings) (string, error) { return "", nil }
func (fakeSigner) Vars(*scheme.Settings) []scheme.Var        { return nil }
func (fakeSigner) Carriers(*scheme.Settings) scheme.Carriers {
	return scheme.Carriers{Headers: []string{"X-Fake-Signature"}}
}
func (fakeSigner) Describe(*scheme.Settings) string { return "fake_signer" }
func (fakeSigner) SendsTo(*scheme.Settings) string  { return "" }
func (fakeSigner) Signs() bool                      { return true }
func (fakeSigner) Prepare(*scheme.Settings, scheme.Values, scheme.Runtime) (scheme.Part, []string, error) {
	return nil, nil, nil
}

// TestSignerMustBeLast: a signing part comes after every part it signs.
// Not parallel: it registers a scheme.
func TestSignerMustBeLast(t *testing.T) {
	scheme.RegisterForTest(t, "fake_signer", fakeSigner{})
	const head = "services:\n  crm:\n    base_url: https://c.example\n    auth:\n"
	tests := []struct {
		name string
		body string
		want string // "" for no error
	}{
		{"alone", head + "      {type: fake_signer}\n", ""},
		{"last", head + "      - {type: header, name: X-A, env: A}\n      - {type: fake_signer}\n", ""},
		{"first", head + "      - {type: fake_signer}\n      - {type: header, name: X-A, env: A}\n", "auth[0]: auth type fake_signer signs the request, so it must be the last part of auth"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := writeFile(t, tc.body)
			_, err := Load(p, lookupMap(nil))
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("Load(%q) = %v, want no error", tc.body, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), p+":5: service \"crm\": "+tc.want)):
				t.Errorf("Load(%q) = %v, want line 5 to say %q", tc.body, err, tc.want)
			}
		})
	}
}

// TestParseAuth: MCP_API_AUTH's forms come from one table, and each names
// the zero-config service's variables.
func TestParseAuth(t *testing.T) {
	tests := []struct {
		in      string
		want    Auth
		wantErr string
	}{
		{"bearer", Auth{Type: "bearer", Env: "MCP_API_KEY"}, ""},
		{" Header:X-API-Key", Auth{Type: "header", Name: "X-API-Key", Env: "MCP_API_KEY"}, ""},
		{"query:api_key", Auth{Type: "query", Name: "api_key", Env: "MCP_API_KEY"}, ""},
		{"basic", Auth{Type: "basic", Env: "MCP_API_KEY", UsernameEnv: "MCP_API_USERNAME"}, ""},
		{"none", Auth{Type: "none"}, ""},
		{"aws_sigv4", Auth{Type: "aws_sigv4"}, ""}, // region and service: MCP_API_REGION, MCP_API_SIGNING_SERVICE
		{"aws_sigv4:x", Auth{}, `"aws_sigv4:x" takes no name`},
		{"bearer:x", Auth{}, `"bearer:x" takes no name; use aws_sigv4, basic, bearer, header:NAME, none or query:NAME`},
		{"query:", Auth{}, `"query:" needs a name, like query:X-API-Key`},
		{"oauth2_client_credentials", Auth{}, "is not an auth scheme"},
	}
	for _, tc := range tests {
		got, err := ParseAuth(tc.in)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseAuth(%q) error = %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !cmp.Equal(got, tc.want) {
			t.Errorf("ParseAuth(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

// TestEnvAWSSigV4: MCP_API_AUTH=aws_sigv4 takes its region and signing
// name from MCP_API_REGION and MCP_API_SIGNING_SERVICE, reads the AWS
// variables (not MCP_API_KEY), and its errors name the MCP_API_ variable
// to set.
func TestEnvAWSSigV4(t *testing.T) {
	t.Parallel()
	base := map[string]string{
		"MCP_API_BASE_URL": "https://abc123.execute-api.us-east-1.amazonaws.com/prod",
		"MCP_API_AUTH":     "aws_sigv4",
	}
	for _, tc := range []struct {
		name    string
		env     map[string]string
		want    Auth
		wantErr string
	}{
		{"region and service", map[string]string{"MCP_API_REGION": "us-east-1", "MCP_API_SIGNING_SERVICE": "execute-api"},
			Auth{Type: "aws_sigv4", Region: "us-east-1", Service: "execute-api",
				AccessKeyIDEnv: "AWS_ACCESS_KEY_ID", SecretAccessKeyEnv: "AWS_SECRET_ACCESS_KEY", SessionTokenEnv: "AWS_SESSION_TOKEN"}, ""},
		{"no region", map[string]string{"MCP_API_SIGNING_SERVICE": "execute-api"}, Auth{}, "MCP_API_AUTH=aws_sigv4 needs MCP_API_REGION: the AWS region"},
		{"no service", map[string]string{"MCP_API_REGION": "us-east-1"}, Auth{}, "MCP_API_AUTH=aws_sigv4 needs MCP_API_SIGNING_SERVICE: the AWS signing name"},
		{"bad region", map[string]string{"MCP_API_REGION": "us-east-1/x", "MCP_API_SIGNING_SERVICE": "execute-api"}, Auth{}, "MCP_API_REGION must be an AWS region name"},
		{"bad service", map[string]string{"MCP_API_REGION": "us-east-1", "MCP_API_SIGNING_SERVICE": "Execute API"}, Auth{}, "MCP_API_SIGNING_SERVICE must be an AWS signing name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := maps.Clone(base)
			maps.Copy(env, tc.env)
			c, err := Load("", lookupMap(env))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load(%v) error = %v, want %q", tc.env, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%v): %v", tc.env, err)
			}
			if diff := cmp.Diff(AuthList{tc.want}, c.Services[0].Auth); diff != "" {
				t.Errorf("Load(%v) auth (-want +got):\n%s", tc.env, diff)
			}
		})
	}
}
