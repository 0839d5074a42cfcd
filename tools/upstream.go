package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/keyveil/keyveil/config"
)

// Everything that came from upstream goes through one pipeline before the
// model sees it, in this order (upstreamResponse):
//
//  1. read a window: max_response_bytes plus the Redactor's lookahead, so
//     that a key which starts before the cut is read whole;
//  1b. transcode text in another charset to UTF-8 (bodyToUTF8), having
//     redacted the raw bytes first;
//  2. redact held secrets: whole, in every encoding, and any run of 8 or
//     more bytes of one that the model did not send itself in this call
//     (Deps.RedactUpstream with the call's sentTexts);
//  3. (hook) detect secrets keyveil does not hold;
//  4. (hook) jq shaping;
//  5. cut at max_response_bytes (Deps.Cut): never inside a marker, an
//     escape or a UTF-8 character, never ending on the start of a key;
//  6. shape: parse JSON, describe binary data.
//
// Cutting before redacting would turn a whole key, which every layer
// redacts, into a piece of one: an echo endpoint lets the model pad its
// request so that the cut falls 47 bytes into a 48-byte key.

// upstreamResponse is the body and headers of one response, ready for the
// result.
type upstreamResponse struct {
	headers   map[string]string
	body      any
	truncated bool
	read      int64 // body bytes read, at most the cap
	jqErr     error // the jq filter could not run or failed; body is empty then
}

// readUpstream runs the pipeline above on resp for a call that sent sent,
// with the call's hooks (nil: none). It returns the read error, if any,
// with what was read so far counted.
func (d Deps) readUpstream(ctx context.Context, resp *http.Response, limit int64, sent [][]byte, hooks *upstreamHooks) (upstreamResponse, error) {
	if hooks == nil {
		hooks = &upstreamHooks{}
	}
	var u upstreamResponse
	// 1. The window, plus one byte to know whether there is more. A
	// filter needs the whole document, so a call with one reads more; its
	// output is cut at limit below like any body.
	readLimit := limit
	if hooks.jq != nil {
		readLimit = max(limit, jqReadLimit)
	}
	window := readLimit + int64(d.Lookahead())
	data, err := io.ReadAll(io.LimitReader(resp.Body, window+1))
	u.read = min(int64(len(data)), readLimit)
	if err != nil {
		return u, err
	}
	more := int64(len(data)) > window
	if more {
		data = data[:window]
	}
	u.headers = d.responseHeaders(resp.Header, sent)
	if hooks.detect != nil {
		// A Location can carry a password in its URL.
		for name, v := range u.headers {
			u.headers[name] = string(hooks.detect([]byte(v)))
		}
	}
	contentType := resp.Header.Get("Content-Type")
	// 1b. Text in another charset becomes UTF-8 (charset.go).
	data = d.bodyToUTF8(contentType, data, sent)
	kind := classify(mediaType(contentType), data)
	if kind == kindBinary {
		// Binary bytes are never shown, only described.
		size := resp.ContentLength
		if size < 0 {
			size = u.read
		}
		u.body = binaryBody{Binary: true, ContentType: d.upstreamString(contentType, sent), Size: size}
		if hooks.jq != nil {
			u.jqErr = fmt.Errorf("%w: the response body is binary (%s), so the jq filter was not applied", errJQ, d.upstreamShort(contentType, 60, sent))
		}
		u.truncated = more || int64(len(data)) > limit
		return u, nil
	}
	// 2. Redact what keyveil holds.
	data = d.RedactUpstream(data, sent)
	// 3. Detect secrets keyveil does not hold.
	if hooks.detect != nil {
		data = hooks.detect(data)
	}
	// 4. jq, on redacted text only, and only on a whole JSON document.
	if hooks.jq != nil {
		if more || kind != kindJSON {
			u.jqErr = fmt.Errorf("%w: the response body is not a complete JSON document (over %d bytes, or not JSON), so the jq filter was not applied", errJQ, readLimit)
			return u, nil
		}
		out, err := hooks.jq.run(ctx, data, int(limit))
		if err != nil {
			u.jqErr = err
			return u, nil
		}
		data = out
	}
	// 5. Cut.
	if more || int64(len(data)) > limit {
		n := d.Cut(data, int(min(limit, int64(len(data)))), sent)
		u.truncated = true
		data = data[:n]
	}
	// 6. Shape.
	u.body = d.responseBody(kind, data, u.truncated, sent)
	return u, nil
}

// upstreamString redacts s, which came from upstream, as readUpstream
// redacts a body.
func (d Deps) upstreamString(s string, sent [][]byte) string {
	return string(d.RedactUpstream([]byte(s), sent))
}

// upstreamShort redacts s, which came from upstream, and then shortens it to
// at most n bytes (plus "…"), in that order.
func (d Deps) upstreamShort(s string, n int, sent [][]byte) string {
	p := d.RedactUpstream([]byte(s), sent)
	if len(p) <= n {
		return string(p)
	}
	return strings.ToValidUTF8(string(p[:d.Cut(p, n, sent)]), "") + "…"
}

// shorten cuts s to at most n bytes and marks the cut with "…". It is for
// the model's own text (a path, a name, an argument) and for keyveil's
// messages, which hold no secret the model does not already know, and for
// text that was redacted before it got here: never a redaction marker or a
// UTF-8 character is cut. Text from upstream is shortened with
// upstreamShort instead, which redacts it first and cuts with the
// Redactor's Cut, so that a key cannot be cut into a piece that no longer
// matches.
func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	c := n
	for c > 0 && !utf8.RuneStart(s[c]) {
		c--
	}
	if i := strings.LastIndexByte(s[max(0, c-maxMarker):c], '['); i >= 0 {
		i += max(0, c-maxMarker)
		if rest := s[i:]; strings.HasPrefix(rest, markerPrefix) || strings.HasPrefix(markerPrefix, rest[:min(len(rest), len(markerPrefix))]) {
			if end := strings.IndexByte(rest, ']'); end < 0 || i+end >= c {
				c = i
			}
		}
	}
	return s[:c] + "…"
}

// markerPrefix starts every redaction marker, "[REDACTED:NAME]", which
// shorten keeps whole; maxMarker bounds the length of one.
const (
	markerPrefix = "[REDACTED:"
	maxMarker    = 128
)

// sentTexts returns what the model chose to send in req, before the
// credentials transport adds anything: the path (escaped and not), the
// query as a whole and each name and value, the value of each header the
// call set (not the operator's static ones), and the body, with each string
// inside it when it is JSON. Fragment redaction leaves these alone where an
// API reflects them, so that a guess comes back the same whether or not it
// matches a key. The caller reads them before sending req. ok is false
// when the body cannot all be read back or is longer than maxSentBody: then
// what the model sent is not known, and req must not be sent.
func sentTexts(req *http.Request, svc config.Service) (out [][]byte, ok bool) {
	add := func(s string) {
		if s != "" {
			out = append(out, []byte(s))
		}
	}
	add(req.URL.EscapedPath())
	add(req.URL.Path)
	add(req.URL.RawQuery)
	if q, err := url.ParseQuery(req.URL.RawQuery); err == nil {
		for name, vs := range q {
			add(name)
			for _, v := range vs {
				add(v)
			}
		}
	}
	for name, vs := range req.Header {
		if operatorHeader(svc, name) {
			continue
		}
		for _, v := range vs {
			add(v)
			add(name + ": " + v)
		}
	}
	if req.Body == nil || req.Body == http.NoBody {
		return out, true
	}
	if req.GetBody == nil {
		return nil, false
	}
	rc, err := req.GetBody()
	if err != nil {
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(rc, maxSentBody+1))
	_ = rc.Close()
	if err != nil || len(body) > maxSentBody {
		return nil, false
	}
	if len(body) > 0 {
		out = append(out, body)
		if utf8.Valid(body) {
			out = append(out, jsonStrings(body)...)
		}
	}
	return out, true
}

// maxSentBody bounds a request body. All of a body must count as the
// model's text: a guess past the part looked at would come back redacted
// when right and as sent when wrong, an oracle. Bodies longer than this are
// refused (see roundTrip); the scan of every encoding of a body costs some
// twenty times its size.
const maxSentBody = 1 << 20

// jsonStrings returns the strings and object keys inside a JSON document,
// decoded: an echo that parses the body and writes it again shows them
// with its own escaping.
func jsonStrings(doc []byte) [][]byte {
	var out [][]byte
	dec := json.NewDecoder(bytes.NewReader(doc))
	for {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		if s, ok := tok.(string); ok && s != "" {
			out = append(out, []byte(s))
		}
	}
}

// operatorHeader reports whether name is one of svc's static headers, set
// by the operator rather than by the model.
func operatorHeader(svc config.Service, name string) bool {
	for h := range svc.Headers {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}
