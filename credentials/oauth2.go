package credentials

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyveil/keyveil/config"
)

// tokenTimeout bounds one request to a token endpoint.
const tokenTimeout = 30 * time.Second

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

// tokenSource fetches tokens for one service and adds each to the
// Redactor before returning it.
type tokenSource struct {
	service string
	cfg     *clientcredentials.Config
	ctx     context.Context // carries the token endpoint's http.Client only
	red     *Redactor
}

// newTokenSource returns a caching TokenSource for svc. secret is the
// client secret (revealed by NewTransport, the one caller). base sends the
// token requests; red learns every token. It is safe for concurrent use
// (oauth2.ReuseTokenSource serialises refreshes).
func newTokenSource(svc config.Service, clientID, secret string, base http.RoundTripper, red *Redactor) oauth2.TokenSource {
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
	}
	return oauth2.ReuseTokenSource(nil, ts)
}

// Token fetches a new token. ReuseTokenSource calls it only when the
// cached one is missing or about to expire.
func (s *tokenSource) Token() (*oauth2.Token, error) {
	tok, err := s.cfg.Token(s.ctx)
	if err != nil {
		return nil, s.publicError(err)
	}
	if tok.AccessToken == "" {
		return nil, &tokenError{service: s.service, status: http.StatusOK, code: "no access_token"}
	}
	name := tokenName(s.service)
	if s.red != nil {
		s.red.Add(NewSecret(name, tok.AccessToken))
		if tok.RefreshToken != "" {
			s.red.Add(NewSecret(name, tok.RefreshToken))
		}
	}
	return tok, nil
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
