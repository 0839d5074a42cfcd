package scheme

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/internal/authtest"
)

const sheetsScope = "https://www.googleapis.com/auth/spreadsheets.readonly"

func sheetsSettings(tokenURL string) *Settings {
	return &Settings{Type: "google_service_account", Env: "GOOGLE_SERVICE_ACCOUNT_JSON", Scopes: []string{sheetsScope}, TokenURL: tokenURL}
}

// prepareSheets validates s and prepares a part with the JSON key js.
func prepareSheets(t *testing.T, s *Settings, js string, l *learnLog) (Part, error) {
	t.Helper()
	sc, ok := Lookup(s.Type)
	if !ok {
		t.Fatalf("Lookup(%q): not registered", s.Type)
	}
	if field, err := sc.Validate(s); err != nil {
		t.Fatalf("Validate: %s: %v", field, err)
	}
	p, _, err := sc.Prepare(s, mapValues{s.Env: js}, l.runtime(t, "sheets"))
	return p, err
}

// TestServiceAccountSignsAndTrades: the part signs an assertion the
// endpoint verifies with the account's public key, sends the token it gets
// and has it learnt first; once the key is refused, the error says so.
func TestServiceAccountSignsAndTrades(t *testing.T) {
	t.Parallel()
	srv := authtest.NewJWTServer(t, sheetsScope)
	l := newLearnLog()
	p, err := prepareSheets(t, sheetsSettings(srv.TokenURL()), srv.Account.JSON, l)
	if err != nil {
		t.Fatal(err)
	}
	auth, err := attach(t, p)
	tok := strings.TrimPrefix(auth, "Bearer ")
	if err != nil || !srv.Valid(tok) || !l.knows(tok) {
		t.Fatalf("Attach = %q, %v (issued %v, learnt %v); endpoint refused: %q", auth, err, srv.Valid(tok), l.knows(tok), srv.Refused())
	}

	srv.Refuse()
	l.advance(3600e9) // the token has expired: fetch again
	const want = `fetching an OAuth token for service "sheets": the service account's signed assertion was refused (invalid_grant): check that the key in GOOGLE_SERVICE_ACCOUNT_JSON is still active (not deleted or disabled) and that this machine's clock is right`
	if _, err := attach(t, p); err == nil || err.Error() != want {
		t.Fatalf("Attach after the key was refused: %v, want %q", err, want)
	}
}

// TestServiceAccountWrongScopesRefused shows the endpoint checks what the
// part signs: scopes other than the account was meant for are refused.
func TestServiceAccountWrongScopesRefused(t *testing.T) {
	t.Parallel()
	srv := authtest.NewJWTServer(t, sheetsScope)
	s := sheetsSettings(srv.TokenURL())
	s.Scopes = []string{"https://www.googleapis.com/auth/drive"}
	p, err := prepareSheets(t, s, srv.Account.JSON, newLearnLog())
	if err != nil {
		t.Fatal(err)
	}
	_, err = attach(t, p)
	var te *TokenError
	if !errors.As(err, &te) || te.Code != "invalid_grant" || strings.Contains(err.Error(), "eyJ") {
		t.Errorf("Attach with other scopes: %v, want an invalid_grant TokenError without the assertion", err)
	}
}

// edit returns the account's JSON with key set to v (nil deletes it).
func edit(t testing.TB, js, key string, v any) string {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(js), &m); err != nil {
		t.Fatal(err)
	}
	if v == nil {
		delete(m, key)
	} else {
		m[key] = v
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestServiceAccountPrepareRefuses(t *testing.T) {
	t.Parallel()
	srv := authtest.NewJWTServer(t, sheetsScope)
	sa := srv.Account
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	tests := []struct {
		name     string
		tokenURL string // token_url in the services file
		js       string
		wantErr  string // "": accepted
	}{
		{"valid", srv.TokenURL(), sa.JSON, ""},
		{"no token_uri", srv.TokenURL(), edit(t, sa.JSON, "token_uri", nil), ""},
		{"legacy Google token_uri", "", edit(t, sa.JSON, "token_uri", googleLegacyTokenURL), ""},
		{"cut short", srv.TokenURL(), sa.JSON[:len(sa.JSON)/2], "is not valid JSON (byte"},
		{"a list", srv.TokenURL(), `["` + sa.Email + `"]`, "is not a JSON object"},
		{"user credentials", srv.TokenURL(), edit(t, sa.JSON, "type", "authorized_user"), "is not a service account's key"},
		{"no client_email", srv.TokenURL(), edit(t, sa.JSON, "client_email", nil), "has no client_email"},
		{"key not PEM", srv.TokenURL(), edit(t, sa.JSON, "private_key", strings.ReplaceAll(sa.PEM, "-----", "")), "is not a PEM block"},
		{"key mangled", srv.TokenURL(), edit(t, sa.JSON, "private_key", strings.Replace(sa.PEM, "MII", "XXX", 1)), "does not parse"},
		{"EC key", srv.TokenURL(), edit(t, sa.JSON, "private_key", ecPEM), "is not an RSA key"},
		{"token_uri elsewhere", srv.TokenURL(), edit(t, sa.JSON, "token_uri", "https://evil.example/token"), "names a token_uri other than " + srv.TokenURL()},
		{"token_uri not Google's", "", sa.JSON, "names a token_uri other than " + googleTokenURL},
	}
	lines := strings.Split(strings.TrimSpace(sa.PEM), "\n")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := prepareSheets(t, sheetsSettings(tc.tokenURL), tc.js, newLearnLog())
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("Prepare(%s) = %v, want %q", tc.name, err, tc.wantErr)
			}
			if err == nil {
				return
			}
			if !strings.Contains(err.Error(), "GOOGLE_SERVICE_ACCOUNT_JSON") {
				t.Errorf("Prepare error %q does not name the variable", err)
			}
			for _, frag := range append([]string{sa.Email, sa.KeyID, "evil.example", "authorized_user", ecPEM[30:60]}, lines[1:len(lines)-1]...) {
				if strings.Contains(err.Error(), frag) {
					t.Errorf("Prepare error %q quotes the JSON (%q)", err, frag)
				}
			}
		})
	}
}

// TestServiceAccountDerived: the part asks the Redactor to know the key
// in each form it could leak in beyond the JSON itself.
func TestServiceAccountDerived(t *testing.T) {
	t.Parallel()
	sa := authtest.NewServiceAccount(t, googleTokenURL)
	p, err := prepareSheets(t, sheetsSettings(""), sa.JSON, newLearnLog())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range p.Derived() {
		if v.Name != "GOOGLE_SERVICE_ACCOUNT_JSON" {
			t.Errorf("Derived value named %q, want the variable", v.Name)
		}
		got = append(got, v.Value)
	}
	pemText := strings.TrimSpace(sa.PEM)
	lines := strings.Split(pemText, "\n")
	body := lines[1 : len(lines)-1]
	want := map[string]string{
		"the PEM":            pemText,
		"JSON-escaped PEM":   strings.ReplaceAll(pemText, "\n", `\n`),
		"base64 body joined": strings.Join(body, ""),
		"private_key_id":     sa.KeyID,
	}
	for i, line := range body {
		if len(line) >= minKeyLine {
			want["body line "+string(rune('A'+i%26))+string(rune('a'+i/26))] = line
		}
	}
	for what, v := range want {
		if !slices.Contains(got, v) {
			t.Errorf("Derived lacks %s", what)
		}
	}
	if slices.ContainsFunc(got, func(v string) bool { return len(v) < minKeyLine }) {
		t.Errorf("Derived has a value under %d bytes, which would match ordinary text", minKeyLine)
	}
	// The JSON file's own text holds the escaped PEM.
	if !strings.Contains(sa.JSON, want["JSON-escaped PEM"]) {
		t.Errorf("the JSON-escaped form is not what the key file holds")
	}
}

func TestServiceAccountValidate(t *testing.T) {
	t.Parallel()
	ok := func() *Settings { return sheetsSettings("") }
	with := func(f func(*Settings)) *Settings { s := ok(); f(s); return s }
	tests := []struct {
		name      string
		s         *Settings
		wantField string
	}{
		{"valid", ok(), ""},
		{"token_url", with(func(s *Settings) { s.TokenURL = "http://localhost:9/token" }), ""},
		{"no env", with(func(s *Settings) { s.Env = "" }), "env"},
		{"JSON inline", with(func(s *Settings) { s.Env = `{"type":"service_account"}` }), "env"},
		{"no scopes", with(func(s *Settings) { s.Scopes = nil }), "scopes"},
		{"bad scope", with(func(s *Settings) { s.Scopes = []string{"a b"} }), "scopes"},
		{"http token_url", with(func(s *Settings) { s.TokenURL = "http://oauth2.example.com/token" }), "token_url"},
		{"client_id_env", with(func(s *Settings) { s.ClientIDEnv = "GOOGLE_CLIENT_ID" }), "client_id_env"},
		{"refresh_token_env", with(func(s *Settings) { s.RefreshTokenEnv = "GOOGLE_REFRESH" }), "refresh_token_env"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			field, err := googleServiceAccount{}.Validate(tc.s)
			if field != tc.wantField || (err == nil) != (tc.wantField == "") {
				t.Errorf("Validate(%s) = %q, %v; want field %q", tc.name, field, err, tc.wantField)
			}
		})
	}
	g := googleServiceAccount{}
	if got := g.SendsTo(ok()); got != googleTokenURL {
		t.Errorf("SendsTo without token_url = %q, want Google's", got)
	}
	if got := g.Vars(ok()); len(got) != 1 || !got[0].Secret || !got[0].Multiline || !got[0].Document {
		t.Errorf("Vars = %+v, want one secret multiline document", got)
	}
	if got := g.Carriers(ok()); !slices.Equal(got.Headers, []string{http.CanonicalHeaderKey("authorization")}) {
		t.Errorf("Carriers = %+v, want Authorization", got)
	}
}

// TestOAuthPartsPrintNoKey: a part logged or printed by mistake shows its
// scheme's name, not the key material it holds in plain strings.
func TestOAuthPartsPrintNoKey(t *testing.T) {
	t.Parallel()
	jwtSrv := authtest.NewJWTServer(t, sheetsScope)
	sa, err := prepareSheets(t, sheetsSettings(jwtSrv.TokenURL()), jwtSrv.Account.JSON, newLearnLog())
	if err != nil {
		t.Fatal(err)
	}
	rtSrv := authtest.NewRefreshServer(t, authtest.RefreshOptions{ClientSecret: graphSecret})
	graph := prepareGraph(t, graphSettings(rtSrv.TokenURL()), rtSrv, graphSecret, newLearnLog())
	if _, err := attach(t, graph); err != nil { // holds a rotated token now
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(jwtSrv.Account.PEM), "\n")
	for _, tc := range []struct {
		name   string
		part   Part
		want   string
		secret []string
	}{
		{"google_service_account", sa, nameGoogleSA, append([]string{jwtSrv.Account.KeyID}, lines[1:len(lines)-1]...)},
		{"oauth2_refresh_token", graph, nameRefresh, []string{graphSecret, rtSrv.RefreshToken(), "LEAKCHECK"}},
	} {
		var logged bytes.Buffer
		slog.New(slog.NewJSONHandler(&logged, nil)).Info("part", "p", tc.part)
		out := fmt.Sprintf("%v|%+v|%#v|%s|%q|%x", tc.part, tc.part, tc.part, tc.part, tc.part, tc.part) + logged.String()
		for _, s := range tc.secret {
			if strings.Contains(out, s) {
				t.Errorf("%s printed through fmt or slog holds %q: %s", tc.name, s, out)
			}
		}
		if !strings.Contains(out, tc.want) {
			t.Errorf("%s printed as %s, want its scheme's name", tc.name, out)
		}
	}
}

// FuzzServiceAccountPrepare: whatever the variable holds, Prepare does not
// panic, and its error is one of a fixed set of messages (digits aside:
// the byte offset of a JSON syntax error), so no byte of the file, which
// holds a private key, can reach the error.
func FuzzServiceAccountPrepare(f *testing.F) {
	sa := authtest.NewServiceAccount(f, googleTokenURL)
	noDigits := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return -1
			}
			return r
		}, s)
	}
	s := sheetsSettings("")
	rt := Runtime{Service: "sheets", Learn: func(...Value) {}, Forget: func(...Value) {}}
	prepare := func(js string) error {
		_, _, err := googleServiceAccount{}.Prepare(s, mapValues{s.Env: js}, rt)
		return err
	}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ecKey)
	ecPEM := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}))
	// One input for each way Prepare refuses; their messages are the set.
	known := map[string]bool{}
	for _, js := range []string{
		sa.JSON[:10], `[1]`, `{"type":"authorized_user"}`, `{"type":"service_account"}`,
		edit(f, sa.JSON, "private_key", "x"),
		edit(f, sa.JSON, "private_key", strings.Replace(sa.PEM, "MII", "XXX", 1)),
		edit(f, sa.JSON, "private_key", ecPEM),
		edit(f, sa.JSON, "token_uri", "https://elsewhere.example/token"),
	} {
		err := prepare(js)
		if err == nil {
			f.Fatalf("Prepare(%.40q) = nil, want an error", js)
		}
		known[noDigits(err.Error())] = true
		f.Add(js)
	}
	if len(known) != 8 {
		f.Fatalf("the seeds give %d messages, want one for each of 8 refusals: %v", len(known), known)
	}
	// The same refusals with other text where each message could quote
	// it.
	for _, js := range []string{
		sa.JSON[:37], `"LEAKCHECK-json"`, `{"type":"LEAKCHECK-type"}`, `{"type":"service_account","client_email":""}`,
		edit(f, sa.JSON, "private_key", "LEAKCHECK-private-key"),
		edit(f, sa.JSON, "token_uri", "https://LEAKCHECK.example/token"),
		sa.JSON,
	} {
		f.Add(js)
	}
	f.Fuzz(func(t *testing.T, js string) {
		if err := prepare(js); err != nil && !known[noDigits(err.Error())] {
			t.Errorf("Prepare(%.60q) = %q, not one of the fixed messages", js, err)
		}
	})
}
