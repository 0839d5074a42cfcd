package credentials

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/credentials/scheme"
	"github.com/keyveil/keyveil/keychain"
)

// Private CAs and client certificates: a service's `tls:` block
// (config.TLS). Its ca_file is added to the system roots, never in their
// place, and its client certificate is presented on connections to the
// service's origin only: each service with a tls block gets its own clone
// of the base transport, so a connection to any other origin, a redirect
// hop to another service included, has no client certificate to present.
//
// The client key is a secret like any key: read from NAME, NAME_FILE or a
// keychain: reference bound to the service's origin, unset from the
// environment, named by SecretVars for procguard, and
// registered with the Redactor in every form it is written in (the PEM as
// given, the PEM as Go writes it, each base64 line, the joined body and
// the DER it decodes to). The certificate is public: it is read plainly
// and its subject and expiry are shown by keyveil check.
//
// A handshake that fails becomes a message that names the service and
// the fix (see [handshakeError]); it never carries the certificate's
// bytes or subject, which an x509 error's text does.

// soonExpiry is how close to its expiry a client certificate draws a
// warning at start-up.
const soonExpiry = 14 * 24 * time.Hour

// minLineSecret is the shortest base64 line of a key registered with the
// Redactor on its own: the last line of a PEM body can be a few
// characters, which would match everywhere. Longer lines are random.
const minLineSecret = 16

// clientTLS is one service's tls block, loaded.
type clientTLS struct {
	service string
	conf    *tls.Config // RootCAs (system + ca_file), client certificate, TLS 1.2+
	caFile  string      // "": system roots alone
	certVar string      // "" without a client certificate
	keyVar  string
	leaf    *x509.Certificate // the client certificate; nil without one
	certSrc Source
	key     Secret // the key as read; zero without a client certificate
	keySrc  Source
	keyPath string   // the key's NAME_FILE file or keychain secret name; see TLSInfo
	forms   []Secret // every form of the key the Redactor must know
}

// TLSInfo is what keyveil check shows of a service's tls block. None of it
// is secret: the certificate is public, and the key appears only as its
// fingerprint.
type TLSInfo struct {
	// CAFile is the CA bundle added to the system roots; "": none.
	CAFile string
	// CertVar and KeyVar name the client certificate's and key's
	// variables; both "" without a client certificate.
	CertVar, KeyVar string
	// CertSource and KeySource say where each came from.
	CertSource, KeySource Source
	// KeyPath is the NAME_FILE file the key was read from, or the
	// keychain secret's name; "" when it came from the variable itself.
	KeyPath string
	// Subject is the client certificate's common name, and NotAfter the
	// end of its validity.
	Subject  string
	NotAfter time.Time
	// KeyFingerprint tells keys apart without revealing them (see
	// [Secret.Fingerprint]).
	KeyFingerprint string
}

// TLS returns what the named service's tls block loaded, and false when
// the service has none.
func (s *Set) TLS(service string) (TLSInfo, bool) {
	c, ok := s.tls[service]
	if !ok {
		return TLSInfo{}, false
	}
	info := TLSInfo{CAFile: c.caFile, CertVar: c.certVar, KeyVar: c.keyVar, CertSource: c.certSrc, KeySource: c.keySrc, KeyPath: c.keyPath}
	if c.leaf != nil {
		info.Subject, info.NotAfter = c.leaf.Subject.CommonName, c.leaf.NotAfter
		info.KeyFingerprint = c.key.Fingerprint()
	}
	return info, true
}

// loadTLS reads svc's tls block: the CA file, and the client certificate
// and key from their variables. It returns the loaded block (nil when svc
// has none), warnings, and an error naming the variable, the service and
// the fix, never a value. now is the clock for expiry warnings.
func loadTLS(env *Env, svc config.Service, now time.Time) (*clientTLS, []string, error) {
	t := svc.TLS
	if t.IsZero() {
		return nil, nil, nil
	}
	where := fmt.Sprintf("service %q, tls", svc.Name)
	c := &clientTLS{service: svc.Name, caFile: t.CAFile, conf: &tls.Config{MinVersion: tls.VersionTLS12}}
	var warnings []string
	if t.CAFile != "" {
		certs := t.CACerts()
		if certs == nil {
			// A block that config did not validate (built in code).
			var err error
			if certs, err = config.ReadCAFile(t.CAFile); err != nil {
				return nil, nil, fmt.Errorf("%v (%s)", err, where)
			}
		}
		// A copy of the system pool: adding to it changes no other pool.
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			warnings = append(warnings, fmt.Sprintf("this system's CA roots could not be read, so service %q trusts only the CAs of tls.ca_file", svc.Name))
			pool = x509.NewCertPool()
		}
		for _, cert := range certs {
			pool.AddCert(cert)
		}
		c.conf.RootCAs = pool
	}
	if !t.HasClientCert() {
		return c, warnings, nil
	}
	c.certVar, c.keyVar = t.ClientCertEnv, t.ClientKeyEnv
	certPEM, certSrc, _, err := readPEMVar(env, t.ClientCertEnv, where)
	if err != nil {
		return nil, nil, err
	}
	c.certSrc = certSrc
	// The key is read as every secret variable is (NAME_FILE and
	// keychain: included); a keychain secret must be bound to this
	// service's origin, the only one the key proves anything to.
	k := loadKey(env, scheme.Var{Name: t.ClientKeyEnv, Secret: true, Multiline: true, Role: "client key (PEM)"}, where, svc.BaseURL)
	warnings = append(warnings, k.warnings...)
	if k.err != nil {
		return nil, nil, k.err
	}
	if err := k.checkOrigin(t.ClientKeyEnv, svc.Name, "base_url", svc.BaseURL); err != nil {
		return nil, nil, err
	}
	keyPEM := k.secret.Reveal()
	c.key, c.keySrc, c.keyPath = k.secret, k.source, k.path
	c.forms = keyForms(t.ClientKeyEnv, keyPEM)
	chain, leaf, err := certChain(certPEM, t.ClientCertEnv, t.ClientKeyEnv, where)
	if err != nil {
		return nil, nil, err
	}
	c.leaf = leaf
	pair, err := keyPair(normalisePEM(certPEM), normalisePEM(keyPEM), t.ClientCertEnv, t.ClientKeyEnv, where)
	if err != nil {
		return nil, nil, err
	}
	pair.Certificate, pair.Leaf = chain, leaf
	// Presented whenever the server asks, rather than only when the
	// server's list of acceptable CAs names its issuer: a refusal then
	// says the server does not accept this certificate, which is the fix
	// an operator needs, instead of "certificate required". Only this
	// service's origin can ask: the config is its alone.
	c.conf.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &pair, nil }
	switch {
	case now.After(leaf.NotAfter):
		warnings = append(warnings, fmt.Sprintf("the client certificate in %s expired on %s, so the server will refuse it; renew it (%s)", t.ClientCertEnv, leaf.NotAfter.UTC().Format(time.DateOnly), where))
	case now.Before(leaf.NotBefore):
		warnings = append(warnings, fmt.Sprintf("the client certificate in %s is not valid before %s; check this machine's clock (%s)", t.ClientCertEnv, leaf.NotBefore.UTC().Format(time.DateTime), where))
	case leaf.NotAfter.Sub(now) < soonExpiry:
		warnings = append(warnings, fmt.Sprintf("the client certificate in %s expires on %s; renew it soon (%s)", t.ClientCertEnv, leaf.NotAfter.UTC().Format(time.DateOnly), where))
	}
	return c, warnings, nil
}

// readPEMVar reads the client certificate from NAME or NAME_FILE, as a
// plain value (it is public). Its errors name the variable and never
// quote the value: a certificate variable may hold the key by mistake.
func readPEMVar(env *Env, name, where string) (string, Source, string, error) {
	fileName := name + fileSuffix
	v, vsrc, vok := env.lookupSource(name)
	p, psrc, pok := env.lookupSource(fileName)
	src, path, subject := vsrc, "", name+env.describe(vsrc)
	switch {
	case vok && pok:
		return "", "", "", fmt.Errorf("%s and %s are both set; set only one of them: the PEM text, or the path of a file holding it (%s)", name, fileName, where)
	case !vok && !pok:
		return "", "", "", fmt.Errorf("%s is not set; set it to the PEM text, or set %s to the path of a PEM file (%s)", name, fileName, where)
	case pok:
		if p == "" {
			return "", "", "", fmt.Errorf("%s%s is empty; set it to the path of a PEM file (%s)", fileName, env.describe(psrc), where)
		}
		data, err := readKeyFile(p)
		if notAPath(err) {
			return "", "", "", fmt.Errorf("%s%s names a file that does not exist; it must hold the path of a PEM file, not the PEM itself (%s)", fileName, env.describe(psrc), where)
		}
		if err != nil {
			return "", "", "", fmt.Errorf("%s%s names %s, %v (%s)", fileName, env.describe(psrc), p, err, where)
		}
		v, src, path = trimNewline(data), SourceFile, p
		subject = fmt.Sprintf("the file named by %s (%s)", fileName, p)
	}
	if strings.HasPrefix(v, keychain.Prefix) {
		// The certificate is public: keeping it in the keychain would
		// bind nothing.
		return "", "", "", fmt.Errorf("%s is a keychain: reference; a certificate is not secret, so put the PEM itself in %s, or a path in %s (%s)", subject, name, fileName, where)
	}
	if !strings.Contains(v, "-----BEGIN ") {
		problem := checkValue(v, true)
		if problem == "" {
			problem = "holds no PEM block (-----BEGIN ...-----); put the PEM text in it, with its newlines (or \\n)"
		}
		return "", "", "", fmt.Errorf("%s %s (%s)", subject, problem, where)
	}
	if !utf8.ValidString(v) {
		return "", "", "", fmt.Errorf("%s is not valid UTF-8 text; a PEM file is ASCII (%s)", subject, where)
	}
	return v, src, path, nil
}

// normalisePEM returns v with "\n" written as two characters turned into
// newlines, the form a PEM takes when pasted into one line of a .env file
// or a JSON config.
func normalisePEM(v string) string {
	if strings.Contains(v, "\n") || !strings.Contains(v, `\n`) {
		return v
	}
	return strings.ReplaceAll(v, `\n`, "\n")
}

// certChain parses the certificate variable: one or more CERTIFICATE
// blocks, the client's own first. A private key there is refused: the
// certificate variable is not treated as a secret.
func certChain(v, certVar, keyVar, where string) ([][]byte, *x509.Certificate, error) {
	rest := []byte(normalisePEM(v))
	var chain [][]byte
	var leaf *x509.Certificate
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if strings.Contains(b.Type, "PRIVATE KEY") {
			return nil, nil, fmt.Errorf("%s holds a private key (PEM block %d); it is for the certificate, which is not secret: put the key in %s and only the certificate in %s (%s)", certVar, n, keyVar, certVar, where)
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: PEM block %d is not a certificate that parses; check the variable (%s)", certVar, n, where)
		}
		if leaf == nil {
			leaf = cert
		}
		chain = append(chain, b.Bytes)
	}
	if leaf == nil {
		return nil, nil, fmt.Errorf("%s holds no PEM certificate (-----BEGIN CERTIFICATE-----); set it to the client certificate (%s)", certVar, where)
	}
	return chain, leaf, nil
}

// keyPair checks that the key variable holds an unencrypted private key
// that belongs to the certificate. Its errors are keyveil's own: the
// crypto packages' do not quote bytes today, but nothing promises that.
func keyPair(certPEM, keyPEM, certVar, keyVar, where string) (tls.Certificate, error) {
	b, _ := pem.Decode([]byte(keyPEM))
	switch {
	case b == nil:
		return tls.Certificate{}, fmt.Errorf("%s holds no PEM block that decodes; set it to the client certificate's private key in PEM (%s)", keyVar, where)
	case b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" && strings.Contains(b.Headers["Proc-Type"], "ENCRYPTED"):
		return tls.Certificate{}, fmt.Errorf("%s is an encrypted private key, and keyveil cannot ask for its passphrase; decrypt it (openssl pkey -in key.pem -out plain.pem) and keep the file private (%s)", keyVar, where)
	case b.Type == "CERTIFICATE":
		return tls.Certificate{}, fmt.Errorf("%s holds a certificate, not a private key; the two variables may be swapped (%s)", keyVar, where)
	case !strings.HasSuffix(b.Type, "PRIVATE KEY"):
		return tls.Certificate{}, fmt.Errorf("%s holds a PEM block that is not a private key; set it to the client certificate's key (%s)", keyVar, where)
	}
	pair, err := tls.X509KeyPair([]byte(certPEM), []byte(keyPEM))
	if err == nil {
		return pair, nil
	}
	if strings.Contains(err.Error(), "does not match") {
		return tls.Certificate{}, fmt.Errorf("the private key in %s does not belong to the certificate in %s; set both from the same pair (%s)", keyVar, certVar, where)
	}
	return tls.Certificate{}, fmt.Errorf("%s is not a private key keyveil can read (PKCS#8, PKCS#1 or SEC 1, RSA, ECDSA or Ed25519); check the variable (%s)", keyVar, where)
}

// keyForms returns every form of the key the Redactor must know, each
// named after the key variable: the value as read, the PEM with real
// newlines and as Go re-encodes it, each base64 line of its body (which
// also covers other line endings and wrappings), the joined body (whose
// short last line is not a form of its own), the DER, and the key's
// numbers as a JWK holds them (scheme.KeyNumbers) and its other DER
// encodings in base64 (scheme.KeyDERs). A log line, an echo or a debug page may show
// any of them; the Redactor's own variants (JSON escapes among them) are
// applied to each.
func keyForms(name, v string) []Secret {
	seen := map[string]bool{}
	var out []Secret
	add := func(s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, NewSecret(name, s))
		}
	}
	add(v)
	norm := normalisePEM(v)
	add(norm)
	// Not the PEM with \r\n: its lines, below, cover it, and a whole
	// PEM more would cost the Redactor's start-up as much again.
	rest := []byte(norm)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		add(string(pem.EncodeToMemory(b)))
		body := base64.StdEncoding.EncodeToString(b.Bytes)
		add(body)
		add(string(b.Bytes))
		for _, n := range append(scheme.KeyNumbers(b.Bytes), scheme.KeyDERs(b.Bytes)...) {
			add(n)
		}
		for line := range strings.Lines(wrap64(body)) {
			if line = strings.TrimSuffix(line, "\n"); len(line) >= minLineSecret {
				add(line)
			}
		}
	}
	// Lines as the value itself wraps them, which need not be at 64.
	for line := range strings.Lines(norm) {
		line = strings.TrimRight(line, "\r\n")
		if len(line) >= minLineSecret && !strings.HasPrefix(line, "-----") && !strings.Contains(line, ":") {
			add(line)
		}
	}
	return out
}

// wrap64 breaks s into lines of 64 characters, as PEM does.
func wrap64(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64])
		b.WriteByte('\n')
		s = s[64:]
	}
	b.WriteString(s)
	return b.String()
}

// loadTLSBlocks loads the tls block of every service of cfg into s and
// registers every form of each client key with it, then unsets every key
// variable (NAME and NAME_FILE) whether or not loading succeeded. It
// returns one error per problem.
func (s *Set) loadTLSBlocks(cfg *config.Config, env *Env, now time.Time) []error {
	var errs []error
	var keyVars []string
	for _, svc := range cfg.Services {
		if svc.TLS.ClientKeyEnv != "" {
			keyVars = append(keyVars, svc.TLS.ClientKeyEnv, svc.TLS.ClientKeyEnv+fileSuffix)
		}
		c, warnings, err := loadTLS(env, svc, now)
		s.warnings = append(s.warnings, warnings...)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c == nil {
			continue
		}
		if s.tls == nil {
			s.tls = map[string]*clientTLS{}
		}
		s.tls[svc.Name] = c
		for _, f := range c.forms {
			s.secrets = appendSecret(s.secrets, f)
		}
	}
	for _, v := range keyVars {
		if err := env.forget(v); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// transportFor returns the RoundTripper for a service with tls: a clone of
// base whose TLS settings are the service's, or nil when base is not an
// *http.Transport, whose TLS keyveil cannot set: such a base (a test's
// recorder, a wrapper) is used as it is, without the tls block.
func (c *clientTLS) transportFor(base http.RoundTripper) http.RoundTripper {
	ht, ok := base.(*http.Transport)
	if !ok || c == nil {
		return nil
	}
	t := ht.Clone()
	conf := c.conf.Clone()
	if t.TLSClientConfig != nil && conf.RootCAs == nil {
		// No ca_file: keep whatever roots the base trusts.
		conf.RootCAs = t.TLSClientConfig.RootCAs
	}
	t.TLSClientConfig = conf
	return t
}

// handshakeError is a TLS handshake with a service that failed, with a
// message that names the service and what to change. Error gives the
// request and the message; Explain the message alone, for a tool to show;
// Unwrap the cause (x509 and tls errors, whose text can carry a
// certificate's names), to log.
type handshakeError struct {
	request string // METHOD scheme://host/path
	msg     string
	err     error
}

func (e *handshakeError) Error() string   { return e.request + ": " + e.msg }
func (e *handshakeError) Unwrap() error   { return e.err }
func (e *handshakeError) Explain() string { return e.msg }

// explainTLS returns the message for err when it is a failed TLS
// handshake with service, or "". c is the service's tls block (nil: none).
func explainTLS(err error, service string, c *clientTLS) string {
	var (
		unknown  x509.UnknownAuthorityError
		invalid  x509.CertificateInvalidError
		hostname x509.HostnameError
		record   tls.RecordHeaderError
		opErr    *net.OpError
	)
	caFix := fmt.Sprintf("set tls.ca_file of service %q to your company's CA bundle (PEM)", service)
	if c != nil && c.caFile != "" {
		caFix = fmt.Sprintf("check that tls.ca_file of service %q (%s) holds the CA that signed the server's certificate", service, c.caFile)
	}
	switch {
	case errors.As(err, &unknown):
		return fmt.Sprintf("the server's certificate is not signed by a CA keyveil trusts: %s", caFix)
	case errors.As(err, &hostname):
		return fmt.Sprintf("the server's certificate is not valid for the host in the base_url of service %q; use the host name the certificate was issued for", service)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Sprintf("the server's certificate has expired or is not yet valid (service %q); ask its operator to renew it, and check this machine's clock", service)
	case errors.As(err, &invalid):
		return fmt.Sprintf("the server's certificate is not valid for TLS (service %q): %s, or ask its operator to fix the certificate", service, caFix)
	case errors.As(err, &record):
		return fmt.Sprintf("the server of service %q did not answer in TLS; check the scheme and port of its base_url", service)
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return remoteAlert(opErr.Err.Error(), service, c)
	}
	return ""
}

// remoteAlert explains a TLS alert the server sent ("tls: certificate
// required"): mostly the server refusing keyveil's client certificate.
func remoteAlert(alert, service string, c *clientTLS) string {
	alert = strings.TrimPrefix(alert, "tls: ")
	cert := fmt.Sprintf("set tls.client_cert_env and tls.client_key_env of service %q to the variables holding a client certificate and its key", service)
	if c != nil && c.certVar != "" {
		cert = fmt.Sprintf("check that the certificate in %s (service %q) is the one issued for keyveil by a CA the server trusts, and that it has not expired", c.certVar, service)
	}
	switch alert {
	case "certificate required":
		return "the server requires a client certificate: " + cert
	case "bad certificate", "unknown certificate authority", "unknown certificate", "unsupported certificate", "certificate revoked", "revoked certificate":
		if c == nil || c.certVar == "" {
			return "the server refused the connection for want of a client certificate: " + cert
		}
		return "the server refused keyveil's client certificate: " + cert
	case "expired certificate":
		if c != nil && c.certVar != "" {
			return fmt.Sprintf("the server says the client certificate in %s has expired; renew it (service %q)", c.certVar, service)
		}
		return "the server says a certificate has expired: " + cert
	case "handshake failure", "protocol version not supported", "insufficient security":
		return fmt.Sprintf("the server of service %q and keyveil share no TLS version or cipher (keyveil needs TLS 1.2 or later); ask its operator", service)
	}
	return fmt.Sprintf("the server of service %q ended the TLS handshake (%s); check its tls block", service, alert)
}
