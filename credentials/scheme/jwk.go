package scheme

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
)

// KeyNumbers returns the secret numbers of the private key in der (PKCS
// #8, PKCS #1 or SEC 1) as a JWK (RFC 7517/7518) writes them: an RSA key's
// d, p, q, dp, dq and qi, an EC key's d, an Ed25519 key's seed, each in
// base64url without padding and in standard base64. None of them is a
// substring of the key's PEM or DER in any encoding, so an API that hands
// the key back as a JWK (a key-management or debug route) would otherwise
// show the model p, and p alone factors the modulus. The Redactor learns
// each as a form of the key; nil when der is no private key this reads.
func KeyNumbers(der []byte) []string {
	var nums [][]byte
	switch k := parsePrivateKey(der).(type) {
	case *rsa.PrivateKey:
		for _, n := range []*big.Int{k.D, k.Precomputed.Dp, k.Precomputed.Dq, k.Precomputed.Qinv} {
			if n != nil {
				nums = append(nums, n.Bytes())
			}
		}
		for _, p := range k.Primes {
			nums = append(nums, p.Bytes())
		}
	case *ecdsa.PrivateKey:
		if b, err := k.Bytes(); err == nil {
			nums = append(nums, b)
		}
	case ed25519.PrivateKey:
		nums = append(nums, k.Seed())
	}
	var out []string
	for _, n := range nums {
		out = append(out, base64.RawURLEncoding.EncodeToString(n), base64.StdEncoding.EncodeToString(n))
	}
	return out
}

// parsePrivateKey parses der as PKCS #8, PKCS #1 or SEC 1; nil when it is
// none of them.
func parsePrivateKey(der []byte) any {
	if k, err := x509.ParsePKCS8PrivateKey(der); err == nil {
		return k
	}
	if k, err := x509.ParsePKCS1PrivateKey(der); err == nil {
		return k
	}
	if k, err := x509.ParseECPrivateKey(der); err == nil {
		return k
	}
	return nil
}

// KeyDERs returns the private key in der in its other DER encodings, in
// standard base64 as a PEM body holds them: an RSA key as PKCS #1 and
// PKCS #8, an EC key as SEC 1 and PKCS #8, an Ed25519 key as PKCS #8.
// The key inside a PKCS #8 structure starts 26 bytes in, so its base64 is
// not a substring of the other's: an API that hands back the key
// re-encoded (openssl rsa -traditional, a key store's export) would
// otherwise show the private exponent unredacted. The Redactor's fragment
// pass finds each line of a PEM wrapping of them as a piece of one.
func KeyDERs(der []byte) []string {
	var ders [][]byte
	k := parsePrivateKey(der)
	switch k := k.(type) {
	case *rsa.PrivateKey:
		ders = append(ders, x509.MarshalPKCS1PrivateKey(k))
	case *ecdsa.PrivateKey:
		if b, err := x509.MarshalECPrivateKey(k); err == nil {
			ders = append(ders, b)
		}
	}
	if k != nil {
		if b, err := x509.MarshalPKCS8PrivateKey(k); err == nil {
			ders = append(ders, b)
		}
	}
	var out []string
	for _, d := range ders {
		out = append(out, base64.StdEncoding.EncodeToString(d))
	}
	return out
}
