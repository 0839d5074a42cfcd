package detect

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

func mustNew(t testing.TB, o *Options) *Detector {
	t.Helper()
	d, err := New(o)
	if err != nil {
		t.Fatalf("New(%+v): %v", o, err)
	}
	return d
}

// TestRedactEachKind plants every generated fake, raw and inside a JSON
// string, and checks it is replaced by its kind's marker.
func TestRedactEachKind(t *testing.T) {
	t.Parallel()
	d := mustNew(t, nil)
	for _, f := range fakes(1, 3) {
		raw := "value: " + f.text + "\n"
		quoted, _ := json.Marshal(map[string]string{"note": f.text})
		for _, in := range []string{raw, string(quoted)} {
			got, counts := d.RedactString(in)
			if strings.Contains(got, f.secret) {
				t.Errorf("%s: Redact(%q) = %q, secret survives", f.kind, in, got)
			}
			if !strings.Contains(got, "[REDACTED:"+f.kind+"]") || counts[f.kind] != 1 {
				t.Errorf("%s: Redact(%q) = %q, %v; want one %s marker", f.kind, in, got, counts, f.kind)
			}
		}
	}
}

func TestRedactRules(t *testing.T) {
	t.Parallel()
	d := mustNew(t, nil)
	gh := "ghp_" + "aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1" // 30 chars
	ghValid := gh + base62CRC([]byte(gh[4:]))
	tests := []struct {
		name, in, want string
	}{
		{"github checksum ok", "token " + ghValid, "token [REDACTED:github-token]"},
		{"github bad checksum", "token " + gh + "AAAAAA", "token " + gh + "AAAAAA"},
		{"github too long", "x " + ghValid + "Z", "x " + ghValid + "Z"},
		{"github glued to a word", "x" + ghValid, "x" + ghValid},
		{"github after json escape", `"a\n` + ghValid + `"`, `"a\n[REDACTED:github-token]"`},
		{"prose mentions a prefix", "rename the ghp_ check and the sk- flag", "rename the ghp_ check and the sk- flag"},
		{"aws id", "AKIAIOSFODNN7EXAMPLE", "[REDACTED:aws-access-key-id]"},
		{"aws id inside a word", "XAKIAIOSFODNN7EXAMPLE", "XAKIAIOSFODNN7EXAMPLE"},
		{"aws secret in json", `{"SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`, `{"SecretAccessKey":"[REDACTED:aws-secret-access-key]"}`},
		{"aws secret name without value", "set secret_access_key in the console", "set secret_access_key in the console"},
		{"url password", "redis://:s3cretPw@cache:6379/0", "redis://:[REDACTED:url-password]@cache:6379/0"},
		{"url password escaped slashes", `"https:\/\/bob:hunter22@example.com\/x"`, `"https:\/\/bob:[REDACTED:url-password]@example.com\/x"`},
		{"url without password", "https://bob@example.com/ and https://example.com:8443/a@b", "https://bob@example.com/ and https://example.com:8443/a@b"},
		{"jwt header must decode", "eyJub3RhIjoiand0In0.eyJzdWIiOiIxIn0.sig", "eyJub3RhIjoiand0In0.eyJzdWIiOiIxIn0.sig"},
		{"sk dashed identifier", "task-runner-config and sk-learn-model-selection", "task-runner-config and sk-learn-model-selection"},
		{"pem in json string", `{"key":"-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIAbc\n-----END EC PRIVATE KEY-----\n"}`, `{"key":"[REDACTED:private-key]\n"}`},
		{"pem cut off", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n", "[REDACTED:private-key]"},
		{"public key stays", "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----", "-----BEGIN PUBLIC KEY-----\nMIIBIjAN\n-----END PUBLIC KEY-----"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, _ := d.RedactString(tc.in); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactFields(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts *Options
		in   string
		want string
	}{
		{"defaults", nil,
			`{"user":"ann","password":"pw1","client_secret":"cs","apiKey":"k","ACCESS-TOKEN":"t","n":{"Refresh_Token":"r"}}`,
			`{"user":"ann","password":"[REDACTED:sensitive-field]","client_secret":"[REDACTED:sensitive-field]","apiKey":"[REDACTED:sensitive-field]","ACCESS-TOKEN":"[REDACTED:sensitive-field]","n":{"Refresh_Token":"[REDACTED:sensitive-field]"}}`},
		{"exact, not substring", nil,
			`{"next_page_token":"abc","password_changed_at":"2024","token_type":"bearer","grant_type":"password","secret_santa":"x"}`,
			`{"next_page_token":"abc","password_changed_at":"2024","token_type":"bearer","grant_type":"password","secret_santa":"x"}`},
		{"non-string values stay", nil,
			`{"password":null,"secret":true,"token":{"id":1},"apikey":""}`,
			`{"password":null,"secret":true,"token":{"id":1},"apikey":""}`},
		{"escapes inside the value", nil,
			`{"password" : "a\"b\\", "x":1}`,
			`{"password" : "[REDACTED:sensitive-field]", "x":1}`},
		{"json inside a json string", nil,
			`{"body":"{\"password\":\"p\\\"w\",\"user\":\"u\"}"}`,
			`{"body":"{\"password\":\"[REDACTED:sensitive-field]\",\"user\":\"u\"}"}`},
		{"already redacted by the held-key redactor", nil,
			`{"authorization":"Bearer [REDACTED:MCP_API_KEY]","cookie":"s=1"}`,
			`{"authorization":"Bearer [REDACTED:MCP_API_KEY]","cookie":"[REDACTED:sensitive-field]"}`},
		{"removed default", &Options{RemoveFields: []string{"token"}},
			`{"token":"cursor-1","password":"p"}`,
			`{"token":"cursor-1","password":"[REDACTED:sensitive-field]"}`},
		{"added name", &Options{Fields: []string{"ssn"}},
			`{"SSN":"123-45-6789","socialSsn":"1","ssnote":"x"}`,
			`{"SSN":"[REDACTED:sensitive-field]","socialSsn":"1","ssnote":"x"}`},
		{"kubernetes secret data", &Options{Fields: []string{"data.*"}},
			`{"kind":"Secret","data":{"tls.crt":"Y3J0","db":"cGFzcw=="},"metadata":{"name":"s"}}`,
			`{"kind":"Secret","data":{"tls.crt":"[REDACTED:sensitive-field]","db":"[REDACTED:sensitive-field]"},"metadata":{"name":"s"}}`},
		{"env values", &Options{Fields: []string{"env[].value"}},
			`{"env":[{"name":"A","value":"1"},{"name":"B","value":"two"}],"value":"top"}`,
			`{"env":[{"name":"A","value":"[REDACTED:sensitive-field]"},{"name":"B","value":"[REDACTED:sensitive-field]"}],"value":"top"}`},
		{"root array and nesting below the path", &Options{Fields: []string{"[].vars"}},
			`[{"vars":{"a":"x","b":["y",2]},"id":"k"}]`,
			`[{"vars":{"a":"[REDACTED:sensitive-field]","b":["[REDACTED:sensitive-field]",2]},"id":"k"}]`},
		{"path on a cut body", &Options{Fields: []string{"data.*"}},
			`{"data":{"a":"secret1","b":"secr`,
			`{"data":{"a":"[REDACTED:sensitive-field]","b":"secr`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := mustNew(t, tc.opts)
			if got, _ := d.RedactString(tc.in); got != tc.want {
				t.Errorf("Redact(%s) =\n %s\nwant\n %s", tc.in, got, tc.want)
			}
		})
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    Options
		in      string
		want    string
		wantErr string
	}{
		{"disable one kind", Options{Disable: []string{"aws-access-key-id"}}, "AKIAIOSFODNN7EXAMPLE", "AKIAIOSFODNN7EXAMPLE", ""},
		{"disable all keeps fields", Options{Disable: []string{"all"}}, `{"secret":"AKIAIOSFODNN7EXAMPLE"}`, `{"secret":"[REDACTED:sensitive-field]"}`, ""},
		{"custom rule", Options{Rules: []Rule{{Kind: "acme-key", Prefix: "acme_", Pattern: "[0-9a-f]{8}"}}}, "k=acme_0123abcdXYZ", "k=[REDACTED:acme-key]XYZ", ""},
		{"custom rule default pattern", Options{Rules: []Rule{{Kind: "acme-key", Prefix: "acme_"}}}, "acme_short acme_0123456789abcdefgh", "acme_short [REDACTED:acme-key]", ""},
		{"unknown kind", Options{Disable: []string{"githubtoken"}}, "", "", "unknown kind"},
		{"short prefix", Options{Rules: []Rule{{Kind: "x", Prefix: "ab"}}}, "", "", "at least 4 bytes"},
		{"bad kind", Options{Rules: []Rule{{Kind: "Has Space", Prefix: "abcd"}}}, "", "", "lower-case"},
		{"bad pattern", Options{Rules: []Rule{{Kind: "x", Prefix: "abcd", Pattern: "("}}}, "", "", "pattern of x"},
		{"remove unknown field", Options{RemoveFields: []string{"cursor"}}, "", "", "not a default field"},
		{"bad path", Options{Fields: []string{"a.[x]"}}, "", "", "write a path"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := New(&tc.opts)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("New(%+v) error = %v, want one containing %q", tc.opts, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("New(%+v): %v", tc.opts, err)
			}
			if got, _ := d.RedactString(tc.in); got != tc.want {
				t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestRedactCounts checks the counts by kind and that nothing is copied
// or counted when nothing is found.
func TestRedactCounts(t *testing.T) {
	t.Parallel()
	d := mustNew(t, nil)
	in := []byte(`{"password":"a","k":"AKIAIOSFODNN7EXAMPLE","j":"AKIAIOSFODNN7EXAMPLF"}`)
	out, counts := d.Redact(in)
	if counts["sensitive-field"] != 1 || counts["aws-access-key-id"] != 2 || len(counts) != 2 {
		t.Errorf("Redact(%s) counts = %v, want 1 sensitive-field and 2 aws-access-key-id", in, counts)
	}
	if string(in) == string(out) {
		t.Errorf("Redact(%s) changed nothing", in)
	}
	clean := []byte(`{"id":"6f1c2a9e-0b7d-4c1e-9a55-3f2b8d7e6c10"}`)
	out, counts = d.Redact(clean)
	if counts != nil || &out[0] != &clean[0] {
		t.Errorf("Redact(%s) = %s, %v; want the input itself and nil", clean, out, counts)
	}
}

// TestScannerBuiltOnFirstUse: New validates and keeps the settings, but
// the anchor scanner waits for the first Redact (config.Load builds a
// detector on every start only to validate), and a first Redact from many
// goroutines at once builds it once and finds what a warm one finds.
func TestScannerBuiltOnFirstUse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts *Options
	}{
		{"defaults", nil},
		{"own rule and field", &Options{Rules: []Rule{{Kind: "acme-key", Prefix: "acme_"}}, Fields: []string{"pin_code"}}},
		{"every built-in off", &Options{Disable: []string{"all"}, Fields: []string{"pin_code"}}},
	}
	f := fakes(7, 1)[0]
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			warm := mustNew(t, tc.opts)
			want, wantN := warm.RedactString("value: " + f.text + ` {"pin_code":"1234"}`)

			d := mustNew(t, tc.opts)
			if d.scan != nil {
				t.Fatalf("New(%+v) built the anchor scanner; it should wait for the first Redact", tc.opts)
			}
			var wg sync.WaitGroup
			got := make([]string, 8)
			for i := range got {
				wg.Go(func() { got[i], _ = d.RedactString("value: " + f.text + ` {"pin_code":"1234"}`) })
			}
			wg.Wait()
			for i, g := range got {
				if g != want {
					t.Errorf("first Redact #%d = %q, want %q (%v) as a warm detector gives", i, g, want, wantN)
				}
			}
			if d.scan == nil {
				t.Error("Redact left the scanner unbuilt")
			}
		})
	}
}
