package scheme

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"golang.org/x/oauth2"
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

// Three threats shape the OAuth schemes. An access token is a secret
// keyveil did not have at start-up, so each one is learnt by the Redactor
// the moment it arrives, before any request carries it. A client secret
// (or a refresh token, or a signed assertion) goes to the token endpoint
// and nowhere else: the token client follows no redirects. And a token
// endpoint's error may quote what it was sent, so its response body never
// reaches an error message: only the status and the standard error code
// do ([TokenError]).

// TokenError is a failed token request, safe to show: it names the
// service, the HTTP status and the RFC 6749 error code, and wraps no cause
// whose text could carry a secret or the endpoint's response body.
// keyveil check --ping reads Code to tell a user that a refresh token
// needs consent again (invalid_grant).
type TokenError struct {
	// Service is the service whose token was asked for.
	Service string
	// Status is the HTTP status; 0 when no response arrived.
	Status int
	// Code is the RFC 6749 section 5.2 error code ("invalid_grant", …);
	// "" when the endpoint sent none or one that is not standard.
	Code string
	// TimedOut is true when the endpoint did not answer in time.
	TimedOut bool
}

func (e *TokenError) Error() string {
	switch {
	case e.TimedOut:
		return fmt.Sprintf("fetching an OAuth token for service %q: the token endpoint did not answer in time", e.Service)
	case e.Status == 0:
		return fmt.Sprintf("fetching an OAuth token for service %q: the token endpoint could not be reached", e.Service)
	case e.Code != "":
		return fmt.Sprintf("fetching an OAuth token for service %q: the token endpoint answered HTTP %d (%s); check the client ID, secret and scopes", e.Service, e.Status, e.Code)
	}
	return fmt.Sprintf("fetching an OAuth token for service %q: the token endpoint answered HTTP %d; check the client ID, secret and scopes", e.Service, e.Status)
}

// Timeout reports whether the token endpoint timed out, so callers that
// classify network errors treat it as one.
func (e *TokenError) Timeout() bool { return e.TimedOut }

// standardCodes are the error codes of RFC 6749 section 5.2. Any other
// value is the server's own text and is not repeated.
var standardCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true,
	"unauthorized_client": true, "unsupported_grant_type": true, "invalid_scope": true,
}

// tokenError turns an error of a token fetch into a [*TokenError]. The
// oauth2 package's RetrieveError quotes the whole response body, and a
// url.Error quotes the endpoint URL; neither text is kept.
func tokenError(service string, err error) *TokenError {
	e := &TokenError{Service: service}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.Response != nil {
			e.Status = re.Response.StatusCode
		}
		if standardCodes[re.ErrorCode] {
			e.Code = re.ErrorCode
		}
		return e
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() || errors.Is(err, context.DeadlineExceeded) {
		e.TimedOut = true
	}
	return e
}

// TokenName is the name an OAuth access or refresh token of service goes
// by in redaction markers.
func TokenName(service string) string { return "OAUTH_TOKEN_" + service }

// tokenCache fetches tokens for one service with fetch, has the Redactor
// learn each before returning it, reuses it until shortly before it
// expires, and has the Redactor forget it some time after. Every OAuth
// scheme wraps its x/oauth2 config's Token method in one. It is safe for
// concurrent use: one goroutine fetches while the others wait for its
// token.
type tokenCache struct {
	service string
	fetch   fetchFunc
	ctx     context.Context // carries the token endpoint's http.Client only
	learn   func(...Value)
	forget  func(...Value)
	now     func() time.Time
	grace   time.Duration // how long an expired token stays redacted

	mu    sync.Mutex
	cur   *oauth2.Token // the token in use; nil before the first fetch
	renew time.Time     // when cur is replaced; zero: never (no expiry given)
	kept  []keptToken   // tokens the Redactor knows, oldest first
}

// keptToken is a token the Redactor knows, and until when.
type keptToken struct {
	values []Value   // the access token, and the refresh token if any
	until  time.Time // expiry plus the grace; zero: for good
}

// newTokenCache returns a cache that fetches with fetch through rt.Base.
func newTokenCache(rt Runtime, fetch fetchFunc) *tokenCache {
	c := &tokenCache{
		service: rt.Service,
		fetch:   fetch,
		ctx:     context.WithValue(context.Background(), oauth2.HTTPClient, tokenClient(rt)),
		learn:   rt.Learn,
		forget:  rt.Forget,
		now:     rt.Now,
		// A response that arrives up to the service's timeout after
		// its request can still echo the token the request carried.
		grace: tokenGrace + rt.Timeout,
	}
	if c.learn == nil {
		c.learn = func(...Value) {}
	}
	if c.forget == nil {
		c.forget = func(...Value) {}
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// tokenClient returns the http.Client a token request goes through. A
// token request carries the client secret (or a refresh token): it
// follows no redirect, to the same host or any other.
func tokenClient(rt Runtime) *http.Client {
	base := rt.Base
	if base == nil {
		base = http.DefaultTransport
	}
	return &http.Client{
		Transport:     base,
		Timeout:       tokenTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Token returns the current token, fetching a new one when there is none
// or the current one is about to expire. Its error is a [*TokenError].
func (c *tokenCache) Token() (*oauth2.Token, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.cur != nil && (c.renew.IsZero() || now.Before(c.renew)) {
		return c.cur, nil
	}
	tok, err := c.fetch(c.ctx)
	if err != nil {
		return nil, tokenError(c.service, err)
	}
	if tok.AccessToken == "" {
		return nil, &TokenError{Service: c.service, Status: http.StatusOK, Code: "no access_token"}
	}
	k := keptToken{values: []Value{{Name: TokenName(c.service), Value: tok.AccessToken}}}
	if tok.RefreshToken != "" {
		k.values = append(k.values, Value{Name: TokenName(c.service), Value: tok.RefreshToken})
	}
	c.renew = time.Time{}
	if !tok.Expiry.IsZero() {
		// oauth2 set Expiry from expires_in by the wall clock; the life
		// it gives is measured on c.now from here on.
		life := max(time.Until(tok.Expiry), 0)
		expiry := now.Add(life)
		c.renew = expiry.Add(-min(maxExpiryDelta, life/4))
		k.until = expiry.Add(c.grace)
	}
	c.cur = tok
	c.keep(k, now)
	return tok, nil
}

// keep has the Redactor learn k's values before any request carries them,
// then forget the tokens whose grace has passed, and the oldest beyond
// maxKeptTokens. A token issued again (some endpoints hand out the same
// token while it is valid) extends the entry it already has.
func (c *tokenCache) keep(k keptToken, now time.Time) {
	c.learn(k.values...)
	if i := slices.IndexFunc(c.kept, func(o keptToken) bool { return o.values[0] == k.values[0] }); i >= 0 {
		c.kept = slices.Delete(c.kept, i, i+1)
	}
	c.kept = append(c.kept, k)
	var drop []Value
	for len(c.kept) > 1 && (len(c.kept) > maxKeptTokens || !c.kept[0].until.IsZero() && now.After(c.kept[0].until)) {
		drop = append(drop, c.kept[0].values...)
		c.kept = c.kept[1:]
	}
	// A value a kept token still holds stays: endpoints may hand out the
	// same refresh token with every access token.
	drop = slices.DeleteFunc(drop, func(d Value) bool {
		return slices.ContainsFunc(c.kept, func(o keptToken) bool { return slices.Contains(o.values, d) })
	})
	if len(drop) > 0 {
		c.forget(drop...)
	}
}
