package credentials

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const (
	ddAPIKey = "dd-api-LEAKCHECK-0123456789abcdef"
	ddAppKey = "dd-app-LEAKCHECK-fedcba9876543210"
)

// TestMultiPartDatadog: a service whose auth has two header parts (the
// Datadog shape) gets both on every request to its origin, and neither
// reaches another service's origin: not on a direct request, not when the
// model sets them, not on a redirect that net/http's default policy
// follows to the other origin.
func TestMultiPartDatadog(t *testing.T) {
	t.Parallel()
	b := newServer(t, true, nil)
	dd := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/bounce" {
			http.Redirect(w, r, b.URL+"/landed", http.StatusFound)
		}
	})
	cfg := loadTransportConfig(t, "services:\n"+
		"  datadog:\n    base_url: "+dd.URL+"/api\n    auth:\n"+
		"      - { type: header, name: DD-API-KEY, env: DD_API_KEY }\n"+
		"      - { type: header, name: DD-APPLICATION-KEY, env: DD_APP_KEY }\n"+
		"  other:\n    base_url: "+b.URL+"\n    auth: { type: header, name: X-Other-Key, env: B_KEY }\n")
	set := loadDotenv(t, cfg, map[string]string{"DD_API_KEY": ddAPIKey, "DD_APP_KEY": ddAppKey, "B_KEY": keyB})
	tr := NewTransport(set, cfg, &TransportOptions{Base: baseFor(t, dd)})

	if _, err := get(t, tr.Client(), dd.URL+"/api/v1/validate", nil); err != nil {
		t.Fatalf("GET datadog: %v", err)
	}
	got := dd.received()
	if len(got) != 1 || got[0].Header.Get("DD-API-KEY") != ddAPIKey || got[0].Header.Get("DD-APPLICATION-KEY") != ddAppKey {
		t.Fatalf("datadog received %v, want both keys", got)
	}

	// The model sets both headers on a request to the other service.
	h := http.Header{"Dd-Api-Key": {ddAPIKey}, "dd-application-key": {ddAppKey}}
	if _, err := get(t, tr.Client(), b.URL+"/x", h); err != nil {
		t.Fatalf("GET other: %v", err)
	}
	// net/http's default policy follows the cross-origin redirect; that
	// hop passes RoundTrip too.
	if _, err := get(t, &http.Client{Transport: tr}, dd.URL+"/api/bounce", nil); err != nil {
		t.Fatalf("GET bounce: %v", err)
	}
	reqs := b.received()
	if len(reqs) != 2 || reqs[1].URI != "/landed" {
		t.Fatalf("other received %d requests (%v), want the direct one and the redirect", len(reqs), reqs)
	}
	for _, r := range reqs {
		if d := r.dump(); strings.Contains(d, "LEAKCHECK-0") || strings.Contains(d, "LEAKCHECK-f") || r.Header.Get("X-Other-Key") != keyB {
			t.Errorf("other service received a Datadog part, or not its own key:\n%s", d)
		}
	}

	// What check shows: one credential per part, each bound to Datadog's
	// origin; the audit fingerprint names both keys.
	var parts []string
	for _, c := range set.Credentials() {
		if c.Service != "datadog" {
			continue
		}
		if len(c.Keys) != 1 || c.Origin != origin(mustParse(t, dd.URL)) {
			t.Errorf("credential %d = %d keys bound to %q, want one key bound to %s", c.Part, len(c.Keys), c.Origin, dd.URL)
			continue
		}
		parts = append(parts, c.Scheme()+" "+c.Keys[0].Secret.Name())
	}
	if got := strings.Join(parts, ", "); got != "header:DD-API-KEY DD_API_KEY, header:DD-APPLICATION-KEY DD_APP_KEY" {
		t.Errorf("datadog credentials = %q, want both parts in order", got)
	}
	if fp := set.Fingerprint("datadog"); fp != NewSecret("", ddAPIKey).Fingerprint()+"+"+NewSecret("", ddAppKey).Fingerprint() {
		t.Errorf("Fingerprint(datadog) = %q, want both keys' fingerprints", fp)
	}
}

// TestMultiPartRedirectReattaches: a same-origin redirect from one
// service's path to another's, followed by net/http's default policy,
// carries the second service's parts only: every part of the first (a
// header and a query parameter) is stripped from the hop.
func TestMultiPartRedirectReattaches(t *testing.T) {
	t.Parallel()
	a := newServer(t, true, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dd/bounce" {
			http.Redirect(w, r, "/plain/landed?"+r.URL.RawQuery, http.StatusFound) // echoes app_key
		}
	})
	cfg := loadTransportConfig(t, "services:\n"+
		"  dd:\n    base_url: "+a.URL+"/dd\n    auth:\n"+
		"      - { type: header, name: DD-API-KEY, env: DD_API_KEY }\n"+
		"      - { type: query, name: app_key, env: DD_APP_KEY }\n"+
		"  plain:\n    base_url: "+a.URL+"/plain\n    auth: { type: none }\n")
	set := loadDotenv(t, cfg, map[string]string{"DD_API_KEY": ddAPIKey, "DD_APP_KEY": ddAppKey})
	tr := NewTransport(set, cfg, &TransportOptions{Base: baseFor(t, a)})
	if _, err := get(t, &http.Client{Transport: tr}, a.URL+"/dd/bounce?x=1", nil); err != nil {
		t.Fatalf("GET: %v", err)
	}
	got := a.received()
	if len(got) != 2 {
		t.Fatalf("received %d requests, want 2", len(got))
	}
	if got[0].Header.Get("DD-API-KEY") != ddAPIKey || !strings.Contains(got[0].URI, "app_key="+ddAppKey) {
		t.Errorf("first hop = %s, want both parts", got[0].dump())
	}
	if d := got[1].dump(); strings.Contains(d, "LEAKCHECK") {
		t.Errorf("the hop to the service without auth carried a part:\n%s", d)
	}
}

func mustParse(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// headerEcho fails every request with an error that quotes two headers,
// as a proxy's or a library's error may.
type headerEcho struct{}

func (headerEcho) RoundTrip(req *http.Request) (*http.Response, error) {
	return nil, &url.Error{Op: req.Method, URL: req.URL.String(),
		Err: errors.New("sent " + req.Header.Get("DD-API-KEY") + " and " + req.Header.Get("DD-APPLICATION-KEY") + " query " + req.URL.RawQuery)}
}

// TestMultiPartSendErrorHidesEveryPart: a send error that quotes what went
// out has every part's value replaced by its own marker, not only the
// first part's.
func TestMultiPartSendErrorHidesEveryPart(t *testing.T) {
	t.Parallel()
	cfg := loadTransportConfig(t, "services:\n"+
		"  dd:\n    base_url: https://dd.keyveil-test.invalid\n    auth:\n"+
		"      - { type: header, name: DD-API-KEY, env: DD_API_KEY }\n"+
		"      - { type: header, name: DD-APPLICATION-KEY, env: DD_APP_KEY }\n"+
		"      - { type: query, name: app, env: DD_Q_KEY }\n")
	set := loadDotenv(t, cfg, map[string]string{"DD_API_KEY": ddAPIKey, "DD_APP_KEY": ddAppKey, "DD_Q_KEY": keyA})
	_, err := get(t, NewTransport(set, cfg, &TransportOptions{Base: headerEcho{}}).Client(), "https://dd.keyveil-test.invalid/x", nil)
	if err == nil {
		t.Fatal("GET through a failing base: no error")
	}
	msg := err.Error()
	if strings.Contains(msg, "LEAKCHECK") {
		t.Errorf("send error %q shows a part's value", msg)
	}
	for _, m := range []string{"[REDACTED:DD_API_KEY]", "[REDACTED:DD_APP_KEY]"} {
		if !strings.Contains(msg, m) {
			t.Errorf("send error %q lacks %s", msg, m)
		}
	}
}
