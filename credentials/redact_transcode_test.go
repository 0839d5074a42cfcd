package credentials

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/internal/encodetest"
)

// The reflections an honest echo or debug API produces from a request that
// carried testKey, computed here independently of redact_transcode.go.

// echoDump is the request an echo API reflects, with the key in it.
func echoDump(auth string) string {
	return "GET /anything?pad=xx HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: " + auth + "\r\nAccept: */*\r\n\r\n"
}

// reflections are testKey as an echo API may reflect it: name, the body,
// and the pieces of it that must not survive redaction.
func reflections() []struct {
	name string
	body string
	gone []string
	raw  bool // found in the raw body only (see TestRedactReflections)
} {
	key := testKey
	kb := []byte(key)
	b64 := base64.StdEncoding.EncodeToString
	basic := b64([]byte("user:" + key))
	basicDump := b64([]byte(echoDump("Basic " + basic)))
	bearerDump := b64([]byte(echoDump("Bearer " + key)))
	dump := []byte(echoDump("Bearer " + key))
	hd := encodetest.Hexdump(dump)
	// What of the key each hexdump line shows, in both columns.
	var hdGone []string
	at := bytes.Index(dump, kb)
	for off := at - at%16; off < at+len(kb); off += 16 {
		lo, hi := max(off, at), min(off+16, at+len(kb))
		if hi-lo >= 4 {
			hdGone = append(hdGone, string(dump[lo:hi]), encodetest.Hex(dump[lo:hi], " ", false))
		}
	}
	// The key split across the soft break, whatever the encoder chose.
	qpCRLF := "Authorization: Bearer sk-test-LEAK=\r\nCHECK-0123456789\r\n"
	qpLF := "token=3D\"sk-test-LEAKCHE=\nCK-0123456789\""
	return []struct {
		name string
		body string
		gone []string
		raw  bool
	}{
		{"utf-16le", string(encodetest.UTF16(echoDump("Bearer "+key), false, false)), []string{string(encodetest.UTF16(key, false, false))}, false},
		{"utf-16be", string(encodetest.UTF16(echoDump("Bearer "+key), true, false)), []string{string(encodetest.UTF16(key, true, false))}, false},
		{"utf-16le with BOM", string(encodetest.UTF16(`{"token":"`+key+`"}`, false, true)), []string{string(encodetest.UTF16(key, false, false))}, false},
		{"utf-16be with BOM", string(encodetest.UTF16(`{"token":"`+key+`"}`, true, true)), []string{string(encodetest.UTF16(key, true, false))}, false},
		{"utf-16le of base64 of Basic", string(encodetest.UTF16("Authorization: Basic "+basic, false, false)), []string{string(encodetest.UTF16(basic[8:30], false, false))}, true},
		{"hex, spaces", "body: " + encodetest.Hex(kb, " ", false), []string{encodetest.Hex(kb[:8], " ", false), encodetest.Hex(kb[20:], " ", false)}, false},
		{"hex, colons, upper case", "body: " + encodetest.Hex(kb, ":", true), []string{encodetest.Hex(kb[:8], ":", true), encodetest.Hex(kb[20:], ":", true)}, false},
		{"hex, dashes", "body=" + encodetest.Hex(kb, "-", false) + ";", []string{encodetest.Hex(kb[:8], "-", false), encodetest.Hex(kb[20:], "-", false)}, false},
		{"hex of the dump, spaces", encodetest.Hex(dump, " ", false), []string{encodetest.Hex(kb[:8], " ", false), encodetest.Hex(kb[20:], " ", false)}, false},
		{"hexdump -C of the dump", hd, hdGone, false},
		{"hex of a dump with Basic, spaces", encodetest.Hex([]byte(echoDump("Basic "+basic)), " ", false), []string{encodetest.Hex([]byte(basic[8:16]), " ", false), encodetest.Hex([]byte(basic[30:38]), " ", false)}, false},
		{"hex of a dump with Basic, colons", encodetest.Hex([]byte(echoDump("Basic "+basic)), ":", true), []string{encodetest.Hex([]byte(basic[8:16]), ":", true)}, false},
		{"base64 of a dump with Basic", basicDump, []string{basic[8:30]}, false},
		{"base64 of a dump with Basic, MIME 76 CRLF", encodetest.Wrap(basicDump, 76, "\r\n"), nil, false},
		{"base64 of a dump with Basic, PEM 64 LF", "-----BEGIN DUMP-----\n" + encodetest.Wrap(basicDump, 64, "\n") + "\n-----END DUMP-----\n", nil, false},
		{"base64 of a dump with Bearer, MIME 76 CRLF", encodetest.Wrap(bearerDump, 76, "\r\n"), nil, false},
		{"base64 of base64 of a dump", b64([]byte(basicDump)), nil, false},
		{"base64 of hex with colons", b64([]byte("fingerprint " + encodetest.Hex(kb, ":", false))), nil, false},
		{"quoted-printable, soft break CRLF", qpCRLF, []string{"sk-test-LEAK", "CHECK-0123456789"}, false},
		{"quoted-printable, soft break LF and =3D", qpLF, []string{"sk-test-LEAKCHE", "CK-0123456789"}, false},
		{"quoted-printable, =XX escapes", encodetest.QuotedPrintable("Authorization: Bearer "+key+"\r\n", "-kLC", 76, "\r\n"), []string{"=2Dtest=2D"}, false},
	}
}

// survivors returns what of gone, or of the key itself, survives in out,
// once markers are taken out so that text on both sides of one cannot
// combine into a false alarm.
func survivors(out string, gone []string) []string {
	sep := string(asciiLower([]byte(strings.ReplaceAll(out, testMarker, "\x00\x01"))))
	var left []string
	for _, g := range append(gone, testKey, "LEAKCHECK") {
		if strings.Contains(sep, string(asciiLower([]byte(g)))) {
			left = append(left, g)
		}
	}
	return left
}

// TestRedactReflections checks the third pass, which runs for text from
// upstream (RedactFragments).
func TestRedactReflections(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	for _, tc := range reflections() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// As the API sent it, as a JSON string (a tool result on
			// stdout), and inside a JSON string inside another.
			once, _ := json.Marshal(tc.body)
			twice, _ := json.Marshal(string(once))
			// UTF-16 with "\u0000" for each NUL is found only as the
			// key's own UTF-16 variant: tools transcode a UTF-16 body to
			// UTF-8 before it is ever JSON-encoded.
			ins := []string{tc.body, string(once), string(twice)}
			if tc.raw {
				ins = ins[:1]
			}
			for _, in := range ins {
				got := string(r.RedactFragments([]byte(in), nil))
				if !strings.Contains(got, testMarker) {
					t.Errorf("RedactFragments(%q) = %q, want %s in it", in, got, testMarker)
					continue
				}
				if left := survivors(got, tc.gone); len(left) > 0 {
					t.Errorf("RedactFragments(%q) = %q: %q survived", in, got, left)
				}
				if in != tc.body && !json.Valid([]byte(got)) {
					t.Errorf("RedactFragments(%s) = %s, not valid JSON", in, got)
				}
			}
		})
	}
}

// TestRedactHexdumpColumns checks that a hexdump keeps its shape: the
// key's bytes go from both columns, and nothing else does.
func TestRedactHexdumpColumns(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	in := encodetest.Hexdump([]byte(echoDump("Bearer " + testKey)))
	want := strings.Join([]string{
		"00000000  47 45 54 20 2f 61 6e 79  74 68 69 6e 67 3f 70 61  |GET /anything?pa|",
		"00000010  64 3d 78 78 20 48 54 54  50 2f 31 2e 31 0d 0a 48  |d=xx HTTP/1.1..H|",
		"00000020  6f 73 74 3a 20 61 70 69  2e 65 78 61 6d 70 6c 65  |ost: api.example|",
		"00000030  2e 63 6f 6d 0d 0a 41 75  74 68 6f 72 69 7a 61 74  |.com..Authorizat|",
		"00000040  69 6f 6e 3a 20 42 65 61  72 65 72 20 " + testMarker + "  |ion: Bearer " + testMarker + "|",
		"00000050  " + testMarker + "  |" + testMarker + "|",
		"00000060  " + testMarker + "  0d 0a 41 63 63 65 70 74  |" + testMarker + "..Accept|",
		"00000070  3a 20 2a 2f 2a 0d 0a 0d  0a                       |: */*....|",
		"00000079", "",
	}, "\n")
	if got := string(r.RedactFragments([]byte(in), nil)); got != want {
		t.Errorf("RedactFragments(%s)\n = %s\nwant %s", in, got, want)
	}
}

// TestRedactUTF16KeepsUnits checks that a key found in UTF-16 text is
// replaced with whole code units, so that the text after it still decodes.
func TestRedactUTF16KeepsUnits(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	for _, big := range []bool{false, true} {
		in := string(encodetest.UTF16("key="+testKey+" after", big, false))
		got := string(r.RedactFragments([]byte(in), nil))
		i := strings.Index(got, testMarker)
		if i < 0 {
			t.Fatalf("RedactFragments(%q) = %q, want %s in it", in, got, testMarker)
		}
		before, after := got[:i], got[i+len(testMarker):]
		if before != string(encodetest.UTF16("key=", big, false)) || after != string(encodetest.UTF16(" after", big, false)) {
			t.Errorf("RedactFragments(%q) = %q, want the marker in place of whole code units", in, got)
		}
	}
}

func TestRedactReflectionsCleanUntouched(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	clean := echoDump("Bearer not-a-key-0000000000-clean")
	b64 := base64.StdEncoding.EncodeToString([]byte(clean))
	tests := []struct{ name, in string }{
		{"utf-16le", string(encodetest.UTF16(clean, false, true))},
		{"utf-16be", string(encodetest.UTF16(clean, true, false))},
		{"hex with spaces", encodetest.Hex([]byte(clean), " ", false)},
		{"hex with colons", hex.EncodeToString([]byte(clean))[:40] + ":" + encodetest.Hex([]byte(clean), ":", true)},
		{"hexdump -C", encodetest.Hexdump([]byte(clean))},
		{"base64", b64},
		{"base64 of base64, wrapped", encodetest.Wrap(base64.StdEncoding.EncodeToString([]byte(b64)), 76, "\r\n")},
		{"quoted-printable", encodetest.QuotedPrintable(clean+strings.Repeat("y", 50), "-", 76, "\r\n")},
		{"url query", "https://api.example.com/v1/items?page=10&per_page=ab&sort=desc"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := []byte(tc.in)
			got := r.RedactFragments(in, nil)
			if !bytes.Equal(got, in) {
				t.Fatalf("RedactFragments(%q) = %q, want it unchanged", in, got)
			}
			if &got[0] != &in[0] {
				t.Errorf("RedactFragments(%q) returned a copy, want the same slice", in)
			}
		})
	}
}

// TestRedactUTF16AtTheEnd is UTF-16 text that stops before the NUL of its
// last code unit: the match must stay inside the text.
func TestRedactUTF16AtTheEnd(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	in := string(encodetest.UTF16("key="+testKey, false, false))
	in = in[:len(in)-1]
	tp := transcodePass{st: r.current(), p: []byte(in), sc: new(redactScratch)}
	tp.scanUTF16(0, len(in))
	if len(tp.ss) == 0 {
		t.Fatalf("the third pass found nothing in %q", in)
	}
	for _, sp := range tp.ss {
		if sp.start < 0 || sp.end > len(in) {
			t.Errorf("the third pass mapped a match of %q to [%d, %d), outside the text", in, sp.start, sp.end)
		}
	}
}
