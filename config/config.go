package config

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyveil/keyveil/credentials/scheme"
	"github.com/keyveil/keyveil/internal/valid"
)

// Auth scheme names, as written in MCP_API_AUTH and in a services file:
// keys of credentials/scheme's table, named here for the zero-config
// service and for tests.
const (
	AuthBearer = "bearer" // Authorization: Bearer KEY
	AuthHeader = "header" // NAME: KEY
	AuthQuery  = "query"  // ?NAME=KEY
	AuthBasic  = "basic"  // Authorization: Basic base64(user:KEY), or base64(KEY:) with KeyAs "username"
	AuthNone   = "none"   // no credential
	// AuthOAuth2 fetches a token with the OAuth 2.0 client credentials
	// grant and sends it as Authorization: Bearer TOKEN.
	AuthOAuth2 = "oauth2_client_credentials"
	// AuthAWSSigV4 signs each request with AWS Signature Version 4.
	AuthAWSSigV4 = "aws_sigv4"
)

// Where the key goes in Basic auth ([scheme.Settings.KeyAs]).
const (
	KeyAsPassword = scheme.KeyAsPassword // user from UsernameEnv (or empty), password = KEY
	KeyAsUsername = scheme.KeyAsUsername // user = KEY, password empty (Stripe and others)
)

// Defaults applied to every service whose field is zero.
const (
	DefaultTimeout          = 30 * time.Second
	DefaultMaxResponseBytes = 256 << 10
	DefaultServiceName      = "api"
	DefaultAllow            = "GET /**"
)

// Service is one downstream API: where it lives, how its key is attached and
// what the model may do with it.
type Service struct {
	// Name identifies the service in tool calls and in redaction markers.
	Name string `yaml:"-"`
	// BaseURL is an absolute https URL (or http to a loopback host) with no
	// query, fragment or user info, and no trailing slash.
	BaseURL string `yaml:"base_url"`
	// Auth says how the credentials are attached: one part, or several
	// (every part is attached). See [AuthList].
	Auth AuthList `yaml:"auth"`
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
	// OpenAPI is an OpenAPI 3.0 or 3.1 document (a local YAML or JSON
	// file; a relative path is relative to the services file) whose
	// Operations become tools. The openapi package reads it; config only
	// checks that the keys make sense together.
	OpenAPI string `yaml:"openapi"`
	// Operations chooses the OpenAPI operations offered as tools: an
	// operationId, "tag:NAME", or "*" for all. Empty with OpenAPI set is an
	// error, so that importing a document never offers everything by
	// accident.
	Operations []string `yaml:"operations"`
	// CallAPI reports whether call_api may reach this service. It is true
	// unless the services file says call_api: false, which leaves the model
	// only the service's named operations.
	CallAPI bool `yaml:"call_api"`
	// ScopesEnv names an environment variable (not a secret) listing scopes
	// granted for this service's tools only, comma-separated; empty: none
	// beyond MCP_API_SCOPES.
	ScopesEnv string `yaml:"scopes_env"`
	// Scopes are the scopes read from ScopesEnv by [Load]. They grant
	// tools of this service only.
	Scopes []string `yaml:"-"`

	// Rate limits the requests sent to this service by all tools
	// together, as COUNT/PERIOD ("10/s", "600/min", "3/10s"); empty: no
	// limit. A call over the limit is refused at once with the seconds to
	// wait; nothing queues. See [Service.Limit].
	Rate string `yaml:"rate"`
	// Burst is how many requests may go at once before Rate paces them;
	// 0: the rate per second rounded up, at least 1. Only with Rate.
	Burst int `yaml:"burst"`
	// Idempotency, when true (nil means true), sends an idempotency key
	// with every request that is not GET or HEAD and answers an identical
	// call within IdempotencyWindow with the first call's result.
	Idempotency *bool `yaml:"idempotency"`
	// IdempotencyHeader is the header that carries the key; empty:
	// DefaultIdempotencyHeader.
	IdempotencyHeader string `yaml:"idempotency_header"`
	// IdempotencyWindow is how long a result is replayed for identical
	// calls; zero: DefaultIdempotencyWindow.
	IdempotencyWindow time.Duration `yaml:"idempotency_window"`
	// ConfirmMethods are the methods call_api asks the user about before
	// sending them to this service; nil: DefaultConfirmMethods (DELETE),
	// an empty list: none. Declared tools use their own confirm.
	ConfirmMethods []string `yaml:"confirm_methods"`
	// ConfirmFallback is what call_api does when it must ask but the
	// client cannot (no elicitation): ConfirmFallbackRefuse (also the
	// zero value) or ConfirmFallbackAllow.
	ConfirmFallback string `yaml:"confirm_fallback"`
	// Schema is how an OpenAPI import describes its tools: SchemaCompact
	// (also the zero value) or SchemaFull.
	Schema string `yaml:"schema"`
	// Detect configures the redaction of secrets keyveil does not hold
	// from this service's results; the zero value: on, with defaults.
	Detect Detect `yaml:"detect"`
	// TLS adds CAs to the system roots and a client certificate for this
	// service's origin; the zero value: system roots, no certificate.
	TLS TLS `yaml:"tls"`

	rules []Rule
	limit Limit
	pos   positions
}

// Rules returns the parsed allow rules. It is valid after the Config that
// holds the service has been validated.
func (s Service) Rules() []Rule { return slices.Clone(s.rules) }

// URL returns the parsed base URL.
func (s Service) URL() *url.URL {
	u, _ := url.Parse(s.BaseURL) // validated
	return u
}

// Config is everything keyveil serves: the services, the tools declared on
// them and the deployment's granted scopes.
type Config struct {
	// Services are sorted by name.
	Services []Service
	// Tools are the declared tools, in the order the file lists them,
	// followed by those [Config.AddTools] added (the openapi package's
	// imports). Whether a tool is offered depends on scopes and
	// --read-only; see [Config.Granted].
	Tools []Tool
	// Scopes are granted to this deployment (MCP_API_SCOPES); a tool whose
	// scope is not among them is not offered.
	Scopes []string
	// File is the services file this came from; empty when the
	// configuration came from the environment alone.
	File string
	// Warnings are problems that do not stop keyveil but that the
	// operator should fix, such as operations an OpenAPI import left out
	// because their schemas are too large. keyveil check lists them and
	// serve logs them at start-up.
	Warnings []string
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

// validate fills defaults and checks every service and tool. Errors name
// the file and line when the item came from a file, the service or tool and
// the key, and say what to write instead.
func (c *Config) validate() error {
	var errs []error
	seen := map[string]bool{}
	for i := range c.Services {
		s := &c.Services[i]
		for _, err := range s.validate() {
			errs = append(errs, s.pos.locate(err))
		}
		if seen[s.Name] {
			errs = append(errs, s.pos.locate(fmt.Errorf("service %q is defined twice; rename one", s.Name)))
		}
		seen[s.Name] = true
	}
	slices.SortFunc(c.Services, func(a, b Service) int { return strings.Compare(a.Name, b.Name) })
	errs = append(errs, c.validateTools(c.Tools, nil, true)...)
	sortErrors(errs)
	return errors.Join(errs...)
}

// validate fills s's defaults and returns one error per problem, each
// wrapping a [fieldError] so that a file error can point at its key.
func (s *Service) validate() []error {
	if !isServiceName(s.Name) {
		return []error{fmt.Errorf("service name %s: use 1-32 lower-case letters, digits, '-' or '_', starting with a letter", quote(s.Name))}
	}
	var errs []error
	add := func(field string, err error) {
		errs = append(errs, fmt.Errorf("service %q: %w", s.Name, &fieldError{field: field, err: err}))
	}
	if err := checkBaseURL(s.BaseURL); err != nil {
		add("base_url", err)
	}
	s.BaseURL = strings.TrimSuffix(s.BaseURL, "/")
	for _, fe := range s.Auth.validate() {
		errs = append(errs, fmt.Errorf("service %q: %w", s.Name, fe))
	}
	if len(s.Allow) == 0 {
		s.Allow = []string{DefaultAllow}
	}
	s.rules = s.rules[:0]
	for _, a := range s.Allow {
		r, err := ParseRule(a)
		if err != nil {
			add("allow", err)
			continue
		}
		s.rules = append(s.rules, r)
	}
	if s.Timeout < 0 {
		add("timeout", errors.New("timeout must be positive, like 30s"))
	}
	if s.Timeout == 0 {
		s.Timeout = DefaultTimeout
	}
	if s.MaxResponseBytes < 0 {
		add("max_response_bytes", errors.New("max_response_bytes must be positive, like 262144"))
	}
	if s.MaxResponseBytes == 0 {
		s.MaxResponseBytes = DefaultMaxResponseBytes
	}
	for _, h := range slices.Sorted(maps.Keys(s.Headers)) {
		if err := s.checkHeader(h, s.Headers[h]); err != nil {
			add("headers", err)
		}
	}
	for _, h := range s.DenyHeaders {
		if !isToken(h) {
			add("deny_headers", fmt.Errorf("deny_headers: %s is not a header name", quote(h)))
		}
	}
	if s.OpenAPI != "" && len(s.Operations) == 0 {
		add("openapi", errors.New(`openapi needs operations: the operationIds, "tag:NAME" entries or "*" to offer as tools (run keyveil openapi FILE to see them)`))
	}
	if s.OpenAPI == "" && len(s.Operations) > 0 {
		add("operations", errors.New("operations needs openapi: the OpenAPI document they come from"))
	}
	for _, op := range s.Operations {
		if strings.TrimSpace(op) == "" || strings.TrimSpace(op) == "tag:" {
			add("operations", errors.New(`operations has an empty entry; write an operationId, "tag:NAME" or "*"`))
		}
	}
	errs = append(errs, s.validateGuards()...)
	if err := s.Detect.validate(); err != nil {
		add("detect", err)
	}
	if field, err := s.TLS.validate(s.pos.dir(), s.BaseURL, s.Auth.reads); err != nil {
		add(strings.TrimSuffix("tls."+field, "."), err)
	}
	switch s.Schema {
	case "", SchemaCompact, SchemaFull:
	default:
		add("schema", fmt.Errorf("schema must be %s (the default: short descriptions, nested bodies summarised) or %s (everything the OpenAPI document says)", SchemaCompact, SchemaFull))
	}
	if s.ScopesEnv != "" {
		if err := checkEnvName("scopes_env", s.ScopesEnv); err != nil {
			add("scopes_env", err)
		} else if s.Auth.reads(s.ScopesEnv) {
			add("scopes_env", fmt.Errorf("scopes_env must name its own variable, not %s, which auth reads", s.ScopesEnv))
		}
	}
	return errs
}

// checkHeader refuses static headers that would carry a credential: those
// belong in auth, where the key is read from the environment and attached
// to this service's origin only.
func (s *Service) checkHeader(name, value string) error {
	if !isToken(name) {
		return fmt.Errorf("header name %s is not valid", quote(name))
	}
	switch strings.ToLower(name) {
	case "authorization", "proxy-authorization", "cookie":
		return fmt.Errorf("headers: %s carries a credential; use auth (with env naming the variable that holds the key) instead", name)
	}
	if s.Auth.carriesHeader(name) {
		return fmt.Errorf("headers: %s is the header auth attaches the key to; remove it from headers", name)
	}
	if looksLikeSecret(value) {
		return fmt.Errorf("headers: the value of %s looks like a secret written inline; headers are for non-secret values — put the key in an environment variable and name it in auth", name)
	}
	return nil
}

// checkEnvName checks a key whose value must name an environment variable
// (see [valid.CheckEnvName]); its errors never repeat the value.
func checkEnvName(key, v string) error { return valid.CheckEnvName(key, v) }

// checkBaseURL enforces the transport rules at start-up, so that a typo
// stops keyveil before the model ever calls it.
func checkBaseURL(raw string) error { return valid.BaseURL(raw) }

// IsLoopback reports whether host (without port) is "localhost" or a
// loopback IP literal. It does no DNS lookup: a name that merely resolves to
// 127.0.0.1 is not loopback, so DNS cannot turn plain http on.
func IsLoopback(host string) bool { return valid.IsLoopback(host) }
