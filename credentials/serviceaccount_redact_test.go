package credentials

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyveil/keyveil/credentials/scheme"
	"github.com/keyveil/keyveil/internal/authtest"
)

// saValues is a scheme.Values of one variable.
type saValues map[string]string

func (m saValues) Get(name string) (string, bool) { v, ok := m[name]; return v, ok }

// TestServiceAccountKeyRedactedInEveryForm: with the JSON and the Derived
// values of a google_service_account part, the Redactor removes the
// private key in every form it could leak in: the whole JSON, re-encoded
// or not; the PEM; each of its lines; the JSON-escaped PEM; the base64
// body joined; the DER bytes' other base64 alphabets; a line percent-
// or JSON-escaped; and the private_key_id. A line alone is enough to
// learn a sixth of the key, so each is a secret of its own.
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
	secrets := []Secret{NewSecret(name, sa.JSON)}
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
