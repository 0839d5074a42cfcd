package main

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode/utf16"

	"github.com/keyveil/keyveil/internal/authtest"
)

// The cross-scheme proof (issue 11). Every way keyveil attaches a
// credential is driven through the same subprocess test: keyveil over real
// pipes, serving two services on two loopback origins, the scheme's and an
// "other" one, with a bearer key of its own, that records everything it
// receives. For each row the test shows that
//
//	(a) the scheme's downstream received a credential its own verifier
//	    accepts, on every request and every followed redirect hop;
//	(b) no secret, in any encoding the Redactor knows, appears on stdout,
//	    stderr or in the audit file, although the downstream echoes every
//	    one back in all of them;
//	(c) the other origin never receives any part: no carrier header or
//	    parameter, and no secret's value anywhere in the request; it gets
//	    exactly its own key, and the scheme's origin never gets that;
//	(d) a same-origin redirect hop arrives with the credential attached
//	    anew, and a hop across origins, outside the base path or outside the
//	    allow rules is not followed.
//
// A new scheme adds one row to schemeRows: how the services file writes
// its auth, the environment it reads, the values that must stay secret,
// where it travels, and a verifier that recomputes it (a signature, a
// token the in-test endpoint issued), not one that only looks for it.

// schemeRow is one auth scheme, or one combination of parts, as the
// cross-scheme test drives it.
type schemeRow struct {
	name string
	// setup makes the row's secrets and starts what the scheme needs
	// besides its downstream (a token endpoint). It is called once per
	// row, before keyveil starts.
	setup func(t *testing.T) schemeFixture
}

// schemeFixture is what a row hands the harness.
type schemeFixture struct {
	// auth is the YAML value of the service's auth key: a flow mapping
	// such as `{type: bearer, env: X}`, or a flow sequence of them.
	auth string
	// extra is more YAML for the service (a tls block), one key per line
	// without indentation; "" for none.
	extra string
	// env is the process environment keyveil starts with (NAME=value).
	env []string
	// secrets returns every value that must never be written out nor
	// reach the other origin. It is called after the calls, so that
	// values issued while keyveil ran (access tokens) count.
	secrets func() []string
	// wire are exact strings the credential becomes on the wire (Basic's
	// base64 of user:key), checked as they are, without variants.
	wire []string
	// headers and params are the carriers: the request headers and query
	// parameters the credential travels in. The other origin must receive
	// none of them, whatever their value.
	headers, params []string
	// check verifies the credential on a request the scheme's downstream
	// received (body is the request body, already read). It returns nil
	// when the credential is valid. Its error text is shown in the
	// downstream's 401, so it names what is wrong, never a value.
	check func(r *http.Request, body []byte) error
	// serve starts the scheme's downstream with h and returns its URL;
	// nil means httptest.NewServer (HTTP on loopback). A TLS row starts a
	// server that requires its client certificate.
	serve func(t *testing.T, h http.Handler) string
	// other starts the other origin with h and returns its URL and more
	// YAML for the other service, as extra; nil means httptest.NewServer
	// and nothing more. A TLS row starts an HTTPS server that asks for
	// (but does not require) a client certificate, so that one presented
	// there is seen.
	other func(t *testing.T, h http.Handler) (url, extra string)
}

// schemeRows are the rows of TestSchemesOverPipes. Each scheme of
// credentials/scheme has one at least.
var schemeRows = []schemeRow{
	{"bearer", func(t *testing.T) schemeFixture {
		key := proofSecret("bearer")
		return schemeFixture{
			auth:    "{type: bearer, env: PROOF_BEARER_KEY}",
			env:     []string{"PROOF_BEARER_KEY=" + key},
			secrets: fixedValues(key),
			headers: []string{"Authorization"},
			check:   wantHeader("Authorization", "Bearer "+key),
		}
	}},
	{"header", func(t *testing.T) schemeFixture {
		key := proofSecret("header")
		return schemeFixture{
			auth:    "{type: header, name: X-Proof-Key, env: PROOF_HEADER_KEY}",
			env:     []string{"PROOF_HEADER_KEY=" + key},
			secrets: fixedValues(key),
			headers: []string{"X-Proof-Key"},
			check:   wantHeader("X-Proof-Key", key),
		}
	}},
	{"query", func(t *testing.T) schemeFixture {
		key := proofSecret("query")
		return schemeFixture{
			auth:    "{type: query, name: proof_key, env: PROOF_QUERY_KEY}",
			env:     []string{"PROOF_QUERY_KEY=" + key},
			secrets: fixedValues(key),
			params:  []string{"proof_key"},
			check:   wantParam("proof_key", key),
		}
	}},
	{"basic", func(t *testing.T) schemeFixture {
		key := proofSecret("basic")
		const user = "proof-user"
		wire := base64.StdEncoding.EncodeToString([]byte(user + ":" + key))
		return schemeFixture{
			auth:    "{type: basic, env: PROOF_BASIC_KEY, username_env: PROOF_BASIC_USER}",
			env:     []string{"PROOF_BASIC_KEY=" + key, "PROOF_BASIC_USER=" + user},
			secrets: fixedValues(key),
			wire:    []string{wire},
			headers: []string{"Authorization"},
			check: func(r *http.Request, _ []byte) error {
				u, p, ok := r.BasicAuth()
				if !ok || u != user || p != key {
					return errors.New("Basic credentials missing or wrong")
				}
				return nil
			},
		}
	}},
	{"oauth2_client_credentials", func(t *testing.T) schemeFixture {
		secret := proofSecret("client-secret")
		te := newCCTokenEndpoint(t, "proof-client", secret)
		return schemeFixture{
			auth: fmt.Sprintf("{type: oauth2_client_credentials, token_url: %q, client_id_env: PROOF_CLIENT_ID, client_secret_env: PROOF_CLIENT_SECRET, scopes: [read]}",
				te.srv.URL+"/token"),
			env:     []string{"PROOF_CLIENT_ID=proof-client", "PROOF_CLIENT_SECRET=" + secret},
			secrets: func() []string { return append([]string{secret}, te.issued()...) },
			headers: []string{"Authorization"},
			check: func(r *http.Request, _ []byte) error {
				tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
				if !ok || !te.valid(tok) {
					return errors.New("no access token the token endpoint issued")
				}
				return nil
			},
		}
	}},
	{"aws_sigv4", func(t *testing.T) schemeFixture {
		// The verifier recomputes each signature from what arrived (it
		// is checked against AWS's published test vectors).
		id, secret, token := proofSecret("aws-id"), proofSecret("aws-secret"), proofSecret("aws-token")
		v := &authtest.SigV4{Region: "eu-central-1", Service: "execute-api",
			Keys: map[string]authtest.SigV4Key{id: {Secret: secret, Token: token}}}
		return schemeFixture{
			auth: "{type: aws_sigv4, region: eu-central-1, service: execute-api, " +
				"access_key_id_env: PROOF_AWS_ID, secret_access_key_env: PROOF_AWS_SECRET, session_token_env: PROOF_AWS_TOKEN}",
			env:     []string{"PROOF_AWS_ID=" + id, "PROOF_AWS_SECRET=" + secret, "PROOF_AWS_TOKEN=" + token},
			secrets: fixedValues(id, secret, token),
			headers: []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"},
			check:   v.Verify,
		}
	}},
	// A tls block on top of a scheme: the client certificate is presented
	// to the service's origin only, and its key is a secret like any.
	{"bearer over mutual TLS", func(t *testing.T) schemeFixture {
		key := proofSecret("mtls-bearer")
		ca := newMTLSCA(t, "proof corp CA")
		cert, clientKey := ca.issue(t, "keyveil-proof", false)
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		if err := os.WriteFile(caFile, []byte(ca.pem), 0o600); err != nil {
			t.Fatal(err)
		}
		tlsYAML := fmt.Sprintf("tls: {ca_file: %q, client_cert_env: PROOF_MTLS_CERT, client_key_env: PROOF_MTLS_KEY}", caFile)
		return schemeFixture{
			auth:    "{type: bearer, env: PROOF_MTLS_TOKEN}",
			extra:   tlsYAML,
			env:     []string{"PROOF_MTLS_TOKEN=" + key, "PROOF_MTLS_CERT=" + cert, "PROOF_MTLS_KEY=" + clientKey},
			secrets: fixedValues(key, clientKey, pemBody(clientKey)),
			headers: []string{"Authorization"},
			check: allOf(wantHeader("Authorization", "Bearer "+key), func(r *http.Request, _ []byte) error {
				if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 || r.TLS.PeerCertificates[0].Subject.CommonName != "keyveil-proof" {
					return errors.New("no client certificate, or not keyveil's")
				}
				return nil
			}),
			serve: func(t *testing.T, h http.Handler) string { return startMTLSServer(t, ca, ca, h.ServeHTTP).URL },
			other: func(t *testing.T, h http.Handler) (string, string) {
				c, k := ca.issue(t, "other", true)
				pair, err := tls.X509KeyPair([]byte(c), []byte(k))
				if err != nil {
					t.Fatal(err)
				}
				srv := httptest.NewUnstartedServer(h)
				srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequestClientCert}
				srv.StartTLS()
				t.Cleanup(srv.Close)
				return srv.URL, fmt.Sprintf("tls: {ca_file: %q}", caFile)
			},
		}
	}},
	// Several parts: every part goes to the service, and every part is
	// stripped for every other origin.
	{"multi-part two headers (Datadog)", func(t *testing.T) schemeFixture {
		api, app := proofSecret("dd-api"), proofSecret("dd-app")
		return schemeFixture{
			auth:    "[{type: header, name: DD-API-KEY, env: PROOF_DD_API_KEY}, {type: header, name: DD-APPLICATION-KEY, env: PROOF_DD_APP_KEY}]",
			env:     []string{"PROOF_DD_API_KEY=" + api, "PROOF_DD_APP_KEY=" + app},
			secrets: fixedValues(api, app),
			headers: []string{"DD-API-KEY", "DD-APPLICATION-KEY"},
			check:   allOf(wantHeader("DD-API-KEY", api), wantHeader("DD-APPLICATION-KEY", app)),
		}
	}},
	{"multi-part header and query", func(t *testing.T) schemeFixture {
		id, key := proofSecret("app-id"), proofSecret("search-key")
		return schemeFixture{
			auth:    "[{type: header, name: X-Proof-Application-Id, env: PROOF_APP_ID}, {type: query, name: proof_key, env: PROOF_SEARCH_KEY}]",
			env:     []string{"PROOF_APP_ID=" + id, "PROOF_SEARCH_KEY=" + key},
			secrets: fixedValues(id, key),
			headers: []string{"X-Proof-Application-Id"},
			params:  []string{"proof_key"},
			check:   allOf(wantHeader("X-Proof-Application-Id", id), wantParam("proof_key", key)),
		}
	}},
	{"oauth2_refresh_token", func(t *testing.T) schemeFixture {
		// The endpoint rotates the refresh token on the first refresh:
		// the new one, which keyveil learnt as it arrived, is echoed too.
		secret := proofSecret("rt-client-secret")
		te := authtest.NewRefreshServer(t, authtest.RefreshOptions{ClientSecret: secret})
		return schemeFixture{
			auth: fmt.Sprintf("{type: oauth2_refresh_token, token_url: %q, client_id_env: PROOF_RT_CLIENT_ID, client_secret_env: PROOF_RT_CLIENT_SECRET, refresh_token_env: PROOF_REFRESH_TOKEN, scopes: [read]}",
				te.TokenURL()),
			env: []string{"PROOF_RT_CLIENT_ID=" + te.ClientID(), "PROOF_RT_CLIENT_SECRET=" + secret, "PROOF_REFRESH_TOKEN=" + te.RefreshToken()},
			secrets: func() []string {
				return slices.Concat([]string{secret, te.RefreshToken()}, te.Used(), te.Issued())
			},
			headers: []string{"Authorization"},
			check:   validBearer(te.Valid),
		}
	}},
	{"google_service_account", func(t *testing.T) schemeFixture {
		const scope = "https://www.googleapis.com/auth/proof.readonly"
		te := authtest.NewJWTServer(t, scope)
		sa := te.Account
		lines := strings.Split(strings.TrimSpace(sa.PEM), "\n")
		// The key in the forms it could leak in; not the whole JSON, whose
		// other fields are not secret (see scheme.Var.Document).
		key := append([]string{sa.KeyID, strings.ReplaceAll(strings.TrimSpace(sa.PEM), "\n", `\n`), pemBody(sa.PEM)}, lines[1:len(lines)-1]...)
		return schemeFixture{
			auth:    fmt.Sprintf("{type: google_service_account, env: PROOF_SA_JSON, token_url: %q, scopes: [%q]}", te.TokenURL(), scope),
			env:     []string{"PROOF_SA_JSON=" + sa.JSON},
			secrets: func() []string { return append(slices.Clone(key), te.Issued()...) },
			headers: []string{"Authorization"},
			check:   validBearer(te.Valid),
		}
	}},
}

// validBearer verifies that Authorization carries a bearer token valid
// reports true for (one the row's token endpoint issued).
func validBearer(valid func(string) bool) func(*http.Request, []byte) error {
	return func(r *http.Request, _ []byte) error {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !valid(tok) {
			return errors.New("no access token the token endpoint issued")
		}
		return nil
	}
}

// allOf verifies a request with every check in turn.
func allOf(checks ...func(*http.Request, []byte) error) func(*http.Request, []byte) error {
	return func(r *http.Request, body []byte) error {
		for _, c := range checks {
			if err := c(r, body); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestSchemesOverPipes runs each row of schemeRows through keyveil over
// real stdio pipes and checks (a) to (d) above.
func TestSchemesOverPipes(t *testing.T) {
	t.Parallel()
	for _, row := range schemeRows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			runSchemeRow(t, row.setup(t))
		})
	}
}

// proofRequest is one request a test downstream received, as it arrived.
type proofRequest struct {
	method, path, rawQuery string
	header                 http.Header
	body                   []byte
	checkErr               error // the row's verdict on the credential; nil for the other origin
	clientCerts            int   // TLS client certificates presented
}

// text returns everything the request carried, for searching.
func (p proofRequest) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s?%s\n", p.method, p.path, p.rawQuery)
	for name, vs := range p.header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	b.Write(p.body)
	return b.String()
}

// seenRequests keeps the requests a downstream received.
type seenRequests struct {
	mu   sync.Mutex
	reqs []proofRequest
}

func (rc *seenRequests) add(r *http.Request, checkErr error) proofRequest {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	p := proofRequest{method: r.Method, path: r.URL.Path, rawQuery: r.URL.RawQuery, header: r.Header.Clone(), body: body, checkErr: checkErr}
	if r.TLS != nil {
		p.clientCerts = len(r.TLS.PeerCertificates)
	}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, p)
	rc.mu.Unlock()
	return p
}

func (rc *seenRequests) all() []proofRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]proofRequest(nil), rc.reqs...)
}

// paths returns the paths of the requests received, in order.
func (rc *seenRequests) paths() []string {
	var ps []string
	for _, p := range rc.all() {
		ps = append(ps, p.path)
	}
	return ps
}

// runSchemeRow is the harness: it starts both downstreams and keyveil,
// makes the calls, and checks what arrived where and what was written.
func runSchemeRow(t *testing.T, fx schemeFixture) {
	// The other origin answers everything and records it. It has a bearer
	// key of its own, so that a mix-up between the two services'
	// credentials shows on either side, and it echoes its own
	// Authorization back.
	var other seenRequests
	otherKey := proofSecret("other")
	otherHandler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		other.add(r, nil)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"other": true, "auth": r.Header.Get("Authorization")})
	})
	var otherURL, otherExtra string
	if fx.other != nil {
		otherURL, otherExtra = fx.other(t, otherHandler)
	} else {
		srv := httptest.NewServer(otherHandler)
		t.Cleanup(srv.Close)
		otherURL = srv.URL
	}

	// The scheme's downstream verifies the credential on every request,
	// then does what a hostile API does: echoes every secret back in
	// every form, and redirects on its own origin and off it.
	var mine seenRequests
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		err := fx.check(r, body)
		r.Body = io.NopCloser(bytes.NewReader(body)) // whatever check read, add reads it whole
		p := mine.add(r, err)
		if err != nil {
			http.Error(w, "credential rejected: "+err.Error(), http.StatusUnauthorized)
			return
		}
		switch p.path {
		case "/api/public/echo":
			forms := map[string]string{}
			for i, s := range fx.secrets() {
				for kind, f := range secretForms(s) {
					forms[fmt.Sprintf("%d-%s", i, kind)] = f
				}
			}
			for i, s := range fx.wire {
				forms[fmt.Sprintf("wire-%d", i)] = s
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Echo", strings.Join(fx.secrets(), ","))
			_ = json.NewEncoder(w).Encode(map[string]any{
				"headers": p.header, "query": p.rawQuery, "forms": forms,
			})
		case "/api/public/hop307":
			// A 307 repeats the method and the body: a signing scheme
			// must sign the replayed body anew.
			http.Redirect(w, r, "/api/public/posted", http.StatusTemporaryRedirect)
		case "/api/public/posted":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"method": p.method, "body": string(p.body)})
		case "/api/public/boom":
			http.Error(w, "internal error checking "+strings.Join(fx.secrets(), " and "), http.StatusInternalServerError)
		case "/api/public/hop1":
			// Each Location carries a secret in its query, as an API that
			// puts a token in a URL does.
			http.Redirect(w, r, "/api/public/hop2?echo="+url.QueryEscape(fx.secrets()[0]), http.StatusFound)
		case "/api/public/hop2":
			http.Redirect(w, r, otherURL+"/landing?stolen="+url.QueryEscape(fx.secrets()[0]), http.StatusFound)
		case "/api/public/deny":
			http.Redirect(w, r, "/api/private/secrets", http.StatusFound)
		case "/api/public/out":
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		default:
			_, _ = io.WriteString(w, "landed at "+p.path)
		}
	})
	var base string
	if fx.serve != nil {
		base = fx.serve(t, handler)
	} else {
		srv := httptest.NewServer(handler)
		t.Cleanup(srv.Close)
		base = srv.URL
	}

	dir := t.TempDir()
	services := fmt.Sprintf(`services:
  proof:
    base_url: %s/api
    auth: %s
    allow: ["GET /public/**", "POST /public/*"]
%s  other:
    base_url: %s
    auth: {type: bearer, env: PROOF_OTHER_KEY}
%s`, base, fx.auth, indentYAML(fx.extra), otherURL, indentYAML(otherExtra))
	cfgPath := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(cfgPath, []byte(services), 0o600); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, "audit.jsonl")
	s := startRaw(t, append([]string{"PROOF_OTHER_KEY=" + otherKey}, fx.env...), "serve", "--config", cfgPath, "--audit-log", audit, "--log-level", "debug")
	s.initialize()

	// A probe call sets every carrier itself, with a value of the model's:
	// it is refused, or the carrier is replaced (the scheme's downstream
	// must still see exactly the credential) or stripped (the other origin
	// must see no carrier).
	probe := map[string]any{}
	probeQuery := map[string]any{}
	for _, h := range fx.headers {
		probe[h] = "model-guess"
	}
	for _, p := range fx.params {
		probeQuery[p] = "model-guess"
	}
	calls := []struct {
		service, path string
		want          []string // in the result, marshalled
		probe         bool
		body          any // sent with POST; nil: GET
	}{
		{"proof", "/public/echo", []string{`"status":200`, "[REDACTED:"}, false, nil},
		{"other", "/direct", []string{`"status":200`, `"other":true`}, false, nil},
		{"proof", "/public/hop1", []string{`"status":302`, "cross-origin"}, false, nil},
		{"proof", "/public/deny", []string{`"status":302`, "not-allowed"}, false, nil},
		{"proof", "/public/out", []string{`"status":302`, "outside-base-path"}, false, nil},
		{"other", "/direct", []string{`"status":200`}, false, nil},
		{"proof", "/public/echo", []string{`"status":200`, "[REDACTED:"}, false, nil},
		{"proof", "/public/boom", []string{`"status":500`, "[REDACTED:", `"isError":true`}, false, nil},
		{"proof", "/public/probe", nil, true, nil},
		{"other", "/probe", nil, true, nil},
		{"proof", "/public/hop307", []string{`"status":200`, `"method":"POST"`, `proof-body`}, false, map[string]any{"q": "proof-body"}},
	}
	for i, c := range calls {
		args := map[string]any{"service": c.service, "method": "GET", "path": c.path}
		if c.body != nil {
			args["method"], args["body"] = "POST", c.body
		}
		if c.probe {
			args["headers"], args["query"] = probe, probeQuery
		}
		res := s.call(10+i, "tools/call", map[string]any{"name": "call_api", "arguments": args})
		b, _ := json.Marshal(res["result"])
		if res["error"] != nil || res["result"] == nil {
			t.Fatalf("call_api %s %s: %v; stderr:\n%s", c.service, c.path, res["error"], s.stderrText())
		}
		for _, w := range c.want {
			if !bytes.Contains(b, []byte(w)) {
				t.Errorf("call_api %s GET %s = %s, want it to contain %q", c.service, c.path, b, w)
			}
		}
	}
	if err := s.finish(); err != nil {
		t.Errorf("keyveil exited with %v after stdin closed, want 0; stderr:\n%s", err, s.stderrText())
	}

	// (a) and (d): every request that reached the scheme's downstream
	// carried a credential its verifier accepts, the same-origin hop
	// included, and no hop the rules forbid was followed.
	for _, p := range mine.all() {
		assertNoSecret(t, "a request the scheme's downstream received", []byte(p.text()), []string{otherKey}, nil)
		if p.checkErr != nil {
			t.Errorf("the scheme's downstream rejected GET %s: %v", p.path, p.checkErr)
		}
	}
	wantPaths := []string{"/api/public/echo", "/api/public/hop1", "/api/public/hop2", "/api/public/deny", "/api/public/out", "/api/public/echo", "/api/public/boom", "/api/public/hop307", "/api/public/posted"}
	if got := withoutProbes(mine.paths()); strings.Join(got, " ") != strings.Join(wantPaths, " ") {
		t.Errorf("the scheme's downstream received %q, want %q (the same-origin hop followed once, nothing outside the base path or the allow rules)", got, wantPaths)
	}

	// (c): the other origin received the two direct calls, and nothing
	// of the scheme's credential in any of them or anything else.
	secrets := fx.secrets()
	if got := withoutProbes(other.paths()); strings.Join(got, " ") != "/direct /direct" {
		t.Errorf("the other origin received %q, want the two direct calls only (a cross-origin redirect is not followed)", got)
	}
	for _, p := range other.all() {
		if p.clientCerts != 0 {
			t.Errorf("the other origin was presented a client certificate on GET %s", p.path)
		}
		if vs := p.header.Values("Authorization"); len(vs) != 1 || vs[0] != "Bearer "+otherKey {
			t.Errorf("the other origin received %d Authorization headers on GET %s, want exactly its own key", len(vs), p.path)
		}
		for _, h := range append([]string{"Proxy-Authorization", "Cookie"}, fx.headers...) {
			if _, ok := p.header[http.CanonicalHeaderKey(h)]; ok && !strings.EqualFold(h, "Authorization") {
				t.Errorf("the other origin received header %s on GET %s", h, p.path)
			}
		}
		q := p.rawQuery
		for _, name := range fx.params {
			if strings.Contains(strings.ToLower(q), strings.ToLower(name)+"=") {
				t.Errorf("the other origin received parameter %s on GET %s", name, p.path)
			}
		}
		assertNoSecret(t, "a request the other origin received", []byte(p.text()), secrets, fx.wire)
	}

	// (b): nothing keyveil wrote holds a secret.
	s.mu.Lock()
	stdout, stderr := bytes.Clone(s.stdout.Bytes()), bytes.Clone(s.stderr.Bytes())
	s.mu.Unlock()
	auditBytes, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(auditBytes, []byte("\n")); n < len(calls) {
		t.Errorf("audit log has %d lines, want one per call (%d)", n, len(calls))
	}
	secrets = append(secrets, otherKey)
	assertNoSecret(t, "stdout", stdout, secrets, fx.wire)
	assertNoSecret(t, "stderr", stderr, secrets, fx.wire)
	assertNoSecret(t, "the audit log", auditBytes, secrets, fx.wire)
}

// indentYAML indents each line of a service's extra keys to sit under
// the service.
func indentYAML(extra string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimSpace(extra), "\n") {
		if line != "" {
			b.WriteString("    " + line + "\n")
		}
	}
	return b.String()
}

// withoutProbes returns paths without those of probe calls, which may or
// may not be sent.
func withoutProbes(paths []string) []string {
	var out []string
	for _, p := range paths {
		if !strings.HasSuffix(p, "/probe") {
			out = append(out, p)
		}
	}
	return out
}

// pemBody returns a PEM block's base64 body joined into one line: the form
// a key takes once its line breaks are lost.
func pemBody(p string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(strings.TrimSpace(p), "\n") {
		if !strings.HasPrefix(line, "-----") {
			b.WriteString(strings.TrimSpace(line))
		}
	}
	return b.String()
}

// proofSecret returns a fresh random secret for one row. Its 24 random
// hex digits make any 12-byte piece of it unmistakable in output.
func proofSecret(what string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "pv-" + what + "-" + hex.EncodeToString(b)
}

func fixedValues(vs ...string) func() []string { return func() []string { return vs } }

// wantHeader verifies that header name carries exactly want.
func wantHeader(name, want string) func(*http.Request, []byte) error {
	return func(r *http.Request, _ []byte) error {
		if vs := r.Header.Values(name); len(vs) != 1 || vs[0] != want {
			return fmt.Errorf("header %s missing, repeated or wrong", name)
		}
		return nil
	}
}

// wantParam verifies that query parameter name carries exactly want.
func wantParam(name, want string) func(*http.Request, []byte) error {
	return func(r *http.Request, _ []byte) error {
		if vs := r.URL.Query()[name]; len(vs) != 1 || vs[0] != want {
			return fmt.Errorf("parameter %s missing, repeated or wrong", name)
		}
		return nil
	}
}

// secretForms returns s in every encoding the Redactor promises to catch,
// computed here independently of it: raw, upper case (matching ignores
// ASCII case), reversed, base64 in both alphabets with and without
// padding, base64 inside a longer blob at each of the three alignments,
// hex, percent-encoding of every byte, JSON \u escapes, HTML character
// references (decimal and hex) and UTF-16 in both byte orders.
func secretForms(s string) map[string]string {
	rev := []byte(s)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	var pct, uesc, html, htmlHex strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&pct, "%%%02X", c)
		fmt.Fprintf(&uesc, `\u%04x`, c)
		fmt.Fprintf(&html, "&#%d;", c)
		fmt.Fprintf(&htmlHex, "&#x%x;", c)
	}
	var le, be []byte
	for _, u := range utf16.Encode([]rune(s)) {
		le = binary.LittleEndian.AppendUint16(le, u)
		be = binary.BigEndian.AppendUint16(be, u)
	}
	forms := map[string]string{
		"raw":           s,
		"upper":         strings.ToUpper(s),
		"reversed":      string(rev),
		"base64":        base64.StdEncoding.EncodeToString([]byte(s)),
		"base64-raw":    base64.RawStdEncoding.EncodeToString([]byte(s)),
		"base64url":     base64.URLEncoding.EncodeToString([]byte(s)),
		"base64url-raw": base64.RawURLEncoding.EncodeToString([]byte(s)),
		"html-hex":      htmlHex.String(),
		"hex":           hex.EncodeToString([]byte(s)),
		"percent":       pct.String(),
		"json-u":        uesc.String(),
		"html":          html.String(),
		"utf16le":       string(le),
		"utf16be":       string(be),
		"base64-in-1":   base64.StdEncoding.EncodeToString([]byte("u:" + s + "\n")),
		"base64-in-2":   base64.StdEncoding.EncodeToString([]byte("us:" + s + "\n")),
		"base64-in-3":   base64.StdEncoding.EncodeToString([]byte("use:" + s + "\n")),
	}
	return forms
}

// assertNoSecret fails when b holds any secret in any form of
// secretForms, any 12 consecutive bytes of one (ignoring case), or any of
// the wire strings; where names the output. b is searched as written and
// with its escaping undone (see unescaped), since a result is JSON inside
// JSON and a \u escape, an HTML reference or a NUL would otherwise be
// looked for in a spelling the output never has. A form embedded in a
// longer base64 blob is looked for by its middle, the part that does not
// depend on the bytes around it.
func assertNoSecret(t *testing.T, where string, b []byte, secrets, wire []string) {
	t.Helper()
	b = bytes.Join(append([][]byte{b}, unescaped(b)...), []byte("\n"))
	lower := bytes.ToLower(b)
	for i, s := range secrets {
		for kind, f := range secretForms(s) {
			if strings.HasPrefix(kind, "base64-in-") {
				f = f[8 : len(f)-8]
			}
			if bytes.Contains(lower, bytes.ToLower([]byte(f))) {
				t.Errorf("%s holds secret %d (%s form)", where, i, kind)
			}
		}
		for j := 0; j+12 <= len(s); j++ {
			if bytes.Contains(lower, bytes.ToLower([]byte(s[j:j+12]))) {
				t.Errorf("%s holds 12 bytes of secret %d (from byte %d)", where, i, j)
				break
			}
		}
	}
	for i, w := range wire {
		if bytes.Contains(b, []byte(w)) {
			t.Errorf("%s holds wire form %d of the credential", where, i)
		}
	}
}

// ccTokenEndpoint is an OAuth 2.0 token endpoint for tests: it checks the
// client credentials grant (client ID and secret in Basic auth, the grant
// type) and issues random access tokens, remembering each.
type ccTokenEndpoint struct {
	srv    *httptest.Server
	mu     sync.Mutex
	tokens []string
}

func newCCTokenEndpoint(t *testing.T, clientID, secret string) *ccTokenEndpoint {
	te := &ccTokenEndpoint{}
	te.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, sec, ok := r.BasicAuth()
		if r.Method != http.MethodPost || r.URL.Path != "/token" || r.ParseForm() != nil {
			http.Error(w, `{"error":"invalid_request"}`, http.StatusBadRequest)
			return
		}
		if !ok || id != clientID || sec != secret {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = io.WriteString(w, `{"error":"invalid_client"}`)
			return
		}
		if r.PostForm.Get("grant_type") != "client_credentials" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = io.WriteString(w, `{"error":"unsupported_grant_type"}`)
			return
		}
		tok := proofSecret("access-token")
		te.mu.Lock()
		te.tokens = append(te.tokens, tok)
		te.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3600})
	}))
	t.Cleanup(te.srv.Close)
	return te
}

// issued returns the access tokens handed out so far.
func (te *ccTokenEndpoint) issued() []string {
	te.mu.Lock()
	defer te.mu.Unlock()
	return append([]string(nil), te.tokens...)
}

// valid reports whether tok is one the endpoint issued.
func (te *ccTokenEndpoint) valid(tok string) bool {
	for _, t := range te.issued() {
		if t == tok {
			return true
		}
	}
	return false
}

// quotedString matches a double-quoted string with backslash escapes, as JSON
// and Go's strconv.Quote (slog's text handler) write them.
var quotedString = regexp.MustCompile(`"(?:[^"\\\n]|\\.)*"`)

// unescaped returns the strings inside b with their escaping undone, layer
// by layer: every JSON string of every line that is a JSON document, every
// Go-quoted string elsewhere, and again inside each string that is itself
// JSON (a tool result's text) or holds quoted strings.
func unescaped(b []byte) [][]byte {
	var out [][]byte
	var walk func(v any, depth int)
	var text func(s string, depth int)
	walk = func(v any, depth int) {
		switch v := v.(type) {
		case string:
			out = append(out, []byte(v))
			text(v, depth+1)
		case []any:
			for _, x := range v {
				walk(x, depth)
			}
		case map[string]any:
			for k, x := range v {
				out = append(out, []byte(k))
				walk(x, depth)
			}
		}
	}
	text = func(s string, depth int) {
		if depth > 4 {
			return
		}
		for line := range strings.SplitSeq(s, "\n") {
			var v any
			if json.Unmarshal([]byte(line), &v) == nil {
				walk(v, depth)
				continue
			}
			for _, q := range quotedString.FindAllString(line, -1) {
				if u, err := strconv.Unquote(q); err == nil {
					out = append(out, []byte(u))
					text(u, depth+1)
				} else if json.Unmarshal([]byte(q), &u) == nil {
					out = append(out, []byte(u))
					text(u, depth+1)
				}
			}
		}
	}
	text(string(b), 0)
	return out
}
