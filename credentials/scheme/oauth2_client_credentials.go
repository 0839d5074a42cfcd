package scheme

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyveil/keyveil/internal/valid"
)

// oauth2ClientCredentials gets an access token from the token endpoint
// with the OAuth 2.0 client credentials grant (client ID and secret in a
// Basic header) and sends it as "Authorization: Bearer TOKEN". The client
// secret goes to the token endpoint and nowhere else; tokens are cached,
// learnt and forgotten by [tokenCache].
type oauth2ClientCredentials struct{}

func (oauth2ClientCredentials) Validate(s *Settings) (string, error) {
	if s.Env != "" {
		return "env", fmt.Errorf("auth type %s takes no env; name the client secret's variable in client_secret_env", nameOAuth2)
	}
	if s.Name != "" || s.UsernameEnv != "" || s.KeyAs != "" {
		return "type", fmt.Errorf("auth type %s takes only token_url, client_id_env, client_secret_env and scopes", nameOAuth2)
	}
	if s.TokenURL == "" {
		return "token_url", fmt.Errorf("auth type %s needs token_url: the token endpoint, like https://auth.example.com/oauth/token", nameOAuth2)
	}
	if err := valid.BaseURL(s.TokenURL); err != nil {
		return "token_url", fmt.Errorf("token_url: %w", err)
	}
	if s.ClientIDEnv == "" {
		return "client_id_env", fmt.Errorf("auth type %s needs client_id_env: the environment variable holding the client ID", nameOAuth2)
	}
	if err := valid.CheckEnvName("auth client_id_env", s.ClientIDEnv); err != nil {
		return "client_id_env", err
	}
	if s.ClientSecretEnv == "" {
		return "client_secret_env", fmt.Errorf("auth type %s needs client_secret_env: the environment variable holding the client secret (never the secret itself)", nameOAuth2)
	}
	if err := valid.CheckEnvName("auth client_secret_env", s.ClientSecretEnv); err != nil {
		return "client_secret_env", err
	}
	if s.ClientSecretEnv == s.ClientIDEnv {
		return "client_secret_env", errors.New("client_id_env and client_secret_env name the same variable; use one for each")
	}
	if field, err := checkScopes(s.Scopes); err != nil {
		return field, err
	}
	return unused(s, "token_url", "client_id_env", "client_secret_env", "scopes")
}

// checkScopes refuses a scope the token request could not carry as
// written.
func checkScopes(scopes []string) (string, error) {
	for _, sc := range scopes {
		if sc == "" || strings.ContainsAny(sc, " \t\"\\") {
			return "scopes", fmt.Errorf("auth scopes: %s is not an OAuth scope (no spaces or quotes)", valid.Quote(sc))
		}
	}
	return "", nil
}

func (oauth2ClientCredentials) Vars(s *Settings) []Var {
	return []Var{
		{Name: s.ClientSecretEnv, Secret: true, Role: "OAuth client secret"},
		// Client IDs are not secret, but they are often issued next to
		// the secret; an unset one is an error all the same.
		{Name: s.ClientIDEnv, Role: "OAuth client ID"},
	}
}

func (oauth2ClientCredentials) Carriers(*Settings) Carriers {
	return Carriers{Headers: []string{"Authorization"}}
}

func (oauth2ClientCredentials) Describe(*Settings) string { return nameOAuth2 }

// SendsTo is the token endpoint: the client secret goes there, never to
// the base URL.
func (oauth2ClientCredentials) SendsTo(s *Settings) string { return s.TokenURL }

// Prepare builds the token cache; it fetches nothing until the first
// request.
func (oauth2ClientCredentials) Prepare(s *Settings, v Values, rt Runtime) (Part, []string, error) {
	id, _ := v.Get(s.ClientIDEnv)
	secret, _ := v.Get(s.ClientSecretEnv)
	cfg := &clientcredentials.Config{
		ClientID:     id,
		ClientSecret: secret,
		TokenURL:     s.TokenURL,
		Scopes:       s.Scopes,
		AuthStyle:    oauth2.AuthStyleInHeader,
	}
	return &bearerTokenPart{
		cache: newTokenCache(rt, cfg.Token),
		// The token request's Basic header carries base64("id:secret"),
		// each half form-escaped first (RFC 6749 section 2.3.1).
		name:    s.ClientSecretEnv,
		derived: hide(url.QueryEscape(id) + ":" + url.QueryEscape(secret)),
	}, nil, nil
}

// bearerTokenPart sends the cache's current access token as a bearer
// token. The OAuth schemes share it. derived, named name, is what the
// token request carries beyond the secret variables ("" when nothing).
type bearerTokenPart struct {
	cache   *tokenCache
	name    string
	derived hidden
}

func (p *bearerTokenPart) Derived() []Value {
	if p.derived.reveal() == "" {
		return nil
	}
	return []Value{{Name: p.name, Value: p.derived.reveal()}}
}

// Attach fetches a token when there is none or it is about to expire. Its
// error is a [*TokenError], safe to show.
func (p *bearerTokenPart) Attach(out *http.Request) error {
	tok, err := p.cache.Token()
	if err != nil {
		return err
	}
	out.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	return nil
}

// fetchFunc fetches a token; ctx carries the http.Client the token
// request must use (under oauth2.HTTPClient), as x/oauth2's Config.Token
// methods expect.
type fetchFunc func(ctx context.Context) (*oauth2.Token, error)
