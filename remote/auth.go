package remote

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/keyveil/keyveil/keys"
	"github.com/modelcontextprotocol/go-sdk/auth"
)

// JSON-RPC error codes for refusals that happen before the MCP handler, in
// the range JSON-RPC leaves to implementations.
const (
	codeUnauthorized = -32001 // missing, invalid, revoked or expired key
	codeForbidden    = -32003 // Origin or Host not allowed
	codeRateLimited  = -32029 // per-key rate limit; see Retry-After
	codeTooLarge     = -32013 // request body over MaxBodyBytes
	codeUnavailable  = -32053 // shared state (Redis) unreachable; see Retry-After
)

// stateRetrySeconds is the Retry-After of a request refused because the
// shared state could not be reached: time for Redis to restart or fail
// over.
const stateRetrySeconds = 5

// rpcError is a JSON-RPC 2.0 error response with a null id: the request was
// refused before its body was read, so there is no id to echo.
type rpcError struct {
	JSONRPC string `json:"jsonrpc"`
	Error   struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	ID *int `json:"id"`
}

// writeError writes a JSON-RPC error body with an HTTP status. message is
// fixed text from this package, never anything from the request.
func writeError(w http.ResponseWriter, status, code int, message string) {
	var e rpcError
	e.JSONRPC = "2.0"
	e.Error.Code = code
	e.Error.Message = message
	b, _ := json.Marshal(e)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// errMalformed: the request carried something, but not one key in one of
// the two headers. It is answered like ErrInvalid, with a hint.
var errMalformed = errors.New("malformed key header")

// Messages of the 401 body. "invalid" covers malformed headers, unknown ids
// and wrong secrets alike, so the answer never says whether an id exists.
var refusals = map[error]struct{ outcome, message string }{
	keys.ErrMissing: {"missing", "missing API key; send it as Authorization: Bearer KEY or X-API-Key: KEY"},
	errMalformed:    {"invalid", "invalid API key; send one key, as Authorization: Bearer KEY or X-API-Key: KEY"},
	keys.ErrInvalid: {"invalid", "invalid API key"},
	keys.ErrRevoked: {"revoked", "API key revoked; ask the operator for a new one"},
	keys.ErrExpired: {"expired", "API key expired; ask the operator for a new one"},
}

const (
	headerAPIKey = "X-Api-Key" // canonical form of X-API-Key
	// placeholder replaces the key in the Authorization header the MCP
	// handler sees, so tools reading request headers find no key.
	placeholder = "Bearer keyveil-authenticated"
)

// credential extracts the presented key. Authorization must be
// "Bearer KEY" — unless X-API-Key is also present, in which case a
// non-Bearer Authorization (a proxy's Basic credentials) is ignored. Two
// different keys, or a header given twice, are malformed.
func credential(h http.Header) (string, error) {
	// Header keys of a server request are canonical already; indexing the
	// map directly skips re-canonicalising them on every request.
	authz, apiKey := h["Authorization"], h[headerAPIKey]
	if len(authz) > 1 || len(apiKey) > 1 {
		return "", errMalformed
	}
	var bearer string
	if len(authz) == 1 {
		scheme, token, _ := strings.Cut(strings.TrimSpace(authz[0]), " ")
		token = strings.TrimSpace(token)
		switch {
		case strings.EqualFold(scheme, "Bearer") && token != "" && !strings.ContainsAny(token, " \t"):
			bearer = token
		case len(apiKey) == 0:
			return "", errMalformed
		}
	}
	var header string
	if len(apiKey) == 1 {
		header = strings.TrimSpace(apiKey[0])
	}
	switch {
	case bearer != "" && header != "" && bearer != header:
		return "", errMalformed
	case bearer != "":
		return bearer, nil
	}
	return header, nil // "" when neither: missing
}

type keyContextKey struct{}

// keyFrom returns the key that authenticated the request, or nil.
func keyFrom(ctx context.Context) *keys.Key {
	k, _ := ctx.Value(keyContextKey{}).(*keys.Key)
	return k
}

// authenticate refuses a request without a good key (401) or over its
// key's rate (429), and otherwise passes it on with the key in its context
// and the key's headers replaced by a placeholder.
func (h *handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, err := credential(r.Header)
		var k *keys.Key
		if err == nil {
			k, err = h.opts.Keys.Authenticate(presented)
		}
		if err != nil {
			ref, ok := refusals[err]
			if !ok {
				ref = refusals[keys.ErrInvalid]
			}
			noteOutcome(r, ref.outcome, k)
			if k != nil {
				h.opts.Logger.Info("refused key", "key_id", k.ID, "reason", ref.outcome, "remote", r.RemoteAddr)
			} else {
				h.opts.Logger.Debug("refused request", "reason", ref.outcome, "remote", r.RemoteAddr)
			}
			w.Header().Set("WWW-Authenticate", wwwAuthenticate(ref.message))
			writeError(w, http.StatusUnauthorized, codeUnauthorized, ref.message)
			return
		}
		noteOutcome(r, "ok", k)
		ok, wait, err := h.limits.allow(r.Context(), k, h.opts.Now())
		if err != nil {
			noteOutcome(r, "state_unavailable", k)
			h.opts.Logger.Warn("shared state unreachable; request refused", "key_id", k.ID, "cause", err.Error())
			w.Header().Set("Retry-After", strconv.Itoa(stateRetrySeconds))
			writeError(w, http.StatusServiceUnavailable, codeUnavailable,
				"keyveil could not reach its shared state to check this key's rate limit; nothing was done. Retry after "+strconv.Itoa(stateRetrySeconds)+"s")
			return
		}
		if !ok {
			noteOutcome(r, "rate_limited", k)
			h.opts.Logger.Info("rate limited", "key_id", k.ID, "retry_after", wait)
			w.Header().Set("Retry-After", strconv.Itoa(wait))
			writeError(w, http.StatusTooManyRequests, codeRateLimited,
				"rate limit for this API key exceeded; retry after "+strconv.Itoa(wait)+"s")
			return
		}
		delete(r.Header, headerAPIKey)
		r.Header["Authorization"] = []string{placeholder}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), keyContextKey{}, k)))
	})
}

// bindSession hands the go-sdk handler the key as an [auth.TokenInfo], the
// one form it understands. The SDK ties each session to the UserID it was
// created with and refuses the session to any other, so a session id
// leaked to another key holder is useless to them. UserID includes the
// scopes, so a key whose scopes were narrowed cannot go on using a session
// built with its old, wider tool list. Tools find the key's id in
// TokenInfo.Extra["key_id"] for their audit lines.
func bindSession(next http.Handler) http.Handler {
	var infos tokenInfos
	verify := func(ctx context.Context, _ string, _ *http.Request) (*auth.TokenInfo, error) {
		k := keyFrom(ctx)
		if k == nil {
			return nil, auth.ErrInvalidToken // unreachable behind authenticate
		}
		return infos.get(k), nil
	}
	// Expiry is the registry's business (it has the injectable clock);
	// the SDK's own check would use the wall clock.
	return auth.RequireBearerToken(verify, &auth.RequireBearerTokenOptions{AllowMissingExpiration: true})(next)
}

// tokenInfos keeps one TokenInfo per *keys.Key, so that a request does not
// allocate one (it was a third of the middleware's cost). A registry reload
// makes new *keys.Key values; the cache is emptied when it outgrows any
// plausible registry, which drops the stale ones. A cached TokenInfo is
// shared by every request of its key and must be treated as read-only.
type tokenInfos struct {
	m sync.Map // *keys.Key -> *auth.TokenInfo
	n atomic.Int64
}

const maxTokenInfos = 4096

func (c *tokenInfos) get(k *keys.Key) *auth.TokenInfo {
	if v, ok := c.m.Load(k); ok {
		return v.(*auth.TokenInfo)
	}
	ti := &auth.TokenInfo{
		Scopes: k.Scopes,
		UserID: k.ID + " " + scopeKey(k.Scopes),
		Extra:  map[string]any{"key_id": k.ID, "key_name": k.Name},
	}
	if c.n.Add(1) > maxTokenInfos {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(k, ti)
	return ti
}
