package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/internal/tlstest"
)

// TestTLSBlock loads services files with a tls block and checks what is
// accepted, where a relative ca_file resolves, and which line an error
// points at.
func TestTLSBlock(t *testing.T) {
	t.Parallel()
	ca := tlstest.NewCA(t, "config test CA")
	cert, key := ca.PEM, ca.KeyPEM
	tests := []struct {
		name  string
		files map[string]string // beside the services file
		tls   string            // the service's tls value
		base  string            // base_url; "" means https://billing.corp.example/api
		auth  string            // "" means {type: bearer, env: BILLING_TOKEN}
		want  string            // "" for success, else a piece of the error
		line  int               // the error's line in the services file
		ca    string            // success: CAFile relative to the file's directory
	}{
		{name: "relative ca_file", files: map[string]string{"certs/ca.pem": cert}, tls: "{ca_file: certs/ca.pem}", ca: "certs/ca.pem"},
		{name: "client cert and key", tls: "{client_cert_env: BILLING_CERT, client_key_env: BILLING_KEY}"},
		{name: "all three, auth none", files: map[string]string{"ca.pem": cert}, auth: "{type: none}", tls: "{ca_file: ca.pem, client_cert_env: BILLING_CERT, client_key_env: BILLING_KEY}", ca: "ca.pem"},
		{name: "block form", files: map[string]string{"ca.pem": cert}, tls: "\n      ca_file: ca.pem\n      client_cert_env: C\n      client_key_env: K", ca: "ca.pem"},
		{name: "missing ca_file", tls: "{ca_file: nowhere.pem}", want: "nowhere.pem cannot be read: no such file or directory", line: 6},
		{name: "ca_file a directory", files: map[string]string{"d/x": ""}, tls: "{ca_file: d}", want: "not a regular file", line: 6},
		{name: "ca_file not PEM", files: map[string]string{"ca.pem": "not a certificate\n"}, tls: "{ca_file: ca.pem}", want: "holds no PEM certificate", line: 6},
		{name: "ca_file holds a key", files: map[string]string{"ca.pem": cert + key}, tls: "{ca_file: ca.pem}", want: "holds a private key (PEM block 2)", line: 6},
		{name: "ca_file broken certificate", files: map[string]string{"ca.pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, tls: "{ca_file: ca.pem}", want: "PEM block 1 is not a certificate that parses", line: 6},
		{name: "ca_file other block", files: map[string]string{"ca.pem": "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"}, tls: "{ca_file: ca.pem}", want: `PEM block 1 is a "X509 CRL"`, line: 6},
		{name: "ca_file inline PEM", tls: "{ca_file: \"-----BEGIN CERTIFICATE-----\\nMIIB\"}", want: "not the certificates themselves", line: 6},
		{name: "cert without key", tls: "{client_cert_env: BILLING_CERT}", want: "client_cert_env is set but client_key_env is not", line: 6},
		{name: "key without cert", tls: "{client_key_env: BILLING_KEY}", want: "client_key_env is set but client_cert_env is not", line: 6},
		{name: "same variable", tls: "{client_cert_env: B, client_key_env: B}", want: "name the same variable", line: 6},
		{name: "bad env name", tls: "{client_cert_env: BILLING-CERT, client_key_env: BILLING_KEY}", want: "tls client_cert_env must be an environment variable name", line: 6},
		{name: "key variable auth reads", tls: "{client_cert_env: BILLING_CERT, client_key_env: BILLING_TOKEN}", want: "tls client_key_env must name its own variable, not BILLING_TOKEN, which auth reads", line: 6},
		{name: "http base_url", base: "http://127.0.0.1:8080", tls: "{client_cert_env: C, client_key_env: K}", want: "tls applies to https only", line: 6},
		{name: "unknown key", tls: "{ca_fle: ca.pem}", want: `unknown key "ca_fle" (did you mean "ca_file"?)`, line: 6},
		{name: "line of a block key", files: map[string]string{"ca.pem": "x"}, tls: "\n      client_cert_env: C\n      client_key_env: K\n      ca_file: ca.pem", want: "holds no PEM", line: 9},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			for name, body := range tc.files {
				p := filepath.Join(dir, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			base, auth := tc.base, tc.auth
			if base == "" {
				base = "https://billing.corp.example/api"
			}
			if auth == "" {
				auth = "{type: bearer, env: BILLING_TOKEN}"
			}
			file := filepath.Join(dir, "services.yaml")
			body := "services:\n  internal:\n    base_url: " + base + "\n    auth: " + auth + "\n\n    tls: " + tc.tls + "\n"
			if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := LoadFile(file)
			if tc.want != "" {
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("LoadFile(tls: %s) error = %v, want %q", tc.tls, err, tc.want)
				}
				if at := file + ":" + strconv.Itoa(tc.line) + ":"; !strings.Contains(err.Error(), at) {
					t.Errorf("LoadFile(tls: %s) error = %v, want it at %s", tc.tls, err, at)
				}
				if strings.Contains(err.Error(), "MI") || strings.Contains(err.Error(), "AAAA") {
					t.Errorf("LoadFile(tls: %s) error quotes PEM: %v", tc.tls, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("LoadFile(tls: %s) = %v", tc.tls, err)
			}
			s, _ := c.Service("internal")
			want := ""
			if tc.ca != "" {
				want = filepath.Join(dir, tc.ca)
			}
			if got := s.TLS.CAFile; got != want {
				t.Errorf("CAFile = %q, want %q", got, want)
			}
			// Validation keeps what it read, so start-up reads the
			// file once: the one test CA, or nothing without ca_file.
			wantCerts := 0
			if tc.ca != "" {
				wantCerts = 1
			}
			if got := s.TLS.CACerts(); len(got) != wantCerts || wantCerts == 1 && got[0].Subject.CommonName != "config test CA" {
				t.Errorf("CACerts() = %d certificates, want %d (the test CA)", len(got), wantCerts)
			}
		})
	}
}

// TestReadCAFileNeverQuotesAKey checks that a key given as ca_file by
// mistake is refused without a byte of it in the message.
func TestReadCAFileNeverQuotesAKey(t *testing.T) {
	t.Parallel()
	key := tlstest.NewCA(t, "config test CA").KeyPEM
	p := filepath.Join(t.TempDir(), "key.pem")
	if err := os.WriteFile(p, []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadCAFile(p)
	if err == nil {
		t.Fatal("ReadCAFile(a key) = nil error")
	}
	body := strings.Join(strings.Split(key, "\n")[1:3], "")
	for _, piece := range []string{body[:16], body[20:36]} {
		if strings.Contains(err.Error(), piece) {
			t.Errorf("ReadCAFile error %q quotes the key", err)
		}
	}
}
