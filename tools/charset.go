package tools

import (
	"bytes"
	"mime"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode"
)

// A body in another charset than UTF-8 spells a key in other bytes: in
// UTF-16 every ASCII character of it is followed (or preceded) by a NUL,
// which no UTF-8 spelling of the key has. So such a body is transcoded to
// UTF-8 first, and the rest of the pipeline — redaction, cutting, shaping —
// sees, and the model is shown, the text as UTF-8. The charset comes from
// Content-Type, else from a byte-order mark, else, for UTF-16 without a
// BOM, from the NULs at every other byte that ASCII text in UTF-16 has.
//
// Transcoding must not hide a key either. A model can make an echo API
// label a body UTF-16 (httpbin's /response-headers sets any header) while
// the body carries the key as plain ASCII; decoded as UTF-16, each two
// bytes of the key would become one CJK character that spells it to
// anyone who encodes it back. So the raw bytes are redacted first, and
// only the text between the markers is transcoded; the transcoded text is
// then redacted again like any body.

// bodyToUTF8 returns data transcoded to UTF-8 when it is text in another
// charset, as described above, and data itself otherwise. sent is what the
// model sent in this call (see Deps.RedactUpstream).
func (d Deps) bodyToUTF8(contentType string, data []byte, sent [][]byte) []byte {
	enc, skip := bodyCharset(contentType, data)
	if enc == nil {
		return data
	}
	red := d.RedactUpstream(data, sent)
	if len(red) >= skip && bytes.Equal(red[:skip], data[:skip]) {
		red = red[skip:] // the byte-order mark
	}
	dec := enc.NewDecoder()
	var out []byte
	for len(red) > 0 {
		i := bytes.Index(red, []byte(markerPrefix))
		seg := red
		if i >= 0 {
			seg = red[:i]
		}
		if t, err := dec.Bytes(seg); err == nil {
			out = append(out, t...)
		} else {
			out = append(out, bytes.ToValidUTF8(seg, []byte("\uFFFD"))...)
		}
		if i < 0 {
			break
		}
		m := markerLen(red[i:])
		out = append(out, red[i:i+m]...)
		red = red[i+m:]
	}
	return out
}

// markerLen returns the length of the redaction marker at the start of p,
// "[REDACTED:NAME]", or of its prefix alone if no well-formed name follows.
func markerLen(p []byte) int {
	for j := len(markerPrefix); j < len(p) && j < maxMarker; j++ {
		switch c := p[j]; {
		case c == ']':
			return j + 1
		case c == '_' || c == '-' || c == '.' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z':
		default:
			return len(markerPrefix)
		}
	}
	return len(markerPrefix)
}

// bodyCharset returns the encoding data is in when it is text that is not
// UTF-8, and how many bytes of byte-order mark to skip; nil for UTF-8,
// ASCII, an unknown charset, and media types that are not text.
func bodyCharset(contentType string, data []byte) (encoding.Encoding, int) {
	mt := mediaType(contentType)
	if classify(mt, nil) == kindBinary && mt != "" {
		return nil, 0
	}
	switch {
	case bytes.HasPrefix(data, []byte{0xff, 0xfe}):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), 2
	case bytes.HasPrefix(data, []byte{0xfe, 0xff}):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), 2
	case bytes.HasPrefix(data, []byte{0xef, 0xbb, 0xbf}):
		return nil, 0
	}
	name := ""
	if _, params, err := mime.ParseMediaType(contentType); err == nil {
		name = strings.ToLower(strings.TrimSpace(params["charset"]))
	}
	switch name {
	case "", "utf-8", "utf8", "us-ascii", "ascii":
		// Declared UTF-8 or nothing: UTF-16 shows itself by its NULs.
		if e := utf16ByNULs(data); e != nil {
			return e, 0
		}
		return nil, 0
	case "utf-16", "utf16", "ucs-2":
		if e := utf16ByNULs(data); e != nil {
			return e, 0
		}
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), 0
	}
	e := charsetByLabel(name)
	if e == nil || e == unicode.UTF8 {
		return nil, 0
	}
	return e, 0
}

// utf16ByNULs returns UTF-16 of the byte order that the NULs in the first
// 1 KiB of data show — at least 40% of the code units with a NUL high byte,
// and at most 5% of them with a NUL low byte — or nil. ASCII text in
// UTF-16 has one in every unit; no UTF-8 text has that many.
func utf16ByNULs(data []byte) encoding.Encoding {
	head := data[:min(len(data), 1024)&^1]
	units := len(head) / 2
	if units < 4 {
		return nil
	}
	var even, odd int
	for i := 0; i < len(head); i += 2 {
		if head[i] == 0 {
			even++
		}
		if head[i+1] == 0 {
			odd++
		}
	}
	switch {
	case odd*10 >= units*4 && even*20 <= units:
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)
	case even*10 >= units*4 && odd*20 <= units:
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)
	}
	return nil
}
