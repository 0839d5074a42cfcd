package encodetest

import (
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
)

// TestForms pins each form to what the tool it imitates writes, so that
// the tests built on it compare with the real thing.
func TestForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, got, want string
	}{
		{"UTF16 little-endian", string(UTF16("Aé", false, false)), "A\x00\xe9\x00"},
		{"UTF16 big-endian with BOM", string(UTF16("A", true, true)), "\xfe\xff\x00A"},
		{"UTF16 surrogate pair", string(UTF16("😀", true, false)), "\xd8\x3d\xde\x00"},
		{"Hex lower, colons", Hex([]byte{0xde, 0xad, 0x0f}, ":", false), "de:ad:0f"},
		{"Hex upper, no separator", Hex([]byte{0xde, 0xad}, "", true), "DEAD"},
		{"Hexdump empty", Hexdump(nil), "00000000\n"},
		{"Wrap", Wrap("abcdefg", 3, "\r\n"), "abc\r\ndef\r\ng"},
		{"Wrap exact", Wrap("abcdef", 3, "\n"), "abc\ndef"},
		{"QuotedPrintable escapes", QuotedPrintable("a=b\x01c", "c", 76, "\r\n"), "a=3Db=01=63"},
		{"QuotedPrintable soft breaks", QuotedPrintable(strings.Repeat("x", 80), "", 76, "\r\n"), strings.Repeat("x", 75) + "=\r\n" + "xxxxx"},
		// printf 'Hello, hexdump!\nsecond' | hexdump -C
		{"Hexdump", Hexdump([]byte("Hello, hexdump!\nsecond")),
			"00000000  48 65 6c 6c 6f 2c 20 68  65 78 64 75 6d 70 21 0a  |Hello, hexdump!.|\n" +
				"00000010  73 65 63 6f 6e 64                                 |second|\n" +
				"00000016\n"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// TestQuotedPrintableDecodes: what QuotedPrintable writes, mime's reader
// reads back, so a test's quoted-printable is the real thing.
func TestQuotedPrintableDecodes(t *testing.T) {
	t.Parallel()
	in := "GET /x HTTP/1.1\r\nAuthorization: Bearer sk-test=LEAKCHECK\xff" + strings.Repeat("y", 200)
	got, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(QuotedPrintable(in, "", 76, "\r\n"))))
	if err != nil || string(got) != in {
		t.Errorf("decoding QuotedPrintable(%q) = %q, %v; want it back", in, got, err)
	}
}
