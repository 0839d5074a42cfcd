package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
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
	// Region and SigningService are aws_sigv4's region and service.
	Region         string `env:"MCP_API_REGION"`
	SigningService string `env:"MCP_API_SIGNING_SERVICE"`
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
	if set := envAuth[auth.Type].settings; set != nil {
		set(&auth, e)
	}
	s.Auth = AuthList{auth}
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

// envAuth is each scheme MCP_API_AUTH may name for the zero-config
// service: whether it is written TYPE:NAME, and the variables it reads.
// A scheme added here is usable without a services file; the variables
// are MCP_API_* names (none of them read by config: credentials reads
// them, config only names them).
var envAuth = map[string]struct {
	named bool        // written TYPE:NAME, like header:X-API-Key
	fill  func(*Auth) // names the part's variables
	// settings copies the part's other settings from MCP_API_*
	// variables; nil when it has none.
	settings func(*Auth, apiEnv)
}{
	AuthBearer: {fill: keyFromEnv},
	AuthHeader: {named: true, fill: keyFromEnv},
	AuthQuery:  {named: true, fill: keyFromEnv},
	AuthBasic: {fill: func(a *Auth) {
		keyFromEnv(a)
		a.UsernameEnv = "MCP_API_USERNAME"
	}},
	AuthNone: {},
	// The AWS variables are the scheme's defaults (AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), as every AWS tool reads
	// them; MCP_API_KEY is not used.
	AuthAWSSigV4: {settings: func(a *Auth, e apiEnv) {
		a.Region, a.Service = strings.TrimSpace(e.Region), strings.TrimSpace(e.SigningService)
	}},
}

// keyFromEnv names MCP_API_KEY as the part's key.
func keyFromEnv(a *Auth) { a.Env = "MCP_API_KEY" }

// envAuthForms lists MCP_API_AUTH's forms for messages:
// "basic, bearer, header:NAME, none or query:NAME".
func envAuthForms() string {
	var forms []string
	for name, e := range envAuth {
		if e.named {
			name += ":NAME"
		}
		forms = append(forms, name)
	}
	slices.Sort(forms)
	return strings.Join(forms[:len(forms)-1], ", ") + " or " + forms[len(forms)-1]
}

// ParseAuth parses MCP_API_AUTH ("bearer", "header:NAME", "query:NAME",
// "basic", "none", …: see envAuth) into the zero-config service's part,
// its variables named (MCP_API_KEY, MCP_API_USERNAME).
func ParseAuth(s string) (Auth, error) {
	typ, name, _ := strings.Cut(strings.TrimSpace(s), ":")
	a := Auth{Type: strings.ToLower(typ), Name: name}
	e, ok := envAuth[a.Type]
	switch {
	case !ok:
		return a, fmt.Errorf("%s is not an auth scheme; use %s", quote(s), envAuthForms())
	case e.named && (name == "" || !isToken(name)):
		return a, fmt.Errorf("%s needs a name, like %s:X-API-Key", quote(s), a.Type)
	case !e.named && name != "":
		return a, fmt.Errorf("%s takes no name; use %s", quote(s), envAuthForms())
	}
	if e.fill != nil {
		e.fill(&a)
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
		`service "api": aws_sigv4 needs region:`, "MCP_API_AUTH=aws_sigv4 needs MCP_API_REGION:",
		`service "api": aws_sigv4 needs service:`, "MCP_API_AUTH=aws_sigv4 needs MCP_API_SIGNING_SERVICE:",
		`service "api": region must be`, "MCP_API_REGION must be",
		`service "api": service must be`, "MCP_API_SIGNING_SERVICE must be",
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
