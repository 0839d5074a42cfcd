// Package tlstest makes certificate authorities and the certificates they
// sign, for tests of keyveil's TLS settings (a service's ca_file and
// client certificate): everything is generated in the test, so no key
// material lives in the repository and nothing expires in it.
//
// Only tests import it.
package tlstest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

// serial numbers every certificate, so that two from one CA never clash.
var serial atomic.Int64

// CA is a certificate authority made for one test.
type CA struct {
	Cert   *x509.Certificate
	Key    *ecdsa.PrivateKey
	PEM    string // the CA certificate, PEM-encoded
	KeyPEM string // its private key, PKCS #8 in PEM: what a ca_file must not hold
}

// NewCA makes a P-256 CA named name, valid from an hour ago for a day.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(serial.Add(1)),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &CA{Cert: cert, Key: k, PEM: certPEM(der), KeyPEM: keyPEM(t, k)}
}

// Options say what [CA.Issue] makes. The zero value is a client
// certificate with a P-256 key, valid for a day.
type Options struct {
	Server   bool      // a server certificate for 127.0.0.1; false: a client certificate
	RSA      bool      // an RSA-2048 key, whose PEM runs to many lines; false: P-256
	NotAfter time.Time // the end of validity; zero: a day from now
}

// Cert is a certificate a CA signed, with its key, in PEM and as a
// tls.Certificate.
type Cert struct {
	CertPEM, KeyPEM string
	Pair            tls.Certificate
}

// Issue signs a certificate for cn as o says. Its validity starts two
// days back, so that a NotAfter in the past makes an expired certificate.
func (ca *CA) Issue(t testing.TB, cn string, o Options) Cert {
	t.Helper()
	if o.NotAfter.IsZero() {
		o.NotAfter = time.Now().Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial.Add(1)),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-48 * time.Hour),
		NotAfter:     o.NotAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if o.Server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	var priv crypto.Signer
	var err error
	if o.RSA {
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	} else {
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, priv.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	c := Cert{CertPEM: certPEM(der), KeyPEM: keyPEM(t, priv)}
	if c.Pair, err = tls.X509KeyPair([]byte(c.CertPEM), []byte(c.KeyPEM)); err != nil {
		t.Fatal(err)
	}
	return c
}

// Pool returns a pool that trusts ca alone.
func (ca *CA) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

func certPEM(der []byte) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func keyPEM(t testing.TB, k crypto.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}
