package credentials

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	testKey    = "sk-test-LEAKCHECK-0123456789"
	testName   = "MCP_API_KEY"
	testMarker = "[REDACTED:MCP_API_KEY]"
)

// leakForms returns the test key in every encoding the Redactor promises to
// catch, computed here independently of redact_variants.go.
func leakForms(key string) []struct{ name, text string } {
	b := []byte(key)
	rev := bytes.Clone(b)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	var pct, pctLower, ju, juUpper, dec, hx, hxUpper strings.Builder
	for _, c := range b {
		fmt.Fprintf(&pct, "%%%02X", c)
		fmt.Fprintf(&pctLower, "%%%02x", c)
		fmt.Fprintf(&ju, `\u%04x`, c)
		fmt.Fprintf(&juUpper, `\u%04X`, c)
		fmt.Fprintf(&dec, "&#%d;", c)
		fmt.Fprintf(&hx, "&#x%x;", c)
		fmt.Fprintf(&hxUpper, "&#X%X;", c)
	}
	return []struct{ name, text string }{
		{"raw", key},
		{"upper", asciiUpper(key)},
		{"lower", string(asciiLower([]byte(key)))},
		{"reversed", string(rev)},
		{"base64 std", base64.StdEncoding.EncodeToString(b)},
		{"base64 std unpadded", base64.RawStdEncoding.EncodeToString(b)},
		{"base64 url", base64.URLEncoding.EncodeToString(b)},
		{"base64 url unpadded", base64.RawURLEncoding.EncodeToString(b)},
		{"hex", hex.EncodeToString(b)},
		{"hex upper", strings.ToUpper(hex.EncodeToString(b))},
		{"percent", pct.String()},
		{"percent lower", pctLower.String()},
		{"json \\u", ju.String()},
		{"json \\u upper", juUpper.String()},
		{"html decimal", dec.String()},
		{"html hex", hx.String()},
		{"html hex upper", hxUpper.String()},
	}
}

// asciiUpper upper-cases the ASCII letters of s and leaves other bytes
// alone, as the Redactor's case folding does ("é" stays "é").
func asciiUpper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

func TestRedactVariants(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	for _, tc := range leakForms(testKey) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, wrap := range []string{"%s", "before %s after", `{"token":"%s"}`, "%s%s"} {
				in := strings.ReplaceAll(wrap, "%s", tc.text)
				want := strings.ReplaceAll(wrap, "%s", testMarker)
				if wrap == "%s%s" {
					want = testMarker // touching matches merge
				}
				if got := r.RedactString(in); got != want {
					t.Errorf("RedactString(%q) = %q, want %q", in, got, want)
				}
				if got := string(r.Redact([]byte(in))); got != want {
					t.Errorf("Redact(%q) = %q, want %q", in, got, want)
				}
			}
		})
	}
}

// coreOf returns, for a base64 text enc of blob in which the secret
// starts at byte off, the characters that depend on the secret's bytes
// alone: those are what must not survive.
func coreOf(enc string, off, n int) string {
	lo := (8*off + 5) / 6
	hi := 8 * (off + n) / 6
	return enc[lo:hi]
}

func TestRedactBase64Embedded(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	for _, prefix := range []string{"", "u", "us", "user:", "admin:", "x:", `{"k":"`} {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding} {
			blob := prefix + testKey + `","more":1}`
			in := enc.EncodeToString([]byte(blob))
			core := coreOf(in, len(prefix), len(testKey))
			got := r.RedactString("Authorization: Basic " + in)
			if strings.Contains(got, core) || !strings.Contains(got, testMarker) {
				t.Errorf("RedactString(base64(%q)) = %q, want the core %q replaced by %s", blob, got, core, testMarker)
			}
		}
	}
}

func TestRedactPartialEncodings(t *testing.T) {
	t.Parallel()
	b64 := base64.StdEncoding.EncodeToString([]byte(testKey))
	hx := hex.EncodeToString([]byte(testKey))
	ju := func(s string) string {
		var b strings.Builder
		for _, c := range []byte(s) {
			fmt.Fprintf(&b, `\u%04x`, c)
		}
		return b.String()
	}
	tests := []struct{ name, in, want string }{
		{"one byte percent", "x sk-test-%4CEAKCHECK-0123456789 y", "x " + testMarker + " y"},
		{"first byte percent", "x %73k-test-LEAKCHECK-0123456789 y", "x " + testMarker + " y"},
		{"last byte percent", "x sk-test-LEAKCHECK-012345678%39 y", "x " + testMarker + " y"},
		{"json \\u for some", `{"k":"\u0073k-test-LEAK\u0043HECK-0123456789"}`, `{"k":"` + testMarker + `"}`},
		{"partial, escaped twice", `{"k":"\\u0073k-test-LEAKCHECK-0123456789"}`, `{"k":"` + testMarker + `"}`},
		{"partial, escaped three times", `{"k":"\\\\u0073k-test-LEAKCHECK-0123456789"}`, `{"k":"` + testMarker + `"}`},
		{"percent-encoded json escape", "q=%5Cu0073k-test-LEAKCHECK-0123456789", "q=" + testMarker},
		{"json \\u escaped again", `{"k":"` + strings.ReplaceAll(ju(testKey), `\`, `\\`) + `"}`, `{"k":"` + testMarker + `"}`},
		{"html entity", "<p>sk-test-&#76;EAKCHECK-0123456789</p>", "<p>" + testMarker + "</p>"},
		{"html without semicolon", "<p>sk-test-&#76EAKCHECK-0123456789</p>", "<p>" + testMarker + "</p>"},
		{"\\x escape", `"sk-test-\x4cEAKCHECK-0123456789"`, `"` + testMarker + `"`},
		{"hex with two digits percent-encoded", "q=" + hx[:10] + fmt.Sprintf("%%%02X%%%02X", hx[10], hx[11]) + hx[12:], "q=" + testMarker},
		{"base64 in url query", "t=" + url.QueryEscape(b64) + "&x=1", "t=" + testMarker + "&x=1"},
		{"base64 wrapped LF", "-----\n" + b64[:20] + "\n" + b64[20:] + "\n-----", "-----\n" + testMarker + "\n-----"},
		{"base64 wrapped CRLF", b64[:18] + "\r\n" + b64[18:], testMarker},
		{"base64 wrapped json \\n", `{"pem":"` + b64[:17] + `\n` + b64[17:] + `"}`, `{"pem":"` + testMarker + `"}`},
		{"base64 wrapped json \\r\\n", `{"pem":"` + b64[:16] + `\r\n` + b64[16:] + `"}`, `{"pem":"` + testMarker + `"}`},
		{"mixed case and escape", "SK-TEST-%6ceakcheck-0123456789", testMarker},
	}
	r := NewRedactor(NewSecret(testName, testKey))
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := r.RedactString(tc.in); got != tc.want {
				t.Errorf("RedactString(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestRedactCleanTextUntouched(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey), NewSecret("OTHER_KEY", "ghp_0000LEAKCHECK1111"))
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"short", "ok"},
		{"json", `{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"hello"}]}}`},
		{"json escapes", `{"text":"line\none \"quoted\" C:\\path\\to 100% \u00e9 &amp; &#169;"}`},
		{"near miss", "sk-test-LEAKCHECK-012345678 sk-test-LEAKCHECK_0123456789 k-test-LEAKCHECK-0123456789"},
		{"near miss encoded", "sk-test-%4CEAKCHECK-012345678 sk-test-LEAKCHECK%2D012345678"},
		{"base64 lines", strings.Repeat("QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n", 20)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := []byte(tc.in)
			got := r.Redact(in)
			if !bytes.Equal(got, in) {
				t.Fatalf("Redact(%q) = %q, want it unchanged", in, got)
			}
			if len(in) > 0 && &got[0] != &in[0] {
				t.Errorf("Redact(%q) returned a copy, want the same slice", in)
			}
			if got := r.RedactString(tc.in); got != tc.in {
				t.Errorf("RedactString(%q) = %q, want it unchanged", tc.in, got)
			}
		})
	}
}

func TestRedactCleanTextDoesNotAllocate(t *testing.T) {
	// Not parallel: AllocsPerRun counts every goroutine's allocations.
	r := NewRedactor(NewSecret(testName, testKey))
	in := []byte(strings.Repeat(`{"text":"line\none \"quoted\" 100%% \u00e9 &#169;","n":12345}`, 100))
	r.Redact(in) // warm the scratch pool
	if n := testing.AllocsPerRun(100, func() { r.Redact(in) }); n != 0 {
		t.Errorf("Redact(clean text) made %v allocations, want 0", n)
	}
}

func TestRedactDoesNotWriteInput(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	in := []byte(`{"a":"` + testKey + `","b":"\u0073k-test-LEAKCHECK-0123456789"}` + strings.Repeat(" ", 64))
	orig := bytes.Clone(in)
	// Capacity beyond len: an append-based implementation might write there.
	in = in[:len(in)-64]
	got := r.Redact(in)
	if !bytes.Equal(in[:len(orig)], orig) {
		t.Errorf("Redact(%q) modified its input: now %q", orig, in[:len(orig)])
	}
	if bytes.Contains(got, []byte(testKey)) {
		t.Errorf("Redact(%q) = %q, want the key gone", in, got)
	}
	for i := range got {
		got[i] = 'X'
	}
	if !bytes.Equal(in[:len(orig)], orig) {
		t.Errorf("Redact(%q) returned memory shared with its input", orig)
	}
}

func TestRedactOverlappingSecrets(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret("SHORT", "abcdefghij"), NewSecret("LONG", "efghijklmnop"))
	tests := []struct{ in, want string }{
		{"x abcdefghijklmnop y", "x [REDACTED:LONG] y"},
		{"x abcdefghij y", "x [REDACTED:SHORT] y"},
		{"x efghijklmnop y", "x [REDACTED:LONG] y"},
		{"x ABCDEFGHIJKLMNOP y", "x [REDACTED:LONG] y"},
		{"x abcdefghijklmnopabcdefghij y", "x [REDACTED:LONG] y"},
	}
	for _, tc := range tests {
		if got := r.RedactString(tc.in); got != tc.want {
			t.Errorf("RedactString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// One secret inside another: the shorter is a substring.
	r = NewRedactor(NewSecret("INNER", "LEAKCHECK-01"), NewSecret(testName, testKey))
	in := "key=" + testKey + ";"
	if got, want := r.RedactString(in), "key="+testMarker+";"; got != want {
		t.Errorf("RedactString(%q) = %q, want %q", in, got, want)
	}
}

func TestRedactTouchingMatchesMerge(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret("A_KEY", "aaaaLEAKCHECKaaaa"), NewSecret("B_KEY", "bbbbLEAKCHECKbbbbbb"))
	b64 := base64.StdEncoding.EncodeToString([]byte("aaaaLEAKCHECKaaaa"))
	tests := []struct{ in, want string }{
		{"<aaaaLEAKCHECKaaaaaaaaLEAKCHECKaaaa>", "<[REDACTED:A_KEY]>"},
		{"<aaaaLEAKCHECKaaaabbbbLEAKCHECKbbbbbb>", "<[REDACTED:B_KEY]>"},
		{"<aaaaLEAKCHECKaaaa" + b64 + ">", "<[REDACTED:A_KEY]>"},
		{"<aaaaLEAKCHECKaaaa bbbbLEAKCHECKbbbbbb>", "<[REDACTED:A_KEY] [REDACTED:B_KEY]>"},
	}
	for _, tc := range tests {
		if got := r.RedactString(tc.in); got != tc.want {
			t.Errorf("RedactString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRedactNothingKnown(t *testing.T) {
	t.Parallel()
	in := []byte("sk-test-LEAKCHECK-0123456789")
	tests := []struct {
		name string
		r    *Redactor
	}{
		{"nil", nil},
		{"zero", &Redactor{}},
		{"no secrets", NewRedactor()},
		{"empty secret", NewRedactor(NewSecret("EMPTY", ""))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := tc.r.Redact(in); &got[0] != &in[0] || len(got) != len(in) {
				t.Errorf("Redact(%q) = %q, want the input slice itself", in, got)
			}
			if got := tc.r.RedactString(string(in)); got != string(in) {
				t.Errorf("RedactString(%q) = %q, want it unchanged", in, got)
			}
			var buf bytes.Buffer
			w := tc.r.NewWriter(&buf)
			if _, err := w.Write(in); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if err := w.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if buf.String() != string(in) {
				t.Errorf("NewWriter: wrote %q, want %q", buf.String(), in)
			}
		})
	}
}

func TestRedactAddKeepsFirstName(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret("FIRST", testKey))
	r.Add(NewSecret("SECOND", testKey), NewSecret("EMPTY", ""))
	if got, want := r.RedactString(testKey), "[REDACTED:FIRST]"; got != want {
		t.Errorf("RedactString(%q) = %q, want %q", testKey, got, want)
	}
	r.Add(NewSecret("THIRD", "another-LEAKCHECK-key"))
	in := testKey + " another-LEAKCHECK-key"
	if got, want := r.RedactString(in), "[REDACTED:FIRST] [REDACTED:THIRD]"; got != want {
		t.Errorf("RedactString(%q) = %q, want %q", in, got, want)
	}
}

// TestRedactJSONStaysValid checks the JSON safety promise: stdout carries
// JSON-RPC, and a redaction that cut an escape sequence in half would leave
// a broken message.
func TestRedactJSONStaysValid(t *testing.T) {
	t.Parallel()
	keys := []string{
		testKey,
		`sk-"quote\back/slash<lt>&amp-LEAKCHECK`,
		"nLEAKCHECK-0123456789",  // follows the backslash of "\n"
		"u0041LEAKCHECK-0123456", // follows "\" of "\\", looks like \u0041
		"LEAKCHECK-ends-with\\",
		"LEAKCHECK-caf\u00e9-\u2603-\U0001F600",
		"LEAKCHECK\n\tcontrol\x01",
	}
	for _, key := range keys {
		t.Run(key, func(t *testing.T) {
			t.Parallel()
			r := NewRedactor(NewSecret("K", key))
			doc := map[string]any{}
			for _, v := range variantsOf(key) {
				doc[v.kind] = v.text
				doc[v.kind+"-embedded"] = "pre " + v.text + "\npost"
			}
			for _, f := range leakForms(key) {
				doc["form "+f.name] = f.text
			}
			doc["newline before"] = "\n" + key
			doc["backslash before"] = `\` + key
			doc["basic"] = "Basic " + base64.StdEncoding.EncodeToString([]byte("user:"+key))
			doc["nested"] = map[string]any{"list": []string{key, asciiUpper(key)}}
			inner, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			doc["json in json"] = string(inner)
			in, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			out := r.Redact(in)
			if !json.Valid(out) {
				t.Fatalf("Redact(json.Marshal(...)) is not valid JSON:\n%s", out)
			}
			if bytes.Contains(out, []byte(key)) {
				t.Errorf("Redact(json.Marshal(...)) still holds the key:\n%s", out)
			}
			// What a client sees after decoding must be clean too.
			var back map[string]any
			if err := json.Unmarshal(out, &back); err != nil {
				t.Fatal(err)
			}
			var strs []string
			collectStrings(back, &strs)
			for _, s := range strs {
				for _, f := range leakForms(key) {
					if strings.Contains(s, f.text) {
						t.Errorf("decoded output %q holds the %s form of the key", s, f.name)
					}
				}
			}
		})
	}
}

func collectStrings(v any, out *[]string) {
	switch v := v.(type) {
	case string:
		*out = append(*out, v)
	case map[string]any:
		for _, x := range v {
			collectStrings(x, out)
		}
	case []any:
		for _, x := range v {
			collectStrings(x, out)
		}
	}
}

func TestRedactConcurrentAdd(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	const n = 50
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("oauth-LEAKCHECK-token-%04d", i)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				in := "a " + testKey + " b " + keys[n-1]
				got := r.RedactString(in)
				if strings.Contains(got, testKey) {
					t.Errorf("RedactString(%q) = %q during Add, want %s gone", in, got, testName)
					return
				}
			}
		}()
	}
	for i, k := range keys {
		r.Add(NewSecret(fmt.Sprintf("TOKEN_%d", i), k))
	}
	close(stop)
	wg.Wait()
	in := strings.Join(keys, " ")
	got := r.RedactString(in)
	if strings.Contains(got, "LEAKCHECK") {
		t.Errorf("RedactString(%q) = %q after Add, want every token gone", in, got)
	}
}

func TestVariantsOf(t *testing.T) {
	t.Parallel()
	got := map[string]string{}
	for _, v := range variantsOf("user:pass") {
		got[v.kind] = v.text
	}
	want := map[string]string{
		"raw":              "user:pass",
		"reversed":         "ssap:resu",
		"base64-std":       "dXNlcjpwYXNz",
		"base64-std-raw":   "dXNlcjpwYXNz",
		"base64-url":       "dXNlcjpwYXNz",
		"base64-url-raw":   "dXNlcjpwYXNz",
		"base64-core0-std": "dXNlcjpwYXNz",
		"base64-core0-url": "dXNlcjpwYXNz",
		// base64("\x00user:pass") = "AHVzZXI6cGFzcw": drop "AH" (bits of
		// the zero byte), keep up to the last whole 6 bits of the secret.
		"base64-core1-std": "VzZXI6cGFzc",
		"base64-core1-url": "VzZXI6cGFzc",
		// base64("\x00\x00user:pass") = "AAB1c2VyOnBhc3M": drop "AAB"
		// and the final "M", whose low bits come from after the secret.
		"base64-core2-std": "1c2VyOnBhc3",
		"base64-core2-url": "1c2VyOnBhc3",
		"hex":              "757365723a70617373",
		"percent":          "%75%73%65%72%3a%70%61%73%73",
		"json-u":           `\u0075\u0073\u0065\u0072\u003a\u0070\u0061\u0073\u0073`,
		"html-dec":         "&#117;&#115;&#101;&#114;&#58;&#112;&#97;&#115;&#115;",
		"html-hex":         "&#x75;&#x73;&#x65;&#x72;&#x3a;&#x70;&#x61;&#x73;&#x73;",
		"utf16le":          "u\x00s\x00e\x00r\x00:\x00p\x00a\x00s\x00s",
		"utf16be":          "u\x00s\x00e\x00r\x00:\x00p\x00a\x00s\x00s",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("variantsOf(%q) mismatch (-want +got):\n%s", "user:pass", diff)
	}
}

func TestWriterSecretSplitAcrossWrites(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	in := `{"log":"key=` + testKey + ` ok"}` + "\n"
	want := `{"log":"key=` + testMarker + ` ok"}` + "\n"
	for cut := 1; cut < len(in); cut++ {
		var buf bytes.Buffer
		w := r.NewWriter(&buf)
		for _, part := range []string{in[:cut], in[cut:]} {
			if n, err := w.Write([]byte(part)); n != len(part) || err != nil {
				t.Fatalf("Write(%q) = %d, %v, want %d, nil", part, n, err, len(part))
			}
		}
		if got := buf.String(); got != want {
			t.Errorf("Write(%q) then Write(%q) wrote %q, want %q", in[:cut], in[cut:], got, want)
		}
	}
}

func TestWriterOneByteWrites(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	b64 := base64.StdEncoding.EncodeToString([]byte(testKey))
	in := "a " + testKey + " b \\u0073k-test-LEAKCHECK-0123456789 c " + b64[:20] + `\r\n` + b64[20:] + " d"
	want := "a " + testMarker + " b " + testMarker + " c " + testMarker + " d"
	var buf bytes.Buffer
	w := r.NewWriter(&buf)
	for i := range len(in) {
		if _, err := w.Write([]byte{in[i]}); err != nil {
			t.Fatalf("Write(%q): %v", in[i], err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := buf.String(); got != want {
		t.Errorf("%d one-byte writes of %q wrote %q, want %q", len(in), in, got, want)
	}
}

func TestWriterPassesLinesAtOnce(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	var buf bytes.Buffer
	w := r.NewWriter(&buf)
	steps := []struct{ write, want string }{
		{`{"id":1,"k":"` + testKey + `"}` + "\n", `{"id":1,"k":"` + testMarker + `"}` + "\n"},
		{"partial line ", ""},
		{"ends here\nnext starts sk-test-", "partial line ends here\n"},
		{"LEAKCHECK-0123456789\n\n", testMarker + "\n\n"},
	}
	for _, s := range steps {
		buf.Reset()
		if _, err := w.Write([]byte(s.write)); err != nil {
			t.Fatalf("Write(%q): %v", s.write, err)
		}
		got := buf.String()
		if s.want == testMarker+"\n\n" {
			s.want = "next starts " + s.want
		}
		if got != s.want {
			t.Errorf("Write(%q) passed on %q at once, want %q", s.write, got, s.want)
		}
	}
	buf.Reset()
	if _, err := w.Write([]byte("no newline")); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if got := buf.String(); got != "no newline" {
		t.Errorf("Flush passed on %q, want %q", got, "no newline")
	}
}

// TestWriterLongLine writes a line far longer than the Writer holds, in
// chunks, with keys across chunk boundaries; what comes out must equal
// redacting the whole line at once, and must not wait for the line to end.
func TestWriterLongLine(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	b64 := base64.StdEncoding.EncodeToString([]byte(testKey))
	var in strings.Builder
	for in.Len() < 5*maxPending {
		fmt.Fprintf(&in, `{"n":%d,"pad":"%s"},`, in.Len(), strings.Repeat("x", in.Len()%97))
		if in.Len()%7 == 0 {
			in.WriteString(testKey)
		}
		if in.Len()%11 == 0 {
			in.WriteString(`\u0073k-test-LEAKCHECK-0123456789`)
		}
		switch in.Len() % 13 {
		case 0:
			// One to three layers of escaping: 1 to 7 backslashes.
			in.WriteString(strings.Repeat(`\`, 1+in.Len()%7) + `u0073k-test-LEAKCHECK-0123456789`)
		case 1:
			in.WriteString(b64[:20] + `\r\n` + b64[20:])
		}
	}
	whole := in.String()
	for _, chunk := range []int{1, 1000, 4093, maxPending + 1} {
		var buf bytes.Buffer
		w := r.NewWriter(&buf)
		for i := 0; i < len(whole); i += chunk {
			if _, err := w.Write([]byte(whole[i:min(i+chunk, len(whole))])); err != nil {
				t.Fatal(err)
			}
		}
		if buf.Len() == 0 {
			t.Errorf("chunk %d: nothing passed on before Close, want all but the holdback", chunk)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := buf.String(), r.RedactString(whole); got != want {
			t.Errorf("chunk %d: streamed output differs from Redact of the whole (len %d vs %d)", chunk, len(got), len(want))
		}
		if strings.Contains(buf.String(), "LEAKCHECK") {
			t.Errorf("chunk %d: streamed output holds the key", chunk)
		}
	}
}

func TestWriterClosed(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewRedactor(NewSecret(testName, testKey)).NewWriter(&buf)
	if _, err := w.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if buf.String() != "held" {
		t.Errorf("Close passed on %q, want %q", buf.String(), "held")
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close() = %v, want nil", err)
	}
	if n, err := w.Write([]byte("late\n")); n != 0 || !errors.Is(err, os.ErrClosed) {
		t.Errorf("Write after Close = %d, %v, want 0, os.ErrClosed", n, err)
	}
}

type failWriter struct{ calls int }

func (f *failWriter) Write(p []byte) (int, error) {
	f.calls++
	return 0, errors.New("disk full")
}

func TestWriterErrorIsSticky(t *testing.T) {
	t.Parallel()
	fw := &failWriter{}
	w := NewRedactor(NewSecret(testName, testKey)).NewWriter(fw)
	if _, err := w.Write([]byte("line\n")); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Write to a failing writer = %v, want the cause", err)
	}
	if _, err := w.Write([]byte("again\n")); err == nil {
		t.Errorf("second Write to a failing writer = nil error, want the first error")
	}
	if fw.calls != 1 {
		t.Errorf("failing writer called %d times, want 1", fw.calls)
	}
}

func TestWriterConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret(testName, testKey))
	var buf bytes.Buffer
	w := r.NewWriter(&buf)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 200 {
				line := fmt.Sprintf("g%d i%d key=%s end\n", g, i, testKey)
				if _, err := w.Write([]byte(line)); err != nil {
					t.Error(err)
					return
				}
				if i%50 == 0 {
					r.Add(NewSecret(fmt.Sprintf("EXTRA_%d_%d", g, i), fmt.Sprintf("extra-LEAKCHECK-%d-%d", g, i)))
				}
			}
		}()
	}
	wg.Wait()
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 8*200 {
		t.Errorf("got %d lines, want %d", len(lines), 8*200)
	}
	for _, l := range lines {
		if !strings.HasSuffix(l, "key="+testMarker+" end") {
			t.Errorf("line %q: want it whole, with the key redacted", l)
			break
		}
	}
}
