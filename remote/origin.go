package remote

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// originPolicy is the parsed Origin allowlist. Browsers attach Origin to
// cross-origin requests and cannot forge it, so checking it stops a page
// the user happens to visit — including one that rebinds its own DNS name to
// 127.0.0.1 — from driving the server with a key the browser holds.
type originPolicy struct {
	exact   map[string]bool // "https://app.example.com:8443"
	anyPort map[string]bool // "http://localhost", from "http://localhost:*"
}

func newOriginPolicy(allowed []string) (*originPolicy, error) {
	p := &originPolicy{exact: map[string]bool{}, anyPort: map[string]bool{}}
	for _, a := range allowed {
		a = strings.ToLower(strings.TrimSpace(a))
		if base, ok := strings.CutSuffix(a, ":*"); ok {
			if _, err := parseOrigin(base); err != nil {
				return nil, fmt.Errorf("allowed origin %q: %w", a, err)
			}
			p.anyPort[base] = true
			continue
		}
		o, err := parseOrigin(a)
		if err != nil {
			return nil, fmt.Errorf("allowed origin %q: %w", a, err)
		}
		p.exact[o] = true
	}
	return p, nil
}

// parseOrigin checks that s is scheme://host[:port] and returns it with the
// default port dropped, the form browsers send.
func parseOrigin(s string) (string, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("want scheme://host or scheme://host:port, like https://app.example.com")
	}
	host := u.Host
	if port := u.Port(); (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		host = strings.TrimSuffix(host, ":"+port)
	}
	return u.Scheme + "://" + host, nil
}

// allowed reports whether a request's Origin header value is on the list.
// It runs on every browser request, so it splits the value by hand rather
// than with url.Parse; anything not shaped like scheme://host[:port] is
// refused.
func (p *originPolicy) allowed(origin string) bool {
	o := strings.ToLower(origin)
	if p.exact[o] {
		return true
	}
	scheme, hostport, ok := strings.Cut(o, "://")
	if !ok || hostport == "" || strings.ContainsAny(hostport, "/?#@ ") {
		return false // "null", "file://", garbage
	}
	host, port := hostport, ""
	if i := strings.LastIndexByte(hostport, ':'); i >= 0 && !strings.Contains(hostport[i:], "]") {
		host, port = hostport[:i], hostport[i+1:]
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return false
		}
	}
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		if p.exact[scheme+"://"+host] {
			return true
		}
	}
	return p.anyPort[scheme+"://"+host]
}

// corsHeaders lets an allowed browser page read the responses it needs to:
// the session id, the auth challenge and the rate-limit delay.
// The keys are written in canonical form and set directly, skipping
// Header.Set's per-call canonicalisation on every browser request.
func corsHeaders(h http.Header, origin string) {
	h["Access-Control-Allow-Origin"] = []string{origin}
	h["Vary"] = append(h["Vary"], "Origin")
	h["Access-Control-Expose-Headers"] = []string{"Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate, Retry-After"}
}

// checkOrigin answers every request whose Origin is not allowed with 403,
// and a CORS preflight from an allowed one with 204. It runs before
// authentication: a preflight carries no key, and a refused origin should
// not learn whether its key was good.
func (h *handler) checkOrigin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		if !h.origins.allowed(origin) {
			noteOutcome(r, "origin", nil)
			writeError(w, http.StatusForbidden, codeForbidden, "origin not allowed; add it to --allowed-origins if this page should reach keyveil")
			return
		}
		corsHeaders(w.Header(), origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE")
			if hdr := r.Header.Get("Access-Control-Request-Headers"); hdr != "" {
				w.Header().Set("Access-Control-Allow-Headers", hdr)
			}
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// checkHost refuses a request that reached a loopback listener under a
// name that is not loopback: the signature of DNS rebinding, where a
// browser believes it is talking to evil.example while the bytes land here.
// The go-sdk handler makes the same check; doing it here too covers
// /healthz and lets AllowedHosts admit a reverse proxy's public name.
func (h *handler) checkHost(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if local, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok && local != nil {
			if local.IP.IsLoopback() && !isLoopback(hostOnly(r.Host)) && !h.hostAllowed(r.Host) {
				noteOutcome(r, "host", nil)
				writeError(w, http.StatusForbidden, codeForbidden, "Host header not allowed on a loopback listener; add it to --allowed-hosts if a proxy forwards it")
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// hostAllowed reports whether host (with or without a port) is on
// AllowedHosts.
func (h *handler) hostAllowed(host string) bool {
	host = strings.ToLower(host)
	return h.hosts[host] || h.hosts[hostOnly(host)]
}

// hostOnly strips a port, and the brackets of an IPv6 literal.
func hostOnly(hostport string) string {
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		return host
	}
	return strings.Trim(hostport, "[]")
}

// isLoopback reports whether host names this machine only: "localhost" or a
// loopback IP. "" and 0.0.0.0 mean every interface and are not loopback.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && ip.IsLoopback()
}
