package scheme

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyveil/keyveil/internal/valid"
)

// nameRefresh is the scheme's name in the table and in messages.
const nameRefresh = "oauth2_refresh_token"

// oauth2RefreshToken is user-delegated OAuth 2.0 (Microsoft Graph,
// Google, Salesforce, HubSpot): a user consented once, outside keyveil,
// and the refresh token that consent gave is traded at the token endpoint
// (RFC 6749 section 6) for access tokens, sent as "Authorization: Bearer
// TOKEN".
//
// The refresh token grants access for months, so it goes to the token
// endpoint alone (SendsTo; the token client follows no redirect). Many
// providers rotate it: each refresh answers with a new one and the old one
// stops working. The new one replaces the old in memory (keyveil does not
// write it back anywhere: on restart the variable's value is used again,
// which a rotating provider may have retired; then --ping says so), and
// the Redactor learns it before the refresh returns. The replaced one
// stays redacted for a grace period, as an access token does after it
// expires.
//
// The client secret is optional: a public client (a desktop or mobile
// app registration) has none and sends its client ID alone. Client
// authentication goes in the form body (client_secret_post), which every
// provider above accepts and which public clients require.
type oauth2RefreshToken struct{}

func (oauth2RefreshToken) Validate(s *Settings) (string, error) {
	if s.Env != "" {
		return "env", fmt.Errorf("auth type %s takes no env; name the refresh token's variable in refresh_token_env", nameRefresh)
	}
	if s.TokenURL == "" {
		return "token_url", fmt.Errorf("auth type %s needs token_url: the token endpoint, like https://login.microsoftonline.com/common/oauth2/v2.0/token", nameRefresh)
	}
	if err := valid.BaseURL(s.TokenURL); err != nil {
		return "token_url", fmt.Errorf("token_url: %w", err)
	}
	names := []struct{ key, v, what string }{
		{"client_id_env", s.ClientIDEnv, "the client (application) ID"},
		{"refresh_token_env", s.RefreshTokenEnv, "the refresh token (never the token itself)"},
	}
	for _, n := range names {
		if n.v == "" {
			return n.key, fmt.Errorf("auth type %s needs %s: the environment variable holding %s", nameRefresh, n.key, n.what)
		}
		if err := valid.CheckEnvName("auth "+n.key, n.v); err != nil {
			return n.key, err
		}
	}
	if s.ClientSecretEnv != "" {
		if err := valid.CheckEnvName("auth client_secret_env", s.ClientSecretEnv); err != nil {
			return "client_secret_env", err
		}
	}
	if s.RefreshTokenEnv == s.ClientIDEnv || s.RefreshTokenEnv == s.ClientSecretEnv || s.ClientSecretEnv == s.ClientIDEnv {
		return "refresh_token_env", errors.New("client_id_env, client_secret_env and refresh_token_env must name different variables")
	}
	if field, err := checkScopes(s.Scopes); err != nil {
		return field, err
	}
	return unused(s, "token_url", "client_id_env", "client_secret_env", "refresh_token_env", "scopes")
}

func (oauth2RefreshToken) Vars(s *Settings) []Var {
	vs := []Var{{Name: s.RefreshTokenEnv, Secret: true, Role: "OAuth refresh token"}}
	if s.ClientSecretEnv != "" {
		vs = append(vs, Var{Name: s.ClientSecretEnv, Secret: true, Role: "OAuth client secret"})
	}
	return append(vs, Var{Name: s.ClientIDEnv, Role: "OAuth client ID"})
}

func (oauth2RefreshToken) Carriers(*Settings) Carriers {
	return Carriers{Headers: []string{"Authorization"}}
}

func (oauth2RefreshToken) Describe(*Settings) string { return nameRefresh }

// SendsTo is the token endpoint: the refresh token and the client secret
// go there, never to the base URL.
func (oauth2RefreshToken) SendsTo(s *Settings) string { return s.TokenURL }

// Prepare builds the part; it fetches nothing until the first request.
func (oauth2RefreshToken) Prepare(s *Settings, v Values, rt Runtime) (Part, []string, error) {
	id, _ := v.Get(s.ClientIDEnv)
	secret, _ := v.Get(s.ClientSecretEnv)
	refresh, _ := v.Get(s.RefreshTokenEnv)
	f := &refresher{
		cfg: &oauth2.Config{
			ClientID:     id,
			ClientSecret: secret,
			Endpoint:     oauth2.Endpoint{TokenURL: s.TokenURL, AuthStyle: oauth2.AuthStyleInParams},
		},
		scope:   strings.Join(s.Scopes, " "),
		initial: refresh,
		current: refresh,
		name:    s.RefreshTokenEnv,
		learn:   rt.Learn,
		forget:  rt.Forget,
		now:     rt.Now,
		grace:   tokenGrace + rt.Timeout,
	}
	if f.now == nil {
		f.now = time.Now
	}
	fix := fmt.Sprintf("the refresh token was refused (invalid_grant): the user must sign in and consent again, then update %s", s.RefreshTokenEnv)
	return &grantPart{bearerTokenPart: bearerTokenPart{cache: newTokenCache(rt, f.fetch)}, scheme: nameRefresh, refused: fix}, nil, nil
}

// refresher trades the current refresh token for tokens and keeps the
// one each answer rotates in. Its fetch runs under the tokenCache's lock,
// one at a time: two refreshes with one rotating token would have the
// second refused.
type refresher struct {
	cfg     *oauth2.Config
	scope   string // sent with each refresh; "": none
	initial string // from the environment: the Redactor knows it for good
	name    string // its variable, which names rotated ones in markers

	mu      sync.Mutex // guards current and retired
	current string
	retired []retiredToken

	learn, forget func(...Value)
	now           func() time.Time
	grace         time.Duration
}

// retiredToken is a refresh token that was rotated out, redacted until.
type retiredToken struct {
	v     Value
	until time.Time
}

// fetch refreshes. The context it gets carries the token client, and no
// deadline of any request: a refresh cut off after the endpoint rotated
// the token would lose the only one that still works.
func (f *refresher) fetch(ctx context.Context) (*oauth2.Token, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.scope != "" {
		ctx = withScope(ctx, f.scope)
	}
	tok, err := f.cfg.TokenSource(ctx, &oauth2.Token{RefreshToken: f.current}).Token()
	if err != nil {
		return nil, err
	}
	now := f.now()
	if tok.RefreshToken != "" && tok.RefreshToken != f.current {
		// Learnt before anything else can see it; the next refresh
		// sends it.
		f.learn(Value{Name: f.name, Value: tok.RefreshToken})
		// A token issued again (B, C, then B) is in use, not retired:
		// forgetting it when its old grace ends would unredact it.
		f.retired = slices.DeleteFunc(f.retired, func(r retiredToken) bool { return r.v.Value == tok.RefreshToken })
		if f.current != f.initial {
			f.retired = append(f.retired, retiredToken{Value{Name: f.name, Value: f.current}, now.Add(f.grace)})
		}
		f.current = tok.RefreshToken
	}
	var drop []Value
	for len(f.retired) > 0 && now.After(f.retired[0].until) {
		drop = append(drop, f.retired[0].v)
		f.retired = f.retired[1:]
	}
	if len(drop) > 0 {
		f.forget(drop...)
	}
	// The cache learns and forgets access tokens; the refresh token is
	// this type's to keep.
	out := *tok
	out.RefreshToken = ""
	return &out, nil
}

// withScope returns ctx with a token client that adds scope to a refresh
// request: x/oauth2 sends none with a refresh, and some providers
// (Microsoft's v2.0 endpoint) want the scopes named on every grant.
func withScope(ctx context.Context, scope string) context.Context {
	c, ok := ctx.Value(oauth2.HTTPClient).(*http.Client)
	if !ok {
		return ctx
	}
	cc := *c
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	cc.Transport = scopeAdder{next: next, scope: scope}
	return context.WithValue(ctx, oauth2.HTTPClient, &cc)
}

// scopeAdder adds scope to the form of a request that has none.
type scopeAdder struct {
	next  http.RoundTripper
	scope string
}

// maxTokenForm bounds the token request form scopeAdder reads: keyveil
// builds it, and it is a few hundred bytes.
const maxTokenForm = 64 << 10

func (s scopeAdder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil {
		return s.next.RoundTrip(req)
	}
	b, err := io.ReadAll(io.LimitReader(req.Body, maxTokenForm))
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("reading the token request: %w", err)
	}
	form, err := url.ParseQuery(string(b))
	if err == nil && !form.Has("scope") {
		form.Set("scope", s.scope)
		b = []byte(form.Encode())
	}
	out := req.Clone(req.Context())
	out.Body = io.NopCloser(bytes.NewReader(b))
	out.ContentLength = int64(len(b))
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return s.next.RoundTrip(out)
}

// grantPart is a bearer-token part whose grant can be withdrawn (a
// refresh token, a service-account key): when the token endpoint answers
// invalid_grant, its error says what the user must do instead of "check
// the client ID", since retrying cannot help.
//
// It holds key material in plain strings (the token cache's config, the
// Derived forms of a private key), since this package cannot use
// credentials.Secret: it prints as its scheme's name through fmt and
// slog, so a part logged by mistake shows nothing of them.
type grantPart struct {
	bearerTokenPart
	scheme  string // the scheme's name, all the part prints as
	refused string // the fix for invalid_grant
	forms   []namedHidden
}

// namedHidden is a Derived value, hidden until Derived reveals it.
type namedHidden struct {
	name  string
	value hidden
}

// Derived returns the token request's derived value (none for these
// schemes today) and the part's own forms of its key.
func (p *grantPart) Derived() []Value {
	out := p.bearerTokenPart.Derived()
	for _, f := range p.forms {
		out = append(out, Value{Name: f.name, Value: f.value.reveal()})
	}
	return out
}

// String keeps the keys out of any %v of the part.
func (p *grantPart) String() string { return p.scheme }

// GoString keeps the keys out of %#v.
func (p *grantPart) GoString() string { return p.String() }

// Format keeps the keys out of every other verb (%+v, %x, %q).
func (p *grantPart) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// LogValue keeps the keys out of slog.
func (p *grantPart) LogValue() slog.Value { return slog.StringValue(p.String()) }

func (p *grantPart) Attach(out *http.Request) error {
	err := p.bearerTokenPart.Attach(out)
	var te *TokenError
	if errors.As(err, &te) && te.Code == "invalid_grant" {
		return &GrantError{TokenError: te, Fix: p.refused}
	}
	return err
}

// GrantError is a token endpoint's invalid_grant for a grant the user or
// an administrator must renew: a refresh token whose consent was withdrawn
// or expired, a deleted service-account key. Its text says what to do and
// is safe to show; keyveil check --ping prints it as it is.
type GrantError struct {
	*TokenError
	// Fix is the sentence after "fetching an OAuth token for service
	// ...": what was refused and what to do.
	Fix string
}

func (e *GrantError) Error() string {
	return fmt.Sprintf("fetching an OAuth token for service %q: %s", e.Service, e.Fix)
}

// Unwrap returns the [*TokenError], for errors.As.
func (e *GrantError) Unwrap() error { return e.TokenError }
