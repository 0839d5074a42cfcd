package credentials

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// variant is one spelling of a secret that the Redactor looks for. Every
// variant is matched ignoring ASCII case, so only one case is listed.
type variant struct {
	kind string // which encoding, for tests and debugging: "raw", "base64-core1-url"
	text string
}

// variantsOf returns every spelling of secret that the first pass looks for.
// Duplicates (a base64 text without '+' or '/' is the same in both
// alphabets) are left in; the matcher drops them.
//
// The list is what an API or a careless log line turns a key into: echoed
// back (raw), mangled (reversed), put in a header or token (base64 in both
// alphabets, with and without padding), embedded in a longer base64 blob such
// as HTTP Basic "user:key" (the three alignment-stable cores), dumped
// (hex), put in a URL (percent-encoding of every byte), escaped for JSON
// or HTML, or written in UTF-16. Partial encodings and further layers of escaping are the second
// pass's job (see redact_decode.go).
func variantsOf(secret string) []variant {
	rev := []byte(secret)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	vs := []variant{
		{"raw", secret},
		{"reversed", string(rev)},
		{"base64-std", base64.StdEncoding.EncodeToString([]byte(secret))},
		{"base64-std-raw", base64.RawStdEncoding.EncodeToString([]byte(secret))},
		{"base64-url", base64.URLEncoding.EncodeToString([]byte(secret))},
		{"base64-url-raw", base64.RawURLEncoding.EncodeToString([]byte(secret))},
	}
	for k := range 3 {
		ks := strconv.Itoa(k)
		if c := base64Core(base64.RawStdEncoding, secret, k); c != "" {
			vs = append(vs, variant{"base64-core" + ks + "-std", c})
		}
		if c := base64Core(base64.RawURLEncoding, secret, k); c != "" {
			vs = append(vs, variant{"base64-core" + ks + "-url", c})
		}
	}
	vs = append(vs, variant{"hex", hex.EncodeToString([]byte(secret))})
	const digits = "0123456789abcdef"
	pct := make([]byte, 0, 3*len(secret))
	js := make([]byte, 0, 6*len(secret))
	dec := make([]byte, 0, 6*len(secret))
	hx := make([]byte, 0, 6*len(secret))
	for _, c := range []byte(secret) {
		pct = append(pct, '%', digits[c>>4], digits[c&15])
		js = append(js, '\\', 'u', '0', '0', digits[c>>4], digits[c&15])
		dec = append(dec, "&#"...)
		dec = strconv.AppendUint(dec, uint64(c), 10)
		dec = append(dec, ';')
		hx = append(hx, "&#x"...)
		hx = strconv.AppendUint(hx, uint64(c), 16)
		hx = append(hx, ';')
	}
	vs = append(vs,
		variant{"percent", string(pct)},
		variant{"json-u", string(js)},
		variant{"html-dec", string(dec)},
		variant{"html-hex", string(hx)},
	)
	// Without the NUL at the outer end, the little-endian spelling of an
	// ASCII key is the big-endian one too, and a match never takes half of
	// a code unit next to the key.
	le, be := utf16Of(secret)
	return append(vs, variant{"utf16le", le[:len(le)-1]}, variant{"utf16be", be[1:]})
}

// utf16Of returns secret in UTF-16, little- and big-endian, without a BOM:
// a body in another charset, or a Windows log line. The third pass finds
// these too, in raw text; as variants they are also found where a JSON
// encoder has written each NUL as "\u0000", which the escape pass decodes.
// A secret that is not valid UTF-8 is taken byte by byte.
func utf16Of(secret string) (le, be string) {
	var units []uint16
	if utf8.ValidString(secret) {
		units = utf16.Encode([]rune(secret))
	} else {
		for _, c := range []byte(secret) {
			units = append(units, uint16(c))
		}
	}
	l := make([]byte, 0, 2*len(units))
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		l = binary.LittleEndian.AppendUint16(l, u)
		b = binary.BigEndian.AppendUint16(b, u)
	}
	return string(l), string(b)
}

// base64Core returns the part of the base64 encoding (in enc's alphabet,
// unpadded) of any byte string that holds secret at a start offset ≡ k
// (mod 3) and that depends on the secret's bytes alone: it drops the
// leading characters that share bits with the bytes before the secret and
// the trailing ones that share bits with the bytes after it. Whatever
// surrounds the secret — "user:" in Basic auth, a JSON document, a
// certificate — its encoding contains one of the three cores.
func base64Core(enc *base64.Encoding, secret string, k int) string {
	buf := make([]byte, k+len(secret))
	copy(buf[k:], secret)
	s := enc.EncodeToString(buf)
	// Character j carries bits [6j, 6j+6); the secret holds bits
	// [8k, 8(k+len)).
	lo := (8*k + 5) / 6
	hi := 8 * (k + len(secret)) / 6
	if lo >= hi {
		return ""
	}
	return s[lo:hi]
}
