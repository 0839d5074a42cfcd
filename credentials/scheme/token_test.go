package scheme

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// fakeRedactor records what a cache has the Redactor learn and forget.
type fakeRedactor struct{ known map[Value]bool }

func (r *fakeRedactor) learn(vs ...Value) {
	for _, v := range vs {
		r.known[v] = true
	}
}

func (r *fakeRedactor) forget(vs ...Value) {
	for _, v := range vs {
		delete(r.known, v)
	}
}

// fakeEndpoint hands out numbered tokens valid for expiresIn, with
// refresh as refresh token ("": none), as x/oauth2 reports them: Expiry
// by the wall clock.
type fakeEndpoint struct {
	expiresIn time.Duration
	refresh   string
	fetches   int32
}

func (e *fakeEndpoint) fetch(ctx context.Context) (*oauth2.Token, error) {
	if _, ok := ctx.Value(oauth2.HTTPClient).(*http.Client); !ok {
		return nil, errors.New("the fetch context carries no token client")
	}
	e.fetches++
	return &oauth2.Token{AccessToken: tokenFor(int(e.fetches)), RefreshToken: e.refresh, Expiry: time.Now().Add(e.expiresIn)}, nil
}

func tokenFor(n int) string { return fmt.Sprintf("tok-LEAKCHECK-%04d-abcdefghij", n) }

func newTestCache(e *fakeEndpoint) (*tokenCache, *fakeClock, *fakeRedactor) {
	clock := &fakeClock{t: time.Now()}
	red := &fakeRedactor{known: map[Value]bool{}}
	c := newTokenCache(Runtime{Service: "reports", Timeout: 30 * time.Second, Learn: red.learn, Forget: red.forget, Now: clock.now}, e.fetch)
	return c, clock, red
}

// TestTokenCacheReusesShortLivedTokens: a token is reused until shortly
// before it expires, however short its life (x/oauth2 renews 10 s before
// expiry, so a 5 s token used to be fetched for every request).
func TestTokenCacheReusesShortLivedTokens(t *testing.T) {
	for _, tc := range []struct {
		name      string
		expiresIn time.Duration
		calls     []time.Duration // clock advance before each call
		fetches   []int32         // token requests after each call
	}{
		{"5s reused for 3.75s", 5 * time.Second, []time.Duration{0, time.Second, time.Second, time.Second, 700 * time.Millisecond, 100 * time.Millisecond}, []int32{1, 1, 1, 1, 1, 2}},
		{"1s reused for 750ms", time.Second, []time.Duration{0, 300 * time.Millisecond, 400 * time.Millisecond, 100 * time.Millisecond}, []int32{1, 1, 1, 2}},
		{"an hour reused", time.Hour, []time.Duration{0, time.Hour - 11*time.Second, 2 * time.Second}, []int32{1, 1, 2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &fakeEndpoint{expiresIn: tc.expiresIn}
			c, clock, red := newTestCache(e)
			for i, d := range tc.calls {
				clock.advance(d)
				tok, err := c.Token()
				if err != nil {
					t.Fatal(err)
				}
				if e.fetches != tc.fetches[i] {
					t.Errorf("after call %d (clock +%v): %d token requests, want %d", i, d, e.fetches, tc.fetches[i])
				}
				if !red.known[Value{Name: TokenName("reports"), Value: tok.AccessToken}] {
					t.Errorf("call %d: the token returned is not known to the Redactor", i)
				}
			}
		})
	}
}

// TestTokenCacheForgetsExpiredTokens: 400 calls against an endpoint whose
// tokens live one second keep the Redactor's list bounded: tokens past
// their grace are forgotten, and at most maxKeptTokens are kept. The
// token in use is always known.
func TestTokenCacheForgetsExpiredTokens(t *testing.T) {
	e := &fakeEndpoint{expiresIn: time.Second}
	c, clock, red := newTestCache(e)
	for i := range 400 {
		clock.advance(250 * time.Millisecond)
		tok, err := c.Token()
		if err != nil {
			t.Fatal(err)
		}
		if !red.known[Value{Name: TokenName("reports"), Value: tok.AccessToken}] {
			t.Fatalf("call %d: the token in use is not known", i)
		}
		if len(red.known) > maxKeptTokens {
			t.Fatalf("call %d: the Redactor knows %d tokens, want at most %d", i, len(red.known), maxKeptTokens)
		}
	}
	if e.fetches < 100 || e.fetches > 140 {
		t.Errorf("%d tokens for 400 calls 250 ms apart with 1 s tokens, want about 134 (one per 750 ms)", e.fetches)
	}
	if red.known[Value{Name: TokenName("reports"), Value: tokenFor(1)}] {
		t.Error("the first token, long expired and beyond the cap, is still known")
	}
	// After the grace period only the current token is kept.
	clock.advance(tokenGrace + 30*time.Second + time.Minute)
	if _, err := c.Token(); err != nil {
		t.Fatal(err)
	}
	if len(red.known) != 1 {
		t.Errorf("after the grace period the Redactor knows %d tokens, want 1 (the current one)", len(red.known))
	}
}

// TestTokenCacheKeepsSharedRefreshToken: an endpoint that sends the same
// refresh token with every access token: forgetting old access tokens
// must not forget the refresh token the current one still carries.
func TestTokenCacheKeepsSharedRefreshToken(t *testing.T) {
	const refresh = "rt-LEAKCHECK-constant-0123456789"
	e := &fakeEndpoint{expiresIn: time.Second, refresh: refresh}
	c, clock, red := newTestCache(e)
	for range 200 { // about 67 tokens: the first ones are forgotten for the cap
		clock.advance(250 * time.Millisecond)
		if _, err := c.Token(); err != nil {
			t.Fatal(err)
		}
	}
	if !red.known[Value{Name: TokenName("reports"), Value: refresh}] {
		t.Error("after old tokens were forgotten, the refresh token is no longer known")
	}
}

// TestTokenErrorCarriesCode: a refused grant keeps its RFC 6749 code (so
// check --ping can say invalid_grant) and none of the response body.
func TestTokenErrorCarriesCode(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		code     string
		status   int
		timedOut bool
	}{
		{"invalid_grant", &oauth2.RetrieveError{Response: &http.Response{StatusCode: 400}, Body: []byte("sk-LEAKCHECK"), ErrorCode: "invalid_grant"}, "invalid_grant", 400, false},
		{"non-standard code dropped", &oauth2.RetrieveError{Response: &http.Response{StatusCode: 401}, ErrorCode: "LEAKCHECK-custom"}, "", 401, false},
		{"deadline", context.DeadlineExceeded, "", 0, true},
		{"unreachable", errors.New("dial tcp: LEAKCHECK"), "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := newTestCache(&fakeEndpoint{})
			c.fetch = func(context.Context) (*oauth2.Token, error) { return nil, tc.err }
			_, err := c.Token()
			var te *TokenError
			if !errors.As(err, &te) {
				t.Fatalf("Token() error = %v, want a *TokenError", err)
			}
			if te.Code != tc.code || te.Status != tc.status || te.TimedOut != tc.timedOut {
				t.Errorf("Token() error = %+v, want code %q, status %d, timed out %v", te, tc.code, tc.status, tc.timedOut)
			}
			if msg := err.Error(); strings.Contains(msg, "LEAKCHECK") || !strings.Contains(msg, `service "reports"`) {
				t.Errorf("Token() error text = %q, want the service and nothing of the response", msg)
			}
		})
	}
}
