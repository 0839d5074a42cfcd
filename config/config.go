package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Auth scheme names, as written in MCP_API_AUTH and in a services file.
const (
	AuthBearer = "bearer" // Authorization: Bearer KEY
	AuthHeader = "header" // NAME: KEY
	AuthQuery  = "query"  // ?NAME=KEY
	AuthBasic  = "basic"  // Authorization: Basic base64(user:KEY)
	AuthNone   = "none"   // no credential
)

// Defaults applied to every service whose field is zero.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 256 << 10
	DefaultServiceName      = "api"
	DefaultAllow            = "GET /**"
)

// Auth says how a service's credential is attached. It names the environment
// variable holding the secret; it never holds the secret itself.
type Auth struct {
	// Type is one of AuthBearer, AuthHeader, AuthQuery, AuthBasic, AuthNone.
	Type string `yaml:"type"`
	// Name is the header (AuthHeader) or query parameter (AuthQuery) that
	// carries the key; empty for the other types.
	Name string `yaml:"name"`
	// Env is the environment variable holding the key; NAME_FILE may hold a
	// path to it instead. Empty only for AuthNone.
	Env string `yaml:"env"`
	// UsernameEnv is the environment variable holding the Basic-auth user
	// name (AuthBasic only). Empty: the user name is empty.
	UsernameEnv string `yaml:"username_env"`
}

// HeaderName returns the request header the credential travels in, or ""
// when it travels in the query string or not at all. Tools refuse
// caller-supplied headers of this name.
func (a Auth) HeaderName() string {
	switch a.Type {
	case AuthBearer, AuthBasic:
		return "Authorization"
	case AuthHeader:
		return a.Name
	}
	return ""
}

// Scheme returns the auth scheme as an operator writes it: "bearer",
// "header:X-API-Key", "query:api_key", "basic" or "none". It is safe to show
// to the model.
func (a Auth) Scheme() string {
	switch a.Type {
	case AuthHeader, AuthQuery:
		return a.Type + ":" + a.Name
	}
	return a.Type
}

// Service is one downstream API: where it lives, how its key is attached and
// what the model may do with it.
type Service struct {
	// Name identifies the service in tool calls and in redaction markers.
	Name string `yaml:"-"`
	// BaseURL is an absolute https URL (or http to a loopback host) with no
	// query, fragment or user info, and no trailing slash.
	BaseURL string `yaml:"base_url"`
	// Auth says how the credential is attached.
	Auth Auth `yaml:"auth"`
	// Allow lists "METHOD /path/glob" rules; empty means DefaultAllow.
	Allow []string `yaml:"allow"`
	// Timeout bounds one request, redirects included; zero means
	// DefaultTimeout.
	Timeout time.Duration `yaml:"timeout"`
	// MaxResponseBytes caps the body read from one response; zero means
	// DefaultMaxResponseBytes.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// Headers are static, non-secret headers sent on every request.
	Headers map[string]string `yaml:"headers"`
	// DenyHeaders are extra request headers the model may not set, on top
	// of the credential headers that are always refused.
	DenyHeaders []string `yaml:"deny_headers"`
	// Docs is free text shown by list_services to help the model.
	Docs string `yaml:"docs"`

	rules []Rule
}

// Rules returns the parsed allow rules. It is valid after the Config that
// holds the service has been validated.
func (s Service) Rules() []Rule { return slices.Clone(s.rules) }

// URL returns the parsed base URL.
func (s Service) URL() *url.URL {
	u, _ := url.Parse(s.BaseURL) // validated
	return u
}

// Config is everything keyveil serves: the services and the deployment's
// granted scopes.
type Config struct {
	// Services are sorted by name.
	Services []Service
	// Scopes are granted to this deployment (MCP_API_SCOPES); a tool whose
	// scope is not among them is not offered.
	Scopes []string
	// File is the services file this came from; empty when the
	// configuration came from the environment alone.
	File string
}

// Service returns the named service.
func (c *Config) Service(name string) (Service, bool) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

var serviceName = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// validate fills defaults and checks every service. Errors name the service
// and the field, and say what to write instead.
func (c *Config) validate() error {
	var errs []error
	seen := map[string]bool{}
	for i := range c.Services {
		s := &c.Services[i]
		if err := s.validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[s.Name] {
			errs = append(errs, fmt.Errorf("service %q is defined twice", s.Name))
		}
		seen[s.Name] = true
	}
	slices.SortFunc(c.Services, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
	return errors.Join(errs...)
}

func (s *Service) validate() error {
	if !serviceName.MatchString(s.Name) {
		return fmt.Errorf("service name %q: use 1-32 lower-case letters, digits, '-' or '_', starting with a letter", s.Name)
	}
	if err := checkBaseURL(s.BaseURL); err != nil {
		return fmt.Errorf("service %q: %w", s.Name, err)
	}
	s.BaseURL = strings.TrimSuffix(s.BaseURL, "/")
	if err := s.Auth.validate(); err != nil {
		return fmt.Errorf("service %q: %w", s.Name, err)
	}
	if len(s.Allow) == 0 {
		s.Allow = []string{DefaultAllow}
	}
	s.rules = s.rules[:0]
	for _, a := range s.Allow {
		r, err := ParseRule(a)
		if err != nil {
			return fmt.Errorf("service %q: %w", s.Name, err)
		}
		s.rules = append(s.rules, r)
	}
	if s.Timeout < 0 {
		return fmt.Errorf("service %q: timeout must be positive", s.Name)
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.MaxResponseBytes < 0 {
		return fmt.Errorf("service %q: max_response_bytes must be positive", s.Name)
	}
	if s.MaxResponseBytes == 0 {
		s.MaxResponseBytes = DefaultMaxResponseBytes
	}
	for h := range s.Headers {
		if !isToken(h) {
			return fmt.Errorf("service %q: header name %q is not valid", s.Name, h)
		}
	}
	return nil
}

var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (a *Auth) validate() error {
	a.Type = strings.ToLower(a.Type)
	switch a.Type {
	case AuthBearer, AuthBasic:
		if a.Name != "" {
			return fmt.Errorf("auth type %s takes no name (the key goes in Authorization)", a.Type)
		}
	case AuthHeader, AuthQuery:
		if a.Name == "" || !isToken(a.Name) {
			return fmt.Errorf("auth type %s needs the %s name that carries the key, like %s:X-API-Key", a.Type, a.Type, a.Type)
		}
	case AuthNone:
		if a.Env != "" {
			return fmt.Errorf("auth type none takes no env")
		}
		return nil
	case "":
		return fmt.Errorf("auth type is missing; use bearer, header, query, basic or none")
	default:
		return fmt.Errorf("auth type %q is not known; use bearer, header, query, basic or none", a.Type)
	}
	if a.Env == "" {
		return fmt.Errorf("auth needs env: the name of the environment variable that holds the key (never the key itself)")
	}
	if !envName.MatchString(a.Env) {
		return fmt.Errorf("auth env must be an environment variable name like CRM_API_KEY, not a value; put the key in that variable")
	}
	if a.UsernameEnv != "" && a.Type != AuthBasic {
		return fmt.Errorf("username_env is only for auth type basic")
	}
	if a.UsernameEnv != "" && !envName.MatchString(a.UsernameEnv) {
		return fmt.Errorf("auth username_env must be an environment variable name")
	}
	return nil
}

// checkBaseURL enforces the transport rules at start-up, so that a typo
// stops keyveil before the model ever calls it.
func checkBaseURL(raw string) error {
	if raw == "" {
		return errors.New("base_url is empty; set it to the API's root, like https://api.example.com/v1")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("base_url is not an absolute URL like https://api.example.com/v1")
	}
	if u.User != nil {
		return errors.New("base_url must not contain a user name or password; use auth instead")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("base_url must not contain a query or fragment; use auth type query for a key in the query string")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return fmt.Errorf("base_url uses http to %s; use https (plain http is allowed only to a loopback host)", u.Hostname())
		}
	default:
		return fmt.Errorf("base_url scheme %q is not allowed; use https", u.Scheme)
	}
	return nil
}

// IsLoopback reports whether host (without port) is "localhost" or a
// loopback IP literal. It does no DNS lookup: a name that merely resolves to
// 127.0.0.1 is not loopback, so DNS cannot turn plain http on.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
