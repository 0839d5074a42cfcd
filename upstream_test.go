package main

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// echoKey is a 48-byte key with a public-looking prefix, as in issue 8.
const echoKey = "kv_live_LEAKCHECKabcdefghijklmnopqrstuvwxyz01234"

// keyWindows returns every 8-byte window, lower-cased, of the key in the
// encodings a model could read one in.
func keyWindows(key string) map[string]bool {
	out := map[string]bool{}
	for _, f := range []string{key, base64.StdEncoding.EncodeToString([]byte(key)), hex.EncodeToString([]byte(key)), url.QueryEscape(key)} {
		f = strings.ToLower(f)
		for i := 0; i+8 <= len(f); i++ {
			out[f[i:i+8]] = true
		}
	}
	return out
}

// keyWindowIn returns an 8-byte window of the key found in b, or "".
func keyWindowIn(b []byte, ws map[string]bool) string {
	l := strings.ToLower(string(b))
	for i := 0; i+8 <= len(l); i++ {
		if ws[l[i:i+8]] {
			return l[i : i+8]
		}
	}
	return ""
}

// newEcho is an httpbin-style echo that reflects the request, including the
// Authorization header keyveil attached, as debug routes of real APIs do:
//
//	/anything/...   JSON of method, url, headers and body
//	/pad?pad=P      text: P, then the Authorization header, then more text
//	/slice?n=N      text: the first N bytes of the key, as an API that cuts it
//	/header         pieces of the key in kept header names and values
func newEcho(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		switch {
		case strings.HasPrefix(r.URL.Path, "/anything/"):
			body := new(bytes.Buffer)
			_, _ = body.ReadFrom(r.Body)
			headers := map[string]string{}
			for name := range r.Header {
				if name != "Idempotency-Key" { // new on every call
					headers[name] = r.Header.Get(name)
				}
			}
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{
				"method": r.Method, "url": "http://api.example" + r.URL.RequestURI(),
				"headers": headers, "data": body.String(),
			})
		case r.URL.Path == "/pad":
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "%s%s and the rest of the debug dump", r.URL.Query().Get("pad"), auth)
		case r.URL.Path == "/header":
			key := strings.TrimPrefix(auth, "Bearer ")
			w.Header().Set("X-Ratelimit-"+key[:20], "1")
			w.Header().Set("X-Keyveil-Note", key[3:30])
			w.Header().Set("Location", "/next?k="+key[:30])
		case r.URL.Path == "/slice":
			n, _ := strconv.Atoi(r.URL.Query().Get("n"))
			key := strings.TrimPrefix(auth, "Bearer ")
			w.Header().Set("Content-Type", "text/plain")
			fmt.Fprintf(w, "your key starts %s", key[:min(n, len(key))])
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// callText calls call_api and returns the result as text.
func callText(t *testing.T, s *rawSession, id int, args map[string]any) []byte {
	t.Helper()
	res := s.call(id, "tools/call", map[string]any{"name": "call_api", "arguments": args})
	if res["error"] != nil {
		t.Fatalf("call_api %v: protocol error %v", args, res["error"])
	}
	text, _ := json.Marshal(res["result"])
	return text
}

// TestSubprocessCutAndFragments runs keyveil over real pipes against a
// hostile echo. Item 1: padding the request so that max_response_bytes falls
// at every offset of the 48-byte key (47 of 48 included) shows no 8 bytes
// of it and no start of it at the cut. Item 3: an API that echoes only a
// piece of the key shows none of it; and a model that knows the first 7
// bytes cannot tell the right 8th from the others, in a reflected path,
// query, header or body, or in a refusal that quotes a path.
func TestSubprocessCutAndFragments(t *testing.T) {
	t.Parallel()
	if len(echoKey) != 48 {
		t.Fatalf("echoKey is %d bytes, want 48", len(echoKey))
	}
	const limit = 200
	echo := newEcho(t)
	s := startRaw(t, []string{
		"MCP_API_KEY=" + echoKey,
		"MCP_API_BASE_URL=" + echo.URL,
		"MCP_API_MAX_RESPONSE_BYTES=" + strconv.Itoa(limit),
		"MCP_API_ALLOW=GET /**,POST /anything/**",
	}, "serve")
	s.initialize()
	ws := keyWindows(echoKey)
	id := 100

	t.Run("cut at every offset of the key", func(t *testing.T) {
		for j := 0; j <= len(echoKey); j++ {
			pad := strings.Repeat("p", limit-len("Bearer ")-j)
			id++
			res := s.call(id, "tools/call", map[string]any{"name": "call_api", "arguments": map[string]any{
				"method": "GET", "path": "/pad", "query": map[string]any{"pad": pad}}})
			sc, _ := res["result"].(map[string]any)["structuredContent"].(map[string]any)
			body, _ := sc["body"].(string)
			if sc["truncated"] != true {
				t.Fatalf("offset %d: truncated = %v, want true (body %q)", j, sc["truncated"], body)
			}
			if len(body) > limit {
				t.Errorf("offset %d: body is %d bytes, more than max_response_bytes %d", j, len(body), limit)
			}
			if w := keyWindowIn([]byte(body), ws); w != "" {
				t.Errorf("offset %d: %q of the key survived the cut: %q", j, w, body)
			}
			for k := 4; k <= 7; k++ {
				if strings.HasSuffix(strings.ToLower(body), strings.ToLower(echoKey[:k])) {
					t.Errorf("offset %d: the body ends with %q, the first %d bytes of the key", j, echoKey[:k], k)
				}
			}
		}
	})

	t.Run("API echoes a piece of the key", func(t *testing.T) {
		for _, n := range []int{8, 9, 20, 47} {
			id++
			text := callText(t, s, id, map[string]any{"method": "GET", "path": "/slice", "query": map[string]any{"n": strconv.Itoa(n)}})
			if w := keyWindowIn(text, ws); w != "" {
				t.Errorf("a %d-byte piece: %q survived: %s", n, w, text)
			}
		}
		id++
		if text := callText(t, s, id, map[string]any{"method": "GET", "path": "/header"}); keyWindowIn(text, ws) != "" || !bytes.Contains(text, []byte("X-Ratelimit-")) {
			t.Errorf("pieces of the key in kept header names and values: %s", text)
		}
	})

	// A second keyveil whose cap leaves the echo whole.
	whole := startRaw(t, []string{
		"MCP_API_KEY=" + echoKey,
		"MCP_API_BASE_URL=" + echo.URL,
		"MCP_API_ALLOW=GET /**,POST /anything/**",
	}, "serve")
	whole.initialize()
	known := echoKey[:7]
	for _, tc := range []struct {
		name string
		args func(guess string) map[string]any
	}{
		{"reflected path, query, header and body", func(g string) map[string]any {
			return map[string]any{"method": "POST", "path": "/anything/" + url.PathEscape(g),
				"query": map[string]any{"q": g}, "headers": map[string]any{"X-Guess": g}, "body": map[string]any{"guess": g}}
		}},
		{"refusal quoting the path", func(g string) map[string]any {
			return map[string]any{"method": "GET", "path": "/" + g + "/../x"}
		}},
	} {
		t.Run("no oracle: "+tc.name, func(t *testing.T) {
			var first []byte
			firstGuess := ""
			// Every byte a key of this alphabet can hold; others make the
			// path refused for what they are, which the model knows anyway.
			for _, c := range []byte("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") {
				g := known + string(c)
				id++
				text := callText(t, whole, id, tc.args(g))
				// What the model learns beyond its own guess: the result
				// with the guess, in every form it was sent in, removed.
				for _, form := range []string{url.PathEscape(g), url.QueryEscape(g), strconv.Quote(g)[1 : len(strconv.Quote(g))-1], g} {
					j, _ := json.Marshal(form)
					text = bytes.ReplaceAll(text, j[1:len(j)-1], []byte("GUESS"))
				}
				if first == nil {
					first, firstGuess = text, g
					continue
				}
				if !bytes.Equal(text, first) {
					t.Fatalf("guess %q: result\n%s\ndiffers from guess %q's\n%s", g, text, firstGuess, first)
				}
			}
			if !bytes.Contains(first, []byte("REDACTED")) && tc.name != "refusal quoting the path" {
				t.Errorf("the echo of the Authorization header was not redacted: %s", first)
			}
		})
	}

	// The audit lines on stderr record the model's paths, guesses
	// included; no window of the key past the guessed 8 bytes may appear.
	for _, sess := range []*rawSession{s, whole} {
		_ = sess.finish()
		if w := keyWindowIn([]byte(sess.stderrText()), keyWindows(echoKey[1:])); w != "" {
			t.Errorf("stderr holds %q of the key", w)
		}
	}
}

// TestSubprocessUnsolicitedResponseLog makes net/http log through the
// standard log package: the downstream answers, then writes a second
// response carrying the key on the idle keep-alive connection, and Go's
// transport logs "Unsolicited response received on idle HTTP channel" with
// the bytes it saw. That line must reach stderr redacted.
func TestSubprocessUnsolicitedResponseLog(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				r := bufio.NewReader(conn)
				req, err := http.ReadRequest(r)
				if err != nil {
					return
				}
				key := strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
				time.Sleep(50 * time.Millisecond) // let the client park the connection
				extra := "the key is " + key
				fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nX-Key: %s\r\nContent-Length: %d\r\n\r\n%s", key, len(extra), extra)
				_, _ = r.ReadByte() // hold the connection until the client closes it
			}()
		}
	}()
	s := startRaw(t, []string{
		"MCP_API_KEY=" + echoKey,
		"MCP_API_BASE_URL=http://" + ln.Addr().String(),
	}, "serve")
	s.initialize()
	_ = callText(t, s, 2, map[string]any{"method": "GET", "path": "/x"})
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(s.stderrText(), "Unsolicited response") {
		if time.Now().After(deadline) {
			t.Fatalf("net/http logged nothing within 15 s; stderr:\n%s", s.stderrText())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = s.finish()
	stderr := s.stderrText()
	if strings.Contains(stderr, echoKey) || keyWindowIn([]byte(stderr), keyWindows(echoKey)) != "" {
		t.Errorf("stderr carries the key:\n%s", stderr)
	}
	if !strings.Contains(stderr, "[REDACTED:MCP_API_KEY]") {
		t.Errorf("stderr shows no redaction marker where net/http quoted the key:\n%s", stderr)
	}
}
