package credentials

import (
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/internal/tlstest"
)

// writeTemp writes body to a file in a test directory and returns its
// path.
func writeTemp(t *testing.T, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// tlsServer is an httptest TLS server that records the client
// certificates it was shown.
type tlsServer struct {
	*httptest.Server
	mu    sync.Mutex
	peers []string // CN of each request's client certificate; "" for none
}

func (s *tlsServer) seen() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.peers...)
}

// newTLSServer starts a TLS server with cert; clientCA non-nil requires a
// client certificate signed by it, nil only asks for one. next, when set,
// answers instead of the default "ok".
func newTLSServer(t *testing.T, cert tlstest.Cert, clientCA *tlstest.CA, next http.HandlerFunc) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cn := ""
		if len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		s.mu.Lock()
		s.peers = append(s.peers, cn)
		s.mu.Unlock()
		if next != nil {
			next(w, r)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	s.TLS = &tls.Config{Certificates: []tls.Certificate{cert.Pair}, ClientAuth: tls.RequestClientCert}
	if clientCA != nil {
		pool := x509.NewCertPool()
		pool.AddCert(clientCA.Cert)
		s.TLS.ClientAuth, s.TLS.ClientCAs = tls.RequireAndVerifyClientCert, pool
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // handshake failures are the point
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// tlsSetup loads cfg with env and returns a client through a fresh
// Transport, closed with the test.
func tlsSetup(t *testing.T, cfg *config.Config, env map[string]string) (*Set, *http.Client) {
	t.Helper()
	set, err := Load(cfg, &Env{dotenv: env})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tr := NewTransport(set, cfg, nil)
	t.Cleanup(tr.CloseIdleConnections)
	return set, tr.Client()
}

func noneService(name, baseURL string, tl config.TLS) config.Service {
	return config.Service{Name: name, BaseURL: baseURL, Auth: config.AuthList{{Type: config.AuthNone}}, TLS: tl}
}

// TestTLSClientCertificate calls an HTTPS server that requires a client
// certificate signed by a test CA, with every mistake an operator can make
// and the right setup, and checks each failure's message names the
// service and the fix and nothing of a certificate or the key.
func TestTLSClientCertificate(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "keyveil test corp CA")
	other := tlstest.NewCA(t, "keyveil test other CA")
	serverCert := ca.Issue(t, "billing-server.test", tlstest.Options{Server: true})
	good := ca.Issue(t, "keyveil-client", tlstest.Options{RSA: true})
	foreign := other.Issue(t, "keyveil-client", tlstest.Options{})
	expired := ca.Issue(t, "keyveil-client", tlstest.Options{NotAfter: time.Now().Add(-time.Hour)})
	srv := newTLSServer(t, serverCert, ca, nil)
	expiredSrv := newTLSServer(t, ca.Issue(t, "old-server.test", tlstest.Options{Server: true, NotAfter: time.Now().Add(-time.Hour)}), nil, nil)
	caFile := writeTemp(t, "ca.pem", ca.PEM)
	withCert := config.TLS{CAFile: caFile, ClientCertEnv: "BILLING_CERT", ClientKeyEnv: "BILLING_KEY"}

	tests := []struct {
		name string
		url  string
		tls  config.TLS
		cert tlstest.Cert
		want string // "" for success
	}{
		{name: "right certificate", tls: withCert, cert: good},
		{name: "key as one line with \\n", tls: withCert, cert: tlstest.Cert{CertPEM: good.CertPEM, KeyPEM: strings.ReplaceAll(strings.TrimSuffix(good.KeyPEM, "\n"), "\n", `\n`)}},
		{name: "no client certificate", tls: config.TLS{CAFile: caFile}, want: `the server requires a client certificate: set tls.client_cert_env and tls.client_key_env of service "internal"`},
		{name: "certificate of another CA", tls: withCert, cert: foreign, want: `the server refused keyveil's client certificate: check that the certificate in BILLING_CERT (service "internal")`},
		{name: "expired client certificate", tls: withCert, cert: expired, want: `the server says the client certificate in BILLING_CERT has expired; renew it (service "internal")`},
		{name: "no ca_file", tls: config.TLS{ClientCertEnv: "BILLING_CERT", ClientKeyEnv: "BILLING_KEY"}, cert: good, want: `the server's certificate is not signed by a CA keyveil trusts: set tls.ca_file of service "internal" to your company's CA bundle`},
		{name: "no tls block", want: `set tls.ca_file of service "internal"`},
		{name: "expired server certificate", url: expiredSrv.URL, tls: config.TLS{CAFile: caFile}, want: `the server's certificate has expired or is not yet valid (service "internal")`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			url := tc.url
			if url == "" {
				url = srv.URL
			}
			env := map[string]string{}
			if tc.cert.CertPEM != "" {
				env["BILLING_CERT"], env["BILLING_KEY"] = tc.cert.CertPEM, tc.cert.KeyPEM
			}
			cfg := &config.Config{Services: []config.Service{noneService("internal", url, tc.tls)}}
			_, client := tlsSetup(t, cfg, env)
			resp, err := client.Get(url + "/invoices")
			if tc.want == "" {
				if err != nil {
					t.Fatalf("GET with the right certificate: %v", err)
				}
				b, _ := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if string(b) != "ok" {
					t.Errorf("GET = %d %q, want ok", resp.StatusCode, b)
				}
				return
			}
			if err == nil {
				_ = resp.Body.Close()
				t.Fatalf("GET succeeded, want %q", tc.want)
			}
			var ex interface{ Explain() string }
			if !errors.As(err, &ex) || !strings.Contains(ex.Explain(), tc.want) {
				t.Fatalf("GET error = %v, want one whose Explain() holds %q", err, tc.want)
			}
			for _, leak := range []string{"billing-server.test", "old-server.test", "keyveil test", "BEGIN", pemLine(tc.cert.KeyPEM)} {
				if leak != "" && strings.Contains(err.Error(), leak) {
					t.Errorf("GET error %q shows %q", err, leak)
				}
			}
		})
	}
}

// pemLine returns the first base64 line of a PEM, or "".
func pemLine(p string) string {
	lines := strings.Split(p, "\n")
	if len(lines) < 2 {
		return ""
	}
	return lines[1]
}

// TestTLSRedirectCarriesNoCertificate follows a redirect from a service
// whose server requires a client certificate to another service's server
// that asks for one and records what it got: the second origin must see no
// certificate. The client follows every redirect, as net/http's default
// does, so the hop passes through the Transport to the other service.
func TestTLSRedirectCarriesNoCertificate(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "keyveil test corp CA")
	client := ca.Issue(t, "keyveil-client", tlstest.Options{})
	other := newTLSServer(t, ca.Issue(t, "other", tlstest.Options{Server: true}), nil, nil)
	first := newTLSServer(t, ca.Issue(t, "billing", tlstest.Options{Server: true}), ca, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/landing", http.StatusFound)
	})
	caFile := writeTemp(t, "ca.pem", ca.PEM)
	cfg := &config.Config{Services: []config.Service{
		noneService("internal", first.URL, config.TLS{CAFile: caFile, ClientCertEnv: "C", ClientKeyEnv: "K"}),
		noneService("other", other.URL, config.TLS{CAFile: caFile}),
	}}
	set, err := Load(cfg, &Env{dotenv: map[string]string{"C": client.CertPEM, "K": client.KeyPEM}})
	if err != nil {
		t.Fatal(err)
	}
	tr := NewTransport(set, cfg, nil)
	t.Cleanup(tr.CloseIdleConnections)
	resp, err := (&http.Client{Transport: tr}).Get(first.URL + "/x")
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if got := first.seen(); len(got) != 1 || got[0] != "keyveil-client" {
		t.Errorf("first server saw client certificates %q, want [keyveil-client]", got)
	}
	if got := other.seen(); len(got) != 1 || got[0] != "" {
		t.Errorf("the redirect's target saw client certificates %q, want one request with none", got)
	}
}

// TestTLSKeyRedacted checks that the client key is known to the Redactor
// in every form it is written in, that the certificate is not (it is
// public), and that the key variables are unset and listed by SecretVars.
func TestTLSKeyRedacted(t *testing.T) {
	ca := tlstest.NewCA(t, "keyveil test corp CA")
	c := ca.Issue(t, "keyveil-client", tlstest.Options{RSA: true})
	b, _ := pem.Decode([]byte(c.KeyPEM))
	body := strings.Join(strings.Split(strings.TrimSpace(c.KeyPEM), "\n")[1:len(strings.Split(strings.TrimSpace(c.KeyPEM), "\n"))-1], "")
	jsonPEM, _ := json.Marshal(c.KeyPEM)
	cfg := &config.Config{Services: []config.Service{noneService("internal", "https://billing.corp.example", config.TLS{ClientCertEnv: "BILLING_CERT", ClientKeyEnv: "BILLING_KEY"})}}
	t.Setenv("BILLING_KEY", c.KeyPEM)
	set, err := Load(cfg, &Env{dotenv: map[string]string{"BILLING_CERT": c.CertPEM}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := os.LookupEnv("BILLING_KEY"); ok {
		t.Error("BILLING_KEY is still set after Load")
	}
	if vars := SecretVars(cfg); !contains(vars, "BILLING_KEY") || !contains(vars, "BILLING_KEY_FILE") || contains(vars, "BILLING_CERT") {
		t.Errorf("SecretVars = %v, want BILLING_KEY and BILLING_KEY_FILE, not BILLING_CERT", vars)
	}
	red := set.Redactor()
	forms := map[string]string{
		"pem":        c.KeyPEM,
		"crlf":       strings.ReplaceAll(c.KeyPEM, "\n", "\r\n"),
		"json":       string(jsonPEM),
		"one line":   strings.ReplaceAll(c.KeyPEM, "\n", `\n`),
		"joined":     body,
		"hex der":    hex.EncodeToString(b.Bytes),
		"a log line": "level=debug msg=loaded key=" + strings.Split(c.KeyPEM, "\n")[7] + " next",
	}
	// The key as a JWK: its numbers are in no PEM line, and p alone
	// factors the modulus.
	jwk := rsaJWK(t, b.Bytes)
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		forms["pkcs1 joined"] = base64.StdEncoding.EncodeToString(x509.MarshalPKCS1PrivateKey(k.(*rsa.PrivateKey)))
	}
	for member, v := range jwk {
		forms["jwk "+member] = `{"kty":"RSA","` + member + `":"` + v + `"}`
	}
	for name, form := range forms {
		got := red.RedactString(form)
		if !strings.Contains(got, "[REDACTED:BILLING_KEY]") {
			t.Errorf("Redact(%s form) has no marker: %.80q", name, got)
		}
		for member, v := range jwk {
			if strings.Contains(got, v[8:24]) {
				t.Errorf("Redact(%s form) still holds part of the JWK's %s: %.120q", name, member, got)
			}
		}
		for i, line := range strings.Split(c.KeyPEM, "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(got, line[4:16]) {
				t.Errorf("Redact(%s form) still holds part of line %d of the key: %.120q", name, i, got)
				break
			}
		}
	}
	if got := red.RedactString(c.CertPEM); got != c.CertPEM {
		t.Errorf("Redact(the certificate) = %.80q, want it unchanged: a certificate is public", got)
	}
	info, ok := set.TLS("internal")
	if !ok || info.Subject != "keyveil-client" || info.KeyFingerprint == "" || info.KeySource != SourceEnv || info.CertSource != SourceDotenv {
		t.Errorf("TLS(internal) = %+v, %v", info, ok)
	}
}

// rsaJWK returns the secret members of the RSA private key in der (PKCS
// #8) as a JWK writes them: base64url without padding.
func rsaJWK(t *testing.T, der []byte) map[string]string {
	t.Helper()
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		t.Fatal(err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("the key is a %T, not RSA", k)
	}
	enc := func(n *big.Int) string { return base64.RawURLEncoding.EncodeToString(n.Bytes()) }
	return map[string]string{
		"d": enc(rk.D), "p": enc(rk.Primes[0]), "q": enc(rk.Primes[1]),
		"dp": enc(rk.Precomputed.Dp), "dq": enc(rk.Precomputed.Dq), "qi": enc(rk.Precomputed.Qinv),
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestTLSLoadErrors feeds Load broken certificates and keys and checks
// each error names the variable and never quotes a byte of the PEM.
func TestTLSLoadErrors(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "keyveil test corp CA")
	c := ca.Issue(t, "keyveil-client", tlstest.Options{})
	d := ca.Issue(t, "someone-else", tlstest.Options{})
	kb, _ := pem.Decode([]byte(c.KeyPEM))
	encrypted := string(pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: kb.Bytes}))
	garbledKey := strings.Replace(c.KeyPEM, pemLine(c.KeyPEM)[:8], "AAAAAAAA", 1)
	keyFile := writeTemp(t, "key.pem", c.KeyPEM)
	oneLine := strings.ReplaceAll(strings.TrimSuffix(c.KeyPEM, "\n"), "\n", `\n`)
	kc := fakeKeychain{"billing": {oneLine, "https://billing.corp.example"}, "elsewhere": {oneLine, "https://elsewhere.example"}}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"key missing", map[string]string{"C": c.CertPEM}, "K is not set; add it to the env block of your MCP client config, or set K_FILE"},
		{"key not PEM", map[string]string{"C": c.CertPEM, "K": "sk-live-not-a-pem-0123456789"}, "holds no PEM block"},
		{"key a reference", map[string]string{"C": c.CertPEM, "K": "op://vault/item/key"}, "1Password reference"},
		{"key in the keychain for another origin", map[string]string{"C": c.CertPEM, "K": "keychain:elsewhere"}, "K refers to keychain:elsewhere, which is stored for https://elsewhere.example only"},
		{"certificate in the keychain", map[string]string{"C": "keychain:billing", "K": c.KeyPEM}, "a certificate is not secret"},
		{"key encrypted", map[string]string{"C": c.CertPEM, "K": encrypted}, "K is an encrypted private key"},
		{"key garbled", map[string]string{"C": c.CertPEM, "K": garbledKey}, "K is not a private key keyveil can read"},
		{"key of another certificate", map[string]string{"C": d.CertPEM, "K": c.KeyPEM}, "the private key in K does not belong to the certificate in C"},
		{"swapped", map[string]string{"C": c.KeyPEM, "K": c.CertPEM}, "C holds a private key (PEM block 1); it is for the certificate"},
		{"certificate garbled", map[string]string{"C": strings.Replace(c.CertPEM, pemLine(c.CertPEM)[:8], "AAAAAAAA", 1), "K": c.KeyPEM}, "C: PEM block 1 is not a certificate that parses"},
		{"both NAME and NAME_FILE", map[string]string{"C": c.CertPEM, "K": c.KeyPEM, "K_FILE": keyFile}, "K and K_FILE are both set"},
		{"key file missing", map[string]string{"C": c.CertPEM, "K_FILE": "/nonexistent/key.pem"}, "names a file that does not exist; it must hold the path of a file containing the client key (PEM)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := &config.Config{Services: []config.Service{noneService("internal", "https://billing.corp.example", config.TLS{ClientCertEnv: "C", ClientKeyEnv: "K"})}}
			_, err := Load(cfg, &Env{dotenv: tc.env, keychain: kc.lookup})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Load error = %v, want %q", err, tc.want)
			}
			if !strings.Contains(err.Error(), `service "internal"`) {
				t.Errorf("Load error = %v, want the service named", err)
			}
			for _, v := range tc.env {
				for _, line := range strings.Split(v, "\n") {
					if len(line) >= 16 && !strings.HasPrefix(line, "-----") && strings.Contains(err.Error(), line[:16]) {
						t.Errorf("Load error %q quotes the PEM", err)
					}
				}
				if strings.Contains(err.Error(), "sk-live") || strings.Contains(err.Error(), "vault/item") {
					t.Errorf("Load error %q quotes the value", err)
				}
			}
		})
	}
	t.Run("key from the keychain", func(t *testing.T) {
		t.Parallel()
		cfg := &config.Config{Services: []config.Service{noneService("internal", "https://billing.corp.example", config.TLS{ClientCertEnv: "C", ClientKeyEnv: "K"})}}
		set, err := Load(cfg, &Env{dotenv: map[string]string{"C": c.CertPEM, "K": "keychain:billing"}, keychain: kc.lookup})
		if err != nil {
			t.Fatal(err)
		}
		if info, _ := set.TLS("internal"); info.KeySource != SourceKeychain || info.KeyPath != "billing" {
			t.Errorf("TLS(internal) = %+v, want the key from the keychain secret billing", info)
		}
		if got := set.Redactor().RedactString(pemLine(c.KeyPEM)); strings.Contains(got, pemLine(c.KeyPEM)[:16]) {
			t.Errorf("Redact(a line of the keychain key) = %q", got)
		}
	})
	t.Run("key from NAME_FILE", func(t *testing.T) {
		t.Parallel()
		cfg := &config.Config{Services: []config.Service{noneService("internal", "https://billing.corp.example", config.TLS{ClientCertEnv: "C", ClientKeyEnv: "K"})}}
		set, err := Load(cfg, &Env{dotenv: map[string]string{"C": c.CertPEM, "K_FILE": keyFile}})
		if err != nil {
			t.Fatal(err)
		}
		if info, _ := set.TLS("internal"); info.KeySource != SourceFile || info.KeyPath != keyFile {
			t.Errorf("TLS(internal) = %+v, want the key from %s", info, keyFile)
		}
	})
}

// TestTLSExpiryWarnings checks that a client certificate that has
// expired, or expires within two weeks, draws a start-up warning naming
// its variable and the date, and a fresh one draws none.
func TestTLSExpiryWarnings(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "keyveil test corp CA")
	now := time.Now()
	tests := []struct {
		name     string
		notAfter time.Time
		want     string // "" for no warning
	}{
		{"fresh", now.Add(90 * 24 * time.Hour), ""},
		{"expires soon", now.Add(3 * 24 * time.Hour), "the client certificate in C expires on " + now.Add(3*24*time.Hour).UTC().Format(time.DateOnly) + "; renew it soon"},
		{"expired", now.Add(-time.Hour), "the client certificate in C expired on " + now.Add(-time.Hour).UTC().Format(time.DateOnly) + ", so the server will refuse it"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ca.Issue(t, "keyveil-client", tlstest.Options{NotAfter: tc.notAfter})
			cfg := &config.Config{Services: []config.Service{noneService("internal", "https://billing.corp.example", config.TLS{ClientCertEnv: "C", ClientKeyEnv: "K"})}}
			set, err := Load(cfg, &Env{dotenv: map[string]string{"C": c.CertPEM, "K": c.KeyPEM}})
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(set.Warnings(), "\n")
			if tc.want == "" && strings.Contains(got, "client certificate") || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("Warnings() = %q, want %q", got, tc.want)
			}
		})
	}
}

// roundTripFunc is a RoundTripper that is not an *http.Transport.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestTLSWithBase checks how a tls block meets TransportOptions.Base: an
// *http.Transport is cloned with the block's settings, keeping its own
// roots when the block has no ca_file; any other RoundTripper is used as
// it is.
func TestTLSWithBase(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "keyveil test corp CA")
	client := ca.Issue(t, "keyveil-client", tlstest.Options{})
	srv := newTLSServer(t, ca.Issue(t, "server", tlstest.Options{Server: true}), nil, nil)
	env := map[string]string{"C": client.CertPEM, "K": client.KeyPEM}
	cfg := &config.Config{Services: []config.Service{noneService("internal", srv.URL, config.TLS{ClientCertEnv: "C", ClientKeyEnv: "K"})}}

	t.Run("an http.Transport keeps its roots and gains the certificate", func(t *testing.T) {
		set, err := Load(cfg, &Env{dotenv: maps.Clone(env)})
		if err != nil {
			t.Fatal(err)
		}
		pool := x509.NewCertPool()
		pool.AddCert(ca.Cert)
		base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
		tr := NewTransport(set, cfg, &TransportOptions{Base: base})
		t.Cleanup(tr.CloseIdleConnections)
		resp, err := tr.Client().Get(srv.URL + "/")
		if err != nil {
			t.Fatalf("GET through an *http.Transport base: %v", err)
		}
		_ = resp.Body.Close()
		if got := srv.seen(); len(got) == 0 || got[len(got)-1] != "keyveil-client" {
			t.Errorf("server saw client certificates %q, want keyveil-client last", got)
		}
		if base.TLSClientConfig.GetClientCertificate != nil || base.TLSClientConfig.Certificates != nil {
			t.Error("the caller's base transport was changed")
		}
	})
	t.Run("another RoundTripper is used as it is", func(t *testing.T) {
		set, err := Load(cfg, &Env{dotenv: maps.Clone(env)})
		if err != nil {
			t.Fatal(err)
		}
		var got int
		base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got++
			return &http.Response{StatusCode: 204, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
		})
		resp, err := NewTransport(set, cfg, &TransportOptions{Base: base}).Client().Get(srv.URL + "/")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if got != 1 || resp.StatusCode != 204 {
			t.Errorf("base called %d times, status %d; want the test base to answer", got, resp.StatusCode)
		}
	})
}

// BenchmarkRedactorWithClientKey measures what a tls client key costs the
// Redactor: building it at start-up (and again on every Add, when OAuth
// tokens arrive) with every form of the key, and redacting 14 KB of clean
// text, side by side with a Redactor that knows one API key alone.
func BenchmarkRedactorWithClientKey(b *testing.B) {
	t := &testing.T{}
	ca := tlstest.NewCA(t, "keyveil bench CA")
	api := NewSecret("API_KEY", "sk-test-0123456789abcdefghij")
	text := []byte(strings.Repeat(`The quick brown fox jumps over the lazy dog. {"id":123,"name":"abc"}`+"\n", 200))
	for _, bc := range []struct {
		name string
		key  string
	}{
		{"api-key-only", ""},
		{"ecdsa-p256", ca.Issue(t, "c", tlstest.Options{}).KeyPEM},
		{"rsa-2048", ca.Issue(t, "c", tlstest.Options{RSA: true}).KeyPEM},
	} {
		secrets := []Secret{api}
		if bc.key != "" {
			secrets = append(secrets, keyForms("K", bc.key)...)
		}
		b.Run(bc.name+"/build", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				NewRedactor(secrets...).Redact(nil)
			}
		})
		r := NewRedactor(secrets...)
		b.Run(bc.name+"/redact-14KB", func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				r.Redact(text)
			}
		})
	}
}
