package tools

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/japanese"
	"golang.org/x/text/encoding/unicode"

	"github.com/keyveil/keyveil/internal/encodetest"
)

func encode(t *testing.T, e encoding.Encoding, s string) []byte {
	t.Helper()
	b, err := e.NewEncoder().Bytes([]byte(s))
	if err != nil {
		t.Fatalf("encoding %q: %v", s, err)
	}
	return b
}

// TestCallAPITranscodesCharsets checks that a body in another charset
// reaches the model as UTF-8, with a key in it redacted: the Redact below,
// like the Redactor's first pass, knows only the key's UTF-8 spelling.
func TestCallAPITranscodesCharsets(t *testing.T) {
	t.Parallel()
	marker := "[REDACTED:K]"
	// An ASCII key labelled UTF-16 turns into CJK characters that spell it.
	var cjk []rune
	for i := 0; i+1 < len(fakeKey); i += 2 {
		cjk = append(cjk, rune(fakeKey[i])|rune(fakeKey[i+1])<<8)
	}
	tests := []struct {
		name, contentType string
		body              []byte
		want              any // the body the model sees
	}{
		{"utf-16le with BOM, declared", "text/plain; charset=utf-16", encodetest.UTF16("echo: "+fakeKey+" é", false, true), "echo: " + marker + " é"},
		{"utf-16be with BOM, undeclared", "", encodetest.UTF16("echo: "+fakeKey, true, true), "echo: " + marker},
		{"utf-16le without BOM, undeclared", "", encodetest.UTF16("Authorization: Bearer "+fakeKey+"\r\n", false, false), "Authorization: Bearer " + marker + "\r\n"},
		{"utf-16be without BOM, declared text/plain", "text/plain", encodetest.UTF16("key="+fakeKey, true, false), "key=" + marker},
		{"utf-16 json", "application/json; charset=UTF-16LE", encodetest.UTF16(`{"token":"`+fakeKey+`"}`, false, false), map[string]any{"token": marker}},
		{"iso-8859-1", "text/plain; charset=ISO-8859-1", encode(t, charmap.ISO8859_1, "café "+fakeKey), "café " + marker},
		{"windows-1252", "text/html; charset=windows-1252", encode(t, charmap.Windows1252, "“"+fakeKey+"” €"), "“" + marker + "” €"},
		{"shift_jis", "text/plain; charset=Shift_JIS", encode(t, japanese.ShiftJIS, "日本 "+fakeKey), "日本 " + marker},
		{"ascii labelled utf-16", "text/plain; charset=utf-16le", []byte("xx" + fakeKey + "yy"), ""},
		{"utf-8 declared", "text/plain; charset=utf-8", []byte("plain " + fakeKey), "plain " + marker},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := newRecorder(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{tc.contentType}
				_, _ = w.Write(tc.body)
			})
			cfg := loadConfig(t, "services:\n  api:\n    base_url: "+srv.URL+"\n    auth: {type: none}\n")
			d := Deps{
				Config: cfg,
				Client: testClient(t),
				Redact: func(p []byte) []byte { return bytes.ReplaceAll(p, []byte(fakeKey), []byte(marker)) },
			}
			cs := connect(t, d, protocolVersions[0])
			res := call(t, cs, "call_api", map[string]any{"method": "GET", "path": "/x"})
			body := structured(t, res)["body"]
			all := text(res)
			if strings.Contains(all, fakeKey) || strings.Contains(all, string(cjk)) || strings.Contains(all, `\u0000`) {
				t.Errorf("call_api result %s holds the key, its CJK reading, or NULs", all)
			}
			if tc.want == "" { // mislabelled: only that the key is gone
				if s, _ := body.(string); !strings.Contains(s, marker) {
					t.Errorf("body = %q, want %s in it", body, marker)
				}
				return
			}
			if m, ok := tc.want.(map[string]any); ok {
				if got, _ := body.(map[string]any); got == nil || got["token"] != m["token"] {
					t.Errorf("body = %#v, want %#v", body, m)
				}
				return
			}
			if body != tc.want {
				t.Errorf("body = %q, want %q", body, tc.want)
			}
		})
	}
}

func TestBodyCharset(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, contentType string
		data              []byte
		want              encoding.Encoding
	}{
		{"utf-8", "text/plain; charset=utf-8", []byte("hello"), nil},
		{"none", "", []byte("hello, world"), nil},
		{"unknown charset", "text/plain; charset=x-klingon", []byte("hello"), nil},
		{"image with NULs", "image/png", encodetest.UTF16("not text at all", false, false), nil},
		{"utf-8 BOM", "", []byte("\xef\xbb\xbfhello"), nil},
		{"a few NULs", "", []byte("ab\x00cdefghijklmnop\x00qrstuvwxyz"), nil},
		{"utf-16le NULs", "", encodetest.UTF16("hello, world", false, false), unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM)},
		{"utf-16be NULs", "text/plain; charset=utf-8", encodetest.UTF16("hello, world", true, false), unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM)},
		{"latin-1", "text/plain; charset=latin1", []byte("caf\xe9"), charmap.Windows1252},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got, _ := bodyCharset(tc.contentType, tc.data); got != tc.want {
				t.Errorf("bodyCharset(%q, %q) = %v, want %v", tc.contentType, tc.data, got, tc.want)
			}
		})
	}
}

// TestCharsetByLabel holds charsetByLabel to x/text's htmlindex.Get, which
// it replaces to keep htmlindex's initialisation off every start: the same
// encoding for every label htmlindex knows, and nil where htmlindex refuses.
// The labels are read from htmlindex's own table in the module cache, so an
// x/text upgrade that adds or moves a label fails here, not in a session.
func TestCharsetByLabel(t *testing.T) {
	t.Parallel()
	// go test puts its own go command first on the PATH.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/text").Output()
	if err != nil {
		t.Fatalf("go list -m golang.org/x/text: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "encoding", "htmlindex", "tables.go"))
	if err != nil {
		t.Fatalf("reading htmlindex's label table: %v", err)
	}
	_, table, ok := strings.Cut(string(src), "var nameMap = map[string]htmlEncoding{")
	table, _, _ = strings.Cut(table, "\n}")
	labels := regexp.MustCompile(`"([^"]+)":`).FindAllStringSubmatch(table, -1)
	if !ok || len(labels) < 200 {
		t.Fatalf("found %d labels in htmlindex's tables.go; its layout changed, update this test", len(labels))
	}
	names := []string{"", "x-klingon", "utf-32", "utf-7", "latin-1", "iso-8859-1 ", "UTF-8", "ebcdic"}
	for _, m := range labels {
		names = append(names, m[1])
	}
	for _, name := range names {
		want, err := htmlindex.Get(name)
		if err != nil {
			want = nil
		}
		if got := charsetByLabel(strings.ToLower(strings.TrimSpace(name))); got != want {
			t.Errorf("charsetByLabel(%q) = %v, want %v (htmlindex.Get)", name, got, want)
		}
	}
}
