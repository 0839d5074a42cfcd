package credentials

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/credentials/scheme"
	"github.com/keyveil/keyveil/internal/authtest"
)

// saValues is a scheme.Values of one variable.
type saValues map[string]string

func (m saValues) Get(name string) (string, bool) { v, ok := m[name]; return v, ok }

// TestServiceAccountKeyRedactedInEveryForm: with the Derived values of a
// google_service_account part, the Redactor removes the private key in
// every form it could leak in: inside the whole JSON, re-encoded or not;
// the PEM; each of its lines; the JSON-escaped PEM; the base64 body
// joined; the DER in base64url and hex; a line percent-, base64- or JSON-
// escaped; and the private_key_id. A line alone is a 25th of the key, so
// each is a secret of its own.
func TestServiceAccountKeyRedactedInEveryForm(t *testing.T) {
	t.Parallel()
	const name = "GOOGLE_SERVICE_ACCOUNT_JSON"
	sa := authtest.NewServiceAccount(t, "https://oauth2.googleapis.com/token")
	sc, ok := scheme.Lookup("google_service_account")
	if !ok {
		t.Fatal("google_service_account is not registered")
	}
	s := &scheme.Settings{Type: "google_service_account", Env: name, Scopes: []string{"https://www.googleapis.com/auth/spreadsheets.readonly"}}
	if field, err := sc.Validate(s); err != nil {
		t.Fatalf("Validate: %s: %v", field, err)
	}
	part, _, err := sc.Prepare(s, saValues{name: sa.JSON}, scheme.Runtime{
		Service: "sheets", Timeout: time.Second, Learn: func(...scheme.Value) {}, Forget: func(...scheme.Value) {},
	})
	if err != nil {
		t.Fatal(err)
	}
	// What Load has the Redactor learn: Derived alone, since the JSON is
	// a Document (see TestServiceAccountJSONIsNotAFragmentSource).
	var secrets []Secret
	for _, v := range part.Derived() {
		secrets = append(secrets, NewSecret(v.Name, v.Value))
	}
	r := NewRedactor(secrets...)

	pemText := strings.TrimSpace(sa.PEM)
	lines := strings.Split(pemText, "\n")
	body := lines[1 : len(lines)-1]
	der, err := base64.StdEncoding.DecodeString(strings.Join(body, ""))
	if err != nil {
		t.Fatal(err)
	}
	escaped, _ := json.Marshal(pemText)
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(sa.JSON)); err != nil {
		t.Fatal(err)
	}
	forms := map[string]string{
		"the JSON":                sa.JSON,
		"the JSON compacted":      compact.String(),
		"the PEM":                 sa.PEM,
		"the PEM, CRLF":           strings.ReplaceAll(pemText, "\n", "\r\n"),
		"JSON-escaped PEM":        string(escaped),
		"base64 body joined":      strings.Join(body, ""),
		"DER in base64url":        base64.RawURLEncoding.EncodeToString(der),
		"DER in hex":              hex.EncodeToString(der),
		"first line":              body[0],
		"middle line":             body[len(body)/2],
		"a line percent-escaped":  url.QueryEscape(body[3]),
		"a line in base64":        base64.StdEncoding.EncodeToString([]byte(body[4])),
		"a line JSON \\u-escaped": jsonU(body[5]),
		"private_key_id":          sa.KeyID,
	}
	jwk := rsaJWK(t, der)
	for member, v := range jwk {
		forms["JWK "+member] = `{"kty":"RSA","` + member + `":"` + v + `"}`
	}
	for what, form := range forms {
		t.Run(what, func(t *testing.T) {
			out := r.RedactString("leaked: " + form + " :end")
			if !strings.Contains(out, "[REDACTED:"+name+"]") {
				t.Errorf("Redact(%s) did not redact: %.80q", what, out)
			}
			// Each line's end: every PKCS #8 RSA key begins with the
			// same 40 characters, which are no secret.
			for _, line := range body {
				if len(line) >= 16 && strings.Contains(out, line[len(line)-16:]) {
					t.Errorf("Redact(%s) left 16 bytes of a key line: %.200q", what, out)
				}
			}
			for member, v := range jwk {
				if strings.Contains(out, v[8:24]) {
					t.Errorf("Redact(%s) left 16 bytes of the JWK's %s: %.200q", what, member, out)
				}
			}
			if strings.Contains(out, sa.KeyID) {
				t.Errorf("Redact(%s) left the private_key_id", what)
			}
		})
	}
}

// jsonU escapes every byte of s as \u00XX, as some JSON encoders do.
func jsonU(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, `\u%04x`, c)
	}
	return b.String()
}

// TestServiceAccountJSONIsNotAFragmentSource: Load has the Redactor learn
// the key inside a service-account JSON, not the JSON itself. As a
// secret, any 8 bytes of the JSON would be redacted from every response
// as a piece of it: "https://", `", "`, "service_account", a Google API
// URL. A Sheets response comes back whole; the key, leaked in it, does
// not.
func TestServiceAccountJSONIsNotAFragmentSource(t *testing.T) {
	t.Parallel()
	const name = "KVTEST_SA_JSON"
	sa := authtest.NewServiceAccount(t, "https://oauth2.googleapis.com/token")
	cfg := &config.Config{Services: []config.Service{{
		Name: "sheets", BaseURL: "https://sheets.googleapis.com/v4", Timeout: config.DefaultTimeout, MaxResponseBytes: config.DefaultMaxResponseBytes,
		Auth: config.AuthList{{Type: "google_service_account", Env: name, Scopes: []string{"https://www.googleapis.com/auth/spreadsheets.readonly"}}},
	}}}
	set, err := Load(cfg, &Env{dotenv: map[string]string{name: sa.JSON}})
	if err != nil {
		t.Fatal(err)
	}
	r := set.Redactor()
	response := `{
  "spreadsheetId": "1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms",
  "properties": {"title": "Budget", "locale": "en_US", "timeZone": "Etc/GMT"},
  "spreadsheetUrl": "https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit",
  "sharedWith": "sheets-reader@keyveil-test.iam.gserviceaccount.com",
  "kind": "service_account",
  "self": "https://www.googleapis.com/auth/spreadsheets.readonly"
}`
	if got := string(r.RedactFragments([]byte(response), nil)); got != response {
		t.Errorf("RedactFragments(a Sheets response) = %s\nwant it unchanged", got)
	}
	lines := strings.Split(strings.TrimSpace(sa.PEM), "\n")
	leak := string(r.RedactFragments([]byte(response+"\n"+sa.JSON), nil))
	for _, line := range lines[1 : len(lines)-1] {
		if len(line) >= 16 && strings.Contains(leak, line[len(line)-16:]) {
			t.Fatalf("RedactFragments(the JSON) left a line of the key: %s", leak)
		}
	}
	if strings.Contains(leak, sa.KeyID) || !strings.Contains(leak, "[REDACTED:"+name+"]") {
		t.Errorf("RedactFragments(the JSON) = %s\nwant the key and its ID redacted", leak)
	}
}

// TestServiceAccountKeyReencodedRedacted: an API that hands the key back
// re-encoded shows none of it in a response. PKCS #1 is the PKCS #8 key
// 26 bytes in, so its base64 shares no run with the key's own PEM; its
// lines, and the private exponent in them, must still go.
func TestServiceAccountKeyReencodedRedacted(t *testing.T) {
	t.Parallel()
	const name = "KVTEST_SA_JSON"
	sa := authtest.NewServiceAccount(t, "https://oauth2.googleapis.com/token")
	cfg := &config.Config{Services: []config.Service{{
		Name: "sheets", BaseURL: "https://sheets.googleapis.com/v4", Timeout: config.DefaultTimeout, MaxResponseBytes: config.DefaultMaxResponseBytes,
		Auth: config.AuthList{{Type: "google_service_account", Env: name, Scopes: []string{"https://www.googleapis.com/auth/spreadsheets.readonly"}}},
	}}}
	set, err := Load(cfg, &Env{dotenv: map[string]string{name: sa.JSON}})
	if err != nil {
		t.Fatal(err)
	}
	r := set.Redactor()
	b, _ := pem.Decode([]byte(sa.PEM))
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey))
	pkcs1PEM := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: pkcs1}))
	body := base64.StdEncoding.EncodeToString(pkcs1)
	for _, tc := range []struct{ name, text string }{
		{"PKCS #1 PEM", pkcs1PEM},
		{"PKCS #1 PEM, JSON-escaped", strings.ReplaceAll(pkcs1PEM, "\n", `\n`)},
		{"PKCS #1 body joined", body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := `{"key":"` + tc.text + `"}`
			got := string(r.RedactFragments([]byte(resp), nil))
			// Skip the first 40 characters: the DER header and the
			// modulus's start, which are no secret.
			for i := 40; i+16 <= len(body); i += 16 {
				if strings.Contains(got, body[i:i+16]) {
					t.Fatalf("RedactFragments(%s) left bytes %d-%d of the key: %.300q", tc.name, i, i+16, got)
				}
			}
		})
	}
}
