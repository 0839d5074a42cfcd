package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/internal/tlstest"
)

// mtlsCA is a test CA with the issue the subprocess tests use: a server
// certificate for 127.0.0.1 with a P-256 key, or a client one with an RSA
// key (a PEM of many lines).
type mtlsCA struct {
	*tlstest.CA
	pem string
}

func newMTLSCA(t *testing.T, name string) *mtlsCA {
	t.Helper()
	ca := tlstest.NewCA(t, name)
	return &mtlsCA{CA: ca, pem: ca.PEM}
}

// issue returns a certificate for cn signed by ca and its key, in PEM.
func (ca *mtlsCA) issue(t *testing.T, cn string, server bool) (certPEM, keyPEM string) {
	t.Helper()
	c := ca.Issue(t, cn, tlstest.Options{Server: server, RSA: !server})
	return c.CertPEM, c.KeyPEM
}

// startMTLSServer starts an HTTPS server with a certificate from ca;
// clientCA non-nil requires a client certificate it signed.
func startMTLSServer(t *testing.T, ca, clientCA *mtlsCA, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Issue(t, "server", tlstest.Options{Server: true}).Pair}}
	if clientCA != nil {
		srv.TLS.ClientAuth, srv.TLS.ClientCAs = tls.RequireAndVerifyClientCert, clientCA.Pool()
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// keyChunks returns 16-byte pieces of every base64 line of a PEM key: if
// any is found in output, some form of the key got out.
func keyChunks(keyPEM string) []string {
	var out []string
	for _, line := range strings.Split(keyPEM, "\n") {
		if strings.HasPrefix(line, "-----") || len(line) < 32 {
			continue
		}
		out = append(out, line[:16], line[16:32])
	}
	return out
}

// TestSubprocessMTLS runs keyveil over real pipes against a server that
// requires a client certificate signed by a private CA, with the private
// CA in tls.ca_file and a "public" CA standing in for the system roots
// (SSL_CERT_FILE). The server echoes the client key back in several forms
// (as an API that dumps its configuration might): no piece of it may
// reach stdout, stderr or the audit log. A service with the same ca_file
// whose server has a certificate from the public CA must still work:
// ca_file adds to the system roots, it does not replace them. A service
// without a client certificate gets a message naming it and the fix.
func TestSubprocessMTLS(t *testing.T) {
	t.Parallel()
	corp := newMTLSCA(t, "keyveil test corp CA")
	public := newMTLSCA(t, "keyveil test public CA")
	certPEM, keyPEM := corp.issue(t, "keyveil-client", false)
	jsonKey, _ := json.Marshal(keyPEM)
	lines := strings.Split(keyPEM, "\n")
	billing := startMTLSServer(t, corp, corp, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Debug-Key-Line", lines[3])
		_, _ = io.WriteString(w, `{"cn":"`+r.TLS.PeerCertificates[0].Subject.CommonName+`","dump":`+string(jsonKey)+`,"raw":"`+strings.Join(lines[1:len(lines)-2], "")+`"}`+"\n"+keyPEM)
	})
	pub := startMTLSServer(t, public, nil, func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "public ok") })

	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("corp-ca.pem", corp.pem)
	roots := write("system-roots.pem", public.pem)
	emptyDir := filepath.Join(dir, "no-certs")
	if err := os.Mkdir(emptyDir, 0o700); err != nil {
		t.Fatal(err)
	}
	services := write("services.yaml", `services:
  billing:
    base_url: `+billing.URL+`
    auth: {type: none}
    tls: {ca_file: corp-ca.pem, client_cert_env: BILLING_CERT, client_key_env: BILLING_KEY}
  public:
    base_url: `+pub.URL+`
    auth: {type: none}
    tls: {ca_file: corp-ca.pem}
  nocert:
    base_url: `+startMTLSServer(t, corp, corp, nil).URL+`
    auth: {type: none}
    tls: {ca_file: corp-ca.pem}
`)
	audit := filepath.Join(dir, "audit.jsonl")
	s := startRaw(t, []string{
		"KEYVEIL_CONFIG=" + services, "BILLING_CERT=" + certPEM, "BILLING_KEY=" + keyPEM,
		"SSL_CERT_FILE=" + roots, "SSL_CERT_DIR=" + emptyDir,
	}, "serve", "--audit-log", audit, "--log-level", "debug")
	s.initialize()
	tests := []struct {
		service, want string
		isError       bool
	}{
		{"billing", "keyveil-client", false},
		{"billing", "REDACTED:BILLING_KEY", false},
		{"public", "public ok", false},
		{"nocert", `the server requires a client certificate: set tls.client_cert_env and tls.client_key_env of service \"nocert\"`, true},
	}
	for i, tc := range tests {
		res := s.call(10+i, "tools/call", map[string]any{"name": "call_api", "arguments": map[string]any{"service": tc.service, "method": "GET", "path": "/"}})
		b, _ := json.Marshal(res["result"])
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("call_api %s = %s, want %q", tc.service, b, tc.want)
		}
		if isErr, _ := res["result"].(map[string]any)["isError"].(bool); isErr != tc.isError {
			t.Errorf("call_api %s: isError = %v, want %v", tc.service, isErr, tc.isError)
		}
	}
	_ = s.finish()
	auditBytes, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	outputs := map[string][]byte{"stdout": s.stdout.Bytes(), "stderr": s.stderr.Bytes(), "audit log": auditBytes}
	s.mu.Unlock()
	for where, b := range outputs {
		for _, chunk := range keyChunks(keyPEM) {
			if bytes.Contains(b, []byte(chunk)) {
				t.Errorf("%s contains a piece of the client key (%q)", where, chunk)
				break
			}
		}
	}
	if len(auditBytes) == 0 {
		t.Error("audit log is empty; the calls were not audited")
	}
}

// TestExampleInternalMTLS runs keyveil check on examples/internal-mtls with
// its .env.example: the example must pass, and check shows the tls block
// (CA file, the certificate's subject, the key's fingerprint) but never
// the key.
func TestExampleInternalMTLS(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binPath, "check", "--config", "examples/internal-mtls/services.yaml", "--env-file", "examples/internal-mtls/.env.example")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("keyveil check on the example: %v\n%s", err, out)
	}
	for _, want := range []string{"examples/internal-mtls/test-certs/ca.pem", "CN=keyveil example client (test only)", "BILLING_KEY", "READY"} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("keyveil check output lacks %q:\n%s", want, out)
		}
	}
	key, err := os.ReadFile("examples/internal-mtls/test-certs/client-key.pem")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(key), "\n") {
		if len(line) >= 16 && !strings.HasPrefix(line, "-----") && bytes.Contains(out, []byte(line[:16])) {
			t.Errorf("keyveil check output shows the client key:\n%s", out)
		}
	}
}
