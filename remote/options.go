package remote

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/keyveil/keyveil/keys"
	"github.com/keyveil/keyveil/state"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Defaults for the zero values of [Options].
const (
	DefaultAddr            = "127.0.0.1:8787"
	DefaultMaxBodyBytes    = 1 << 20
	DefaultReadTimeout     = 30 * time.Second
	DefaultWriteTimeout    = 2 * time.Minute
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultSessionTimeout  = 30 * time.Minute
	DefaultShutdownTimeout = 10 * time.Second
	flushInterval          = time.Minute
)

// DefaultAllowedOrigins are the browser origins allowed when
// [Options.AllowedOrigins] is nil: pages served from this machine, on any
// port. A request without an Origin header (every non-browser client) is
// not subject to the list.
var DefaultAllowedOrigins = []string{
	"http://localhost:*", "https://localhost:*",
	"http://127.0.0.1:*", "https://127.0.0.1:*",
	"http://[::1]:*", "https://[::1]:*",
}

// Options configures [ListenAndServe]. Keys and NewServer are required;
// every other zero value means the documented default.
type Options struct {
	// Addr is the host:port to listen on; "": DefaultAddr (loopback). A
	// non-loopback host (including "" and 0.0.0.0 before the colon) is
	// refused unless TLSCert and TLSKey are set or InsecurePublic is true.
	// Port 0 picks a free port; see OnListen.
	Addr string
	// Keys authenticates every request to /mcp (and every request, with
	// ProtectAll). Required.
	Keys *keys.Registry
	// NewServer returns the MCP server for a key's scopes: the tools it
	// lists are the ones those scopes allow. nil scopes: the key adds no
	// restriction of its own. It is called once per distinct scope set and
	// the result reused for every session with those scopes, so it must not
	// hold per-request state. Required.
	NewServer func(scopes []string) *mcp.Server
	// Logger receives start-up, warnings and refusals; nil: discard. It
	// never receives a key, only key ids.
	Logger *slog.Logger
	// Audit receives one record per request to /mcp and per refused
	// request anywhere; nil: none. It is called on the request's goroutine
	// when the response ends, so it must be safe for concurrent use and
	// quick.
	Audit func(AccessRecord)
	// TLSCert and TLSKey are PEM files; both or neither. Set, the server
	// speaks HTTPS (TLS 1.2 or later) and may listen on any address.
	TLSCert, TLSKey string
	// InsecurePublic allows a non-loopback Addr without TLS, logging a
	// warning: keys then cross the network in cleartext. For use behind a
	// TLS-terminating proxy on a private network only.
	InsecurePublic bool
	// AllowedOrigins are the browser origins allowed to call, as
	// scheme://host or scheme://host:port, with ":*" for any port; a
	// request with an Origin header not on the list gets 403 before its
	// key is looked at. nil: DefaultAllowedOrigins; empty non-nil: no
	// browser origin at all.
	AllowedOrigins []string
	// AllowedHosts are extra Host header values (host or host:port)
	// accepted when the connection arrives on a loopback address, such as
	// the public name a reverse proxy on the same machine forwards.
	// nil: only loopback names, which stops DNS-rebinding pages.
	AllowedHosts []string
	// ProtectAll requires a key on every route, /healthz included.
	// False: only /mcp needs a key.
	ProtectAll bool
	// DefaultRate limits keys that have no rate of their own; zero: such
	// keys are not limited.
	DefaultRate keys.Rate
	// State holds the per-key rate buckets when several replicas serve
	// the same keys (--state): a key's rate then holds for the fleet. A
	// request whose key has a rate is refused with 503 and Retry-After
	// while it is unreachable. nil: buckets in this process's memory.
	State *state.Redis
	// Metrics, when set, is served at /metrics to requests with a valid
	// key (whatever ProtectAll says): the numbers describe every client's
	// traffic, which is no business of an anonymous caller. nil: no
	// /metrics route (main may serve it on a loopback listener instead).
	Metrics http.Handler
	// MaxBodyBytes caps a request body; larger requests get 413. Zero:
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ReadTimeout bounds reading a whole request; zero: DefaultReadTimeout.
	ReadTimeout time.Duration
	// WriteTimeout bounds a POST's response (a tool call included); zero:
	// DefaultWriteTimeout. Event streams meant to stay open — a session's
	// GET stream, a 2026-07-28 subscriptions/listen — are exempt.
	WriteTimeout time.Duration
	// IdleTimeout closes idle keep-alive connections; zero:
	// DefaultIdleTimeout.
	IdleTimeout time.Duration
	// SessionTimeout closes an MCP session nobody has used for this long;
	// zero: DefaultSessionTimeout.
	SessionTimeout time.Duration
	// ShutdownTimeout is how long in-flight requests may finish once ctx is
	// cancelled; zero: DefaultShutdownTimeout.
	ShutdownTimeout time.Duration
	// Now is the clock for rate limits; nil: time.Now. Key expiry follows
	// the registry's own clock ([keys.Options.Now]).
	Now func() time.Time
	// OnListen, if set, is called with the bound address before serving
	// starts; main uses it to report the port when Addr ends in ":0".
	OnListen func(net.Addr)
}

// AccessRecord is what the audit learns about one request. It holds the
// key's id, never the key.
type AccessRecord struct {
	Time time.Time `json:"time"`
	// KeyID is the id of the key presented; empty when it was missing or
	// invalid.
	KeyID string `json:"key_id,omitempty"`
	// Outcome is "ok" or why the request was refused: "missing",
	// "invalid", "revoked", "expired", "rate_limited", "origin",
	// "host", "too_large", "state_unavailable" or "not_found".
	Outcome string `json:"outcome"`
	Method  string `json:"method"`
	// Path is "/mcp", "/healthz" or "(other)": never the text of an
	// unknown path, which a client could have put a key in.
	Path     string        `json:"path"`
	Status   int           `json:"status"`
	Remote   string        `json:"remote"`
	Duration time.Duration `json:"duration_ns"`
}

// withDefaults returns a copy of o with every zero value filled in.
func (o *Options) withDefaults() (*Options, error) {
	if o == nil {
		return nil, errors.New("remote: no options; Keys and NewServer are required")
	}
	c := *o
	if c.Keys == nil {
		return nil, errors.New("remote: no key registry")
	}
	if c.NewServer == nil {
		return nil, errors.New("remote: no NewServer")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return nil, errors.New("remote: --tls-cert and --tls-key go together; pass both or neither")
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.AllowedOrigins == nil {
		c.AllowedOrigins = DefaultAllowedOrigins
	}
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReadTimeout <= 0 {
		c.ReadTimeout = DefaultReadTimeout
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return &c, nil
}
