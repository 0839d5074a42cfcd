package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/internal/authtest"
)

// runCheck runs keyveil check with args and env (on top of a bare PATH),
// and returns its exit code and everything it wrote, stdout then stderr.
func runCheck(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	code, stdout, stderr := runKeyveil(t, append([]string{"HOME=" + t.TempDir()}, env...), append([]string{"check"}, args...)...)
	return code, stdout + stderr
}

// bearerAPI is a downstream that answers 200 to a bearer token valid
// reports true for, and 401 otherwise.
func bearerAPI(t *testing.T, valid func(string) bool) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !valid(tok) {
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestCheckPingOAuthGrants: keyveil check --ping gets a token from a
// token endpoint that verifies the grant and uses it; when the endpoint
// answers invalid_grant, check says what the user must do, and exits 1.
// Nothing it prints holds a token, the refresh token or the key.
func TestCheckPingOAuthGrants(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		refuse   bool
		setup    func(t *testing.T, refuse bool) (auth string, env []string, api string, secrets []string)
		wantCode int
		want     string
	}{
		{"refresh token", false, graphFixture, 0, "ok: HTTP 200"},
		{"refresh token refused", true, graphFixture, 1,
			`FAILED: fetching an OAuth token for service "svc": the refresh token was refused (invalid_grant): the user must sign in and consent again, then update PING_REFRESH_TOKEN`},
		{"service account", false, sheetsFixture, 0, "ok: HTTP 200"},
		{"service account refused", true, sheetsFixture, 1,
			`FAILED: fetching an OAuth token for service "svc": the service account's signed assertion was refused (invalid_grant): check that the key in PING_SA_JSON is still active`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			auth, env, api, secrets := tc.setup(t, tc.refuse)
			cfg := filepath.Join(t.TempDir(), "services.yaml")
			yaml := fmt.Sprintf("services:\n  svc:\n    base_url: %s\n    auth: %s\n", api, auth)
			if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := runCheck(t, env, "--ping", "--config", cfg)
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Errorf("keyveil check --ping exited %d, want %d and %q in:\n%s", code, tc.wantCode, tc.want, out)
			}
			for _, s := range append(secrets, "LEAKCHECK") {
				if strings.Contains(out, s) {
					t.Errorf("keyveil check --ping printed a secret (%.20q...):\n%s", s, out)
				}
			}
		})
	}
}

// graphFixture is a refresh-token service whose endpoint rotates tokens.
func graphFixture(t *testing.T, refuse bool) (string, []string, string, []string) {
	srv := authtest.NewRefreshServer(t, authtest.RefreshOptions{ClientSecret: "cs-LEAKCHECK-ping-client-secret"})
	rt := srv.RefreshToken()
	if refuse {
		srv.Revoke()
	}
	auth := fmt.Sprintf("{type: oauth2_refresh_token, token_url: %q, client_id_env: PING_CLIENT_ID, client_secret_env: PING_CLIENT_SECRET, refresh_token_env: PING_REFRESH_TOKEN, scopes: [Mail.Read]}", srv.TokenURL())
	env := []string{"PING_CLIENT_ID=" + srv.ClientID(), "PING_CLIENT_SECRET=cs-LEAKCHECK-ping-client-secret", "PING_REFRESH_TOKEN=" + rt}
	return auth, env, bearerAPI(t, srv.Valid), []string{rt}
}

// sheetsFixture is a service-account service whose endpoint verifies
// the assertion.
func sheetsFixture(t *testing.T, refuse bool) (string, []string, string, []string) {
	const scope = "https://www.googleapis.com/auth/spreadsheets.readonly"
	srv := authtest.NewJWTServer(t, scope)
	if refuse {
		srv.Refuse()
	}
	auth := fmt.Sprintf("{type: google_service_account, env: PING_SA_JSON, token_url: %q, scopes: [%q]}", srv.TokenURL(), scope)
	lines := strings.Split(strings.TrimSpace(srv.Account.PEM), "\n")
	return auth, []string{"PING_SA_JSON=" + srv.Account.JSON}, bearerAPI(t, srv.Valid), append([]string{srv.Account.KeyID}, lines[2:len(lines)-1]...)
}
