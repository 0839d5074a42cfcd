package credentials

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// fragKey is a 48-byte key with a public-looking prefix, as in issue 8.
const (
	fragKey    = "kv_live_LEAKCHECKabcdefghijklmnopqrstuvwxyz01234"
	fragMarker = "[REDACTED:FRAG_KEY]"
)

func fragRedactor(t testing.TB) *Redactor {
	t.Helper()
	if len(fragKey) != 48 {
		t.Fatalf("fragKey is %d bytes, want 48", len(fragKey))
	}
	return NewRedactor(NewSecret("FRAG_KEY", fragKey))
}

// secretWindows returns every folded 8-byte window of every variant of key.
func secretWindows(key string) map[string]bool {
	out := map[string]bool{}
	for _, v := range variantsOf(key) {
		f := asciiLower([]byte(v.text))
		for i := 0; i+fragLen <= len(f); i++ {
			out[string(f[i:i+fragLen])] = true
		}
	}
	return out
}

// survivingWindow returns an 8-byte window of a variant of key that is in
// out, or "" when there is none.
func survivingWindow(out []byte, key string) string {
	ws := secretWindows(key)
	f := asciiLower(out)
	for i := 0; i+fragLen <= len(f); i++ {
		if ws[string(f[i:i+fragLen])] {
			return string(out[i : i+fragLen])
		}
	}
	return ""
}

// pctAll percent-encodes every byte of s, like the "percent" variant.
func pctAll(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func TestRedactFragments(t *testing.T) {
	t.Parallel()
	r := fragRedactor(t)
	k := fragKey
	b64 := base64.StdEncoding.EncodeToString([]byte(k))
	for _, tc := range []struct {
		name string
		in   string
		sent []string
		want string
	}{
		{"clean", `{"ok":true}`, nil, `{"ok":true}`},
		{"whole key", "Bearer " + k, nil, "Bearer " + fragMarker},
		{"47 of 48 bytes", "Bearer " + k[:47] + "|", nil, "Bearer " + fragMarker + "|"},
		{"a middle piece of 8", "x" + k[20:28] + "y", nil, "x" + fragMarker + "y"},
		{"a piece of 7 is left", "x" + k[20:27] + "y", nil, "x" + k[20:27] + "y"},
		{"upper case piece", "x" + strings.ToUpper(k[9:30]) + "y", nil, "x" + fragMarker + "y"},
		{"piece of base64", "tok=" + b64[10:30] + ";", nil, "tok=" + fragMarker + ";"},
		{"piece of percent-encoding", "q=" + pctAll(k[5:9]) + "&", nil, "q=" + fragMarker + "&"},
		{"reflected guess of 8", `{"path":"/` + k[:8] + `"}`, []string{"/" + k[:8]}, `{"path":"/` + k[:8] + `"}`},
		{"reflected guess of 20", `{"path":"/` + k[:20] + `"}`, []string{"/" + k[:20]}, `{"path":"/` + k[:20] + `"}`},
		{"reflected guess, percent-encoded", `{"url":"/a?q=` + url.QueryEscape(k[:20]) + `"}`, []string{k[:20]}, `{"url":"/a?q=` + url.QueryEscape(k[:20]) + `"}`},
		{"reflected guess, base64", `{"b":"` + base64.StdEncoding.EncodeToString([]byte(k[:21])) + `"}`, []string{k[:21]}, `{"b":"` + base64.StdEncoding.EncodeToString([]byte(k[:21])) + `"}`},
		{"guess and echoed key", "/" + k[:8] + " Bearer " + k, []string{"/" + k[:8]}, "/" + k[:8] + " Bearer " + fragMarker},
		{"API piece beside a guess", "/" + k[:8] + " " + k[:20], []string{"/" + k[:8]}, "/" + k[:8] + " " + fragMarker},
		{"guess continued by API bytes", k[:8] + k[8:10], []string{k[:8]}, fragMarker},
		{"the model sent the whole key", "/" + k, []string{"/" + k}, "/" + fragMarker},
		{"short sent texts cover nothing", k[:12], []string{k[:4], k[4:8], k[8:12]}, fragMarker},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent [][]byte
			for _, s := range tc.sent {
				sent = append(sent, []byte(s))
			}
			in := []byte(tc.in)
			orig := bytes.Clone(in)
			got := string(r.RedactFragments(in, sent))
			if got != tc.want {
				t.Errorf("RedactFragments(%q, %q) = %q, want %q", tc.in, tc.sent, got, tc.want)
			}
			if !bytes.Equal(in, orig) {
				t.Errorf("RedactFragments(%q) modified its input", tc.in)
			}
		})
	}
}

// TestRedactFragmentsNoOracle is the redaction oracle of issue 8: a model
// that knows the first 7 bytes of the key sends them plus each possible 8th
// byte to an echo, which reflects the request and the Authorization header
// it carried. If any guess came back different from the others (apart from
// the guess itself), the model would learn the 8th byte; then the 9th. The
// same holds for a refusal that quotes the path back through the choke
// point's Redact.
func TestRedactFragmentsNoOracle(t *testing.T) {
	t.Parallel()
	r := fragRedactor(t)
	known := fragKey[:7]
	for _, tc := range []struct {
		name   string
		result func(guess string) []byte
	}{
		{"echo of path, query, header and body", func(g string) []byte {
			echo := fmt.Sprintf(`{"method":"POST","url":"https://api.example.com/anything/%s?q=%s","headers":{"Authorization":"Bearer %s","X-Guess":"%s"},"data":"%s","b64":"%s"}`,
				g, url.QueryEscape(g), fragKey, g, g, base64.StdEncoding.EncodeToString([]byte("GET /anything/"+g+" HTTP/1.1\r\nAuthorization: Bearer "+fragKey+"\r\n")))
			sent := [][]byte{[]byte("/anything/" + g), []byte("q=" + url.QueryEscape(g)), []byte(g), []byte(g), []byte(`"` + g + `"`)}
			return r.RedactFragments([]byte(echo), sent)
		}},
		{"cut of a long echo", func(g string) []byte {
			echo := []byte(strings.Repeat("a", 40) + g + " Bearer " + fragKey + " end")
			sent := [][]byte{[]byte(strings.Repeat("a", 40) + g)}
			red := r.RedactFragments(echo, sent)
			return red[:r.Cut(red, 46, sent)]
		}},
		{"refusal quoting the path", func(g string) []byte {
			return r.Redact([]byte(fmt.Sprintf(`{"isError":true,"text":"path \"/%s/..\" leaves the base URL"}`, g)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var first []byte
			for c := range 256 {
				g := known + string([]byte{byte(c)})
				// Remove the guess in each form it was sent in, so that
				// what remains is what the model learns beyond its guess.
				out := tc.result(g)
				// Of the base64 dump, remove the longest prefix that
				// came back: it is what depends on the guess.
				dump := base64.StdEncoding.EncodeToString([]byte("GET /anything/" + g + " HTTP/1.1\r\nAuthorization: Bearer " + fragKey + "\r\n"))
				for n := len(dump); n >= 20; n-- {
					if bytes.Contains(out, []byte(dump[:n])) {
						out = bytes.Replace(out, []byte(dump[:n]), []byte("DUMP"), 1)
						break
					}
				}
				for _, form := range []string{url.QueryEscape(g), g} {
					out = bytes.ReplaceAll(out, []byte(form), []byte("GUESS"))
				}
				if first == nil {
					first = out
					continue
				}
				if !bytes.Equal(out, first) {
					t.Fatalf("guess %q: result %q differs from guess %q's %q", g, out, known+"\x00", first)
				}
			}
		})
	}
}

// TestCutEveryOffset pads an echo so that a 48-byte cut falls at every
// offset of the key, in every variant: after RedactFragments and Cut no
// 8-byte window of a variant survives, and the text never ends with 4 or
// more bytes that begin one.
func TestCutEveryOffset(t *testing.T) {
	t.Parallel()
	r := fragRedactor(t)
	const limit = 100
	for _, v := range variantsOf(fragKey) {
		for j := 0; j <= len(v.text); j++ {
			pad := strings.Repeat("p", max(0, limit-j))
			body := []byte(pad + v.text + " and more text after the key")
			sent := [][]byte{[]byte(pad)}
			red := r.RedactFragments(body, sent)
			out := red[:r.Cut(red, limit, sent)]
			if len(out) > limit {
				t.Fatalf("%s at %d: Cut kept %d bytes, more than %d", v.kind, j, len(out), limit)
			}
			if w := survivingWindow(out, fragKey); w != "" {
				t.Fatalf("%s at %d: %q survived in %q", v.kind, j, w, out)
			}
			if k := r.current().fragments().endsWithPrefix(out); k > 0 {
				t.Fatalf("%s at %d: %q ends with %d bytes that begin a variant", v.kind, j, out, k)
			}
			if bytes.Count(out, []byte("[REDACTED")) != bytes.Count(out, []byte(fragMarker)) {
				t.Fatalf("%s at %d: a marker was cut: %q", v.kind, j, out)
			}
		}
	}
}

func TestCut(t *testing.T) {
	t.Parallel()
	r := fragRedactor(t)
	k := fragKey
	for _, tc := range []struct {
		name string
		in   string
		n    int
		sent []string
		want string
	}{
		{"short enough", "abc", 5, nil, "abc"},
		{"plain", "abcdef", 3, nil, "abc"},
		{"inside a marker", "ab" + fragMarker + "cd", 10, nil, "ab"},
		{"after a marker", "ab" + fragMarker + "cd", 2 + len(fragMarker), nil, "ab" + fragMarker},
		{"inside UTF-8", "ab\u00e9cd", 3, nil, "ab"},
		{"inside a JSON escape", `ab\u0041cd`, 5, nil, "ab"},
		{"inside a percent escape", "ab%41cd", 4, nil, "ab"},
		{"API prefix of 7", "ab " + k[:7] + "|", 10, nil, "ab "},
		{"API prefix of 4", "ab " + k[:4] + "xyz", 7, nil, "ab "},
		{"API prefix of 3 stays", "ab " + k[:3] + "xyz", 6, nil, "ab " + k[:3]},
		{"model prefix stays", "ab " + k[:7] + "|", 10, []string{"ab " + k[:7]}, "ab " + k[:7]},
		{"prefix of base64 variant", "x" + base64.StdEncoding.EncodeToString([]byte(k))[:6] + "yyyy", 7, nil, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var sent [][]byte
			for _, s := range tc.sent {
				sent = append(sent, []byte(s))
			}
			got := tc.in[:r.Cut([]byte(tc.in), tc.n, sent)]
			if got != tc.want {
				t.Errorf("Cut(%q, %d) keeps %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
	var nilR *Redactor
	if got := nilR.Cut([]byte("ab\u00e9cd"), 3, nil); got != 2 {
		t.Errorf("nil Redactor: Cut(%q, 3) = %d, want 2", "ab\u00e9cd", got)
	}
}

// FuzzRedactFragments plants pieces of a random secret's variants in random
// text, as an API would send them: no 8-byte window of any variant may
// survive. Text that holds no such window comes back as the same slice.
//
//	go test -run='^$' -fuzz='^FuzzRedactFragments$' -fuzztime=10s ./credentials
func FuzzRedactFragments(f *testing.F) {
	f.Add([]byte(fragKey), []byte(`{"echo":"x"}`), uint8(0), uint8(3), uint8(20), uint16(5))
	f.Add([]byte("abcdefghijkl"), []byte("abcdefg hijkl"), uint8(1), uint8(0), uint8(9), uint16(2))
	f.Add([]byte("+/+/+/+/+/=="), []byte("QUJD\r\n"), uint8(2), uint8(1), uint8(8), uint16(0))
	f.Fuzz(func(t *testing.T, secret, text []byte, variant, from, n uint8, at uint16) {
		// Only keys Load accepts: no NUL (a control character) and valid
		// UTF-8 (checkKey refuses the rest).
		if len(secret) < fragLen || len(secret) > 80 || len(text) > 4096 || bytes.IndexByte(secret, 0) >= 0 || !utf8.Valid(secret) {
			return
		}
		key := string(secret)
		r := NewRedactor(NewSecret("FUZZ_KEY", key))
		vs := variantsOf(key)
		v := vs[int(variant)%len(vs)].text
		s := int(from) % len(v)
		e := min(len(v), s+int(n))
		i := int(at) % (len(text) + 1)
		planted := append(append(append([]byte{}, text[:i]...), v[s:e]...), text[i:]...)
		for _, in := range [][]byte{text, planted} {
			out := r.RedactFragments(in, nil)
			// A marker separates what the model sees: check each piece
			// between markers on its own, so that no stand-in byte can join
			// two pieces into a window (a NUL does, for a UTF-16 variant).
			for _, piece := range bytes.Split(out, []byte("[REDACTED:FUZZ_KEY]")) {
				if w := survivingWindow(piece, key); w != "" {
					t.Fatalf("RedactFragments(%q) = %q: %q survived", in, out, w)
				}
			}
			if survivingWindow(in, key) == "" && !fuzzHolds(r, in) {
				if len(in) > 0 && (len(out) != len(in) || &out[0] != &in[0]) {
					t.Fatalf("RedactFragments(%q) = %q, want the same slice", in, out)
				}
			}
		}
	})
}

// TestRedactSpanPastEnd is a fuzz find: the UTF-16 pass mapped a match of
// an odd-aligned, unfinished UTF-16 key one byte past the end of the text,
// and Redact panicked. Redaction must never panic on what an API sends.
func TestRedactSpanPastEnd(t *testing.T) {
	t.Parallel()
	r := NewRedactor(NewSecret("FUZZ_KEY", "00000000"))
	in := []byte("00\x000\x000\x000\x000\x000\x000\x000")
	for _, got := range [][]byte{r.Redact(in), r.RedactFragments(in, nil)} {
		if want := "0[REDACTED:FUZZ_KEY]"; string(got) != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
