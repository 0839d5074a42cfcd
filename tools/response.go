package tools

import (
	"bytes"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"
)

// allowedResponseHeaders are the response headers a result may carry, in
// canonical form. Everything else is dropped: Set-Cookie would hand the
// model a session credential, WWW-Authenticate and Proxy-Authenticate can
// echo realm or token details, and an API that reflects Authorization back
// would return the key itself.
var allowedResponseHeaders = []string{
	"Cache-Control",
	"Content-Length",
	"Content-Type",
	"Etag",
	"Last-Modified",
	"Link",
	"Location",
	"Retry-After",
	"X-Request-Id",
}

// allowedResponsePrefixes are header families kept whole (rate limits, and
// keyveil's own annotations).
var allowedResponsePrefixes = []string{"X-Ratelimit-", "Ratelimit-", "X-Keyveil-"}

// responseHeaders keeps the allowlisted headers, joins repeated values with
// ", ", and redacts each value as text from upstream (sent: see sentTexts).
func (d Deps) responseHeaders(h http.Header, sent [][]byte) map[string]string {
	out := map[string]string{}
	for name, values := range h {
		canon := http.CanonicalHeaderKey(name)
		if !slices.Contains(allowedResponseHeaders, canon) &&
			!slices.ContainsFunc(allowedResponsePrefixes, func(p string) bool { return strings.HasPrefix(canon, p) }) {
			continue
		}
		// The name too: the kept families are prefixes, and the API
		// chooses the rest.
		out[d.upstreamString(canon, sent)] = d.upstreamString(strings.Join(values, ", "), sent)
	}
	return out
}

// binaryBody describes a body that is not shown.
type binaryBody struct {
	Binary      bool   `json:"binary"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size"`
}

// responseBody shapes data, already redacted and cut (see readUpstream),
// for the result: parsed JSON when the response is complete JSON, text
// otherwise. Parsing undoes the API's escaping, which can join a key that
// was spread over several escapes into plain text: the parsed value is
// written out and redacted once more.
func (d Deps) responseBody(kind bodyKind, data []byte, truncated bool, sent [][]byte) any {
	if len(data) == 0 {
		return ""
	}
	if kind == kindJSON && !truncated {
		if v, ok := parseJSON(data); ok {
			plain := marshalJSON(v)
			again := d.RedactUpstream(plain, sent)
			if sameBytes(again, plain) {
				return v
			}
			if v, ok := parseJSON(again); ok {
				return v
			}
			return strings.ToValidUTF8(string(again), "\uFFFD")
		}
	}
	return strings.ToValidUTF8(string(data), "\uFFFD")
}

type bodyKind int

const (
	kindText bodyKind = iota
	kindJSON
	kindBinary
)

func mediaType(contentType string) string {
	if contentType == "" {
		return ""
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt, _, _ = strings.Cut(contentType, ";")
	}
	return strings.ToLower(strings.TrimSpace(mt))
}

var textTypes = []string{
	"application/javascript", "application/ecmascript", "application/xml",
	"application/x-www-form-urlencoded", "application/x-ndjson", "application/yaml",
	"application/x-yaml", "application/graphql", "application/sql", "application/csv",
	"application/problem+xml",
}

var binaryTypes = []string{
	"application/octet-stream", "application/pdf", "application/zip", "application/gzip",
	"application/x-gzip", "application/x-tar", "application/x-7z-compressed", "application/wasm",
	"application/x-protobuf", "application/protobuf", "application/grpc", "application/msgpack",
	"application/x-msgpack", "application/cbor", "application/vnd.ms-excel", "application/msword",
}

func classify(mt string, data []byte) bodyKind {
	switch {
	case mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json"):
		return kindJSON
	case strings.HasPrefix(mt, "text/") || slices.Contains(textTypes, mt) ||
		strings.HasSuffix(mt, "+xml") || strings.HasSuffix(mt, "+yaml"):
		return kindText
	case strings.HasPrefix(mt, "image/"), strings.HasPrefix(mt, "audio/"), strings.HasPrefix(mt, "video/"),
		strings.HasPrefix(mt, "font/"), strings.HasPrefix(mt, "model/"), slices.Contains(binaryTypes, mt):
		return kindBinary
	}
	// No or another content type: trust the bytes.
	if !utf8.Valid(data) || bytes.IndexByte(data, 0) >= 0 {
		return kindBinary
	}
	if mt == "" {
		if _, ok := parseJSON(data); ok {
			return kindJSON
		}
	}
	return kindText
}

// parseJSON decodes exactly one JSON value, keeping numbers as written.
func parseJSON(data []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, false
	}
	return v, true
}
