package credentials

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyveil/keyveil/config"
)

// These tests run the OAuth 2.0 client credentials scheme (package
// scheme) through Load and the Transport against local servers: the token
// endpoint checks the grant. The token cache's timing is tested on its own
// in scheme/token_test.go. They set process environment variables
// (t.Setenv), so they do not run in parallel.

const (
	oauthClientID = "keyveil-client"
	oauthSecret   = "sk-test-LEAKCHECK-client-secret-0123456789"
)

// tokenServer is an httptest token endpoint. It checks the client
// credentials, hands out numbered tokens valid for expiresIn seconds, and
// counts requests.
type tokenServer struct {
	*httptest.Server
	count     atomic.Int32
	expiresIn int
	refresh   string // a refresh_token sent with every token; "": none
	mu        sync.Mutex
	scopes    []string
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	ts := &tokenServer{expiresIn: expiresIn}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := ts.count.Add(1)
		_ = r.ParseForm()
		ts.mu.Lock()
		ts.scopes = append(ts.scopes, r.PostForm.Get("scope"))
		ts.mu.Unlock()
		id, secret, ok := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if !ok || id != oauthClientID || secret != oauthSecret || r.PostForm.Get("grant_type") != "client_credentials" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"client %s with secret %s is unknown"}`, id, secret)
			return
		}
		refresh := ""
		if ts.refresh != "" {
			refresh = fmt.Sprintf(`,"refresh_token":%q`, ts.refresh)
		}
		fmt.Fprintf(w, `{"access_token":"tok-LEAKCHECK-%04d-abcdefghij","token_type":"Bearer","expires_in":%d%s}`, n, ts.expiresIn, refresh)
	}))
	t.Cleanup(ts.Close)
	return ts
}

func tokenFor(n int) string { return fmt.Sprintf("tok-LEAKCHECK-%04d-abcdefghij", n) }

// apiServer records the Authorization header of each request and echoes
// it back in the body and a header, in every form leakForms knows.
type apiServer struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func newAPIServer(t *testing.T) *apiServer {
	a := &apiServer{}
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		a.mu.Lock()
		a.auths = append(a.auths, auth)
		a.mu.Unlock()
		tok := strings.TrimPrefix(auth, "Bearer ")
		w.Header().Set("X-Echo", tok)
		for _, f := range leakForms(tok) {
			fmt.Fprintf(w, "%s: %s\n", f.name, f.text)
		}
	}))
	t.Cleanup(a.Close)
	return a
}

func oauthConfig(api, tokenURL string) *config.Config {
	return &config.Config{Services: []config.Service{{
		Name: "reports", BaseURL: api, Timeout: config.DefaultTimeout, MaxResponseBytes: config.DefaultMaxResponseBytes,
		Auth: config.AuthList{{Type: config.AuthOAuth2, TokenURL: tokenURL, ClientIDEnv: "KVTEST_OAUTH_ID", ClientSecretEnv: "KVTEST_OAUTH_SECRET", Scopes: []string{"reports.read", "reports.export"}}},
	}}}
}

func loadOAuth(t *testing.T, cfg *config.Config) *Set {
	t.Helper()
	t.Setenv("KVTEST_OAUTH_ID", oauthClientID)
	t.Setenv("KVTEST_OAUTH_SECRET", oauthSecret)
	set, err := Load(cfg, nil)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return set
}

func oauthGet(t *testing.T, c *http.Client, u string) (string, http.Header, error) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		return "", nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.Header, nil
}

func TestOAuth2FetchesCachesAndRedacts(t *testing.T) {
	tokens := newTokenServer(t, 3600)
	api := newAPIServer(t)
	set := loadOAuth(t, oauthConfig(api.URL, tokens.URL))
	red := set.Redactor()
	if red != set.Redactor() {
		t.Fatal("Set.Redactor() returns a new Redactor on each call; tokens would not reach them all")
	}
	client := NewTransport(set, oauthConfig(api.URL, tokens.URL), nil).Client()
	var out strings.Builder
	w := red.NewWriter(&out)
	for i := 0; i < 3; i++ {
		body, h, err := oauthGet(t, client, api.URL+"/x")
		if err != nil {
			t.Fatalf("GET %d: %v", i, err)
		}
		fmt.Fprintf(w, "%s\nX-Echo: %s\n", body, h.Get("X-Echo"))
	}
	_ = w.Close()
	if n := tokens.count.Load(); n != 1 {
		t.Errorf("token endpoint called %d times for 3 requests, want 1 (cached)", n)
	}
	for i, a := range api.auths {
		if a != "Bearer "+tokenFor(1) {
			t.Errorf("request %d Authorization = %q, want the first token", i, a)
		}
	}
	if got := tokens.scopes[0]; got != "reports.read reports.export" {
		t.Errorf("scope sent = %q", got)
	}
	for _, f := range leakForms(tokenFor(1)) {
		if strings.Contains(out.String(), f.text) {
			t.Errorf("token leaked through the Redactor as %s", f.name)
		}
	}
	if !strings.Contains(out.String(), "[REDACTED:OAUTH_TOKEN_reports]") {
		t.Errorf("output has no token marker:\n%s", out.String())
	}
	for _, v := range []string{oauthSecret, base64.StdEncoding.EncodeToString([]byte(oauthClientID + ":" + oauthSecret))} {
		if got := red.RedactString("x " + v + " y"); strings.Contains(got, v) {
			t.Errorf("Redactor does not know the client secret form %q", v)
		}
	}
}

func TestOAuth2TokenErrorsHideSecretAndBody(t *testing.T) {
	tokens := newTokenServer(t, 3600)
	api := newAPIServer(t)
	cfg := oauthConfig(api.URL, tokens.URL)
	t.Setenv("KVTEST_OAUTH_ID", oauthClientID)
	t.Setenv("KVTEST_OAUTH_SECRET", oauthSecret+"-wrong")
	set, err := Load(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = oauthGet(t, NewTransport(set, cfg, nil).Client(), api.URL+"/x")
	if err == nil {
		t.Fatal("GET with a refused client secret succeeded")
	}
	msg := err.Error()
	if !strings.Contains(msg, `service "reports"`) || !strings.Contains(msg, "HTTP 401 (invalid_client)") {
		t.Errorf("error = %q, want the service, status and error code", msg)
	}
	for _, leak := range []string{"LEAKCHECK", "is unknown", "error_description"} {
		if strings.Contains(msg, leak) {
			t.Errorf("error %q contains %q from the secret or the response body", msg, leak)
		}
	}
	if len(api.auths) != 0 {
		t.Errorf("the API was called without a token: %v", api.auths)
	}
}

func TestOAuth2TokenEndpointRedirectNotFollowed(t *testing.T) {
	var hits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		fmt.Fprint(w, `{"access_token":"stolen","token_type":"Bearer"}`)
	}))
	t.Cleanup(other.Close)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/token", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	api := newAPIServer(t)
	cfg := oauthConfig(api.URL, redirector.URL+"/token")
	set := loadOAuth(t, cfg)
	_, _, err := oauthGet(t, NewTransport(set, cfg, nil).Client(), api.URL+"/x")
	if err == nil || !strings.Contains(err.Error(), "HTTP 307") {
		t.Errorf("GET via a redirecting token endpoint = %v, want an HTTP 307 token error", err)
	}
	if hits.Load() != 0 {
		t.Error("the client secret followed a redirect to another server")
	}
}

func TestOAuth2MissingClientID(t *testing.T) {
	cfg := oauthConfig("https://api.example.com", "https://auth.example.com/token")
	t.Setenv("KVTEST_OAUTH_SECRET", oauthSecret)
	t.Setenv("KVTEST_OAUTH_ID", "")
	_, err := Load(cfg, nil)
	if err == nil || !strings.Contains(err.Error(), "KVTEST_OAUTH_ID is not set") {
		t.Errorf("Load without a client ID = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "LEAKCHECK") {
		t.Errorf("error quotes the secret: %v", err)
	}
}

func TestBasicKeyAsUsername(t *testing.T) {
	api := newAPIServer(t)
	cfg := &config.Config{Services: []config.Service{{
		Name: "stripe", BaseURL: api.URL, Auth: config.AuthList{{Type: config.AuthBasic, Env: "KVTEST_STRIPE_KEY", KeyAs: config.KeyAsUsername}},
	}}}
	t.Setenv("KVTEST_STRIPE_KEY", testKey)
	set, err := Load(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := oauthGet(t, NewTransport(set, cfg, nil).Client(), api.URL+"/v1/balance"); err != nil {
		t.Fatal(err)
	}
	want := "Basic " + base64.StdEncoding.EncodeToString([]byte(testKey+":"))
	if len(api.auths) != 1 || api.auths[0] != want {
		t.Errorf("Authorization = %v, want %q (key as user, empty password)", api.auths, want)
	}
	if got := set.Redactor().RedactString(want); strings.Contains(got, strings.TrimPrefix(want, "Basic ")) {
		t.Errorf("Redactor leaves the Basic credential: %q", got)
	}
	var creds []string
	for _, c := range set.Credentials() {
		b, _ := json.Marshal(c)
		creds = append(creds, string(b))
	}
	if strings.Contains(strings.Join(creds, ""), "LEAKCHECK") {
		t.Error("a Credential marshals its key")
	}
}

// tokenThenEcho sends token requests to the token endpoint and fails every
// other request with an error that quotes its Authorization header.
type tokenThenEcho struct{ tokenHost string }

func (b tokenThenEcho) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == b.tokenHost {
		return http.DefaultTransport.RoundTrip(req)
	}
	return echoBase{cause: io.ErrUnexpectedEOF}.RoundTrip(req)
}

func TestOAuth2SendErrorHidesAccessToken(t *testing.T) {
	tokens := newTokenServer(t, 3600)
	cfg := oauthConfig("https://reports.keyveil-test.invalid", tokens.URL)
	set := loadOAuth(t, cfg)
	base := tokenThenEcho{tokenHost: strings.TrimPrefix(tokens.URL, "http://")}
	_, _, err := oauthGet(t, NewTransport(set, cfg, &TransportOptions{Base: base}).Client(), "https://reports.keyveil-test.invalid/x")
	if err == nil {
		t.Fatal("GET through a failing base: no error")
	}
	if msg := err.Error(); strings.Contains(msg, tokenFor(1)) || !strings.Contains(msg, "[REDACTED:OAUTH_TOKEN_reports]") {
		t.Errorf("send error = %q, want the access token replaced by its marker", msg)
	}
}

// TestOAuth2TransportClock: the Transport hands TransportOptions.Now to
// its parts, so a token's life is measured on that clock: a 60 s token is
// reused while the clock stands still and renewed once it has moved past
// the token's renewal time.
func TestOAuth2TransportClock(t *testing.T) {
	tokens := newTokenServer(t, 60)
	api := newAPIServer(t)
	cfg := oauthConfig(api.URL, tokens.URL)
	set := loadOAuth(t, cfg)
	now := time.Now()
	client := NewTransport(set, cfg, &TransportOptions{Now: func() time.Time { return now }}).Client()
	for i, step := range []struct {
		advance time.Duration
		fetches int32
	}{{0, 1}, {40 * time.Second, 1}, {11 * time.Second, 2}} {
		now = now.Add(step.advance)
		if _, _, err := oauthGet(t, client, api.URL+"/x"); err != nil {
			t.Fatal(err)
		}
		if got := tokens.count.Load(); got != step.fetches {
			t.Errorf("call %d (clock +%v): %d token requests, want %d", i, step.advance, got, step.fetches)
		}
	}
}
