package credentials

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/keyveil/keyveil/config"
)

const (
	keyA = "sk-test-LEAKCHECK-0123456789"
	keyB = "sk-test-LEAKCHECK-bbbbb-98765"
)

// seen is what a test server received.
type seen struct {
	Method string
	URI    string
	Header http.Header
}

// dump returns everything that arrived, for leak checks.
func (s seen) dump() string {
	var b strings.Builder
	b.WriteString(s.Method + " " + s.URI + "\n")
	_ = s.Header.Write(&b)
	return b.String()
}

// server is an httptest server that records each request and answers with
// next, or 200 when next is nil.
type server struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []seen
	next http.HandlerFunc
}

func newServer(t *testing.T, tls bool, next http.HandlerFunc) *server {
	t.Helper()
	s := &server{next: next}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.reqs = append(s.reqs, seen{r.Method, r.RequestURI, r.Header.Clone()})
		s.mu.Unlock()
		if s.next != nil {
			s.next(w, r)
			return
		}
		w.WriteHeader(http.StatusOK)
	})
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *server) received() []seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seen(nil), s.reqs...)
}

// baseFor returns a transport the test owns that trusts httptest's
// certificate (the same for every httptest TLS server) and uses no proxy.
func baseFor(t *testing.T, s *server) *http.Transport {
	t.Helper()
	tr := s.Client().Transport.(*http.Transport).Clone()
	tr.Proxy = nil
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// svc is one service for a test Transport.
type svc struct {
	name, baseURL string
	auth          config.Auth
	key, user     string
}

// newTestTransport builds a Transport without touching the process
// environment (the keys come from a dotenv map), so transport tests can
// run in parallel. A service whose key is missing is left out of the Set,
// so the Transport refuses its requests.
func newTestTransport(base http.RoundTripper, svcs ...svc) *Transport {
	cfg := &config.Config{}
	set := &Set{parts: map[string][]loadedPart{}, own: map[string][]Secret{}}
	for _, s := range svcs {
		one := &config.Config{Services: []config.Service{{Name: s.name, BaseURL: s.baseURL, Auth: config.AuthList{s.auth}}}}
		cfg.Services = append(cfg.Services, one.Services[0])
		vals := map[string]string{}
		if s.key != "" {
			vals[s.auth.Env] = s.key
		}
		if s.user != "" {
			vals[s.auth.UsernameEnv] = s.user
		}
		got, err := Load(one, &Env{dotenv: vals})
		if err != nil {
			continue
		}
		set.creds = append(set.creds, got.creds...)
		set.secrets = append(set.secrets, got.secrets...)
		maps.Copy(set.parts, got.parts)
		maps.Copy(set.own, got.own)
	}
	return NewTransport(set, cfg, &TransportOptions{Base: base})
}

// loadDotenv loads cfg's credentials from vars alone, for tests that run
// in parallel.
func loadDotenv(t *testing.T, cfg *config.Config, vars map[string]string) *Set {
	t.Helper()
	set, err := Load(cfg, &Env{dotenv: vars})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return set
}

func get(t *testing.T, c *http.Client, rawURL string, header http.Header) (*http.Response, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, rawURL, nil)
	if err != nil {
		t.Fatalf("NewRequest(%q): %v", rawURL, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	return resp, err
}

// recordingBase is a RoundTripper that only records whether it was called.
type recordingBase struct{ calls atomic.Int32 }

func (b *recordingBase) RoundTrip(req *http.Request) (*http.Response, error) {
	b.calls.Add(1)
	if req.Body != nil {
		req.Body.Close()
	}
	return nil, errors.New("recordingBase: no network in this test")
}

// countingBody counts Close calls.
type countingBody struct {
	io.Reader
	closes atomic.Int32
}

func (b *countingBody) Close() error { b.closes.Add(1); return nil }

func TestTransportAttachesKeyOnlyToItsOrigin(t *testing.T) {
	t.Parallel()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:"+keyA))
	tests := []struct {
		name  string
		auth  config.Auth
		user  string
		check func(s seen) bool // the key arrived where it belongs
	}{
		{"bearer", config.Auth{Type: "bearer", Env: "A_KEY"}, "", func(s seen) bool {
			return s.Header.Get("Authorization") == "Bearer "+keyA
		}},
		{"header", config.Auth{Type: "header", Name: "X-API-Key", Env: "A_KEY"}, "", func(s seen) bool {
			return s.Header.Get("X-API-Key") == keyA && s.Header.Get("Authorization") == ""
		}},
		{"query", config.Auth{Type: "query", Name: "api_key", Env: "A_KEY"}, "", func(s seen) bool {
			u, _ := url.Parse(s.URI)
			return cmp.Equal(u.Query()["api_key"], []string{keyA}) && u.Query().Get("page") == "2"
		}},
		{"basic", config.Auth{Type: "basic", Env: "A_KEY", UsernameEnv: "A_USER"}, "alice", func(s seen) bool {
			return s.Header.Get("Authorization") == basic
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newServer(t, true, nil)
			b := newServer(t, true, nil)
			tr := newTestTransport(baseFor(t, a),
				svc{name: "a", baseURL: a.URL, auth: tc.auth, key: keyA, user: tc.user},
				svc{name: "b", baseURL: b.URL, auth: config.Auth{Type: "header", Name: "X-Other-Key", Env: "B_KEY"}, key: keyB},
			)
			c := tr.Client()
			// The caller tries to send A's key to B itself, in every
			// place a credential travels: the fixed credential headers
			// and A's own header (in lower case, which net/http sends
			// as written, so Header.Del alone would miss it) or query
			// parameter (in two spellings).
			smuggle := http.Header{
				"Authorization":       {"Bearer " + keyA},
				"Cookie":              {"session=" + keyA},
				"Proxy-Authorization": {basic},
			}
			toB := b.URL + "/v1/items?page=2"
			switch tc.auth.Type {
			case "header":
				smuggle[strings.ToLower(tc.auth.Name)] = []string{keyA}
			case "query":
				toB += "&api_key=" + keyA + "&API_KEY=" + keyA
			}
			for _, target := range []string{a.URL + "/v1/items?page=2", toB} {
				if _, err := get(t, c, target, smuggle); err != nil {
					t.Fatalf("GET %s: %v", target, err)
				}
			}
			ga, gb := a.received(), b.received()
			if len(ga) != 1 || len(gb) != 1 {
				t.Fatalf("requests received: a=%d b=%d, want 1 each", len(ga), len(gb))
			}
			if !tc.check(ga[0]) {
				t.Errorf("service a received\n%s\nwant its %s key attached", ga[0].dump(), tc.name)
			}
			if d := ga[0].dump(); strings.Contains(d, keyB) {
				t.Errorf("service a received b's key:\n%s", d)
			}
			d := gb[0].dump()
			for _, leak := range []string{keyA, url.QueryEscape(keyA), base64.StdEncoding.EncodeToString([]byte("alice:" + keyA))} {
				if strings.Contains(d, leak) {
					t.Errorf("service b received a's key (%q):\n%s", leak, d)
				}
			}
			if gb[0].Header.Get("X-Other-Key") != keyB {
				t.Errorf("service b received\n%s\nwant its own key in X-Other-Key", d)
			}
			for _, h := range []string{"Authorization", "Cookie", "Proxy-Authorization", "X-Api-Key"} {
				if v := gb[0].Header.Values(h); len(v) > 0 {
					t.Errorf("service b received header %s: %q, want none", h, v)
				}
			}
		})
	}
}

func TestTransportSameHostOtherPortIsAnotherOrigin(t *testing.T) {
	t.Parallel()
	a := newServer(t, false, nil)
	b := newServer(t, false, nil) // also 127.0.0.1, another port
	ua, _ := url.Parse(a.URL)
	ub, _ := url.Parse(b.URL)
	if ua.Hostname() != ub.Hostname() || ua.Port() == ub.Port() {
		t.Fatalf("servers at %s and %s; want one host, two ports", a.URL, b.URL)
	}
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	tr := newTestTransport(base,
		svc{name: "a", baseURL: a.URL, auth: config.Auth{Type: "bearer", Env: "A_KEY"}, key: keyA},
		svc{name: "b", baseURL: b.URL, auth: config.Auth{Type: "none"}},
	)
	if _, err := get(t, tr.Client(), b.URL+"/x", http.Header{"Authorization": {"Bearer " + keyA}}); err != nil {
		t.Fatalf("GET b: %v", err)
	}
	gb := b.received()
	if len(gb) != 1 {
		t.Fatalf("b received %d requests, want 1", len(gb))
	}
	if d := gb[0].dump(); strings.Contains(d, keyA) {
		t.Errorf("b (same host, other port) received a's key:\n%s", d)
	}
}

func TestOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		a, b string
		same bool
	}{
		{"https://api.example.com", "https://API.Example.com:443/x", true},
		{"http://127.0.0.1", "http://127.0.0.1:80", true},
		{"https://api.example.com", "https://api.example.com:8443", false},
		{"https://api.example.com", "http://api.example.com", false},
		{"https://api.example.com", "https://api.example.com.evil.test", false},
		{"https://[::1]:8080", "https://[::1]:8080/y", true},
	}
	for _, tc := range tests {
		ua, _ := url.Parse(tc.a)
		ub, _ := url.Parse(tc.b)
		if got := origin(ua) == origin(ub); got != tc.same {
			t.Errorf("origin(%q) == origin(%q) is %v (%s, %s), want %v", tc.a, tc.b, got, origin(ua), origin(ub), tc.same)
		}
	}
}

func TestTransportSameOriginRedirectReattachesKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		auth config.Auth
		key  func(s seen) []string // the key values that arrived
	}{
		{"bearer", config.Auth{Type: "bearer", Env: "A_KEY"}, func(s seen) []string { return s.Header.Values("Authorization") }},
		{"query", config.Auth{Type: "query", Name: "api_key", Env: "A_KEY"}, func(s seen) []string {
			u, _ := url.Parse(s.URI)
			return u.Query()["api_key"]
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v1/start" {
					// Echo the query, key included, into Location, as
					// some servers do.
					http.Redirect(w, r, "/v1/next?"+r.URL.RawQuery, http.StatusFound)
				}
			})
			tr := newTestTransport(baseFor(t, a), svc{name: "a", baseURL: a.URL + "/v1", auth: tc.auth, key: keyA})
			resp, err := get(t, tr.Client(), a.URL+"/v1/start?x=1", nil)
			if err != nil {
				t.Fatalf("GET: %v", err)
			}
			got := a.received()
			if len(got) != 2 {
				t.Fatalf("a received %d requests, want 2 (redirect followed)", len(got))
			}
			want := []string{keyA}
			if tc.auth.Type == "bearer" {
				want = []string{"Bearer " + keyA}
			}
			for i, s := range got {
				if diff := cmp.Diff(want, tc.key(s)); diff != "" {
					t.Errorf("hop %d (%s): key (-want +got):\n%s", i, s.URI, diff)
				}
			}
			if strings.Contains(resp.Request.URL.String(), keyA) {
				t.Errorf("final Response.Request.URL contains the key: the client's next-hop URL carried it")
			}
		})
	}
}

func TestTransportCrossOriginRedirectNeverCarriesKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		auth config.Auth
	}{
		{"header", config.Auth{Type: "header", Name: "X-API-Key", Env: "A_KEY"}},
		{"query", config.Auth{Type: "query", Name: "api_key", Env: "A_KEY"}},
	}
	for _, tc := range tests {
		for _, configured := range []bool{true, false} {
			name := tc.name + "/to-unconfigured"
			if configured {
				name = tc.name + "/to-other-service"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				b := newServer(t, true, nil)
				a := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
					// Redirect elsewhere, echoing the query (and key).
					http.Redirect(w, r, b.URL+"/landing?"+r.URL.RawQuery+"&token=abc", http.StatusFound)
				})
				svcs := []svc{{name: "a", baseURL: a.URL, auth: tc.auth, key: keyA}}
				if configured {
					svcs = append(svcs, svc{name: "b", baseURL: b.URL, auth: config.Auth{Type: "none"}})
				}
				tr := newTestTransport(baseFor(t, a), svcs...)

				// keyveil's client: the 3xx comes back, not followed.
				resp, err := get(t, tr.Client(), a.URL+"/start", nil)
				if err != nil {
					t.Fatalf("Client().Get: %v", err)
				}
				if resp.StatusCode != http.StatusFound {
					t.Errorf("status = %d, want 302 returned to the caller", resp.StatusCode)
				}
				if got, want := resp.Header.Get("Location"), b.URL+"/landing"; got != want {
					t.Errorf("Location = %q, want %q (query dropped)", got, want)
				}
				if got := resp.Header.Get(RedirectHeader); got != "cross-origin" {
					t.Errorf("%s = %q, want %q", RedirectHeader, got, "cross-origin")
				}
				if n := len(b.received()); n != 0 {
					t.Errorf("b received %d requests, want 0 (redirect not followed)", n)
				}

				// A client with net/http's default policy follows, but
				// each hop passes RoundTrip: no key reaches b.
				plain := &http.Client{Transport: tr}
				_, err = get(t, plain, a.URL+"/start", nil)
				if configured && err != nil {
					t.Fatalf("default-policy Get: %v", err)
				}
				if !configured && !errors.Is(err, errRefused) {
					t.Errorf("default-policy Get to unconfigured origin: err = %v, want refusal", err)
				}
				for _, s := range b.received() {
					if d := s.dump(); strings.Contains(d, keyA) || strings.Contains(d, url.QueryEscape(keyA)) {
						t.Errorf("b received a's key after a redirect:\n%s", d)
					}
				}
			})
		}
	}
}

func TestTransportNeverSendsReferer(t *testing.T) {
	t.Parallel()
	a := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/start" {
			http.Redirect(w, r, "/next", http.StatusFound)
		}
	})
	tr := newTestTransport(baseFor(t, a), svc{name: "a", baseURL: a.URL, auth: config.Auth{Type: "query", Name: "api_key", Env: "A_KEY"}, key: keyA})
	// net/http's client adds Referer on the redirect; the caller sets one too.
	if _, err := get(t, &http.Client{Transport: tr}, a.URL+"/start?q=1", http.Header{"Referer": {a.URL + "/?api_key=" + keyA}}); err != nil {
		t.Fatalf("GET: %v", err)
	}
	got := a.received()
	if len(got) != 2 {
		t.Fatalf("a received %d requests, want 2", len(got))
	}
	for _, s := range got {
		if r := s.Header.Values("Referer"); len(r) > 0 {
			t.Errorf("%s arrived with Referer %q, want none", s.URI, r)
		}
	}
}

func TestTransportHTTPSOnly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		url     string
		refused bool
	}{
		{"http://keyveil-test.invalid/x", true},
		{"http://KEYVEIL-TEST.invalid:443/x", true},
		{"ftp://keyveil-test.invalid/x", true},
		{"https://keyveil-test.invalid/x", false},
		{"http://127.0.0.1:8080/x", false},
		{"http://localhost/x", false},
		{"http://[::1]:8080/x", false},
	}
	for _, tc := range tests {
		base := &recordingBase{}
		// Every origin above is configured, even the http ones config
		// would reject, to show the Transport refuses them on its own.
		tr := newTestTransport(base,
			svc{name: "a", baseURL: "https://keyveil-test.invalid", auth: config.Auth{Type: "none"}},
			svc{name: "b", baseURL: "http://keyveil-test.invalid", auth: config.Auth{Type: "none"}},
			svc{name: "c", baseURL: "http://keyveil-test.invalid:443", auth: config.Auth{Type: "none"}},
			svc{name: "d", baseURL: "ftp://keyveil-test.invalid", auth: config.Auth{Type: "none"}},
			svc{name: "e", baseURL: "http://127.0.0.1:8080", auth: config.Auth{Type: "none"}},
			svc{name: "f", baseURL: "http://localhost", auth: config.Auth{Type: "none"}},
			svc{name: "g", baseURL: "http://[::1]:8080", auth: config.Auth{Type: "none"}},
		)
		req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
		_, err := tr.RoundTrip(req)
		if got := errors.Is(err, errRefused); got != tc.refused {
			t.Errorf("RoundTrip(%s) refused = %v (err %v), want %v", tc.url, got, err, tc.refused)
		}
		if called := base.calls.Load() > 0; called == tc.refused {
			t.Errorf("RoundTrip(%s): base called = %v, want %v (a refusal must come before any DNS lookup)", tc.url, called, !tc.refused)
		}
	}
}

func TestTransportUnknownOriginRefusedBeforeBase(t *testing.T) {
	t.Parallel()
	base := &recordingBase{}
	tr := newTestTransport(base, svc{name: "a", baseURL: "https://api.keyveil-test.invalid/v1", auth: config.Auth{Type: "bearer", Env: "A_KEY"}, key: keyA})
	for _, u := range []string{
		"https://evil.keyveil-test.invalid/v1",
		"https://api.keyveil-test.invalid:8443/v1",
		"https://api.keyveil-test.invalid.evil.test/v1",
		"/v1/relative",
	} {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		_, err := tr.RoundTrip(req)
		if !errors.Is(err, errRefused) {
			t.Errorf("RoundTrip(%s) = %v, want refusal", u, err)
		}
	}
	if n := base.calls.Load(); n != 0 {
		t.Errorf("base RoundTripper called %d times, want 0", n)
	}
}

func TestTransportLeavesRequestUntouched(t *testing.T) {
	t.Parallel()
	a := newServer(t, true, nil)
	tr := newTestTransport(baseFor(t, a),
		svc{name: "a", baseURL: a.URL, auth: config.Auth{Type: "query", Name: "api_key", Env: "A_KEY"}, key: keyA},
		svc{name: "h", baseURL: "https://h.keyveil-test.invalid", auth: config.Auth{Type: "header", Name: "X-API-Key", Env: "H_KEY"}, key: keyB},
	)
	raw := strings.Replace(a.URL, "https://", "https://user:pw@", 1) + "/x?api_key=caller&b=2"
	req, _ := http.NewRequest(http.MethodGet, raw, nil)
	req.Header.Set("Authorization", "Bearer caller")
	req.Header.Set("X-API-Key", "caller")
	req.Header.Set("Referer", "https://elsewhere.test/")
	wantHeader := req.Header.Clone()
	wantURL := *req.URL
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	resp.Body.Close()
	if diff := cmp.Diff(wantHeader, req.Header); diff != "" {
		t.Errorf("RoundTrip changed the caller's headers (-before +after):\n%s", diff)
	}
	if got := req.URL.String(); got != wantURL.String() {
		t.Errorf("RoundTrip changed the caller's URL: %q, want %q", got, wantURL.String())
	}
	if resp.Request != req {
		t.Errorf("Response.Request is not the caller's request; the clone carrying the key escaped")
	}
	if got := a.received(); len(got) != 1 || got[0].Header.Get("Authorization") != "" {
		t.Errorf("a received %v, want one request without Authorization (user info and caller's header dropped)", got)
	}
}

func TestTransportClosesBodyOnce(t *testing.T) {
	t.Parallel()
	closed := newServer(t, false, nil)
	deadURL := closed.URL
	closed.Close() // connection refused from now on
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	tr := newTestTransport(base,
		svc{name: "a", baseURL: "https://a.keyveil-test.invalid", auth: config.Auth{Type: "bearer", Env: "A_KEY"}, key: keyA},
		svc{name: "nokey", baseURL: "https://n.keyveil-test.invalid", auth: config.Auth{Type: "bearer", Env: "N_KEY"}},
		svc{name: "dead", baseURL: deadURL, auth: config.Auth{Type: "none"}},
	)
	tests := []struct {
		name string
		url  string
		host string
	}{
		{"unknown origin", "https://other.keyveil-test.invalid/", ""},
		{"plain http", "http://a.keyveil-test.invalid/", ""},
		{"missing key", "https://n.keyveil-test.invalid/", ""},
		{"host header elsewhere", "https://a.keyveil-test.invalid/", "evil.keyveil-test.invalid"},
		{"connection refused", deadURL + "/", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := &countingBody{Reader: strings.NewReader("payload")}
			req, _ := http.NewRequest(http.MethodPost, tc.url, body)
			req.Host = tc.host
			if _, err := tr.RoundTrip(req); err == nil {
				t.Fatalf("RoundTrip(%s): no error", tc.url)
			}
			if n := body.closes.Load(); n != 1 {
				t.Errorf("RoundTrip(%s): body closed %d times, want 1", tc.url, n)
			}
		})
	}
}

// echoBase fails with an error quoting everything it was given, the way a
// careless RoundTripper (or a url.Error) would.
type echoBase struct{ cause error }

func (b echoBase) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, &url.Error{Op: req.Method, URL: req.URL.String(),
		Err: errors.Join(b.cause, errors.New("auth "+req.Header.Get("Authorization")+" query "+req.URL.RawQuery))}
}

func TestTransportErrorsHideQueryAndKey(t *testing.T) {
	t.Parallel()
	for _, auth := range []config.Auth{
		{Type: "query", Name: "api_key", Env: "A_KEY"},
		{Type: "bearer", Env: "A_KEY"},
	} {
		tr := newTestTransport(echoBase{cause: context.DeadlineExceeded},
			svc{name: "a", baseURL: "https://a.keyveil-test.invalid", auth: auth, key: keyA})
		_, err := get(t, tr.Client(), "https://a.keyveil-test.invalid/v1/x?customer=c-LEAKCHECK-q", nil)
		if err == nil {
			t.Fatalf("Get with %s auth: no error", auth.Type)
		}
		msg := err.Error()
		for _, leak := range []string{keyA, url.QueryEscape(keyA), "api_key="} {
			if strings.Contains(msg, leak) {
				t.Errorf("Get with %s auth: error %q contains %q", auth.Type, msg, leak)
			}
		}
		if !strings.Contains(msg, "GET https://a.keyveil-test.invalid/v1/x") {
			t.Errorf("Get with %s auth: error %q does not name the request", auth.Type, msg)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Get with %s auth: errors.Is(err, DeadlineExceeded) = false; the cause must stay reachable", auth.Type)
		}
	}
	// The text the Transport itself returns has no caller query either
	// (http.Client adds its own url.Error around it, naming the caller's
	// URL, which the caller already had).
	tr := newTestTransport(echoBase{}, svc{name: "a", baseURL: "https://a.keyveil-test.invalid", auth: config.Auth{Type: "query", Name: "api_key", Env: "A_KEY"}, key: keyA})
	req, _ := http.NewRequest(http.MethodGet, "https://a.keyveil-test.invalid/x?customer=c-LEAKCHECK-q", nil)
	if _, err := tr.RoundTrip(req); err == nil || strings.Contains(err.Error(), "c-LEAKCHECK-q") || strings.Contains(err.Error(), keyA) {
		t.Errorf("RoundTrip error = %v, want one without the query or key", err)
	}
}

func TestTransportSharedOriginPicksLongestPrefix(t *testing.T) {
	t.Parallel()
	a := newServer(t, true, nil)
	tr := newTestTransport(baseFor(t, a),
		svc{name: "v1", baseURL: a.URL + "/v1", auth: config.Auth{Type: "bearer", Env: "V1_KEY"}, key: keyA},
		svc{name: "admin", baseURL: a.URL + "/v1/admin", auth: config.Auth{Type: "bearer", Env: "ADMIN_KEY"}, key: keyB},
	)
	tests := []struct {
		path, want string
	}{
		{"/v1/items", "Bearer " + keyA},
		{"/v1/admin/users", "Bearer " + keyB},
		{"/v1/administrator", "Bearer " + keyA},
		{"/v1/admin/../items", "Bearer " + keyA},
		{"/other", ""},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(http.MethodGet, a.URL+tc.path, nil)
		resp, err := tr.RoundTrip(req)
		if err != nil {
			t.Fatalf("RoundTrip(%s): %v", tc.path, err)
		}
		resp.Body.Close()
		got := a.received()
		if auth := got[len(got)-1].Header.Get("Authorization"); auth != tc.want {
			t.Errorf("RoundTrip(%s) sent Authorization %q, want %q", tc.path, auth, tc.want)
		}
	}

	tie := newTestTransport(&recordingBase{},
		svc{name: "r", baseURL: "https://a.keyveil-test.invalid/v1", auth: config.Auth{Type: "bearer", Env: "R_KEY"}, key: keyA},
		svc{name: "w", baseURL: "https://a.keyveil-test.invalid/v1/", auth: config.Auth{Type: "bearer", Env: "W_KEY"}, key: keyB},
	)
	req, _ := http.NewRequest(http.MethodGet, "https://a.keyveil-test.invalid/v1/x", nil)
	if _, err := tie.RoundTrip(req); !errors.Is(err, errRefused) {
		t.Errorf("RoundTrip to two services with one base URL = %v, want refusal", err)
	}
}

func TestTransportRefusesMissingKey(t *testing.T) {
	t.Parallel()
	base := &recordingBase{}
	tr := NewTransport(nil, &config.Config{Services: []config.Service{
		{Name: "a", BaseURL: "https://a.keyveil-test.invalid", Auth: config.AuthList{{Type: "bearer", Env: "A_KEY"}}},
	}}, &TransportOptions{Base: base})
	req, _ := http.NewRequest(http.MethodGet, "https://a.keyveil-test.invalid/", nil)
	if _, err := tr.RoundTrip(req); !errors.Is(err, errRefused) {
		t.Errorf("RoundTrip with no key loaded = %v, want refusal", err)
	}
	if base.calls.Load() != 0 {
		t.Errorf("base called for a service without its key; want the request refused, not sent bare")
	}
}

func TestTransportDefaultBaseKeepsProxyFromEnvironment(t *testing.T) {
	t.Parallel()
	tr := NewTransport(nil, nil, nil)
	ht, ok := tr.base.(*http.Transport)
	if !ok {
		t.Fatalf("default base is %T, want *http.Transport", tr.base)
	}
	if ht == http.DefaultTransport {
		t.Errorf("default base is http.DefaultTransport itself, want a clone")
	}
	if ht.Proxy == nil {
		t.Errorf("default base has no Proxy; want http.ProxyFromEnvironment kept")
	}
}

func TestClientStopsAfterTenRedirects(t *testing.T) {
	t.Parallel()
	a := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/loop", http.StatusFound)
	})
	tr := newTestTransport(baseFor(t, a), svc{name: "a", baseURL: a.URL, auth: config.Auth{Type: "none"}})
	_, err := get(t, tr.Client(), a.URL+"/loop", nil)
	if err == nil || !strings.Contains(err.Error(), "stopped after 10 redirects") {
		t.Errorf("Get on a redirect loop = %v, want stop after 10", err)
	}
	if n := len(a.received()); n != maxRedirects {
		t.Errorf("server saw %d requests, want %d", n, maxRedirects)
	}
}

// TestClientRedirectReChecksEveryHop follows a same-origin redirect only
// to where the model could have gone itself: below the service's base
// path, to a method and path an allow rule allows, and GET or HEAD when
// read-only. Any other hop comes back like a cross-origin one (the 3xx,
// Location cut to scheme://host/path, the reason in RedirectHeader), and
// the key never reaches the path it pointed to.
func TestClientRedirectReChecksEveryHop(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		method   string
		start    string // below /api
		code     int
		to       string // the Location, relative to the server
		readOnly bool
		want     string // RedirectHeader; "": followed
	}{
		{"allowed hop", "GET", "/public/start", 302, "/api/public/next", false, ""},
		{"outside the base path", "GET", "/public/start", 302, "/other/steal?k=1", false, RedirectOutsideBase},
		{"walks up out of the base path", "GET", "/public/start", 302, "/api/../admin", false, RedirectOutsideBase},
		{"encoded dot segment", "GET", "/public/start", 302, "/api/public/%2e%2e/%2e%2e/admin", false, RedirectOutsideBase},
		{"double-encoded dot segment", "GET", "/public/start", 302, "/api/public/%252e%252e/x", false, RedirectOutsideBase},
		{"no allow rule", "GET", "/public/start", 302, "/api/admin/users", false, RedirectNotAllowed},
		{"method kept by 307 not allowed there", "POST", "/public/forms/a", 307, "/api/public/other", false, RedirectNotAllowed},
		{"method kept by 307 allowed there", "POST", "/public/forms/a", 307, "/api/public/forms/b", false, ""},
		{"303 turns POST into an allowed GET", "POST", "/public/forms/a", 303, "/api/public/done", false, ""},
		{"read-only refuses a write hop", "POST", "/public/forms/a", 307, "/api/public/forms/b", true, RedirectReadOnly},
		{"read-only follows a read hop", "GET", "/public/start", 302, "/api/public/next", true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/api"+tc.start {
					w.Header().Set("Location", tc.to)
					w.WriteHeader(tc.code)
				}
			})
			cfg := loadTransportConfig(t, "services:\n  a:\n    base_url: "+a.URL+"/api\n    auth: {type: bearer, env: A_KEY}\n    allow: [\"GET /public/**\", \"POST /public/forms/**\"]\n")
			set := loadDotenv(t, cfg, map[string]string{"A_KEY": keyA})
			tr := NewTransport(set, cfg, &TransportOptions{Base: baseFor(t, a), ReadOnly: tc.readOnly})
			req, err := http.NewRequestWithContext(t.Context(), tc.method, a.URL+"/api"+tc.start, strings.NewReader("x=1"))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := tr.Client().Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", tc.method, tc.start, err)
			}
			resp.Body.Close()
			got := a.received()
			if tc.want == "" {
				if len(got) != 2 || resp.Header.Get(RedirectHeader) != "" {
					t.Fatalf("%s redirect to %s: %d requests, %s %q; want it followed", tc.method, tc.to, len(got), RedirectHeader, resp.Header.Get(RedirectHeader))
				}
				if auth := got[1].Header.Get("Authorization"); auth != "Bearer "+keyA {
					t.Errorf("followed hop carried Authorization %q, want the key", auth)
				}
				return
			}
			if len(got) != 1 {
				t.Errorf("the server saw %d requests (%v), want only the first: the key reached %s", len(got), got, tc.to)
			}
			if resp.StatusCode != tc.code || resp.Header.Get(RedirectHeader) != tc.want {
				t.Errorf("response %d, %s %q; want %d and %q", resp.StatusCode, RedirectHeader, resp.Header.Get(RedirectHeader), tc.code, tc.want)
			}
			if loc := resp.Header.Get("Location"); strings.ContainsAny(loc, "?#") || !strings.HasPrefix(loc, a.URL+"/") {
				t.Errorf("Location = %q, want scheme://host/path on the service's origin", loc)
			}
		})
	}
}

// TestTransportDropsUpstreamRedirectHeader deletes RedirectHeader from an
// API's response: only keyveil says why it did not follow a redirect, and
// tools quote that value to the model.
func TestTransportDropsUpstreamRedirectHeader(t *testing.T) {
	t.Parallel()
	a := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(RedirectHeader, "x "+keyA[:12])
		w.WriteHeader(http.StatusOK)
	})
	tr := newTestTransport(baseFor(t, a), svc{name: "a", baseURL: a.URL, auth: config.Auth{Type: "bearer", Env: "A_KEY"}, key: keyA})
	resp, err := get(t, tr.Client(), a.URL+"/x", nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.Header.Get(RedirectHeader); v != "" {
		t.Errorf("%s = %q from the API reached the caller, want it deleted", RedirectHeader, v)
	}
}

// loadTransportConfig validates a services file, so its services have
// their allow rules parsed.
func loadTransportConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	p := filepath.Join(t.TempDir(), "services.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadFile(p)
	if err != nil {
		t.Fatalf("config.LoadFile: %v", err)
	}
	return cfg
}
