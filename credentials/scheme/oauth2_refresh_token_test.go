package scheme

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyveil/keyveil/internal/authtest"
)

// learnLog records what a part has the Redactor learn and forget, and
// moves a clock by hand.
type learnLog struct {
	mu      sync.Mutex
	known   map[string]bool // by value
	learned []Value
	forgot  []Value
	t       time.Time
}

func newLearnLog() *learnLog { return &learnLog{known: map[string]bool{}, t: time.Now()} }

func (l *learnLog) runtime(t *testing.T, service string) Runtime {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return Runtime{
		Service: service, Timeout: 30 * time.Second, Base: tr,
		Learn: func(vs ...Value) {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, v := range vs {
				l.known[v.Value] = true
				l.learned = append(l.learned, v)
			}
		},
		Forget: func(vs ...Value) {
			l.mu.Lock()
			defer l.mu.Unlock()
			for _, v := range vs {
				delete(l.known, v.Value)
				l.forgot = append(l.forgot, v)
			}
		},
		Now: func() time.Time { l.mu.Lock(); defer l.mu.Unlock(); return l.t },
	}
}

func (l *learnLog) knows(v string) bool { l.mu.Lock(); defer l.mu.Unlock(); return l.known[v] }

func (l *learnLog) advance(d time.Duration) { l.mu.Lock(); l.t = l.t.Add(d); l.mu.Unlock() }

const graphSecret = "cs-LEAKCHECK-graph-client-secret"

func graphSettings(tokenURL string) *Settings {
	return &Settings{
		Type: "oauth2_refresh_token", TokenURL: tokenURL,
		ClientIDEnv: "GRAPH_CLIENT_ID", ClientSecretEnv: "GRAPH_CLIENT_SECRET", RefreshTokenEnv: "GRAPH_REFRESH_TOKEN",
		Scopes: []string{"Mail.Read", "offline_access"},
	}
}

// prepareGraph validates s and prepares a part with the refresh token
// the server holds now.
func prepareGraph(t *testing.T, s *Settings, srv *authtest.RefreshServer, secret string, l *learnLog) Part {
	t.Helper()
	sc, ok := Lookup(s.Type)
	if !ok {
		t.Fatalf("Lookup(%q): not registered", s.Type)
	}
	if field, err := sc.Validate(s); err != nil {
		t.Fatalf("Validate: %s: %v", field, err)
	}
	v := mapValues{"GRAPH_CLIENT_ID": srv.ClientID(), "GRAPH_REFRESH_TOKEN": srv.RefreshToken()}
	if secret != "" {
		v["GRAPH_CLIENT_SECRET"] = secret
	}
	p, warns, err := sc.Prepare(s, v, l.runtime(t, "graph"))
	if err != nil || len(warns) > 0 {
		t.Fatalf("Prepare: %v, warnings %q", err, warns)
	}
	return p
}

// attach runs p.Attach on a fresh request and returns the Authorization
// header it set.
func attach(t *testing.T, p Part) (string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://graph.microsoft.com/v1.0/me", nil)
	err := p.Attach(req)
	return req.Header.Get("Authorization"), err
}

// TestRefreshTokenRotates: each refresh sends the newest refresh token,
// each token is learnt before Attach returns, and a rotated-out refresh
// token is forgotten only after the grace period.
func TestRefreshTokenRotates(t *testing.T) {
	t.Parallel()
	srv := authtest.NewRefreshServer(t, authtest.RefreshOptions{ClientSecret: graphSecret, ExpiresIn: 60})
	initial := srv.RefreshToken()
	l := newLearnLog()
	p := prepareGraph(t, graphSettings(srv.TokenURL()), srv, graphSecret, l)
	var refresh []string // the refresh token the server held after each call
	for i := range 4 {
		auth, err := attach(t, p)
		if err != nil {
			t.Fatalf("Attach #%d: %v", i+1, err)
		}
		tok := strings.TrimPrefix(auth, "Bearer ")
		if !srv.Valid(tok) || !l.knows(tok) {
			t.Errorf("Attach #%d sent %q: issued by the server %v, learnt %v", i+1, tok, srv.Valid(tok), l.knows(tok))
		}
		refresh = append(refresh, srv.RefreshToken())
		if !l.knows(srv.RefreshToken()) {
			t.Errorf("after Attach #%d the rotated refresh token is not learnt", i+1)
		}
		l.advance(61 * time.Second) // the access token lived 60 s
	}
	if want := append([]string{initial}, refresh[:3]...); !slices.Equal(srv.Used(), want) {
		t.Errorf("refresh tokens sent = %q, want each the newest: %q", srv.Used(), want)
	}
	// Refreshes at 0, 61, 122 and 183 s. A refresh token rotated out is
	// kept 2 min plus the 30 s timeout: the one rotated out at 61 s
	// until 211 s, so none is forgotten yet.
	for _, rt := range refresh[:3] {
		if !l.knows(rt) {
			t.Errorf("refresh token %q forgotten within its grace period", rt)
		}
	}
	if _, err := attach(t, p); err != nil { // at 244 s: past 211, before 272
		t.Fatal(err)
	}
	if l.knows(refresh[0]) || !l.knows(refresh[1]) || !l.knows(refresh[3]) {
		t.Errorf("at 244 s: knows %q %v (rotated out at 122 s: want forgotten), %q %v, %q %v (want kept)",
			refresh[0], l.knows(refresh[0]), refresh[1], l.knows(refresh[1]), refresh[3], l.knows(refresh[3]))
	}
	for _, f := range l.forgot {
		if f.Value == initial {
			t.Errorf("the refresh token from the environment was forgotten")
		}
	}
	if got, want := srv.Scopes()[0], "Mail.Read offline_access"; got != want {
		t.Errorf("scope sent with the refresh = %q, want %q", got, want)
	}
}

// TestRefreshTokenRefused: a token endpoint's invalid_grant, for a refresh
// token that was rotated out (a second part started from the stale
// variable) or revoked, is reported as the consent to renew, naming the
// variable and never what the endpoint said.
func TestRefreshTokenRefused(t *testing.T) {
	t.Parallel()
	const want = `fetching an OAuth token for service "graph": the refresh token was refused (invalid_grant): the user must sign in and consent again, then update GRAPH_REFRESH_TOKEN`
	tests := []struct {
		name  string
		spoil func(srv *authtest.RefreshServer, stale Part)
	}{
		{"rotated out", func(srv *authtest.RefreshServer, stale Part) {
			// Another part refreshes first: the server rotates the
			// token the stale part holds.
			other := prepareGraph(t, graphSettings(srv.TokenURL()), srv, graphSecret, newLearnLog())
			if _, err := attach(t, other); err != nil {
				t.Fatal(err)
			}
		}},
		{"revoked", func(srv *authtest.RefreshServer, _ Part) { srv.Revoke() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := authtest.NewRefreshServer(t, authtest.RefreshOptions{ClientSecret: graphSecret})
			p := prepareGraph(t, graphSettings(srv.TokenURL()), srv, graphSecret, newLearnLog())
			tc.spoil(srv, p)
			auth, err := attach(t, p)
			if err == nil || err.Error() != want || auth != "" {
				t.Fatalf("Attach = %q, %v; want no header and %q", auth, err, want)
			}
			var te *TokenError
			if !errors.As(err, &te) || te.Code != "invalid_grant" || te.Status != http.StatusBadRequest {
				t.Errorf("errors.As(%v, *TokenError) = %+v, want invalid_grant 400", err, te)
			}
		})
	}
}

// TestRefreshTokenClients: a public client sends its ID and no secret; a
// wrong secret is invalid_client, reported without the endpoint's text.
func TestRefreshTokenClients(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		server     string // the secret the server expects; "": public
		sent       string // the secret keyveil holds; "": none
		wantErr    string
		noSecretEv bool // client_secret_env left out
	}{
		{"confidential", graphSecret, graphSecret, "", false},
		{"public", "", "", "", true},
		{"wrong secret", graphSecret, "cs-LEAKCHECK-not-the-secret", `fetching an OAuth token for service "graph": the token endpoint answered HTTP 401 (invalid_client); check the client ID, secret and scopes`, false},
		{"secret missing", graphSecret, "", "(invalid_client)", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := authtest.NewRefreshServer(t, authtest.RefreshOptions{ClientSecret: tc.server})
			s := graphSettings(srv.TokenURL())
			if tc.noSecretEv {
				s.ClientSecretEnv = ""
			}
			_, err := attach(t, prepareGraph(t, s, srv, tc.sent, newLearnLog()))
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Attach: %v, want %q", err, tc.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "LEAKCHECK") {
				t.Errorf("Attach error %q repeats what the endpoint was sent", err)
			}
		})
	}
}

// TestRefreshTokenOneRefreshAtATime: concurrent first requests share one
// refresh; two refreshes with one rotating token would have the second
// refused.
func TestRefreshTokenOneRefreshAtATime(t *testing.T) {
	t.Parallel()
	srv := authtest.NewRefreshServer(t, authtest.RefreshOptions{ClientSecret: graphSecret})
	p := prepareGraph(t, graphSettings(srv.TokenURL()), srv, graphSecret, newLearnLog())
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() { _, errs[i] = attach(t, p) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil || srv.Requests() != 1 {
		t.Errorf("8 concurrent Attach: %v, %d token requests; want no error, 1 request", err, srv.Requests())
	}
}

func TestRefreshTokenValidate(t *testing.T) {
	t.Parallel()
	ok := func() *Settings { return graphSettings("https://login.microsoftonline.com/common/oauth2/v2.0/token") }
	with := func(f func(*Settings)) *Settings { s := ok(); f(s); return s }
	tests := []struct {
		name      string
		s         *Settings
		wantField string // "": valid
	}{
		{"valid", ok(), ""},
		{"public client", with(func(s *Settings) { s.ClientSecretEnv = "" }), ""},
		{"no scopes", with(func(s *Settings) { s.Scopes = nil }), ""},
		{"loopback http", with(func(s *Settings) { s.TokenURL = "http://127.0.0.1:8080/token" }), ""},
		{"no token_url", with(func(s *Settings) { s.TokenURL = "" }), "token_url"},
		{"http token_url", with(func(s *Settings) { s.TokenURL = "http://login.example.com/token" }), "token_url"},
		{"no client_id_env", with(func(s *Settings) { s.ClientIDEnv = "" }), "client_id_env"},
		{"no refresh_token_env", with(func(s *Settings) { s.RefreshTokenEnv = "" }), "refresh_token_env"},
		{"token inline", with(func(s *Settings) { s.RefreshTokenEnv = "M.C507_BAY.0.U.-Cq8ZyXq1b2c3d4e5f6g7h8i9j0" }), "refresh_token_env"},
		{"secret inline", with(func(s *Settings) { s.ClientSecretEnv = "sk-Abcdefghijklmnop" }), "client_secret_env"},
		{"one variable twice", with(func(s *Settings) { s.ClientSecretEnv = s.RefreshTokenEnv }), "refresh_token_env"},
		{"env", with(func(s *Settings) { s.Env = "GRAPH_TOKEN" }), "env"},
		{"name", with(func(s *Settings) { s.Name = "X-Token" }), "name"},
		{"bad scope", with(func(s *Settings) { s.Scopes = []string{"Mail.Read Mail.Send"} }), "scopes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			field, err := oauth2RefreshToken{}.Validate(tc.s)
			if field != tc.wantField || (err == nil) != (tc.wantField == "") {
				t.Errorf("Validate(%s) = %q, %v; want field %q", tc.name, field, err, tc.wantField)
			}
			if err != nil && (strings.Contains(err.Error(), "M.C507") || strings.Contains(err.Error(), "sk-Abc")) {
				t.Errorf("Validate error %q quotes the inline value", err)
			}
		})
	}
}

func TestRefreshTokenVars(t *testing.T) {
	t.Parallel()
	s := graphSettings("https://login.example.com/token")
	got := oauth2RefreshToken{}.Vars(s)
	want := []Var{
		{Name: "GRAPH_REFRESH_TOKEN", Secret: true, Role: "OAuth refresh token"},
		{Name: "GRAPH_CLIENT_SECRET", Secret: true, Role: "OAuth client secret"},
		{Name: "GRAPH_CLIENT_ID", Role: "OAuth client ID"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Vars (-want +got):\n%s", d)
	}
	s.ClientSecretEnv = ""
	if got := (oauth2RefreshToken{}).Vars(s); len(got) != 2 || slices.ContainsFunc(got, func(v Var) bool { return v.Name == "" }) {
		t.Errorf("Vars of a public client = %+v, want the refresh token and client ID only", got)
	}
	if got := (oauth2RefreshToken{}).SendsTo(s); got != s.TokenURL {
		t.Errorf("SendsTo = %q, want the token URL", got)
	}
}

// TestRefreshTokenIssuedAgainStaysRedacted: an endpoint may hand out
// again a refresh token it rotated out before (B, then C, then B). The
// one in use then is that token, and it must stay known to the Redactor
// when its earlier retirement's grace period ends.
func TestRefreshTokenIssuedAgainStaysRedacted(t *testing.T) {
	t.Parallel()
	const b, c = "rt-LEAKCHECK-second", "rt-LEAKCHECK-third"
	for _, tc := range []struct {
		name    string
		issued  []string // the refresh token of each answer; the last repeats
		current string   // the refresh token in use after the last call
	}{
		{"issued again", []string{b, c, b}, b},
		{"rotated on", []string{b, c}, c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mu sync.Mutex
			n := 0
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				rt := tc.issued[min(n, len(tc.issued)-1)]
				n++
				mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				fmt.Fprintf(w, `{"access_token":"at-LEAKCHECK-%d","token_type":"Bearer","expires_in":60,"refresh_token":%q}`, n, rt)
			}))
			t.Cleanup(srv.Close)
			sc, _ := Lookup("oauth2_refresh_token")
			s := graphSettings(srv.URL + "/token")
			if field, err := sc.Validate(s); err != nil {
				t.Fatalf("Validate: %s: %v", field, err)
			}
			l := newLearnLog()
			p, _, err := sc.Prepare(s, mapValues{"GRAPH_CLIENT_ID": "id", "GRAPH_CLIENT_SECRET": graphSecret, "GRAPH_REFRESH_TOKEN": "rt-LEAKCHECK-first"}, l.runtime(t, "graph"))
			if err != nil {
				t.Fatal(err)
			}
			// Refreshes at 0, 61, ... 244 s; a token rotated out at 61 s
			// is kept until 211 s (2 min grace plus the 30 s timeout).
			for i := range 5 {
				if _, err := attach(t, p); err != nil {
					t.Fatalf("Attach #%d: %v", i+1, err)
				}
				l.advance(61 * time.Second)
			}
			if !l.knows(tc.current) {
				t.Errorf("the refresh token in use (%s) was forgotten; forgot %v", tc.current, l.forgot)
			}
		})
	}
}
