package credentials

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net/url"
	"testing"
)

// TestRedactFragmentsDecodedEcho is an API that decodes what the model sent
// before echoing it: a base64 token it could not parse, a parameter it
// percent-decodes once more, a hex id. The model sends its guess encoded,
// so the decoded echo is not among the texts it sent, and fragment
// redaction took it for the API's own: a right guess of the byte after 7
// known ones made an 8-byte run and came back redacted, a wrong one came
// back as sent. Every guess must come back alike.
func TestRedactFragmentsDecodedEcho(t *testing.T) {
	t.Parallel()
	r := fragRedactor(t)
	for _, tc := range []struct {
		name string
		enc  func(string) string
	}{
		{"base64 std", func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }},
		{"base64 url raw", func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }},
		{"percent twice", func(s string) string { return url.QueryEscape(pctAll(s)) }},
		{"percent every byte", pctAll},
		{"hex", func(s string) string { return hex.EncodeToString([]byte(s)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for n := 7; n < 20; n++ {
				known := fragKey[n-7 : n] // the 7 bytes before byte n
				var redacted []string
				guesses := []byte{fragKey[n], ' ', '/', '0', '9', '@', 'O', 'P', '_', '`', 'o', 'p', '~'}
				for _, c := range guesses {
					g := "##" + known + string(c) + "##"
					in := []byte(`{"error":"invalid token: ` + g + `"}`)
					out := r.RedactFragments(in, [][]byte{[]byte("t=" + tc.enc(g)), []byte(tc.enc(g))})
					if !bytes.Equal(out, in) {
						redacted = append(redacted, string(c))
					}
				}
				if len(redacted) != 0 && len(redacted) != len(guesses) {
					t.Fatalf("byte %d: only the guesses %q came back redacted", n, redacted)
				}
			}
		})
	}
}
