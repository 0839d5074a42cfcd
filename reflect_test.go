package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/japanese"

	"github.com/keyveil/keyveil/internal/encodetest"
)

// reflectKey is the key TestSubprocessReflections hands keyveil.
const reflectKey = "kv_live_LEAKCHECK_reflect_0123456789abcdefghij"

// newReflector is an echo or debug API that reflects the whole request it
// received — request line and headers, the credential keyveil attached
// among them — in the encodings issue 8 item 5 lists, one path each.
// pad (a query parameter) moves the key within the dump, as a model can.
func newReflector(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var dump strings.Builder
		fmt.Fprintf(&dump, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.URL.RequestURI(), r.Host)
		names := make([]string, 0, len(r.Header))
		for name := range r.Header {
			names = append(names, name)
		}
		sort.Strings(names)
		for _, name := range names {
			fmt.Fprintf(&dump, "%s: %s\r\n", name, r.Header.Get(name))
		}
		dump.WriteString("\r\n")
		d := dump.String()
		b64 := base64.StdEncoding.EncodeToString([]byte(d))
		text := func(ct, body string) {
			w.Header().Set("Content-Type", ct)
			_, _ = w.Write([]byte(body))
		}
		switch r.URL.Path {
		case "/utf16le":
			text("text/plain; charset=utf-16le", string(encodetest.UTF16(d, false, false)))
		case "/utf16be-bom":
			text("text/plain; charset=utf-16", string(encodetest.UTF16(d, true, true)))
		case "/utf16-undeclared":
			w.Header()["Content-Type"] = nil
			_, _ = w.Write(encodetest.UTF16(d, false, false))
		case "/latin1":
			b, _ := charmap.ISO8859_1.NewEncoder().String("Requête reçue:\r\n" + d)
			text("text/plain; charset=ISO-8859-1", b)
		case "/shift-jis":
			b, _ := japanese.ShiftJIS.NewEncoder().String("受信したリクエスト:\r\n" + d)
			text("text/plain; charset=Shift_JIS", b)
		case "/hex-space":
			text("text/plain", encodetest.Hex([]byte(d), " ", false))
		case "/hex-colon":
			text("application/json", `{"dump_hex":"`+encodetest.Hex([]byte(d), ":", true)+`"}`)
		case "/hex-dash":
			text("text/plain", encodetest.Hex([]byte(d), "-", false))
		case "/hexdump":
			text("text/plain", encodetest.Hexdump([]byte(d)))
		case "/hexdump-json":
			text("application/json", `{"hexdump":`+jsonString(encodetest.Hexdump([]byte(d)))+`}`)
		case "/base64":
			text("application/json", `{"request_b64":"`+b64+`"}`)
		case "/base64-mime":
			text("text/plain", encodetest.Wrap(b64, 76, "\r\n"))
		case "/base64-pem":
			text("text/plain", "-----BEGIN REQUEST-----\n"+encodetest.Wrap(b64, 64, "\n")+"\n-----END REQUEST-----\n")
		case "/base64-twice":
			text("text/plain", base64.StdEncoding.EncodeToString([]byte(b64)))
		case "/qp":
			text("text/plain; charset=us-ascii", encodetest.QuotedPrintable(d, "", 76, "\r\n"))
		case "/content-length-chars":
			// Content-Length counts characters, not bytes: the body is
			// cut short, inside the key.
			body := "Requête reçue, «écho» intégral — " + d
			hj, ok := w.(http.Hijacker)
			if !ok {
				http.Error(w, "no hijack", 500)
				return
			}
			conn, buf, err := hj.Hijack()
			if err != nil {
				return
			}
			defer conn.Close()
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", utf8.RuneCountInString(body), body)
			_ = buf.Flush()
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// attackerViews returns text and what a model could decode from it: every
// run of hex pairs (any separators, hexdump offsets and all), every base64
// run decoded once and twice, and quoted-printable undone.
func attackerViews(text string) []string {
	views := []string{text}
	var hexBytes []byte
	for _, m := range regexp.MustCompile(`[0-9A-Fa-f]{2}`).FindAllString(text, -1) {
		v, _ := strconv.ParseUint(m, 16, 8)
		hexBytes = append(hexBytes, byte(v))
	}
	views = append(views, string(hexBytes))
	joined := strings.NewReplacer("\r", "", "\n", "", `\r`, "", `\n`, "").Replace(text)
	for _, run := range regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`).FindAllString(joined, -1) {
		for k := range 4 { // every alignment
			if len(run) <= k {
				break
			}
			r := run[k:]
			dec, _ := base64.RawStdEncoding.DecodeString(strings.TrimRight(r[:len(r)/4*4], "="))
			views = append(views, string(dec))
			for _, inner := range regexp.MustCompile(`[A-Za-z0-9+/]{16,}`).FindAllString(string(dec), -1) {
				in, _ := base64.RawStdEncoding.DecodeString(inner[:len(inner)/4*4])
				views = append(views, string(in))
			}
		}
	}
	qp := regexp.MustCompile(`=(\r\n|\n|\\r\\n|\\n)`).ReplaceAllString(text, "")
	qp = regexp.MustCompile(`=([0-9A-F]{2})`).ReplaceAllStringFunc(qp, func(m string) string {
		v, _ := strconv.ParseUint(m[1:], 16, 8)
		return string([]byte{byte(v)})
	})
	return append(views, qp)
}

// TestSubprocessReflections runs keyveil over real pipes against an API
// that reflects the whole request in UTF-16, other charsets, hex with
// separators, hexdump -C, base64 (once, wrapped, twice), quoted-printable,
// and with a Content-Length that counts characters (issue 8 item 5). Once
// with the key in a header, once in a Basic header, which the dump then
// holds in base64 inside the outer encoding. What the model gets back, and
// everything it could decode from it, holds no 8 bytes of the key, nor of
// the base64 of the Basic credentials.
func TestSubprocessReflections(t *testing.T) {
	t.Parallel()
	srv := newReflector(t)
	basic := base64.StdEncoding.EncodeToString([]byte("user:" + reflectKey))
	windows := map[string]bool{}
	for _, f := range []string{reflectKey, basic[8 : len(basic)-4]} {
		for i := 0; i+8 <= len(f); i++ {
			windows[strings.ToLower(f[i:i+8])] = true
		}
	}
	paths := []string{"/utf16le", "/utf16be-bom", "/utf16-undeclared", "/latin1", "/shift-jis",
		"/hex-space", "/hex-colon", "/hex-dash", "/hexdump", "/hexdump-json",
		"/base64", "/base64-mime", "/base64-pem", "/base64-twice", "/qp", "/content-length-chars"}
	for _, auth := range []struct{ name, env, user string }{
		{"header", "header:X-Api-Key", ""},
		{"basic", "basic", "user"},
	} {
		t.Run(auth.name, func(t *testing.T) {
			t.Parallel()
			s := startRaw(t, []string{
				"MCP_API_KEY=" + reflectKey,
				"MCP_API_BASE_URL=" + srv.URL,
				"MCP_API_AUTH=" + auth.env,
				"MCP_API_USERNAME=" + auth.user,
			}, "serve")
			s.initialize()
			id := 10
			for _, path := range paths {
				// Pads of every length mod 16 move the key across hexdump
				// lines, QP soft breaks, base64 quanta and the cut.
				for pad := range 16 {
					id++
					text := callText(t, s, id, map[string]any{"method": "GET", "path": path,
						"query": map[string]any{"pad": strings.Repeat("p", pad)}})
					if !bytes.Contains(text, []byte("[REDACTED:MCP_API_KEY]")) {
						t.Errorf("%s pad %d: no redaction marker in %s", path, pad, text)
					}
					var res struct {
						StructuredContent struct {
							Body any `json:"body"`
						} `json:"structuredContent"`
					}
					_ = json.Unmarshal(text, &res)
					body, _ := json.Marshal(res.StructuredContent.Body)
					var bodyText string
					_ = json.Unmarshal(body, &bodyText)
					for _, view := range append(attackerViews(string(text)), attackerViews(bodyText)...) {
						if w := keyWindowIn([]byte(view), windows); w != "" {
							t.Errorf("%s pad %d: %q of the key can be read from the result %s", path, pad, w, text)
							break
						}
					}
				}
			}
			_ = s.finish()
			if w := keyWindowIn([]byte(s.stderrText()), windows); w != "" {
				t.Errorf("stderr holds %q of the key", w)
			}
		})
	}
}
