package tlstest

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"testing"
	"time"
)

// TestIssue checks that what Issue makes verifies against its CA for the
// use asked for, with the key type asked for, and that an expired one and
// one from another CA do not.
func TestIssue(t *testing.T) {
	t.Parallel()
	ca, other := NewCA(t, "tlstest CA"), NewCA(t, "tlstest other CA")
	for _, tc := range []struct {
		name    string
		ca      *CA
		o       Options
		usage   x509.ExtKeyUsage
		wantErr bool
	}{
		{"client, P-256", ca, Options{}, x509.ExtKeyUsageClientAuth, false},
		{"client, RSA", ca, Options{RSA: true}, x509.ExtKeyUsageClientAuth, false},
		{"server", ca, Options{Server: true}, x509.ExtKeyUsageServerAuth, false},
		{"expired", ca, Options{NotAfter: time.Now().Add(-time.Hour)}, x509.ExtKeyUsageClientAuth, true},
		{"another CA's", other, Options{}, x509.ExtKeyUsageClientAuth, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.ca.Issue(t, "leaf", tc.o)
			leaf, err := x509.ParseCertificate(c.Pair.Certificate[0])
			if err != nil {
				t.Fatal(err)
			}
			opts := x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{tc.usage}}
			if tc.o.Server {
				opts.DNSName = "127.0.0.1"
			}
			if _, err := leaf.Verify(opts); (err != nil) != tc.wantErr {
				t.Errorf("Verify(%s) = %v, want error %v", tc.name, err, tc.wantErr)
			}
			_, isRSA := c.Pair.PrivateKey.(*rsa.PrivateKey)
			_, isEC := c.Pair.PrivateKey.(*ecdsa.PrivateKey)
			if isRSA != tc.o.RSA || isEC == tc.o.RSA {
				t.Errorf("Issue(%+v) key is %T", tc.o, c.Pair.PrivateKey)
			}
		})
	}
	var unknown x509.UnknownAuthorityError
	leaf, _ := x509.ParseCertificate(other.Issue(t, "leaf", Options{}).Pair.Certificate[0])
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: ca.Pool(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); !errors.As(err, &unknown) {
		t.Errorf("Verify(another CA's leaf) = %v, want an unknown authority", err)
	}
}
