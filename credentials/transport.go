package credentials

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/credentials/scheme"
)

// maxRedirects is how many same-origin redirects [Transport.Client]
// follows, as many as net/http's default policy.
const maxRedirects = 10

// RedirectHeader is set on a 3xx response whose redirect keyveil did not
// follow, so a tool can tell the model why it got a redirect back. Its
// value is one of the Redirect* reasons below and nothing else: the same
// header sent by the API is deleted from every response.
const RedirectHeader = "X-Keyveil-Redirect-Not-Followed"

// Why a redirect was not followed, as [RedirectHeader] says it.
const (
	// RedirectCrossOrigin: the Location is another origin, where the
	// service's key does not go.
	RedirectCrossOrigin = "cross-origin"
	// RedirectBadLocation: the Location does not parse.
	RedirectBadLocation = "bad-location"
	// RedirectOutsideBase: the Location is on the service's origin but
	// not below its base URL's path (perhaps another service's, perhaps
	// an admin route the base path was chosen to keep the model from).
	RedirectOutsideBase = "outside-base-path"
	// RedirectNotAllowed: no allow rule of the service allows the next
	// hop's method and path.
	RedirectNotAllowed = "not-allowed"
	// RedirectReadOnly: keyveil is read-only and the next hop's method is
	// not GET or HEAD.
	RedirectReadOnly = "read-only"
)

// errRefused marks a request the Transport would not send.
var errRefused = errors.New("keyveil refused the request")

// TransportOptions configures a [Transport]. A nil *TransportOptions means
// all defaults.
type TransportOptions struct {
	// Base sends each request once its credential is attached. nil: a
	// clone of http.DefaultTransport, which keeps its Proxy setting
	// (http.ProxyFromEnvironment), so HTTPS_PROXY and NO_PROXY work behind
	// a corporate proxy; an https request reaches the proxy inside a
	// CONNECT tunnel, so the proxy sees no key. Loopback hosts are never
	// proxied.
	//
	// A service with a tls block (config.TLS) is sent through a clone of
	// Base with the block's TLS settings, when Base is an
	// *http.Transport; its own RootCAs are kept when the block has no
	// ca_file. Any other Base (a recorder in a test, a wrapper) cannot
	// take TLS settings and is used as it is for every service, without
	// the tls block: no client certificate, Base's own roots.
	Base http.RoundTripper
	// ReadOnly makes the client of [Transport.Client] refuse a redirect
	// whose next hop is not GET or HEAD, as --read-only refuses such a
	// call; false: the allow rules decide.
	ReadOnly bool
	// Now is the clock the parts read (when an OAuth token expires); nil:
	// time.Now. Tests pass a fake one.
	Now func() time.Time
}

// Transport is the http.RoundTripper that puts keys on the wire. For each
// request it:
//
//   - refuses, before any DNS lookup or connection, a URL whose origin
//     (scheme, host and port, default ports filled in, host compared
//     case-insensitively) is not some configured service's, and any scheme
//     but https, except http to a loopback host (config.IsLoopback);
//   - sends a clone, never changing the caller's request;
//   - deletes from the clone every credential any service uses — the
//     Authorization, Proxy-Authorization and Cookie headers, every
//     header and query parameter any part of any service's auth travels
//     in (scheme.Carriers) — and the Referer header, which net/http's
//     client adds on redirects, carrying the previous URL with its query;
//   - attaches every part of the auth of this origin's service, in the
//     order the service lists them, signing parts last, and no other;
//   - sends it through the service's own clone of the base transport when
//     the service has a tls block, so its client certificate is presented
//     on its connections only (tls.go).
//
// When several services share an origin, the request path picks the one
// whose base URL path is the longest prefix of it; a path under none of
// them gets no credential. Two such services with the same base URL are
// refused: the request does not say which key to send.
//
// Redirects: a 3xx response whose Location is another origin is handed
// back to the caller, never followed with a key. Its Location is rewritten
// to scheme://host/path (query, fragment and user info dropped, since they
// may carry tokens) and [RedirectHeader] is set. This happens in RoundTrip,
// so it holds for any http.Client. The client from [Transport.Client]
// stops there and returns the 3xx; it follows same-origin redirects, each
// hop passing through RoundTrip again, so the key is stripped and attached
// anew. A client with net/http's default policy would follow the
// cross-origin redirect, but that hop passes RoundTrip too: refused when
// its origin is no service's, sent with only that service's own key
// otherwise.
//
// Errors from RoundTrip never contain a URL's query, user info or a key.
// (http.Client wraps them in a *url.Error whose text quotes the caller's own
// URL, query included; show the wrapped Err instead.) A Transport is
// immutable and safe for concurrent use.
type Transport struct {
	base     http.RoundTripper
	readOnly bool
	origins  map[string][]*route
	headers  []string // credential headers of every service, plus Referer
	params   []string // query-auth parameters of every service
	red      *Redactor
}

// route is one service as the Transport sees it.
type route struct {
	service string
	prefix  string // base URL path, cleaned, without trailing "/"; "" for "/"
	rules   []config.Rule
	parts   []scheme.Part     // in attach order: signing parts last
	secrets []Secret          // every value the parts send, for scrub
	missing bool              // the service needs a key the Set does not hold
	tls     *clientTLS        // the service's tls block; nil: none (see tls.go)
	base    http.RoundTripper // the base with the tls block's settings; nil: Transport.base
}

// NewTransport returns a Transport for the services of cfg with the keys in
// set. A service whose key set does not hold has its requests refused
// rather than sent bare; a nil cfg refuses every request. opts may be nil.
func NewTransport(set *Set, cfg *config.Config, opts *TransportOptions) *Transport {
	var o TransportOptions
	if opts != nil {
		o = *opts
	}
	t := &Transport{
		base:     o.Base,
		readOnly: o.ReadOnly,
		origins:  map[string][]*route{},
		headers:  []string{"Authorization", "Proxy-Authorization", "Cookie", "Referer"},
	}
	if t.base == nil {
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			t.base = dt.Clone()
		} else {
			t.base = http.DefaultTransport
		}
	}
	if set != nil {
		t.red = set.Redactor()
	}
	if cfg == nil {
		return t
	}
	for _, svc := range cfg.Services {
		u, err := url.Parse(svc.BaseURL)
		if err != nil || u.Host == "" {
			continue // config validated it; unreachable
		}
		r := &route{service: svc.Name, prefix: cleanPath(u.Path), rules: svc.Rules()}
		if len(r.rules) == 0 {
			// A service built without config's validation: no rules
			// means config.DefaultAllow, as in the services file.
			def, _ := config.ParseRule(config.DefaultAllow)
			r.rules = []config.Rule{def}
		}
		r.parts, r.missing = set.prepare(svc, t.base, o.Now)
		if set != nil {
			r.secrets = set.own[svc.Name]
		}
		if set != nil {
			r.tls = set.tls[svc.Name]
			r.base = r.tls.transportFor(t.base)
		}
		org := origin(u)
		t.origins[org] = append(t.origins[org], r)
		for _, h := range svc.Auth.Headers() {
			t.headers = appendFold(t.headers, h)
		}
		for _, p := range svc.Auth.Params() {
			t.params = appendFold(t.params, p)
		}
	}
	return t
}

// prepare returns the parts of svc's auth ready to attach through base,
// signing parts last, and whether the service is missing a part the Set
// does not hold (its requests are then refused, never sent bare). Each
// Transport prepares its own parts, so each has its own token caches.
func (s *Set) prepare(svc config.Service, base http.RoundTripper, now func() time.Time) ([]scheme.Part, bool) {
	if s == nil || len(s.parts[svc.Name]) != len(svc.Auth) {
		return nil, !svc.Auth.None()
	}
	var parts, signers []scheme.Part
	for _, lp := range s.parts[svc.Name] {
		p, _, err := lp.scheme.Prepare(&lp.auth, lp.values, s.runtime(svc, base, now))
		if err != nil {
			return nil, true // Load prepared the same values without error
		}
		if sg, ok := p.(scheme.Signer); ok && sg.Signs() {
			signers = append(signers, p)
			continue
		}
		parts = append(parts, p)
	}
	return append(parts, signers...), false
}

func appendFold(list []string, s string) []string {
	if containsFold(list, s) {
		return list
	}
	return append(list, s)
}

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// origin returns u's scheme://host:port, lower-cased, default port filled
// in, so that https://H and https://h:443 are one origin and
// https://h:8443 another.
func origin(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	return scheme + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// cleanPath returns p cleaned, without a trailing "/", and "" for the root,
// so that prefixes compare by whole segments.
func cleanPath(p string) string {
	p = path.Clean("/" + p)
	if p == "/" {
		return ""
	}
	return p
}

// safeURL returns scheme://host/path of u: what errors and rewritten
// Location headers may show. The query, fragment and user info are left
// out because they may carry tokens.
func safeURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	s := &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}
	return s.String()
}

// refuse closes the request body, which a RoundTripper must do on every
// path, and returns an errRefused error saying why.
func refuse(req *http.Request, format string, args ...any) error {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return fmt.Errorf("%w: %s %s: %s", errRefused, req.Method, safeURL(req.URL), fmt.Sprintf(format, args...))
}

// pick returns the route for req, or an error that says why it is refused.
func (t *Transport) pick(req *http.Request) (*route, error) {
	u := req.URL
	if u == nil {
		return nil, refuse(req, "no URL")
	}
	host := u.Hostname()
	if host == "" || u.Opaque != "" {
		return nil, refuse(req, "the URL has no host; use an absolute https URL")
	}
	switch strings.ToLower(u.Scheme) {
	case "https":
	case "http":
		if !config.IsLoopback(host) {
			return nil, refuse(req, "plain http is allowed only to a loopback host; use https")
		}
	default:
		return nil, refuse(req, "scheme %q is not allowed; use https", u.Scheme)
	}
	o := origin(u)
	routes := t.origins[o]
	if len(routes) == 0 {
		return nil, refuse(req, "%s is not the origin of any configured service", o)
	}
	if req.Host != "" && origin(&url.URL{Scheme: u.Scheme, Host: req.Host}) != o {
		// The connection would go to the service, but the Host header
		// would route it to another virtual host.
		return nil, refuse(req, "the Host header names another host than the URL")
	}
	if len(routes) == 1 {
		return routes[0], nil
	}
	p := cleanPath(u.Path)
	var best *route
	tie := false
	for _, r := range routes {
		if r.prefix != "" && p != r.prefix && !strings.HasPrefix(p, r.prefix+"/") {
			continue
		}
		switch {
		case best == nil || len(r.prefix) > len(best.prefix):
			best, tie = r, false
		case len(r.prefix) == len(best.prefix):
			tie = true
		}
	}
	if tie {
		return nil, refuse(req, "several services share this base URL, so keyveil cannot tell which key to send; give each its own base URL")
	}
	if best == nil {
		return &route{}, nil // the origin is configured, the path is no service's: send no key
	}
	return best, nil
}

// RoundTrip sends req to its service with that service's credential, and
// no other credential to any origin. It follows the http.RoundTripper
// contract: req is not modified, and its body is closed on every path.
// The Response's Request is req, not the clone that carried the key.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	r, err := t.pick(req)
	if err != nil {
		return nil, err
	}
	if r.missing {
		return nil, refuse(req, "no key was loaded for service %q", r.service)
	}
	out := req.Clone(req.Context())
	// http.Client turns user info into an Authorization header, which
	// strip drops; clearing it keeps any base RoundTripper from doing the
	// same, and it out of error text.
	out.URL.User = nil
	out.Host = "" // pick checked it names this origin
	t.strip(out)
	for _, p := range r.parts {
		if err := p.Attach(out); err != nil {
			if req.Body != nil {
				_ = req.Body.Close()
			}
			return nil, err // a scheme's public error: no secret, no body
		}
	}
	base := t.base
	if r.base != nil {
		base = r.base
	}
	resp, err := base.RoundTrip(out) // the base closes the body
	if err != nil {
		if msg := explainTLS(err, r.service, r.tls); msg != "" && r.service != "" {
			return nil, &handshakeError{request: req.Method + " " + safeURL(out.URL), msg: msg, err: err}
		}
		return nil, &sendError{msg: t.scrub(err.Error(), out, req, r.secrets), err: err}
	}
	// Only keyveil says why it did not follow a redirect: an API could
	// otherwise put any text, a piece of the key it saw among it, where
	// tools show keyveil's reason.
	resp.Header.Del(RedirectHeader)
	t.checkLocation(resp, out.URL)
	resp.Request = req
	return resp, nil
}

// strip deletes every credential of every service from out, whatever the
// case of its header or parameter name: net/http sends a non-canonical
// header key as written, so Header.Del alone would miss one.
func (t *Transport) strip(out *http.Request) {
	for _, h := range []http.Header{out.Header, out.Trailer} {
		for k := range h {
			if containsFold(t.headers, k) {
				delete(h, k)
			}
		}
	}
	out.URL.RawQuery = dropParams(out.URL.RawQuery, t.params)
}

// dropParams removes the named parameters (compared case-insensitively)
// from a raw query, leaving the rest as written.
func dropParams(raw string, names []string) string {
	if raw == "" || len(names) == 0 {
		return raw
	}
	parts := strings.Split(raw, "&")
	kept := parts[:0]
	for _, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil {
			k = uk
		}
		if !containsFold(names, k) {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "&")
}

// checkLocation makes a redirect response safe to hand back. A Location on
// another origin (or one that does not parse) is not going to be followed
// with a key; it is rewritten to scheme://host/path and marked with
// [RedirectHeader]. A same-origin Location loses any credential query
// parameter the server echoed back into it, so the key cannot reach the
// client's next request URL (and from there its errors); RoundTrip
// attaches the key again on the next hop.
func (t *Transport) checkLocation(resp *http.Response, from *url.URL) {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return
	}
	loc := resp.Header.Get("Location")
	if loc == "" {
		return
	}
	to, err := from.Parse(loc)
	if err != nil {
		resp.Header.Del("Location")
		resp.Header.Set(RedirectHeader, RedirectBadLocation)
		return
	}
	if origin(to) != origin(from) {
		resp.Header.Set("Location", safeURL(to))
		resp.Header.Set(RedirectHeader, RedirectCrossOrigin)
		return
	}
	if q := dropParams(to.RawQuery, t.params); q != to.RawQuery {
		to.RawQuery = q
		resp.Header.Set("Location", to.String())
	}
}

// sendError is an error from the base RoundTripper, with text that names
// the request by method and scheme://host/path and has any key replaced by
// its redaction marker. Unwrap returns the cause for errors.Is (a context
// deadline, say); print the sendError, not the cause.
type sendError struct {
	msg string
	err error
}

func (e *sendError) Error() string { return e.msg }
func (e *sendError) Unwrap() error { return e.err }

// Timeout reports whether the cause was a timeout, so that url.Error's
// Timeout method sees through the wrapper.
func (e *sendError) Timeout() bool {
	var te interface{ Timeout() bool }
	return errors.As(e.err, &te) && te.Timeout()
}

// scrub builds a sendError's text: the cause's text with the URLs of out
// and req (which may carry a query-parameter key) replaced by their safe
// form, each value the route's parts send (in the forms it was sent in)
// by its marker, and then whatever else the Redactor knows (an access
// token that arrived while running) by its own.
func (t *Transport) scrub(cause string, out, req *http.Request, secrets []Secret) string {
	safe := safeURL(out.URL)
	pairs := []string{out.URL.String(), safe, req.URL.String(), safe}
	if out.URL.RawQuery != "" {
		pairs = append(pairs, out.URL.RawQuery, "")
	}
	for _, key := range secrets {
		if v := key.Reveal(); v != "" {
			pairs = append(pairs, v, key.marker(), url.QueryEscape(v), key.marker())
		}
	}
	msg := req.Method + " " + safe + ": " + strings.NewReplacer(pairs...).Replace(cause)
	if t.red != nil {
		msg = t.red.RedactString(msg)
	}
	return msg
}

// CloseIdleConnections closes the base transport's idle connections, so
// that http.Client.CloseIdleConnections reaches them.
func (t *Transport) CloseIdleConnections() {
	bases := []http.RoundTripper{t.base}
	for _, routes := range t.origins {
		for _, r := range routes {
			if r.base != nil {
				bases = append(bases, r.base)
			}
		}
	}
	for _, b := range bases {
		if c, ok := b.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// Client returns an http.Client that sends through t and follows a
// redirect only when its next hop is one the model could have asked for
// itself: on the same origin (see [Transport]), below the base URL path of
// the service the first request went to, with a method and path one of
// that service's allow rules allows (HEAD wherever GET is), GET or HEAD
// when [TransportOptions.ReadOnly], and at most 10 hops. Any other
// redirect is handed back like a cross-origin one: the 3xx, its Location
// cut to scheme://host/path and [RedirectHeader] saying why, and no
// request goes to where it pointed. Without this an API (or whoever
// controls one of its routes) could send the key to a path or method the
// operator never allowed. It has no Timeout: each call sets a deadline on
// its request's context.
func (t *Transport) Client() *http.Client {
	return &http.Client{Transport: t, CheckRedirect: t.checkRedirect}
}

func (t *Transport) checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	if origin(req.URL) != origin(via[0].URL) {
		return http.ErrUseLastResponse // RoundTrip has marked it
	}
	if why := t.hopRefusal(via[0], req); why != "" {
		if resp := req.Response; resp != nil {
			resp.Header.Set("Location", safeURL(req.URL))
			resp.Header.Set(RedirectHeader, why)
		}
		return http.ErrUseLastResponse
	}
	return nil
}

// hopRefusal says why the same-origin redirect hop next, of a call that
// began with first, may not be sent (a Redirect* reason), or "" when it
// may.
func (t *Transport) hopRefusal(first, next *http.Request) string {
	r, err := t.pick(first)
	if err != nil || r.service == "" {
		// RoundTrip refused first, or it went to no service's path and
		// carried no key: nothing here to confine.
		return ""
	}
	p := next.URL.EscapedPath()
	if r.prefix != "" && p != r.prefix && !strings.HasPrefix(p, r.prefix+"/") {
		return RedirectOutsideBase
	}
	rel := strings.TrimPrefix(p, r.prefix)
	if rel == "" {
		rel = "/"
	}
	if leavesBase(rel) {
		return RedirectOutsideBase
	}
	method := next.Method
	if t.readOnly && method != http.MethodGet && method != http.MethodHead {
		return RedirectReadOnly
	}
	for _, rule := range r.rules {
		if rule.Matches(method, rel) || method == http.MethodHead && rule.Matches(http.MethodGet, rel) {
			return ""
		}
	}
	return RedirectNotAllowed
}

// leavesBase reports whether rel, an escaped path, holds a "." or ".."
// segment (between "/" or "\", after any number of percent-decodings, or
// with a ";parameter" suffix), which a server or proxy could resolve to a
// path above the base. net/http has removed the plain ones already.
func leavesBase(rel string) bool {
	cur := rel
	for range 8 {
		for _, seg := range strings.FieldsFunc(cur, func(c rune) bool { return c == '/' || c == '\\' }) {
			if i := strings.IndexByte(seg, ';'); i >= 0 {
				seg = seg[:i]
			}
			if seg == "." || seg == ".." {
				return true
			}
		}
		next, err := url.PathUnescape(cur)
		if err != nil || next == cur {
			return false
		}
		cur = next
	}
	return true
}
