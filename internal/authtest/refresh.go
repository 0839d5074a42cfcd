package authtest

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// RefreshOptions configures a [RefreshServer]. The zero value is a
// confidential client "keyveil-client" whose tokens live an hour.
type RefreshOptions struct {
	// ClientID is the client the server knows; "": "keyveil-client".
	ClientID string
	// ClientSecret is the client's secret; "": a public client, which
	// must send its client_id and no secret.
	ClientSecret string
	// ExpiresIn is each access token's life in seconds; 0: 3600.
	ExpiresIn int
	// KeepRefreshToken makes the server answer without a refresh_token,
	// so the one in use stays valid, as some providers do; false: every
	// use rotates it.
	KeepRefreshToken bool
}

// RefreshServer is an OAuth 2.0 token endpoint for the refresh_token
// grant (RFC 6749 section 6) that behaves like the strict providers: it
// checks the grant type, the client's authentication (HTTP Basic or
// client_secret in the form) and that the refresh token is the current
// one; it rotates the refresh token on every use, so the one just used is
// refused with invalid_grant from then on; and [RefreshServer.Revoke]
// makes it refuse every refresh token, as when a user withdraws consent.
//
// Its error bodies quote what the client sent in error_description, as
// some real endpoints do, so that a test also shows keyveil never repeats
// them. It is safe for concurrent use.
type RefreshServer struct {
	*httptest.Server
	opts  RefreshOptions
	nonce string // in every token, so that no two servers' tokens match

	mu       sync.Mutex
	current  string   // the refresh token that works; "" after Revoke
	used     []string // refresh tokens presented, in order, valid or not
	scopes   []string // the scope parameter of each request
	access   []string // access tokens issued, oldest first
	requests int
}

// NewRefreshServer starts a token endpoint whose first refresh token is
// [RefreshServer.RefreshToken]. It is closed when the test ends.
func NewRefreshServer(t testing.TB, opts RefreshOptions) *RefreshServer {
	if opts.ClientID == "" {
		opts.ClientID = "keyveil-client"
	}
	if opts.ExpiresIn == 0 {
		opts.ExpiresIn = 3600
	}
	s := &RefreshServer{opts: opts, nonce: nonce()}
	s.current = s.refreshTokenN(0)
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// TokenURL is the endpoint's URL, for token_url.
func (s *RefreshServer) TokenURL() string { return s.URL + "/oauth2/v2.0/token" }

// ClientID is the client ID the server accepts.
func (s *RefreshServer) ClientID() string { return s.opts.ClientID }

// RefreshToken returns the refresh token that works now.
func (s *RefreshServer) RefreshToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Used returns the refresh tokens clients presented, in order.
func (s *RefreshServer) Used() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.used...)
}

// Scopes returns the scope parameter of each request, in order ("" when
// none was sent).
func (s *RefreshServer) Scopes() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.scopes...)
}

// Issued returns the access tokens handed out, oldest first.
func (s *RefreshServer) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.access...)
}

// Valid reports whether tok is an access token this server issued, so an
// API test server can check the Authorization header it receives.
func (s *RefreshServer) Valid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.access {
		if subtle.ConstantTimeCompare([]byte(a), []byte(tok)) == 1 {
			return true
		}
	}
	return false
}

// Requests returns how many requests reached the endpoint.
func (s *RefreshServer) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Revoke makes every refresh token invalid, the current one included:
// from now on the endpoint answers invalid_grant, as after a user
// withdrew consent or a password change.
func (s *RefreshServer) Revoke() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.current = ""
}

func (s *RefreshServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests++
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		tokenError(w, http.StatusBadRequest, "invalid_request", "POST a form")
		return
	}
	if err := r.ParseForm(); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the form does not parse")
		return
	}
	f := r.PostForm
	rt := f.Get("refresh_token")
	s.used = append(s.used, rt)
	s.scopes = append(s.scopes, f.Get("scope"))
	if g := f.Get("grant_type"); g != "refresh_token" {
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q is not refresh_token", g))
		return
	}
	if why := s.clientRefused(r); why != "" {
		tokenError(w, http.StatusUnauthorized, "invalid_client", why)
		return
	}
	if s.current == "" || subtle.ConstantTimeCompare([]byte(rt), []byte(s.current)) != 1 {
		tokenError(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("refresh token %s is expired, revoked or was already used", rt))
		return
	}
	n := len(s.access) + 1
	at := fmt.Sprintf("at-LEAKCHECK-%04d-%s-access", n, s.nonce)
	s.access = append(s.access, at)
	resp := map[string]any{"access_token": at, "token_type": "Bearer", "expires_in": s.opts.ExpiresIn}
	if !s.opts.KeepRefreshToken {
		s.current = s.refreshTokenN(n)
		resp["refresh_token"] = s.current
	}
	if sc := f.Get("scope"); sc != "" {
		resp["scope"] = sc
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(resp)
}

// clientRefused checks the client's authentication, RFC 6749 section
// 2.3.1: Basic or form parameters, not both; a public client sends its
// client_id alone. It returns why the client is refused, or "".
func (s *RefreshServer) clientRefused(r *http.Request) string {
	id, secret, basic := r.BasicAuth()
	formID, formSecret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if basic && (formSecret != "" || r.PostForm.Has("client_secret")) {
		return "client authenticated twice"
	}
	if !basic {
		id, secret = formID, formSecret
	}
	if id != s.opts.ClientID {
		return fmt.Sprintf("client %q is unknown", id)
	}
	if subtle.ConstantTimeCompare([]byte(secret), []byte(s.opts.ClientSecret)) != 1 {
		return fmt.Sprintf("client secret %q is wrong", secret)
	}
	return ""
}

// refreshTokenN is the refresh token handed out with the n-th access
// token; n = 0 is the one a user's consent gave.
func (s *RefreshServer) refreshTokenN(n int) string {
	return fmt.Sprintf("rt-LEAKCHECK-%04d-%s-refresh", n, s.nonce)
}

// nonce returns 12 random hex digits: any 12-byte piece of a token that
// holds them is unmistakable in output.
func nonce() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// tokenError writes an RFC 6749 section 5.2 error response.
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}
