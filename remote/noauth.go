package remote

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Clients without a key. MCP clients that meet a 401 start OAuth
// discovery (MCP authorization spec): they look for resource_metadata in
// WWW-Authenticate, then probe /.well-known/oauth-protected-resource and
// /.well-known/oauth-authorization-server (and openid-configuration),
// then fall back to /authorize, /token and /register. A bare "404 page not
// found" at each step made Claude Code, the MCP Inspector and mcp-remote
// fail with errors about OAuth that told a person nothing.
//
// So keyveil answers every step in a form these clients show:
//
//   - the 401 carries WWW-Authenticate: Bearer error="invalid_token",
//     error_description="…" (RFC 6750 §3) and no resource_metadata: this
//     server publishes no protected-resource metadata, which the
//     authorization spec leaves optional (authorization itself is
//     optional in MCP);
//   - every path that is not /mcp, /healthz or /metrics gets a JSON body
//     in the OAuth error shape (RFC 6749 §5.2, RFC 7591 §3.2.2:
//     {"error", "error_description"}), with 404, so an OAuth client that
//     reaches it reports the description rather than "invalid OAuth error
//     response".
//
// The texts are fixed: nothing from the request is echoed.

// noOAuthDescription says what to do instead of OAuth.
const noOAuthDescription = "keyveil does not use OAuth: there is no authorization server or client registration here. " +
	"Send a keyveil API key with every request, as Authorization: Bearer KEY or X-API-Key: KEY " +
	"(the operator creates one with keyveil keys create)"

// isOAuthPath reports whether p is one an OAuth client probes: the
// well-known metadata documents and the default endpoints clients fall
// back to. They are answered without a key even with ProtectAll, since a
// client asks them precisely because it has none.
func isOAuthPath(p string) bool {
	if strings.HasPrefix(p, "/.well-known/") {
		return true
	}
	switch p {
	case "/register", "/authorize", "/token", "/oauth/register", "/oauth/authorize", "/oauth/token":
		return true
	}
	return false
}

// oauthError is an OAuth error response body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeJSON writes v as a JSON body with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// notFound answers every path keyveil does not serve.
func notFound(w http.ResponseWriter, r *http.Request) {
	noteOutcome(r, "not_found", nil)
	desc := "no such path; keyveil serves MCP at /mcp (and /healthz). " + noOAuthDescription
	if isOAuthPath(r.URL.Path) {
		desc = noOAuthDescription
	}
	writeJSON(w, http.StatusNotFound, oauthError{Error: "invalid_request", Description: desc})
}

// wwwAuthenticate is the challenge of a 401 whose body says message.
// RFC 6750 allows only %x20-21 / %x23-5B / %x5D-7E in error_description:
// the messages are fixed text, and anything else is dropped to be sure.
func wwwAuthenticate(message string) string {
	clean := strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return -1
		}
		return r
	}, message)
	return `Bearer error="invalid_token", error_description="` + clean + `"`
}
