package credentials

import (
	"bytes"
	"encoding/base64"
	"testing"
)

// TestRedactFragmentsBase64Edges is an echo that base64-encodes the model's
// text together with bytes of its own ("e:" + text + "}", as a token or a
// debug dump would). The characters at both ends of the encoded guess carry
// bits of the guess and bits of the API's bytes. Before those characters
// counted as the model's text, a right guess of the byte after a known
// prefix made the run one character longer, past what the model sent, and
// so came back redacted while a wrong guess came back as sent: the key, a
// byte per 95 calls wherever the next key byte shares its top bits with
// the API's byte. Every guess must now come back alike: redacted or not.
func TestRedactFragmentsBase64Edges(t *testing.T) {
	t.Parallel()
	r := fragRedactor(t)
	type echo struct {
		name string
		enc  *base64.Encoding
		pre  string
		suf  string
	}
	var echoes []echo
	for _, enc := range []struct {
		name string
		e    *base64.Encoding
	}{{"std", base64.StdEncoding}, {"url-raw", base64.RawURLEncoding}} {
		for _, pre := range []string{"", "e:", "ec:"} {
			// The API's bytes after the guess: none (the encoder's zero
			// bits) and a byte whose top bits are those of most key bytes.
			// A byte whose whole character happens to continue the key is
			// the coincidence redact_fragment.go leaves uncovered.
			for _, suf := range []string{"", "}"} {
				echoes = append(echoes, echo{enc.name + " " + pre + "…" + suf, enc.e, pre, suf})
			}
		}
	}
	for _, tc := range echoes {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			// The model knows the first n bytes and guesses byte n; it
			// pads its guess in front so that the guess is not the key's
			// start. Guessing the byte before a known piece, from the
			// back, is the same at the other end.
			for n := 8; n < len(fragKey)-1; n++ {
				for _, back := range []bool{false, true} {
					right := fragKey[n]
					if back {
						right = fragKey[len(fragKey)-n-1]
					}
					// The right byte, and wrong ones with every top-bit
					// pattern a printable byte has.
					guesses := []byte{right, ' ', '/', '0', '9', '@', 'O', 'P', '_', '`', 'o', 'p', '~'}
					var redacted []string
					for _, c := range guesses {
						g := "##" + fragKey[:n] + string(c)
						if back {
							g = string(c) + fragKey[len(fragKey)-n:] + "##"
						}
						in := []byte(tc.enc.EncodeToString([]byte(tc.pre + g + tc.suf)))
						out := r.RedactFragments(in, [][]byte{[]byte(g)})
						if !bytes.Equal(out, in) {
							redacted = append(redacted, string(c))
						}
					}
					if len(redacted) != 0 && len(redacted) != len(guesses) {
						t.Fatalf("known %d bytes (from the back: %v): only the guesses %q came back redacted", n, back, redacted)
					}
				}
			}
		})
	}
}
