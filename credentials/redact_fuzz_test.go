package credentials

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/keyveil/keyveil/internal/encodetest"
)

// FuzzRedact plants a random secret in random text, in every encoding and at
// every base64 alignment, and checks that no form of it survives; and checks
// that text without the secret comes back as the very same slice.
//
//	go test -run='^$' -fuzz='^FuzzRedact$' -fuzztime=20s ./credentials
func FuzzRedact(f *testing.F) {
	f.Add([]byte(testKey), []byte(`{"jsonrpc":"2.0","result":{"text":"hi\n"}}`), []byte("user:"), uint16(20))
	f.Add([]byte("abcdefghij"), []byte("efghijklmnop abcdefghijklmnop"), []byte("x"), uint16(3))
	f.Add([]byte(`sk-"q\uote/<&>`), []byte(`\\\"\u0041%41&#65;`), []byte{0xff, 0x00}, uint16(7))
	f.Add([]byte("nLEAKCHECK"), []byte(`"\n\\\n"`), []byte("ab"), uint16(2))
	f.Add([]byte("caf\xc3\xa9-\xe2\x98\x83-LEAK"), []byte("\xc3\xa9\xe2\x98"), []byte(""), uint16(1))
	f.Add([]byte("+/+/+/+/+/=="), []byte("QUJD\r\nREVG\\r\\nR0hJ"), []byte("+"), uint16(9))
	// The third pass: UTF-16, hex with separators, a hexdump, base64 of
	// base64, quoted-printable (see redact_transcode.go).
	f.Add([]byte(testKey), encodetest.UTF16("key=x", false, true), []byte("\x00"), uint16(8))
	f.Add([]byte(testKey), []byte("00000000  47 45 54 20 2f 61  |GET /a|\n"), []byte("a:"), uint16(14))
	f.Add([]byte(testKey), []byte(`"R0VUIC8gSFRUUC8xLjENCg==\n"`), []byte("user:"), uint16(1))
	f.Add([]byte("k=ey-with-an-equals"), []byte("a=3D=\r\nb=\nc=0a"), []byte("="), uint16(4))
	f.Fuzz(func(t *testing.T, secret, text, pre []byte, at uint16) {
		if len(secret) == 0 || len(secret) > 80 || len(text) > 4096 || bytes.IndexByte(secret, 0) >= 0 {
			return
		}
		key := string(secret)
		r := NewRedactor(NewSecret("FUZZ_KEY", key))
		marker := []byte("[REDACTED:FUZZ_KEY]")

		// Whatever the text, output must hold no form of the key; and if the
		// text held none, it must come back untouched and uncopied.
		check := func(in []byte, forms []string) {
			t.Helper()
			orig := bytes.Clone(in)
			out := r.Redact(in)
			if !bytes.Equal(in, orig) {
				t.Fatalf("Redact(%q) modified its input", orig)
			}
			if !fuzzHolds(r, in) {
				if len(in) > 0 && (len(out) != len(in) || &out[0] != &in[0]) {
					t.Fatalf("Redact(%q) = %q, want the same slice: it holds no form of %q", in, out, key)
				}
				return
			}
			if bytes.Equal(out, in) {
				t.Fatalf("Redact(%q) left it unchanged, but it holds a form of %q", in, key)
			}
			// Markers become NUL, which no form contains, so that text on
			// both sides of a marker cannot combine into a false alarm.
			sep := asciiLower(bytes.ReplaceAll(out, marker, []byte{0}))
			for _, form := range forms {
				if form != "" && bytes.Contains(sep, asciiLower([]byte(form))) {
					t.Fatalf("Redact(%q) = %q: %q survived", in, out, form)
				}
			}
		}
		plant := func(form string) []byte {
			i := int(at) % (len(text) + 1)
			return append(append(append([]byte{}, text[:i]...), form...), text[i:]...)
		}

		check(text, []string{key})
		// Partly escaped, then escaped again: "\\u0073k-..." is what a JSON
		// string holding "\u0073k-..." looks like inside another one.
		// (\u00XX is a code point, so only an ASCII byte escapes this way;
		// and decoding cannot tell a key's own "%41" or "\n" from an
		// escape, so such keys are caught partly encoded only if the rest
		// is plain.)
		for _, layers := range []string{`\`, `\\`, `\\\\`} {
			if secret[0] >= 0x80 || bytes.ContainsAny(secret[1:], "%\\&\r\n") {
				break
			}
			form := layers + fmt.Sprintf("u%04x", secret[0]) + key[1:]
			check(plant(form), []string{key, form})
		}
		for _, f := range leakForms(key) {
			check(plant(f.text), []string{key, f.text})
		}
		// The key inside a longer blob, at each offset mod 3, then base64:
		// what depends on the key's bytes alone must go.
		for off := range 3 {
			head := append([]byte{}, pre[:min(len(pre), 9)]...)
			for len(head)%3 != off {
				head = append(head, 'p')
			}
			blob := append(append(append([]byte{}, head...), secret...), text[:min(len(text), 4)]...)
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				s := enc.EncodeToString(blob)
				check(plant(s), []string{key, coreOf(s, len(head), len(secret))})
			}
		}
		basic := base64.StdEncoding.EncodeToString([]byte("user:" + key))
		check(plant("Basic "+basic), []string{key, coreOf(basic, len("user:"), len(secret))})

		// What an echo or debug API makes of a request with the key in
		// it: the third pass finds it in text from upstream.
		for _, f := range fuzzReflections(secret, pre) {
			in := plant(f.text)
			out := r.RedactFragments(in, nil)
			if bytes.Equal(out, in) {
				t.Fatalf("RedactFragments(%q) left it unchanged, but it holds %q", in, f.text)
			}
			sep := asciiLower(bytes.ReplaceAll(out, marker, []byte{0}))
			for _, form := range f.gone {
				if form != "" && bytes.Contains(sep, asciiLower([]byte(form))) {
					t.Fatalf("RedactFragments(%q) = %q: %q survived", in, out, form)
				}
			}
		}
	})
}

// fuzzReflections returns the key as the third pass must find it, each
// with the pieces of it that must not survive.
func fuzzReflections(secret, pre []byte) []struct {
	text string
	gone []string
} {
	key := string(secret)
	b64 := base64.StdEncoding.EncodeToString
	var out []struct {
		text string
		gone []string
	}
	add := func(text string, gone ...string) {
		out = append(out, struct {
			text string
			gone []string
		}{text, append(gone, key)})
	}
	if utf8.Valid(secret) {
		le, be := encodetest.UTF16(key, false, false), encodetest.UTF16(key, true, false)
		add(" "+string(le)+" ", string(le))
		add(" "+string(be)+" ", string(be))
	}
	if len(secret) >= 8 { // shorter hex runs are not sampled (sampleStep)
		add(" "+encodetest.Hex(secret, " ", false)+" ", encodetest.Hex(secret, " ", false))
		add(" "+encodetest.Hex(secret, ":", true)+" ", encodetest.Hex(secret, ":", true))
	}
	// A hexdump: the key's bytes on each line, in both columns.
	dump := append(append([]byte("GET / HTTP/1.1\r\nX-Pad: "), pre...), "\r\nAuthorization: Bearer "+key+"\r\n\r\n"...)
	at := bytes.Index(dump, secret)
	hd := encodetest.Hexdump(dump)
	var pieces []string
	for off := at - at%16; off < at+len(secret); off += 16 {
		lo, hi := max(off, at), min(off+16, at+len(secret))
		// Only a piece that shows nowhere else in the dump.
		if piece := encodetest.Hex(dump[lo:hi], " ", false); hi-lo >= 3 && strings.Count(hd, piece) == 1 {
			pieces = append(pieces, piece)
		}
	}
	add("\n"+hd, pieces...)
	// base64 of a dump with a Basic header: what of the outer text
	// depends on the inner core alone must go.
	basic := b64([]byte("user:" + key))
	inner := []byte("GET / HTTP/1.1\r\nX-Pad: " + string(pre) + "\r\nAuthorization: Basic " + basic + "\r\n\r\n")
	outer := b64(inner)
	core := coreOf(basic, len("user:"), len(secret))
	if a := bytes.Index(inner, []byte(core)); core != "" && len(core) >= 3 {
		add(" "+outer+" ", outer[(a+2)/3*4:(a+len(core))/3*4])
	}
	// Quoted-printable with a soft break inside the key.
	qp := encodetest.QuotedPrintable(key, "", 1<<20, "")
	if k := len(qp) / 2; len(qp) >= 2 && !strings.HasSuffix(qp[:k], "=") && !strings.HasSuffix(qp[:k], "=X") {
		if i := strings.LastIndexByte(qp[:k], '='); i < 0 || i+3 <= k {
			add(" "+qp[:k]+"=\r\n"+qp[k:]+" ", qp[:k]+"=\r\n"+qp[k:])
		}
	}
	return out
}

// fuzzHolds reports whether p holds a variant of a secret r knows, as it
// stands or after decoding the whole of p once, twice or three times — the
// slow, obvious version of what Redact does with a filter and islands.
func fuzzHolds(r *Redactor, p []byte) bool {
	st := r.current()
	texts := [][]byte{asciiLower(p)}
	for range maxLayers {
		dec := decodeAll(p)
		if bytes.Equal(dec, p) {
			break
		}
		texts, p = append(texts, asciiLower(dec)), dec
	}
	for _, m := range st.m.ms {
		for _, pt := range m.pats {
			v := m.data[pt.off : pt.off+pt.n]
			for _, t := range texts {
				if bytes.Contains(t, v) {
					return true
				}
			}
		}
	}
	return false
}

// decodeAll undoes one layer of escaping in all of p, left to right.
func decodeAll(p []byte) []byte {
	var out []byte
	var buf [4]byte
	for i := 0; i < len(p); {
		c := p[i]
		if c == '\n' || c == '\r' || c == '\\' {
			if k := joinAt(p, i); k > 0 {
				i += k
				continue
			}
		}
		if c == '%' || c == '\\' || c == '&' {
			if k, m := escapeAt(p, i, &buf); k > 0 {
				out = append(out, buf[:m]...)
				i += k
				continue
			}
		}
		out = append(out, c)
		i++
	}
	return out
}

// asciiLower lower-cases ASCII letters only; bytes.ToLower would also turn
// invalid UTF-8 into U+FFFD.
func asciiLower(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		out[i] = c
	}
	return out
}
