package scheme

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"slices"
	"testing"
)

// TestKeyNumbers: for each key type and encoding a client key or a
// service account's key comes in, KeyNumbers returns every secret member
// of the key's JWK (base64url, as RFC 7518 writes it) and no public one.
func TestKeyNumbers(t *testing.T) {
	t.Parallel()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	rsaSecret := []string{b64(rk.D.Bytes()), b64(rk.Primes[0].Bytes()), b64(rk.Primes[1].Bytes()),
		b64(rk.Precomputed.Dp.Bytes()), b64(rk.Precomputed.Dq.Bytes()), b64(rk.Precomputed.Qinv.Bytes())}
	ecD, err := ek.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	sec1, err := x509.MarshalECPrivateKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		der        []byte
		secret     []string
		publicPart []string
	}{
		{"RSA PKCS #8", pkcs8(rk), rsaSecret, []string{b64(rk.N.Bytes())}},
		{"RSA PKCS #1", x509.MarshalPKCS1PrivateKey(rk), rsaSecret, []string{b64(rk.N.Bytes())}},
		{"EC PKCS #8", pkcs8(ek), []string{b64(ecD)}, nil},
		{"EC SEC 1", sec1, []string{b64(ecD)}, nil},
		{"Ed25519 PKCS #8", pkcs8(ed), []string{b64(ed.Seed())}, []string{b64(ed.Public().(ed25519.PublicKey))}},
		{"not a key", []byte("not a key"), nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := KeyNumbers(tc.der)
			for _, want := range tc.secret {
				if !slices.Contains(got, want) {
					t.Errorf("KeyNumbers lacks a secret member %.12s...", want)
				}
			}
			for _, pub := range tc.publicPart {
				if slices.Contains(got, pub) {
					t.Errorf("KeyNumbers holds a public member %.12s...", pub)
				}
			}
			if len(tc.secret) == 0 && len(got) != 0 {
				t.Errorf("KeyNumbers(%s) = %d values, want none", tc.name, len(got))
			}
		})
	}
}

// TestKeyDERs: KeyDERs returns the key in each DER encoding it has, so
// that a key given in one is redacted when an API shows it in another.
func TestKeyDERs(t *testing.T) {
	t.Parallel()
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	must := func(b []byte, err error) []byte {
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rsa8, rsa1 := must(x509.MarshalPKCS8PrivateKey(rk)), x509.MarshalPKCS1PrivateKey(rk)
	ec8, ec1 := must(x509.MarshalPKCS8PrivateKey(ek)), must(x509.MarshalECPrivateKey(ek))
	ed8 := must(x509.MarshalPKCS8PrivateKey(ed))
	b64 := base64.StdEncoding.EncodeToString
	for _, tc := range []struct {
		name string
		der  []byte
		want []string
	}{
		{"RSA PKCS #8", rsa8, []string{b64(rsa1), b64(rsa8)}},
		{"RSA PKCS #1", rsa1, []string{b64(rsa1), b64(rsa8)}},
		{"EC PKCS #8", ec8, []string{b64(ec1), b64(ec8)}},
		{"EC SEC 1", ec1, []string{b64(ec1), b64(ec8)}},
		{"Ed25519 PKCS #8", ed8, []string{b64(ed8)}},
		{"not a key", []byte("not a key"), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := KeyDERs(tc.der)
			if !slices.Equal(got, tc.want) {
				t.Errorf("KeyDERs = %d encodings, want %d (PKCS #1 or SEC 1 first, then PKCS #8)", len(got), len(tc.want))
			}
		})
	}
}
