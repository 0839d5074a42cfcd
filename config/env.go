package config

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
)

// apiEnv is the zero-config service, read from the environment. None of
// these variables is secret: MCP_API_KEY is read by the credentials package.
type apiEnv struct {
	BaseURL          string `env:"MCP_API_BASE_URL"`
	Auth             string `env:"MCP_API_AUTH" envDefault:"bearer"`
	Allow            string `env:"MCP_API_ALLOW"`
	Scopes           string `env:"MCP_API_SCOPES"`
	Timeout          string `env:"MCP_API_TIMEOUT"`
	MaxResponseBytes string `env:"MCP_API_MAX_RESPONSE_BYTES"`
	Docs             string `env:"MCP_API_DOCS"`
	Rate             string `env:"MCP_API_RATE"`
	Burst            string `env:"MCP_API_BURST"`
	ConfirmFallback  string `env:"MCP_API_CONFIRM_FALLBACK"`
}

// Load builds the configuration: the services file at path when path is not
// empty, plus the zero-config service "api" when MCP_API_BASE_URL is set.
//
// With an error, the Config is nil or partial: the services as far as they
// could be read (the zero-config one even without MCP_API_BASE_URL), so
// that keyveil check can report their credentials' problems in the same
// run. A partial Config must never be served.
//
// lookup reads one environment variable (nil: os.LookupEnv). Load asks it
// only for the MCP_API_* names of [apiEnv], never for a secret's name, so
// handing it the credentials package's view of the environment (dotenv
// included) shows config no key.
func Load(path string, lookup func(string) (string, bool)) (*Config, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	var e apiEnv
	environ := map[string]string{}
	params, err := env.GetFieldParams(&e)
	if err != nil {
		return nil, fmt.Errorf("reading MCP_API_* variables: %w", err)
	}
	for _, p := range params {
		if v, ok := lookup(p.Key); ok {
			environ[p.Key] = v
		}
	}
	// Every field is a string, so env/v11 cannot fail on a value; it still
	// returns errors for malformed options, which quote no values.
	if err := env.ParseWithOptions(&e, env.Options{Environment: environ}); err != nil {
		return nil, fmt.Errorf("reading MCP_API_* variables: %w", err)
	}
	c := &Config{}
	var perr error
	if path != "" {
		fc, err := readFile(path)
		if fc == nil {
			return nil, err
		}
		c, perr = fc, err
	}
	c.Scopes = splitList(e.Scopes)
	if e.BaseURL == "" && path == "" {
		err := errors.New("MCP_API_BASE_URL is not set; set it to the API's root URL (like https://api.example.com/v1) in the env block of your MCP client config, or pass --config FILE")
		if s, serr := e.service(); serr == nil {
			// Partial, for keyveil check to look at its key as well.
			c.Services = append(c.Services, s)
		}
		return c, err
	}
	if e.BaseURL != "" {
		if _, dup := c.Service(DefaultServiceName); dup {
			return nil, fmt.Errorf("MCP_API_BASE_URL is set and %s also defines a service named %q; remove one of them", path, DefaultServiceName)
		}
		s, err := e.service()
		if err != nil {
			return nil, err
		}
		c.Services = append(c.Services, s)
	}
	if err := finish(c, perr, c.validate); err != nil {
		return c, envError(err)
	}
	for i := range c.Services {
		s := &c.Services[i]
		if s.ScopesEnv == "" {
			continue
		}
		v, _ := lookup(s.ScopesEnv)
		s.Scopes = splitList(v)
	}
	return c, nil
}

func (e apiEnv) service() (Service, error) {
	s := Service{Name: DefaultServiceName, BaseURL: e.BaseURL, Docs: e.Docs, CallAPI: true}
	auth, err := ParseAuth(e.Auth)
	if err != nil {
		return s, fmt.Errorf("MCP_API_AUTH: %w", err)
	}
	if auth.Type != AuthNone {
		auth.Env = "MCP_API_KEY"
	}
	if auth.Type == AuthBasic {
		auth.UsernameEnv = "MCP_API_USERNAME"
	}
	s.Auth = auth
	s.Allow = splitList(e.Allow)
	if e.Timeout != "" {
		d, err := time.ParseDuration(e.Timeout)
		if err != nil || d <= 0 {
			return s, errors.New("MCP_API_TIMEOUT is not a positive duration; write it like 30s or 2m")
		}
		s.Timeout = d
	}
	if e.MaxResponseBytes != "" {
		n, err := strconv.ParseInt(e.MaxResponseBytes, 10, 64)
		if err != nil || n <= 0 {
			return s, errors.New("MCP_API_MAX_RESPONSE_BYTES is not a positive number of bytes, like 262144")
		}
		s.MaxResponseBytes = n
	}
	s.Rate = strings.TrimSpace(e.Rate)
	if e.Burst != "" {
		n, err := strconv.Atoi(strings.TrimSpace(e.Burst))
		if err != nil || n <= 0 {
			return s, errors.New("MCP_API_BURST is not a positive whole number, like 20")
		}
		s.Burst = n
	}
	s.ConfirmFallback = strings.TrimSpace(e.ConfirmFallback)
	return s, nil
}

// ParseAuth parses MCP_API_AUTH: "bearer", "header:NAME", "query:NAME",
// "basic" or "none". The result has no Env; the caller names it.
func ParseAuth(s string) (Auth, error) {
	typ, name, _ := strings.Cut(strings.TrimSpace(s), ":")
	a := Auth{Type: strings.ToLower(typ), Name: name}
	switch a.Type {
	case AuthBearer, AuthBasic, AuthNone:
		if name != "" {
			return a, fmt.Errorf("%s takes no name; use bearer, basic, none, header:NAME or query:NAME", quote(s))
		}
	case AuthHeader, AuthQuery:
		if name == "" || !isToken(name) {
			return a, fmt.Errorf("%s needs a name, like %s:X-API-Key", quote(s), a.Type)
		}
	default:
		return a, fmt.Errorf("%s is not an auth scheme; use bearer, basic, none, header:NAME or query:NAME", quote(s))
	}
	return a, nil
}

// envError rewrites errors about the zero-config service so they name the
// variable the user sets rather than the services-file key.
func envError(err error) error {
	r := strings.NewReplacer(
		`service "api": base_url`, "MCP_API_BASE_URL",
		`service "api": allow rule`, "MCP_API_ALLOW: rule",
		`service "api": rate`, "MCP_API_RATE",
		`service "api": burst needs rate`, "MCP_API_BURST needs MCP_API_RATE",
		`service "api": confirm_fallback`, "MCP_API_CONFIRM_FALLBACK",
	)
	return errors.New(r.Replace(err.Error()))
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
