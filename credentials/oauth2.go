package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyveil/keyveil/config"
)

// tokenTimeout bounds one request to a token endpoint.
const tokenTimeout = 30 * time.Second

// The life of a token. x/oauth2's ReuseTokenSource renews a token 10 s
// before it expires, so a token issued for under 10 s was fetched anew for
// every request, and each one was added to the Redactor for good: after
// 400 calls every redaction searched for 400 tokens (latency went from 65
// to 435 ms). Now a token is reused until a quarter of its life (at most
// 10 s) before it expires, and the Redactor forgets it once it has
// expired and a grace period has passed, keeping at most maxKeptTokens per
// service.
const (
	maxExpiryDelta = 10 * time.Second
	// tokenGrace, plus the service's timeout, is how long an expired
	// token stays redacted: longer than a request may take (its response
	// can still echo the token) and than the clocks of keyveil and the
	// token endpoint disagree.
	tokenGrace = 2 * time.Minute
	// maxKeptTokens bounds the tokens of one service the Redactor knows
	// when tokens live a few seconds. Only tokens that have expired are
	// dropped for it: one is renewed only when the one before is about to
	// expire, so at most two are ever unexpired.
	maxKeptTokens = 32
)

// OAuth 2.0 client credentials: a service with auth
// oauth2_client_credentials gets its access token from the token endpoint
// with its client ID and secret, and the Transport sends the token as
// "Authorization: Bearer TOKEN" to the service's origin only. Tokens are
// cached until shortly before they expire, then fetched anew.
//
// Three threats shape this file. The access token is a secret keyveil did
// not have at start-up, so each one is added to the Redactor the moment it
// arrives, before any request carries it. The client secret goes to the
// token endpoint and nowhere else: the token client follows no redirects.
// And a token endpoint's error may quote what it was sent, so its
// response body never reaches an error message: only the status and the
// standard error code do.

// tokenError is a failed token request, safe to show: it names the
// service, the HTTP status and the RFC 6749 error code, and wraps no cause
// whose text could carry the secret or the endpoint's response body.
type tokenError struct {
	service string
	status  int    // 0 when no response arrived
	code    string // "invalid_client", …; "" when none or not standard
	timeout bool
}

func (e *tokenError) Error() string {
	switch {
	case e.timeout:
		return fmt.Sprintf("fetching an OAuth token for service %q: the token endpoint did not answer in time", e.service)
	case e.status == 0:
		return fmt.Sprintf("fetching an OAuth token for service %q: the token endpoint could not be reached", e.service)
	case e.code != "":
		return fmt.Sprintf("fetching an OAuth token for service %q: the token endpoint answered HTTP %d (%s); check the client ID, secret and scopes", e.service, e.status, e.code)
	}
	return fmt.Sprintf("fetching an OAuth token for service %q: the token endpoint answered HTTP %d; check the client ID, secret and scopes", e.service, e.status)
}

// Timeout reports whether the token endpoint timed out, so callers that
// classify network errors treat it as one.
func (e *tokenError) Timeout() bool { return e.timeout }

// standardCodes are the error codes of RFC 6749 section 5.2. Any other
// value is the server's own text and is not repeated.
var standardCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
}

// tokenSource fetches tokens for one service, adds each to the Redactor
// before returning it, reuses it until shortly before it expires, and has
// the Redactor forget it some time after. It is safe for concurrent use:
// one goroutine fetches while the others wait for its token.
type tokenSource struct {
	service string
	cfg     *clientcredentials.Config
	ctx     context.Context // carries the token endpoint's http.Client only
	red     *Redactor
	now     func() time.Time // nil: time.Now; tests pass a fake clock
	grace   time.Duration    // how long an expired token stays redacted

	mu    sync.Mutex
	cur   *oauth2.Token // the token in use; nil before the first fetch
	renew time.Time     // when cur is replaced; zero: never (no expiry given)
	kept  []keptToken   // tokens the Redactor knows, oldest first
}

// keptToken is a token the Redactor knows, and until when.
type keptToken struct {
	secrets []Secret  // the access token, and the refresh token if any
	until   time.Time // expiry plus the grace; zero: for good
}

// newTokenSource returns a caching TokenSource for svc. secret is the
// client secret (revealed by NewTransport, the one caller). base sends the
// token requests; red learns every token.
func newTokenSource(svc config.Service, clientID, secret string, base http.RoundTripper, red *Redactor) *tokenSource {
	client := &http.Client{
		Transport: base,
		Timeout:   tokenTimeout,
		// The token request carries the client secret: follow no
		// redirect, to the same host or any other.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ts := &tokenSource{
		service: svc.Name,
		cfg: &clientcredentials.Config{
			ClientID:     clientID,
			ClientSecret: secret,
			TokenURL:     svc.Auth.TokenURL,
			Scopes:       svc.Auth.Scopes,
			AuthStyle:    oauth2.AuthStyleInHeader,
		},
		ctx: context.WithValue(context.Background(), oauth2.HTTPClient, client),
		red: red,
		// A response that arrives up to the service's timeout after
		// its request can still echo the token the request carried.
		grace: tokenGrace + svc.Timeout,
	}
	return ts
}

// Token returns the current token, fetching a new one when there is none
// or the current one is about to expire.
func (s *tokenSource) Token() (*oauth2.Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock()
	if s.cur != nil && (s.renew.IsZero() || now.Before(s.renew)) {
		return s.cur, nil
	}
	tok, err := s.cfg.Token(s.ctx)
	if err != nil {
		return nil, s.publicError(err)
	}
	if tok.AccessToken == "" {
		return nil, &tokenError{service: s.service, status: http.StatusOK, code: "no access_token"}
	}
	k := keptToken{secrets: []Secret{NewSecret(tokenName(s.service), tok.AccessToken)}}
	if tok.RefreshToken != "" {
		k.secrets = append(k.secrets, NewSecret(tokenName(s.service), tok.RefreshToken))
	}
	s.renew = time.Time{}
	if !tok.Expiry.IsZero() {
		// oauth2 set Expiry from expires_in by the wall clock; the life
		// it gives is measured on s.clock from here on.
		life := max(time.Until(tok.Expiry), 0)
		expiry := now.Add(life)
		s.renew = expiry.Add(-min(maxExpiryDelta, life/4))
		k.until = expiry.Add(s.grace)
	}
	s.cur = tok
	s.keep(k, now)
	return tok, nil
}

func (s *tokenSource) clock() time.Time {
	if s.now != nil {
		return s.now()
	}
	return time.Now()
}

// keep teaches the Redactor k's secrets before any request carries them,
// then has it forget the tokens whose grace has passed, and the oldest
// beyond maxKeptTokens. A token issued again (some endpoints hand out the
// same token while it is valid) extends the entry it already has.
func (s *tokenSource) keep(k keptToken, now time.Time) {
	if s.red != nil {
		s.red.Add(k.secrets...)
	}
	if i := slices.IndexFunc(s.kept, func(o keptToken) bool { return o.secrets[0].Equal(k.secrets[0]) }); i >= 0 {
		s.kept = slices.Delete(s.kept, i, i+1)
	}
	s.kept = append(s.kept, k)
	var drop []Secret
	for len(s.kept) > 1 && (len(s.kept) > maxKeptTokens || !s.kept[0].until.IsZero() && now.After(s.kept[0].until)) {
		drop = append(drop, s.kept[0].secrets...)
		s.kept = s.kept[1:]
	}
	// A value a kept token still holds stays: endpoints may hand out the
	// same refresh token with every access token.
	drop = slices.DeleteFunc(drop, func(d Secret) bool {
		return slices.ContainsFunc(s.kept, func(o keptToken) bool { return slices.ContainsFunc(o.secrets, d.Equal) })
	})
	if len(drop) > 0 && s.red != nil {
		s.red.Forget(drop...)
	}
}

// tokenName is the name an OAuth access token of service goes by in
// redaction markers.
func tokenName(service string) string { return "OAUTH_TOKEN_" + service }

// publicError turns an oauth2 error into a tokenError. The oauth2
// package's RetrieveError quotes the whole response body, and a url.Error
// quotes the endpoint URL; neither text is kept.
func (s *tokenSource) publicError(err error) error {
	e := &tokenError{service: s.service}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			e.status = re.Response.StatusCode
		}
		if standardCodes[re.ErrorCode] {
			e.code = re.ErrorCode
		}
		return e
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		e.timeout = true
	}
	return e
}
