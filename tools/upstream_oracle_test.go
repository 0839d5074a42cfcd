package tools

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keyveil/keyveil/credentials"
)

// TestLongBodyGuessNoOracle sends a guess of a key's next byte at the end
// of request bodies of several lengths to an API that echoes the body's last
// bytes, with the real Redactor. The result must be the same for a right
// and a wrong guess (apart from the guess itself). A body longer than the
// part keyveil counts as the model's text (maxSentBody) used to be sent
// anyway: its guess was then not the model's, and only a right one was
// swallowed by the redaction marker ("[REDACTED:K]\n" against
// "[REDACTED:K]~\n"), the key one byte per 95 calls. Such a body is now
// refused before anything is sent.
func TestLongBodyGuessNoOracle(t *testing.T) {
	t.Parallel()
	const key = "sk-test-LEAKCHECK-0123456789"
	red := credentials.NewRedactor(credentials.NewSecret("K", key))
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("you said: " + string(b[max(0, len(b)-12):]) + "\n"))
	}))
	t.Cleanup(srv.Close)
	cfg := loadConfig(t, "services:\n  api:\n    base_url: "+srv.URL+"\n    auth: {type: none}\n    allow: [\"POST /**\"]\n")
	d := Deps{Config: cfg, Client: testClient(t), Redact: red.Redact, RedactUpstream: red.RedactFragments, Cut: red.Cut, Lookahead: red.Lookahead}
	cs := connect(t, d, protocolVersions[0])
	right, wrong := key[:12], key[:11]+"~"
	for _, tc := range []struct {
		name string
		pad  int
		sent bool
	}{
		{"short body", 10, true},
		{"body of exactly maxSentBody", maxSentBody - len(right), true},
		{"body one byte longer", maxSentBody - len(right) + 1, false},
		{"body far longer", 2 * maxSentBody, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var first []byte
			for _, g := range []string{right, wrong} {
				before := hits.Load()
				res := call(t, cs, "call_api", map[string]any{"method": "POST", "path": "/echo", "body": strings.Repeat("p", tc.pad) + g})
				if sent := hits.Load() > before; sent != tc.sent || res.IsError == tc.sent {
					t.Fatalf("guess %q: sent %v, error %v (%s), want sent %v", g, sent, res.IsError, text(res), tc.sent)
				}
				out, _ := json.Marshal(structured(t, res))
				out = bytes.ReplaceAll(out, []byte(g), []byte("GUESS"))
				if first == nil {
					first = out
				} else if !bytes.Equal(out, first) {
					t.Errorf("a wrong guess came back as %s, the right one as %s", out, first)
				}
			}
		})
	}
}
