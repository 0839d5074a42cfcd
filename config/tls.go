package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/keyveil/keyveil/internal/yamljson"
)

// maxCAFileBytes bounds a tls.ca_file. The whole Mozilla bundle is about
// 220 KB; the bound stops a path that names a log or a disk image.
const maxCAFileBytes = 4 << 20

// TLS is a service's `tls:` block: an internal API behind a private CA, or
// one that asks for a client certificate (mutual TLS). It works with any
// auth scheme, none included. Like [Auth], it names files and environment
// variables and never holds a secret: package credentials reads the
// certificate and key. The zero value is the system roots and no client
// certificate.
type TLS struct {
	// CAFile is a PEM file of CA certificates trusted for this service in
	// addition to the system roots (never instead of them); a relative
	// path is relative to the services file, like openapi: validation
	// replaces it with the joined path, so what keyveil check shows is
	// the file read. Empty: the system roots alone.
	CAFile string `yaml:"ca_file"`
	// ClientCertEnv is the environment variable holding the client
	// certificate (PEM text, chain allowed), or NAME_FILE a path to it.
	// It is not secret. Empty: no client certificate; set with
	// ClientKeyEnv or not at all.
	ClientCertEnv string `yaml:"client_cert_env"`
	// ClientKeyEnv is the environment variable holding the client
	// certificate's private key (PEM), or NAME_FILE a path to it. The key
	// is a secret: redacted in every form and scrubbed from the
	// environment.
	ClientKeyEnv string `yaml:"client_key_env"`

	// caCerts are CAFile's certificates as validation read them, so that
	// start-up reads and parses the file once (see [TLS.CACerts]).
	caCerts []*x509.Certificate
}

// CACerts returns the certificates of CAFile as validation read them, or
// nil for a block that was not validated (built in code), whose file the
// caller reads with [ReadCAFile].
func (t TLS) CACerts() []*x509.Certificate { return t.caCerts }

// IsZero reports whether the block sets nothing, so the service uses the
// system roots and no client certificate.
func (t TLS) IsZero() bool {
	return t.CAFile == "" && t.ClientCertEnv == "" && t.ClientKeyEnv == ""
}

// HasClientCert reports whether the block names a client certificate and
// key.
func (t TLS) HasClientCert() bool { return t.ClientCertEnv != "" && t.ClientKeyEnv != "" }

// validate checks t for a service at baseURL whose services file is in dir
// ("" for the zero-config service: relative to the working directory) and
// whose auth reads the variables authReads reports, and returns the key
// at fault. It reads ca_file so that a typo, a key file given by mistake
// or an empty bundle stops start-up with the line, not the first call,
// and keeps its certificates for package credentials to build the pool
// from. Errors name the path, which is the operator's, and never quote
// the file.
func (t *TLS) validate(dir, baseURL string, authReads func(string) bool) (string, error) {
	if t.IsZero() {
		return "", nil
	}
	if u, err := url.Parse(baseURL); err == nil && u.Scheme == "http" {
		return "", errors.New("tls applies to https only, and base_url uses http; use an https base_url or remove tls")
	}
	if (t.ClientCertEnv == "") != (t.ClientKeyEnv == "") {
		if t.ClientCertEnv == "" {
			return "client_cert_env", errors.New("tls: client_key_env is set but client_cert_env is not; a client certificate needs both (the variable holding the certificate, and the one holding its key)")
		}
		return "client_key_env", errors.New("tls: client_cert_env is set but client_key_env is not; a client certificate needs both (the variable holding the certificate, and the one holding its key)")
	}
	for _, f := range []struct{ key, v string }{{"client_cert_env", t.ClientCertEnv}, {"client_key_env", t.ClientKeyEnv}} {
		if f.v == "" {
			continue
		}
		if err := checkEnvName("tls "+f.key, f.v); err != nil {
			return f.key, err
		}
		if authReads != nil && authReads(f.v) {
			// One value cannot be both a key auth sends and a PEM.
			return f.key, fmt.Errorf("tls %s must name its own variable, not %s, which auth reads", f.key, f.v)
		}
	}
	if t.ClientCertEnv != "" && t.ClientCertEnv == t.ClientKeyEnv {
		return "client_key_env", errors.New("tls: client_cert_env and client_key_env name the same variable; use one for the certificate and one for its key")
	}
	if t.CAFile == "" {
		return "", nil
	}
	if strings.Contains(t.CAFile, "-----BEGIN") || strings.ContainsAny(t.CAFile, "\n\r") {
		return "ca_file", errors.New("tls ca_file must be the path of a PEM file, not the certificates themselves; save them to a file and write its path here")
	}
	p := t.CAFile
	if !filepath.IsAbs(p) && dir != "" {
		// Absolute, so that validating again (or from another working
		// directory) does not join it twice.
		if abs, err := filepath.Abs(filepath.Join(dir, p)); err == nil {
			p = abs
		}
	}
	t.CAFile = p
	certs, err := ReadCAFile(p)
	if err != nil {
		return "ca_file", fmt.Errorf("tls ca_file: %w", err)
	}
	t.caCerts = certs
	return "", nil
}

// ReadCAFile reads the PEM bundle at path and returns its certificates,
// parsed, in order. It refuses a file that is not a regular file,
// one over 4 MiB, one without a certificate, one with a block that is not
// a certificate that parses, and above all one holding a private key: a
// CA bundle is public, so such a file is the wrong one, and its key would
// be read without being treated as a secret. Errors name the path and the
// block's number, never its bytes.
func ReadCAFile(path string) ([]*x509.Certificate, error) {
	data, err := yamljson.ReadFile(path, maxCAFileBytes)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return nil, fmt.Errorf("%s cannot be read: %v; ca_file must name a PEM file of CA certificates", path, pe.Err)
	}
	if err != nil {
		return nil, fmt.Errorf("%w; ca_file must name a PEM file of CA certificates", err)
	}
	var certs []*x509.Certificate
	for n := 1; ; n++ {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		switch {
		case strings.Contains(b.Type, "PRIVATE KEY"):
			return nil, fmt.Errorf("%s holds a private key (PEM block %d); ca_file is for CA certificates only: point it at the CA bundle, and keep a client key in the variable client_key_env names", path, n)
		case b.Type != "CERTIFICATE":
			return nil, fmt.Errorf("%s: PEM block %d is a %s, not a CERTIFICATE; ca_file holds CA certificates only", path, n, typeName(b.Type))
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: PEM block %d is not a certificate that parses; check the file", path, n)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----); ca_file must be the CA bundle in PEM form (convert DER with: openssl x509 -inform der -in ca.der -out ca.pem)", path)
	}
	return certs, nil
}

// typeName returns a PEM block's type for a message when it is a plain
// name, which every real one is.
func typeName(t string) string {
	if len(t) > 40 || strings.ContainsFunc(t, func(r rune) bool { return r != ' ' && (r < 'A' || r > 'Z') && (r < '0' || r > '9') }) {
		return "block of another type"
	}
	return strconv.Quote(t)
}
