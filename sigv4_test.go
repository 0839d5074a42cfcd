package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/keyveil/keyveil/internal/authtest"
)

// Fake AWS credentials of the subprocess tests. AWSLEAK marks them (not
// LEAKCHECK, which the other service's bearer key carries).
const (
	awsKeyID  = "AKIASUBPAWSLEAK12345"
	awsSecret = "subSecretAWSLEAK/7fK2mQ9xR4tW1zP8vB5nHj0"
	awsToken  = "subSessionAWSLEAK-/////////wEaCXVzLWVhc3QtMSJHMEUCIQDx7Zk2pRm4Tn1Yc6Vb0Hs5Jd3Lf9Ga+q8"
)

// recorder is a second origin: a service of its own (bearer), recording
// every header that reaches it.
type recorder struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []http.Header
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h := r.Header.Clone()
		h.Set("X-Test-Path", r.URL.RequestURI())
		h.Set("X-Test-Body", string(body))
		rec.mu.Lock()
		rec.got = append(rec.got, h)
		rec.mu.Unlock()
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) requests() []http.Header {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]http.Header(nil), rec.got...)
}

// TestSubprocessSigV4 runs keyveil over real pipes with a signed service
// in front of a verifier that checks every signature as AWS does, and a
// second service on another origin. It checks that calls are accepted, a
// same-origin redirect hop (307, body re-sent) is signed anew and
// accepted, a redirect to the other origin is not followed, nothing of the
// AWS credential (headers or values) reaches the other service, and none
// of the three values appears on stdout, stderr or in the audit file,
// although the verified API echoes every header it got.
func TestSubprocessSigV4(t *testing.T) {
	t.Parallel()
	other := newRecorder(t)
	var mu sync.Mutex
	var paths []string // paths of verified requests
	v := &authtest.SigV4{
		Region:  "eu-west-1",
		Service: "execute-api",
		Keys:    map[string]authtest.SigV4Key{awsKeyID: {Secret: awsSecret, Token: awsToken}},
	}
	v.Next = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.Path)
		mu.Unlock()
		switch r.URL.Path {
		case "/prod/hop":
			http.Redirect(w, r, "/prod/landing", http.StatusTemporaryRedirect)
		case "/prod/away":
			http.Redirect(w, r, other.srv.URL+"/steal", http.StatusTemporaryRedirect)
		default:
			// A careless API: everything it received, back.
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("X-Debug-Token", r.Header.Get("X-Amz-Security-Token"))
			_ = json.NewEncoder(w).Encode(map[string]any{"path": r.URL.Path, "headers": r.Header, "body": string(body)})
		}
	})
	aws := httptest.NewServer(v)
	t.Cleanup(aws.Close)

	dir := t.TempDir()
	cfg := filepath.Join(dir, "services.yaml")
	if err := os.WriteFile(cfg, []byte(`services:
  aws:
    base_url: `+aws.URL+`/prod
    auth: { type: aws_sigv4, region: eu-west-1, service: execute-api }
    allow: ["GET /**", "POST /**"]
    headers: { Accept: application/json }
  other:
    base_url: `+other.srv.URL+`
    auth: { type: bearer, env: OTHER_KEY }
    allow: ["GET /**", "POST /**"]
`), 0o600); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, "audit.jsonl")
	s := startRaw(t, []string{
		"KEYVEIL_CONFIG=" + cfg,
		"AWS_ACCESS_KEY_ID=" + awsKeyID,
		"AWS_SECRET_ACCESS_KEY=" + awsSecret,
		"AWS_SESSION_TOKEN=" + awsToken,
		"OTHER_KEY=" + fakeKey,
	}, "serve", "--audit-log", audit, "--log-level", "debug")
	s.initialize()

	for i, tc := range []struct {
		args map[string]any
		want string // in the result
	}{
		{map[string]any{"service": "aws", "method": "GET", "path": "/echo", "query": map[string]any{"b": "2", "a": "x y/z"}}, `"status":200`},
		{map[string]any{"service": "aws", "method": "POST", "path": "/echo", "body": map[string]any{"n": 1}}, `"status":200`},
		{map[string]any{"service": "aws", "method": "POST", "path": "/hop", "body": map[string]any{"n": 2}}, `n\":2`},
		{map[string]any{"service": "aws", "method": "GET", "path": "/away"}, "cross-origin"},
		{map[string]any{"service": "other", "method": "POST", "path": "/other", "body": map[string]any{"n": 3}}, `"status":200`},
	} {
		res := s.call(10+i, "tools/call", map[string]any{"name": "call_api", "arguments": tc.args})
		b, _ := json.Marshal(res)
		if !strings.Contains(string(b), tc.want) {
			t.Errorf("call_api %v = %s, want %q", tc.args, b, tc.want)
		}
		if tc.args["path"] == "/echo" && !strings.Contains(string(b), "[REDACTED:AWS_SESSION_TOKEN]") {
			t.Errorf("call_api %v = %s: the echoed session token is not shown redacted", tc.args, b)
		}
	}
	if err := s.finish(); err != nil {
		t.Errorf("keyveil exited with %v; stderr:\n%s", err, s.stderrText())
	}

	mu.Lock()
	got := strings.Join(paths, ", ")
	mu.Unlock()
	if want := "GET /prod/echo, POST /prod/echo, POST /prod/hop, POST /prod/landing, GET /prod/away"; got != want {
		t.Errorf("verified requests: %s\nwant: %s (refused: %q)", got, want, v.Refused())
	}
	if r := v.Refused(); len(r) != 0 {
		t.Errorf("the verifier refused %d requests: %q", len(r), r)
	}
	reqs := other.requests()
	if len(reqs) != 1 {
		t.Errorf("the other origin got %d requests, want 1 (its own call)", len(reqs))
	}
	for _, h := range reqs {
		if h.Get("X-Test-Path") != "/other" {
			t.Errorf("the other origin got a request for %s", h.Get("X-Test-Path"))
		}
		if got := h.Get("Authorization"); got != "Bearer "+fakeKey {
			t.Errorf("the other origin got Authorization %q, want its own bearer key", got)
		}
		for k := range h {
			if strings.HasPrefix(strings.ToLower(k), "x-amz-") {
				t.Errorf("the other origin got header %s", k)
			}
		}
		var all bytes.Buffer
		_ = h.Write(&all)
		assertNoKeys(t, "the other origin's request", all.Bytes(), "awsleak", awsKeyID, awsSecret, awsToken)
	}

	s.mu.Lock()
	stdout, stderr := bytes.Clone(s.stdout.Bytes()), bytes.Clone(s.stderr.Bytes())
	s.mu.Unlock()
	assertNoKeys(t, "stdout", stdout, "awsleak", awsKeyID, awsSecret, awsToken)
	assertNoKeys(t, "stderr", stderr, "awsleak", awsKeyID, awsSecret, awsToken)
	auditBytes, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	assertNoKeys(t, "audit log", auditBytes, "awsleak", awsKeyID, awsSecret, awsToken)
}

// TestExampleAWSAPIGateway: the example passes keyveil check with its
// fake values, shows the scheme, and prints none of the values.
func TestExampleAWSAPIGateway(t *testing.T) {
	t.Parallel()
	cmd := exec.Command(binPath, "check",
		"--config", "examples/aws-api-gateway/services.yaml",
		"--env-file", "examples/aws-api-gateway/.env.example")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("keyveil check on the example: %v\n%s", err, out)
	}
	if !bytes.Contains(out, []byte("aws_sigv4:execute-api/us-east-1")) {
		t.Errorf("keyveil check does not show the scheme:\n%s", out)
	}
	env, err := os.ReadFile("examples/aws-api-gateway/.env.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		if k, val, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") && val != "" {
			if bytes.Contains(out, []byte(val)) {
				t.Errorf("keyveil check prints the value of %s", k)
			}
		}
	}
}

// TestCheckPingSigV4: check --ping against a verifier accepts the signed
// request, and when the services file names another region or signing
// name than the API's, the 403 is explained as that likelier mistake
// rather than as a rejected key. Nothing printed holds an AWS value.
func TestCheckPingSigV4(t *testing.T) {
	t.Parallel()
	v := &authtest.SigV4{
		Region:  "eu-west-1",
		Service: "execute-api",
		Keys:    map[string]authtest.SigV4Key{awsKeyID: {Secret: awsSecret, Token: awsToken}},
	}
	api := httptest.NewServer(v)
	t.Cleanup(api.Close)
	env := []string{"AWS_ACCESS_KEY_ID=" + awsKeyID, "AWS_SECRET_ACCESS_KEY=" + awsSecret, "AWS_SESSION_TOKEN=" + awsToken}
	for _, tc := range []struct {
		name, region, service string
		wantCode              int
		want                  string
	}{
		{"right scope", "eu-west-1", "execute-api", 0, "ok: HTTP 200"},
		{"wrong region", "us-east-1", "execute-api", 1, "FAILED: HTTP 403"},
		{"wrong signing name", "eu-west-1", "apigateway", 1, "FAILED: HTTP 403"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "services.yaml")
			yaml := "services:\n  orders:\n    base_url: " + api.URL + "\n    auth: {type: aws_sigv4, region: " + tc.region + ", service: " + tc.service + "}\n"
			if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out := runCheck(t, env, "--ping", "--config", cfg)
			if code != tc.wantCode || !strings.Contains(out, tc.want) {
				t.Fatalf("keyveil check --ping exited %d, want %d and %q in:\n%s", code, tc.wantCode, tc.want, out)
			}
			if tc.wantCode != 0 && (!strings.Contains(out, "region and service") || strings.Contains(out, "rejected the key")) {
				t.Errorf("a refused signature is not explained by its region and signing name:\n%s", out)
			}
			for _, s := range []string{awsKeyID, awsSecret, awsToken, "AWSLEAK"} {
				if strings.Contains(out, s) {
					t.Errorf("keyveil check --ping printed an AWS value (%.12q...):\n%s", s, out)
				}
			}
		})
	}
}
