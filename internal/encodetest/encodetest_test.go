package encodetest

import "testing"

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
