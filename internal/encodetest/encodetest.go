// Package encodetest writes bytes in the forms an echo or debug API
// reflects them in (UTF-16, hex pairs, `hexdump -C`, lines of base64,
// quoted-printable), for tests that
// check a key cannot be read back from any of them.
//
// The forms are computed here, independently of the code under test
// (credentials' transcoding Redactor, tools' charset decoding), so that a
// test compares that code with a second, plain implementation. Only
// tests import it.
package encodetest

import (
	"fmt"
	"strings"
	"unicode/utf16"
)

// UTF16 encodes s in UTF-16, big-endian when bigEndian is set, with a
// byte order mark first when bom is set.
func UTF16(s string, bigEndian, bom bool) []byte {
	units := utf16.Encode([]rune(s))
	if bom {
		units = append([]uint16{0xfeff}, units...)
	}
	b := make([]byte, 0, 2*len(units))
	for _, u := range units {
		if bigEndian {
			b = append(b, byte(u>>8), byte(u))
		} else {
			b = append(b, byte(u), byte(u>>8))
		}
	}
	return b
}

// Hex writes b as two-digit hex pairs joined by sep ("de:ad:be:ef"), in
// upper case when upper is set.
func Hex(b []byte, sep string, upper bool) string {
	format := "%02x"
	if upper {
		format = "%02X"
	}
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf(format, c)
	}
	return strings.Join(parts, sep)
}

// Hexdump writes b as `hexdump -C` does (compare: printf ... | hexdump -C):
// offset, sixteen hex pairs in two groups of eight, the printable bytes
// between bars, and the length on a last line.
func Hexdump(b []byte) string {
	var out strings.Builder
	for off := 0; off < len(b); off += 16 {
		line := b[off:min(off+16, len(b))]
		fmt.Fprintf(&out, "%08x ", off)
		for i := range 16 {
			if i == 8 {
				out.WriteByte(' ')
			}
			if i < len(line) {
				fmt.Fprintf(&out, " %02x", line[i])
			} else {
				out.WriteString("   ")
			}
		}
		out.WriteString("  |")
		for _, c := range line {
			if c < 0x20 || c > 0x7e {
				c = '.'
			}
			out.WriteByte(c)
		}
		out.WriteString("|\n")
	}
	fmt.Fprintf(&out, "%08x\n", len(b))
	return out.String()
}

// Wrap breaks s into lines of width bytes, each but the last ended by
// eol: base64 as MIME (76, "\r\n") or PEM (64, "\n") writes it.
func Wrap(s string, width int, eol string) string {
	var out strings.Builder
	for len(s) > width {
		out.WriteString(s[:width] + eol)
		s = s[width:]
	}
	out.WriteString(s)
	return out.String()
}

// QuotedPrintable encodes s as quoted-printable (RFC 2045): '=', the
// bytes outside printable ASCII and every byte in escape become =XX, and
// soft line breaks ("=" then eol) keep each line within width bytes.
// QuotedPrintable(s, "", 76, "\r\n") is what a mail library writes.
func QuotedPrintable(s, escape string, width int, eol string) string {
	var out strings.Builder
	col := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		tok := string(c)
		if c == '=' || c < 0x20 || c > 0x7e || strings.IndexByte(escape, c) >= 0 {
			tok = fmt.Sprintf("=%02X", c)
		}
		if col+len(tok) > width-1 {
			out.WriteString("=" + eol)
			col = 0
		}
		out.WriteString(tok)
		col += len(tok)
	}
	return out.String()
}
