package credentials

import (
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/keyveil/keyveil/internal/authtest"
)

// Fake AWS credentials; LEAKCHECK marks them.
const (
	awsID     = "AKIATRANSLEAKCHECK42"
	awsSecret = "transSecretLEAKCHECK/7fK2mQ9xR4tW1zP8vB5n"
	awsToken  = "transSessionLEAKCHECK//////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7Zk2p+Rm4Tn1"
)

// awsVars are the fake credentials as the environment would hold them.
var awsVars = map[string]string{
	"AWS_ACCESS_KEY_ID":     awsID,
	"AWS_SECRET_ACCESS_KEY": awsSecret,
	"AWS_SESSION_TOKEN":     awsToken,
	"OTHER_KEY":             keyB,
}

// sigv4Setup is a signed service in front of a verifier that checks every
// signature as AWS does, and a bearer service on another origin that
// records everything it gets.
type sigv4Setup struct {
	verifier *authtest.SigV4
	aws      *httptest.Server
	other    *server
	set      *Set
	client   *http.Client
}

func newSigV4Setup(t *testing.T) *sigv4Setup {
	t.Helper()
	s := &sigv4Setup{other: newServer(t, false, nil)}
	s.verifier = &authtest.SigV4{
		Region:  "us-east-1",
		Service: "execute-api",
		Keys:    map[string]authtest.SigV4Key{awsID: {Secret: awsSecret, Token: awsToken}},
		Next: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch r.URL.Path {
			case "/prod/hop307":
				http.Redirect(w, r, "/prod/landing", http.StatusTemporaryRedirect)
			case "/prod/hop302":
				http.Redirect(w, r, "/prod/landing", http.StatusFound)
			case "/prod/away":
				http.Redirect(w, r, s.other.URL+"/steal", http.StatusTemporaryRedirect)
			default:
				body, _ := io.ReadAll(r.Body)
				_, _ = io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(body))
			}
		}),
	}
	s.aws = httptest.NewServer(s.verifier)
	t.Cleanup(s.aws.Close)
	cfg := loadTransportConfig(t, `services:
  aws:
    base_url: `+s.aws.URL+`/prod
    auth: { type: aws_sigv4, region: us-east-1, service: execute-api }
    allow: ["GET /**", "POST /**"]
  other:
    base_url: `+s.other.URL+`
    auth: { type: bearer, env: OTHER_KEY }
`)
	s.set = loadDotenv(t, cfg, maps.Clone(awsVars)) // Load forgets what it read
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	s.client = NewTransport(s.set, cfg, &TransportOptions{Base: base}).Client()
	return s
}

func (s *sigv4Setup) do(t *testing.T, method, url, body string, header http.Header) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// TestTransportSigV4Verified: requests signed through the Transport are
// accepted by the verifier, including when the caller tried to set the
// signing headers itself (they are stripped before signing; a forged
// X-Amz-Date or second token would otherwise be refused).
func TestTransportSigV4Verified(t *testing.T) {
	t.Parallel()
	forged := http.Header{
		"Authorization":        {"AWS4-HMAC-SHA256 Credential=forged"},
		"X-Amz-Date":           {"20000101T000000Z"},
		"x-amz-security-token": {"forged-token"},
		"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"},
		"Accept":               {"application/json"},
	}
	for _, tc := range []struct {
		name, method, path, body string
		header                   http.Header
	}{
		{name: "GET with query", method: "GET", path: "/items?b=2&a=x%20y"},
		{name: "POST with body", method: "POST", path: "/items", body: `{"n":1}`},
		{name: "forged signing headers", method: "POST", path: "/items", body: `{"n":2}`, header: forged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newSigV4Setup(t)
			resp, got := s.do(t, tc.method, s.aws.URL+"/prod"+tc.path, tc.body, tc.header)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s = %d %s, want 200", tc.method, tc.path, resp.StatusCode, got)
			}
			if s.verifier.Accepted() != 1 {
				t.Errorf("verifier accepted %d, want 1", s.verifier.Accepted())
			}
		})
	}
}

// TestTransportSigV4RedirectHopResigned: a same-origin redirect hop is
// signed anew for its own method, path and body, and accepted.
func TestTransportSigV4RedirectHopResigned(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path, want string
	}{
		{"/hop307", "POST /prod/landing {\"n\":7}"}, // method and body kept
		{"/hop302", "GET /prod/landing "},           // becomes a GET without body
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			s := newSigV4Setup(t)
			resp, got := s.do(t, "POST", s.aws.URL+"/prod"+tc.path, `{"n":7}`, nil)
			if resp.StatusCode != http.StatusOK || got != tc.want {
				t.Fatalf("POST %s = %d %q, want 200 %q (refused: %q)", tc.path, resp.StatusCode, got, tc.want, s.verifier.Refused())
			}
			if n := s.verifier.Accepted(); n != 2 {
				t.Errorf("verifier accepted %d requests, want both hops", n)
			}
		})
	}
}

// TestTransportSigV4NothingReachesOtherOrigin: neither a call to the other
// service nor a redirect to its origin carries a SigV4 header or any AWS
// value.
func TestTransportSigV4NothingReachesOtherOrigin(t *testing.T) {
	t.Parallel()
	s := newSigV4Setup(t)
	resp, _ := s.do(t, "POST", s.aws.URL+"/prod/away", `{"n":1}`, nil)
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get(RedirectHeader) != RedirectCrossOrigin {
		t.Errorf("redirect to the other origin: %d %q, want 307 handed back as %s", resp.StatusCode, resp.Header.Get(RedirectHeader), RedirectCrossOrigin)
	}
	s.do(t, "POST", s.other.URL+"/own", `{"n":2}`, http.Header{"X-Amz-Date": {"20000101T000000Z"}})
	reqs := s.other.received()
	if len(reqs) != 1 || reqs[0].URI != "/own" {
		t.Fatalf("the other origin got %d requests (%v), want its own call only", len(reqs), reqs)
	}
	dump := reqs[0].dump()
	for _, v := range []string{awsID, awsSecret, awsToken, "AWS4-HMAC-SHA256", "X-Amz-"} {
		if strings.Contains(dump, v) {
			t.Errorf("the other origin got %.12q...:\n%s", v, dump)
		}
	}
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer "+keyB {
		t.Errorf("the other origin got Authorization %q, want its own bearer key", got)
	}
}

// TestLoadSigV4RegistersSecrets: the key ID, the secret access key and the
// session token are all redacted.
func TestLoadSigV4RegistersSecrets(t *testing.T) {
	t.Parallel()
	s := newSigV4Setup(t)
	for name, v := range map[string]string{"AWS_ACCESS_KEY_ID": awsID, "AWS_SECRET_ACCESS_KEY": awsSecret, "AWS_SESSION_TOKEN": awsToken} {
		got := string(s.set.Redactor().Redact([]byte("x " + v + " y")))
		if want := "x [REDACTED:" + name + "] y"; got != want {
			t.Errorf("Redact(%s) = %q, want %q", name, got, want)
		}
	}
}

// TestSecretVarsSigV4: the AWS variables, and their _FILE forms, are
// scrubbed from the process's initial environment like any key, the
// session token and the key ID included.
func TestSecretVarsSigV4(t *testing.T) {
	t.Parallel()
	cfg := loadTransportConfig(t, `services:
  aws:
    base_url: https://abc.execute-api.us-east-1.amazonaws.com/prod
    auth: { type: aws_sigv4, region: us-east-1, service: execute-api, session_token_env: MY_AWS_TOKEN }
`)
	got := SecretVars(cfg)
	for _, want := range []string{"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY_ID_FILE", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY_FILE", "MY_AWS_TOKEN", "MY_AWS_TOKEN_FILE"} {
		if !slices.Contains(got, want) {
			t.Errorf("SecretVars = %q, want it to hold %s", got, want)
		}
	}
}
