package scheme

import (
	"net/http"
	"slices"
	"time"
)

// Settings is one part of a service's auth as the services file writes it:
// `auth: {type: header, name: X-API-Key, env: API_KEY}`, or one item of
// `auth: [...]`. It is the union of every scheme's keys, so that the file
// decoder can point at any of them by line; each scheme's Validate refuses
// the keys it does not use. Settings names environment variables and never
// holds a secret.
type Settings struct {
	// Type names the scheme: a key of the table (see [Lookup]).
	Type string `yaml:"type"`
	// Name is the header (header) or query parameter (query) that
	// carries the key.
	Name string `yaml:"name"`
	// Env is the variable holding the key (bearer, header, query, basic)
	// or the whole service-account JSON (google_service_account).
	Env string `yaml:"env"`
	// UsernameEnv holds the Basic-auth user name (basic only).
	UsernameEnv string `yaml:"username_env"`
	// KeyAs says which half of Basic auth carries the key: "password"
	// (the default) or "username".
	KeyAs string `yaml:"key_as"`
	// TokenURL is an OAuth 2.0 token endpoint: https, or http to a
	// loopback host.
	TokenURL string `yaml:"token_url"`
	// ClientIDEnv holds an OAuth 2.0 client ID (not a secret).
	ClientIDEnv string `yaml:"client_id_env"`
	// ClientSecretEnv holds an OAuth 2.0 client secret.
	ClientSecretEnv string `yaml:"client_secret_env"`
	// RefreshTokenEnv holds an OAuth 2.0 refresh token
	// (oauth2_refresh_token).
	RefreshTokenEnv string `yaml:"refresh_token_env"`
	// Scopes are OAuth scopes requested from the token endpoint, unrelated
	// to the tool scopes of config.Tool.Scope.
	Scopes []string `yaml:"scopes"`
	// Region is the AWS region a request is signed for (aws_sigv4).
	Region string `yaml:"region"`
	// Service is the AWS signing name, such as execute-api (aws_sigv4).
	Service string `yaml:"service"`
	// AccessKeyIDEnv, SecretAccessKeyEnv and SessionTokenEnv name the AWS
	// variables (aws_sigv4); empty means AWS_ACCESS_KEY_ID,
	// AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
	AccessKeyIDEnv     string `yaml:"access_key_id_env"`
	SecretAccessKeyEnv string `yaml:"secret_access_key_env"`
	SessionTokenEnv    string `yaml:"session_token_env"`
}

// Scheme is one way of attaching a credential to a request. Each lives in
// one file of this package and has one entry in the table (table.go);
// config validates through it, credentials loads and attaches through it,
// and nothing else switches on a scheme's name. Its methods are called
// with Settings whose Type names it.
type Scheme interface {
	// Validate checks s and fills its defaults (the AWS variable names,
	// KeyAs "password"). It returns the YAML key at fault ("name",
	// "env", ...) and a sentence that says what to write; never a value.
	Validate(s *Settings) (field string, err error)
	// Vars lists the environment variables the part reads, in the order
	// problems are reported. Call it after Validate.
	Vars(s *Settings) []Var
	// Carriers says where the credential travels on the wire. Every
	// request has these headers and query parameters deleted before any
	// part attaches its own, whatever the origin, and the model may not
	// set them.
	Carriers(s *Settings) Carriers
	// Describe returns the scheme as an operator writes it ("bearer",
	// "header:X-API-Key", "aws_sigv4:execute-api/us-east-1"). It is shown
	// to the model, so it never names a value.
	Describe(s *Settings) string
	// SendsTo returns the URL, other than the service's base URL, that a
	// secret of the part is sent to (an OAuth token endpoint), or "". A
	// keychain secret bound to one origin is refused for a part that
	// would send it elsewhere.
	SendsTo(s *Settings) string
	// Prepare checks the loaded values (a PEM that parses, a user name
	// without ':') and returns the part ready to attach. It runs at
	// start-up, after every variable of Vars was read: once when the
	// credentials load, and again for each Transport built on them, with
	// that Transport's Base; so it does no I/O, and each Part it returns
	// keeps its own state (a token cache, a rotated refresh token). Its
	// error and warnings name variables and the fix, never a value.
	Prepare(s *Settings, v Values, rt Runtime) (Part, []string, error)
}

// Part is one loaded part of a service's auth.
type Part interface {
	// Derived returns values, beyond the secret variables themselves,
	// that the Redactor must know from start-up because the wire carries
	// them: "user:key" under Basic's base64, a PEM key's base64 body.
	Derived() []Value
	// Attach adds the credential to out, a clone the Transport owns,
	// after the Transport has deleted every service's Carriers from it.
	// It is called on every request and every redirect hop. An error
	// (a token endpoint that refused) stops the request; its text is
	// shown to the model, so it names the service and the fix, never a
	// value, a response body or a URL's query.
	Attach(out *http.Request) error
}

// Signer is implemented by a Part that signs the request (aws_sigv4). The
// Transport attaches signing parts after every other part and header, so
// that the signature covers what is sent.
type Signer interface {
	Part
	// Signs reports true; it only marks the type.
	Signs() bool
}

// Signs reports whether s's parts are [Signer]s. config requires such a
// part to be the last of a service's auth before anything is loaded, so a
// signing Scheme implements `Signs() bool` as its Part does.
func Signs(s Scheme) bool {
	sg, ok := s.(interface{ Signs() bool })
	return ok && sg.Signs()
}

// Var is one environment variable a part reads.
type Var struct {
	// Name is the variable's name.
	Name string
	// Secret is true for a key, a token or a private key: it may come
	// from NAME_FILE or a keychain: reference, it is registered with the
	// Redactor and scrubbed from the process environment. False for a
	// client ID or a user name, which are read plainly.
	Secret bool
	// Optional is true when an unset variable is not an error (the AWS
	// session token, a Basic user name).
	Optional bool
	// Multiline is true for a PEM block or a JSON document: newlines are
	// allowed, and the value is not refused as a control character.
	Multiline bool
	// Document is true for a secret that is a document holding key
	// material among text that is not secret: a service-account JSON key
	// (a private key beside URLs, an email and JSON punctuation). It is
	// read, bound and scrubbed as a secret, but the Redactor learns only
	// the Part's Derived values, not the document: as a secret, any 8
	// bytes of it ("https://", `", "`) would be redacted out of every
	// response as a piece of a key.
	Document bool
	// Role says what the value is, completing "set it to the ...": "key",
	// "OAuth client ID", "AWS secret access key".
	Role string
}

// Value is a named value the Redactor must know. Name is the variable (or
// token) it belongs to, as redaction markers show it.
type Value struct {
	Name  string
	Value string
}

// Values gives Prepare the variables of Vars. ok is false for an optional
// variable that was not set.
type Values interface {
	Get(name string) (value string, ok bool)
}

// Carriers are the header and query-parameter names a credential travels
// in.
type Carriers struct {
	Headers []string
	Params  []string
}

// Runtime is what a Part may use while running. Everything in it is
// keyveil's own; none of it carries a key.
type Runtime struct {
	// Service is the service's name, for messages and token names.
	Service string
	// Timeout is the service's request timeout.
	Timeout time.Duration
	// Base sends requests a part makes itself (to a token endpoint), with
	// no credential attached by anyone else. It follows no redirects.
	Base http.RoundTripper
	// Learn registers values that arrived while running (access and
	// refresh tokens) with the Redactor before any request carries them.
	// Never nil.
	Learn func(vs ...Value)
	// Forget drops values from the Redactor that can no longer appear
	// (long-expired tokens). Never nil.
	Forget func(vs ...Value)
	// Now is the clock; nil means time.Now. Tests pass a fake one.
	Now func() time.Time
}

// Lookup returns the scheme registered under name (lower case), and
// whether there is one.
func Lookup(name string) (Scheme, bool) {
	s, ok := table[name]
	return s, ok
}

// Names returns the registered scheme names, sorted, for messages such as
// "use bearer, header, ...".
func Names() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// RegisterForTest adds s to the table under name until the test ends, for
// tests of rules that no registered scheme exercises yet (a second
// Signer). The table is otherwise fixed: tests that call it must not run
// in parallel with others that look schemes up.
func RegisterForTest(t interface{ Cleanup(func()) }, name string, s Scheme) {
	old, had := table[name]
	table[name] = s
	t.Cleanup(func() {
		if had {
			table[name] = old
		} else {
			delete(table, name)
		}
	})
}
