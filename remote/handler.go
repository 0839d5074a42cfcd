package remote

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyveil/keyveil/keys"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// newProtocol is the first MCP version whose requests each stand alone
// (SEP-2575); the go-sdk serves it only from a stateless handler.
const newProtocol = "2026-07-28"

// handler is the whole HTTP surface: checks, routes and the MCP handlers.
type handler struct {
	opts    *Options
	root    http.Handler
	origins *originPolicy
	hosts   map[string]bool
	limits  *limiters
	servers *serverCache

	// streams is cancelled when shutdown begins, ending the long-lived GET
	// event streams that would otherwise hold Shutdown until its deadline.
	streams     context.Context
	stopStreams context.CancelFunc
}

// newHandler builds the handler; opts must have its defaults filled in.
//
// Middleware, outermost (first to run) to innermost: audit, Host check,
// Origin check and CORS, body limit, then per route: authentication and
// rate limit, session binding, and the go-sdk handler.
func newHandler(opts *Options) (*handler, error) {
	origins, err := newOriginPolicy(opts.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	h := &handler{
		opts:    opts,
		origins: origins,
		hosts:   map[string]bool{},
		limits:  &limiters{def: opts.DefaultRate, shared: opts.State},
		servers: &serverCache{newServer: opts.NewServer},
	}
	for _, a := range opts.AllowedHosts {
		h.hosts[strings.ToLower(strings.TrimSpace(a))] = true
	}
	h.streams, h.stopStreams = context.WithCancel(context.Background())

	mux := http.NewServeMux()
	mcpHandler := h.mcpHandler()
	if opts.ProtectAll {
		mux.Handle("/mcp", mcpHandler)
	} else {
		mux.Handle("/mcp", h.authenticate(mcpHandler))
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "method not allowed; use GET /healthz"})
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	if opts.Metrics != nil {
		if opts.ProtectAll {
			mux.Handle("GET /metrics", opts.Metrics)
		} else {
			mux.Handle("GET /metrics", h.authenticate(opts.Metrics))
		}
	}
	mux.HandleFunc("/", notFound)
	var root http.Handler = mux
	if opts.ProtectAll {
		// The OAuth probes of a client without a key get their answer
		// without one: it tells them there is no OAuth, nothing else.
		authed := h.authenticate(mux)
		root = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isOAuthPath(r.URL.Path) {
				notFound(w, r)
				return
			}
			authed.ServeHTTP(w, r)
		})
	}
	root = h.checkHost(h.checkOrigin(h.limitBody(root)))
	if opts.Audit != nil {
		root = h.audit(root)
	}
	h.root = root
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.root.ServeHTTP(w, r) }

// mcpHandler routes each request to one of two go-sdk handlers by the
// protocol version it declares: clients of 2026-07-28 and later, whose
// requests stand alone, to a stateless handler; everyone else — the
// initialize handshake and the Mcp-Session-Id that follows — to a stateful
// one. Both build their sessions from the same per-scope servers.
func (h *handler) mcpHandler() http.Handler {
	getServer := func(r *http.Request) *mcp.Server {
		k := keyFrom(r.Context())
		if k == nil {
			return nil // the SDK answers 400; unreachable behind authenticate
		}
		return h.servers.get(k.Scopes)
	}
	base := mcp.StreamableHTTPOptions{
		Logger:              h.opts.Logger,
		SessionTimeout:      h.opts.SessionTimeout,
		MaxRequestBodyBytes: h.opts.MaxBodyBytes,
		// With AllowedHosts, checkHost admits names the SDK's own check
		// would refuse; without, both checks run.
		DisableLocalhostProtection: len(h.opts.AllowedHosts) > 0,
	}
	stateful := mcp.NewStreamableHTTPHandler(getServer, &base)
	statelessOpts := base
	statelessOpts.Stateless = true
	stateless := mcp.NewStreamableHTTPHandler(getServer, &statelessOpts)

	return bindSession(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isStream(r) {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			defer context.AfterFunc(h.streams, cancel)()
			r = r.WithContext(ctx)
		} else {
			// The server has no WriteTimeout (it would cut event streams),
			// so bound everything else here, and clear the deadline after:
			// the connection may carry a stream next.
			rc := http.NewResponseController(w)
			if rc.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout)) == nil {
				defer rc.SetWriteDeadline(time.Time{})
			}
		}
		if r.Header.Get("Mcp-Protocol-Version") >= newProtocol {
			stateless.ServeHTTP(w, r)
			return
		}
		stateful.ServeHTTP(w, r)
	}))
}

// isStream reports whether a request opens an event stream meant to stay
// open: a session's GET stream, or a 2026-07-28 subscriptions/listen POST.
// From 2026-07-28 on the go-sdk checks that Mcp-Method matches the body, so
// a request cannot claim to be a stream to escape the write deadline and
// then do otherwise; before that version the header means nothing.
func isStream(r *http.Request) bool {
	return r.Method == http.MethodGet ||
		(r.Header.Get("Mcp-Method") == "subscriptions/listen" && r.Header.Get("Mcp-Protocol-Version") >= newProtocol)
}

// limitBody answers an oversized request with 413 before reading it, and
// caps the read of a body whose length was not declared.
func (h *handler) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > h.opts.MaxBodyBytes {
			noteOutcome(r, "too_large", nil)
			writeError(w, http.StatusRequestEntityTooLarge, codeTooLarge, "request body too large")
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, h.opts.MaxBodyBytes)
		}
		next.ServeHTTP(w, r)
	})
}

// serverCache keeps one *mcp.Server per distinct scope set. A server is
// safe to share between sessions, and building one registers every tool,
// which is too slow to do per request: the SDK asks for the server on every
// request, not only when a session starts.
type serverCache struct {
	newServer func(scopes []string) *mcp.Server
	m         sync.Map // scopeKey -> *mcp.Server
	mu        sync.Mutex
}

func (c *serverCache) get(scopes []string) *mcp.Server {
	key := scopeKey(scopes)
	if v, ok := c.m.Load(key); ok {
		return v.(*mcp.Server)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if v, ok := c.m.Load(key); ok {
		return v.(*mcp.Server)
	}
	s := c.newServer(slices.Clone(scopes))
	c.m.Store(key, s)
	return s
}

// scopeKey names a scope set. Scopes are sorted and contain no spaces or
// commas (the registry checks), so a join is unique, and the nil set — no
// restriction of the key's own — gets a name no join can produce.
func scopeKey(scopes []string) string {
	if scopes == nil {
		return " deployment"
	}
	return strings.Join(scopes, ",")
}

// note is what the audit learns from inner middleware about one request.
type note struct {
	outcome string
	key     *keys.Key
}

type noteContextKey struct{}

// noteOutcome records why a request ended as it did, for the audit; it
// does nothing when there is no audit.
func noteOutcome(r *http.Request, outcome string, k *keys.Key) {
	if n, ok := r.Context().Value(noteContextKey{}).(*note); ok {
		n.outcome = outcome
		if k != nil {
			n.key = k
		}
	}
}

// audit records one AccessRecord per request to /mcp and per refusal.
func (h *handler) audit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		n := &note{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), noteContextKey{}, n)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		if r.URL.Path != "/mcp" && status < 400 {
			return
		}
		ar := AccessRecord{
			Time:     start,
			Outcome:  n.outcome,
			Method:   r.Method,
			Path:     auditPath(r.URL.Path),
			Status:   status,
			Remote:   r.RemoteAddr,
			Duration: time.Since(start),
		}
		if ar.Outcome == "" {
			ar.Outcome = "ok"
		}
		if n.key != nil {
			ar.KeyID = n.key.ID
		}
		h.opts.Audit(ar)
	})
}

// statusRecorder remembers the status written. It passes Flush and
// Unwrap through, which the SDK's event streams and write deadlines need.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// auditPath is the path an access record names: one of keyveil's own
// routes as is, anything else as "(other)". Any other path is text the
// client chose, and a misconfigured client may have put its key there
// (https://host/kv_…); remote keys are not known to the redactor, so such
// a path must not reach the audit at all.
func auditPath(p string) string {
	switch p {
	case "/mcp", "/healthz", "/metrics":
		return p
	}
	return "(other)"
}
