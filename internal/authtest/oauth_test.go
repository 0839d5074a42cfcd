package authtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// signJWT signs header and claims with key, by hand, so that the tests
// of the verifier do not rest on the client library under test.
func signJWT(t *testing.T, key *rsa.PrivateKey, header, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	in := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(in))
	sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestVerifyAssertion(t *testing.T) {
	t.Parallel()
	sa := NewServiceAccount(t, "https://oauth2.googleapis.com/token")
	other := NewServiceAccount(t, "https://oauth2.googleapis.com/token")
	now := time.Unix(1_900_000_000, 0)
	want := AssertionClaims{Issuer: sa.Email, Scope: "a b", Audience: "https://oauth2.googleapis.com/token", KeyID: sa.KeyID}
	hdr := func() map[string]any { return map[string]any{"alg": "RS256", "typ": "JWT", "kid": sa.KeyID} }
	claims := func() map[string]any {
		return map[string]any{"iss": sa.Email, "scope": "a b", "aud": want.Audience, "iat": now.Unix() - 10, "exp": now.Unix() + 3590}
	}
	with := func(m map[string]any, k string, v any) map[string]any { m[k] = v; return m }
	good := signJWT(t, sa.Key, hdr(), claims())
	parts := strings.Split(good, ".")
	tests := []struct {
		name      string
		assertion string
		wantErr   string // "" accepts
	}{
		{"valid", good, ""},
		{"other key", signJWT(t, other.Key, hdr(), claims()), "signature"},
		{"alg none", base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", "alg"},
		{"alg HS256", signJWT(t, sa.Key, with(hdr(), "alg", "HS256"), claims()), "alg"},
		{"wrong kid", signJWT(t, sa.Key, with(hdr(), "kid", "0000"), claims()), "kid"},
		{"claims swapped after signing", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"x"}`)) + "." + parts[2], "signature"},
		{"wrong iss", signJWT(t, sa.Key, hdr(), with(claims(), "iss", "evil@example.com")), "iss"},
		{"wrong scope", signJWT(t, sa.Key, hdr(), with(claims(), "scope", "a")), "scope"},
		{"wrong aud", signJWT(t, sa.Key, hdr(), with(claims(), "aud", "https://evil.example/token")), "aud"},
		{"expired", signJWT(t, sa.Key, hdr(), with(claims(), "exp", now.Unix()-1)), "exp"},
		{"no exp", signJWT(t, sa.Key, hdr(), with(claims(), "exp", 0)), "exp"},
		{"iat in the future", signJWT(t, sa.Key, hdr(), with(claims(), "iat", now.Unix()+600)), "iat"},
		{"lives over an hour", signJWT(t, sa.Key, hdr(), with(claims(), "exp", now.Unix()+7200)), "hour"},
		{"two parts", parts[0] + "." + parts[1], "JWS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := VerifyAssertion(tc.assertion, &sa.Key.PublicKey, want, now)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("VerifyAssertion(%s) = %v, want error containing %q", tc.name, err, tc.wantErr)
			}
		})
	}
}

// postForm sends a token request and returns the status and the decoded
// JSON answer.
func postForm(t *testing.T, u string, form url.Values, user, pass string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&m)
	return resp.StatusCode, m
}

func TestRefreshServerRotatesAndChecksTheClient(t *testing.T) {
	t.Parallel()
	s := NewRefreshServer(t, RefreshOptions{ClientSecret: "cs-LEAKCHECK-secret"})
	first := s.RefreshToken()
	form := func(rt string, kv ...string) url.Values {
		v := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "client_id": {s.ClientID()}, "client_secret": {"cs-LEAKCHECK-secret"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	code, m := postForm(t, s.TokenURL(), form(first), "", "")
	if code != 200 || m["access_token"] == nil || m["refresh_token"] == first || !s.Valid(m["access_token"].(string)) {
		t.Fatalf("first refresh: %d %v", code, m)
	}
	second := m["refresh_token"].(string)
	tests := []struct {
		name     string
		form     url.Values
		user     string
		wantCode int
		wantErr  string
	}{
		{"old refresh token", form(first), "", 400, "invalid_grant"},
		{"wrong grant", form(second, "grant_type", "client_credentials"), "", 400, "unsupported_grant_type"},
		{"wrong secret", form(second, "client_secret", "nope"), "", 401, "invalid_client"},
		{"unknown client", form(second, "client_id", "other"), "", 401, "invalid_client"},
		{"basic and form", form(second), s.ClientID(), 401, "invalid_client"},
		{"current one", form(second), "", 200, ""},
		{"current one again", form(second), "", 400, "invalid_grant"},
	}
	for _, tc := range tests {
		code, m := postForm(t, s.TokenURL(), tc.form, tc.user, "cs-LEAKCHECK-secret")
		if code != tc.wantCode || tc.wantErr != "" && m["error"] != tc.wantErr {
			t.Errorf("%s: got %d %v, want %d %s", tc.name, code, m["error"], tc.wantCode, tc.wantErr)
		}
	}
	s.Revoke()
	if code, m := postForm(t, s.TokenURL(), form(s.RefreshToken()), "", ""); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("after Revoke: got %d %v, want 400 invalid_grant", code, m["error"])
	}
}

func TestJWTServerRefusesOtherGrants(t *testing.T) {
	t.Parallel()
	s := NewJWTServer(t, "https://www.googleapis.com/auth/spreadsheets.readonly")
	now := time.Now()
	good := signJWT(t, s.Account.Key, map[string]any{"alg": "RS256", "typ": "JWT", "kid": s.Account.KeyID},
		map[string]any{"iss": s.Account.Email, "scope": "https://www.googleapis.com/auth/spreadsheets.readonly", "aud": s.TokenURL(), "iat": now.Unix(), "exp": now.Unix() + 3600})
	tests := []struct {
		name     string
		form     url.Values
		wantCode int
		wantErr  string
	}{
		{"refresh grant", url.Values{"grant_type": {"refresh_token"}, "assertion": {good}}, 400, "unsupported_grant_type"},
		{"no assertion", url.Values{"grant_type": {JWTBearerGrant}}, 400, "invalid_grant"},
		{"valid", url.Values{"grant_type": {JWTBearerGrant}, "assertion": {good}}, 200, ""},
	}
	for _, tc := range tests {
		code, m := postForm(t, s.TokenURL(), tc.form, "", "")
		if code != tc.wantCode || tc.wantErr != "" && m["error"] != tc.wantErr || tc.wantErr == "" && !s.Valid(m["access_token"].(string)) {
			t.Errorf("%s: got %d %v, want %d %s", tc.name, code, m, tc.wantCode, tc.wantErr)
		}
	}
	s.Refuse()
	if code, m := postForm(t, s.TokenURL(), url.Values{"grant_type": {JWTBearerGrant}, "assertion": {good}}, "", ""); code != 400 || m["error"] != "invalid_grant" {
		t.Errorf("after Refuse: got %d %v, want 400 invalid_grant", code, m["error"])
	}
}
