package scheme

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keyveil/keyveil/internal/authtest"
)

// Fake AWS credentials; LEAKCHECK marks them for leak checks.
const (
	testAWSKeyID  = "AKIATESTLEAKCHECK777"
	testAWSSecret = "aws-secret-LEAKCHECK/q8Zp2Wm+Rt5Yx9Kc3Vb7"
	testAWSToken  = "aws-session-LEAKCHECK//////////wQ8x7Zk2p+Rm4Tn1Yc6Vb0Hs5Jd3Lf9Ga"
)

// mapValues are the loaded variables Prepare gets.
type mapValues map[string]string

func (m mapValues) Get(name string) (string, bool) {
	v, ok := m[name]
	return v, ok
}

func TestAWSSigV4Validate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		in        Settings
		wantField string
		wantErr   string // substring; "" for none
		want      Settings
	}{
		{
			name: "defaults filled",
			in:   Settings{Type: "aws_sigv4", Region: "us-east-1", Service: "execute-api"},
			want: Settings{Type: "aws_sigv4", Region: "us-east-1", Service: "execute-api",
				AccessKeyIDEnv: "AWS_ACCESS_KEY_ID", SecretAccessKeyEnv: "AWS_SECRET_ACCESS_KEY", SessionTokenEnv: "AWS_SESSION_TOKEN"},
		},
		{
			name: "own variables kept",
			in: Settings{Type: "aws_sigv4", Region: "eu-west-1", Service: "s3",
				AccessKeyIDEnv: "PROD_AWS_ID", SecretAccessKeyEnv: "PROD_AWS_SECRET"},
			want: Settings{Type: "aws_sigv4", Region: "eu-west-1", Service: "s3",
				AccessKeyIDEnv: "PROD_AWS_ID", SecretAccessKeyEnv: "PROD_AWS_SECRET", SessionTokenEnv: "AWS_SESSION_TOKEN"},
		},
		{name: "no region", in: Settings{Service: "execute-api"}, wantField: "region", wantErr: "needs region"},
		{name: "region with a slash", in: Settings{Region: "us-east-1/x", Service: "execute-api"}, wantField: "region", wantErr: "lower-case letters"},
		{name: "region upper-case", in: Settings{Region: "US-EAST-1", Service: "execute-api"}, wantField: "region", wantErr: "lower-case letters"},
		{name: "no service", in: Settings{Region: "us-east-1"}, wantField: "service", wantErr: "needs service"},
		{name: "service with a space", in: Settings{Region: "us-east-1", Service: "execute api"}, wantField: "service", wantErr: "signing name"},
		{name: "env not used", in: Settings{Region: "us-east-1", Service: "s3", Env: "AWS_SECRET_ACCESS_KEY"}, wantField: "env", wantErr: "secret_access_key_env"},
		{name: "name not used", in: Settings{Region: "us-east-1", Service: "s3", Name: "X-Key"}, wantField: "name", wantErr: "aws_sigv4 takes no name"},
		{name: "token_url not used", in: Settings{Region: "us-east-1", Service: "s3", TokenURL: "https://t"}, wantField: "token_url", wantErr: "takes no token_url"},
		{name: "scopes not used", in: Settings{Region: "us-east-1", Service: "s3", Scopes: []string{"a"}}, wantField: "scopes", wantErr: "takes no scopes"},
		{name: "bad variable name", in: Settings{Region: "us-east-1", Service: "s3", SecretAccessKeyEnv: "wJalr/K7MDENG+bPxRfi"}, wantField: "secret_access_key_env", wantErr: "looks like a secret"},
		{name: "variable name with a dash", in: Settings{Region: "us-east-1", Service: "s3", SessionTokenEnv: "AWS-TOKEN"}, wantField: "session_token_env", wantErr: "environment variable name"},
		{name: "one variable twice", in: Settings{Region: "us-east-1", Service: "s3", AccessKeyIDEnv: "AWS_SECRET_ACCESS_KEY"}, wantField: "secret_access_key_env", wantErr: "three different"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := tc.in
			s.Type = "aws_sigv4"
			field, err := awsSigV4{}.Validate(&s)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%+v) = %q, %v, want nil", tc.in, field, err)
				}
				if diff := cmp.Diff(tc.want, s); diff != "" {
					t.Errorf("Validate(%+v) settings (-want +got):\n%s", tc.in, diff)
				}
				return
			}
			if err == nil || field != tc.wantField || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Validate(%+v) = %q, %v, want %q and an error containing %q", tc.in, field, err, tc.wantField, tc.wantErr)
			}
			// A misplaced value may be the key itself: never quoted.
			for _, v := range []string{tc.in.Region, tc.in.Service, tc.in.Env, tc.in.SecretAccessKeyEnv, tc.in.TokenURL} {
				if len(v) > 3 && strings.Contains(err.Error(), v) && v != "us-east-1" && v != "execute-api" && v != "AWS_SECRET_ACCESS_KEY" {
					t.Errorf("Validate(%+v) error %q quotes the value %q", tc.in, err, v)
				}
			}
		})
	}
}

// TestAWSSigV4Registered: the table has aws_sigv4, and it signs, so
// config puts it last and the Transport attaches it after every other
// part.
func TestAWSSigV4Registered(t *testing.T) {
	t.Parallel()
	sc, ok := Lookup("aws_sigv4")
	if !ok {
		t.Fatal(`Lookup("aws_sigv4"): not registered`)
	}
	if !Signs(sc) {
		t.Error("Signs(aws_sigv4) = false, want true")
	}
}

func TestAWSSigV4VarsCarriersDescribe(t *testing.T) {
	t.Parallel()
	s := Settings{Type: "aws_sigv4", Region: "us-east-1", Service: "execute-api"}
	if _, err := (awsSigV4{}).Validate(&s); err != nil {
		t.Fatal(err)
	}
	wantVars := []Var{
		{Name: "AWS_ACCESS_KEY_ID", Secret: true, Role: "AWS access key ID"},
		{Name: "AWS_SECRET_ACCESS_KEY", Secret: true, Role: "AWS secret access key"},
		{Name: "AWS_SESSION_TOKEN", Secret: true, Optional: true, Role: "AWS session token"},
	}
	if diff := cmp.Diff(wantVars, awsSigV4{}.Vars(&s)); diff != "" {
		t.Errorf("Vars (-want +got):\n%s", diff)
	}
	wantCarriers := Carriers{Headers: []string{"Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256"}}
	if diff := cmp.Diff(wantCarriers, awsSigV4{}.Carriers(&s)); diff != "" {
		t.Errorf("Carriers (-want +got):\n%s", diff)
	}
	if got, want := (awsSigV4{}).Describe(&s), "aws_sigv4:execute-api/us-east-1"; got != want {
		t.Errorf("Describe = %q, want %q", got, want)
	}
	if got := (awsSigV4{}).SendsTo(&s); got != "" {
		t.Errorf("SendsTo = %q, want \"\"", got)
	}
}

// prepareSigV4 returns a signing part for the settings, with the fake
// credentials and clock.
func prepareSigV4(t testing.TB, s Settings, token string, now func() time.Time) Part {
	t.Helper()
	if _, err := (awsSigV4{}).Validate(&s); err != nil {
		t.Fatal(err)
	}
	vals := mapValues{s.AccessKeyIDEnv: testAWSKeyID, s.SecretAccessKeyEnv: testAWSSecret}
	if token != "" {
		vals[s.SessionTokenEnv] = token
	}
	p, warnings, err := awsSigV4{}.Prepare(&s, vals, Runtime{Service: "aws", Now: now})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Prepare = %v, %q", err, warnings)
	}
	if _, ok := p.(Signer); !ok {
		t.Fatalf("Prepare returned %T, not a Signer", p)
	}
	return p
}

// attaching is the smallest Transport: clone, attach, send. It stands in
// for credentials.Transport, which the transport tests there exercise.
type attaching struct {
	part Part
	base http.RoundTripper
	// tamper, when set, runs on the signed clone before it is sent.
	tamper func(*http.Request)
}

func (a attaching) RoundTrip(req *http.Request) (*http.Response, error) {
	out := req.Clone(req.Context())
	if err := a.part.Attach(out); err != nil {
		if req.Body != nil {
			_ = req.Body.Close()
		}
		return nil, err
	}
	if a.tamper != nil {
		a.tamper(out)
	}
	return a.base.RoundTrip(out)
}

// verifier starts a SigV4 verifier for the fake credentials.
func verifier(t *testing.T, service, token string) (*authtest.SigV4, *httptest.Server) {
	t.Helper()
	v := &authtest.SigV4{Region: "us-east-1", Service: service, Keys: map[string]authtest.SigV4Key{
		testAWSKeyID: {Secret: testAWSSecret, Token: token},
	}}
	srv := httptest.NewServer(v)
	t.Cleanup(srv.Close)
	return v, srv
}

func clientFor(t *testing.T, a attaching) *http.Client {
	t.Helper()
	base := &http.Transport{}
	t.Cleanup(base.CloseIdleConnections)
	a.base = base
	return &http.Client{Transport: a}
}

// TestAWSSigV4AttachVerified signs requests with the SDK's signer and has
// the hand-written verifier, checked against AWS's vectors, accept them.
func TestAWSSigV4AttachVerified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		service string
		token   string
		method  string
		path    string
		header  http.Header
		body    io.Reader
		// noGetBody: the body can be read once only.
		noGetBody bool
	}{
		{name: "GET with query", service: "execute-api", method: "GET", path: "/prod/items?b=2&a=1&q=a+b%2Fc&empty="},
		{name: "POST JSON body", service: "execute-api", method: "POST", path: "/prod/items",
			header: http.Header{"Content-Type": {"application/json"}}, body: strings.NewReader(`{"name":"widget","n":3}`)},
		{name: "body without GetBody", service: "execute-api", method: "PUT", path: "/prod/items/1",
			body: io.MultiReader(strings.NewReader(`{"a":`), strings.NewReader(`1}`)), noGetBody: true},
		{name: "session token", service: "execute-api", token: testAWSToken, method: "GET", path: "/prod/me"},
		{name: "escaped path, twice for execute-api", service: "execute-api", method: "GET", path: "/prod/a%20b/c%2Fd"},
		{name: "escaped path, once for s3", service: "s3", method: "GET", path: "/bucket/my%20key"},
		{name: "static and model headers signed", service: "execute-api", method: "GET", path: "/prod",
			header: http.Header{"Accept": {"application/json"}, "X-Amz-Target": {"Svc.Op"}, "X-Trace": {" a   b "}}},
		{name: "DynamoDB-style call", service: "dynamodb", method: "POST", path: "/",
			header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amz-Target": {"DynamoDB_20120810.ListTables"}},
			body:   strings.NewReader(`{"Limit":1}`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, srv := verifier(t, tc.service, tc.token)
			p := prepareSigV4(t, Settings{Region: "us-east-1", Service: tc.service}, tc.token, nil)
			c := clientFor(t, attaching{part: p})
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.noGetBody {
				req.GetBody = nil
			}
			for k, vs := range tc.header {
				req.Header[k] = vs
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			got, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s %s: %d %s, want 200 (refused: %q)", tc.method, tc.path, resp.StatusCode, got, v.Refused())
			}
			if v.Accepted() != 1 {
				t.Errorf("verifier accepted %d requests, want 1", v.Accepted())
			}
			if req.Header.Get("Authorization") != "" || req.Header.Get("X-Amz-Date") != "" {
				t.Errorf("Attach changed the caller's request: %v", req.Header)
			}
		})
	}
}

// TestAWSSigV4Refused: the verifier refuses what the signature does not
// cover, so the accepted cases above mean something.
func TestAWSSigV4Refused(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tamper func(*http.Request)
		now    func() time.Time
		want   string
	}{
		{name: "body tampered after signing", tamper: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
		}, want: "XAmzContentSHA256Mismatch"},
		{name: "body and hash tampered after signing", tamper: func(r *http.Request) {
			r.Body = io.NopCloser(strings.NewReader(`{"amount":9}`))
			sum := sha256.Sum256([]byte(`{"amount":9}`))
			r.Header.Set("X-Amz-Content-Sha256", hex.EncodeToString(sum[:]))
		}, want: "SignatureDoesNotMatch"},
		{name: "header added after signing", tamper: func(r *http.Request) {
			r.Header.Set("X-Late", "1")
		}, want: "not signed"},
		{name: "signed header changed after signing", tamper: func(r *http.Request) {
			r.Header.Set("Content-Type", "text/plain")
		}, want: "SignatureDoesNotMatch"},
		{name: "clock 20 minutes slow", now: func() time.Time { return time.Now().Add(-20 * time.Minute) }, want: "RequestTimeTooSkewed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v, srv := verifier(t, "execute-api", "")
			p := prepareSigV4(t, Settings{Region: "us-east-1", Service: "execute-api"}, "", tc.now)
			c := clientFor(t, attaching{part: p, tamper: tc.tamper})
			t.Cleanup(func() {
				if n := v.Accepted(); n != 0 {
					t.Errorf("verifier accepted %d requests, want 0", n)
				}
			})
			req, _ := http.NewRequest("POST", srv.URL+"/prod/pay", strings.NewReader(`{"amount":1}`))
			req.Header.Set("Content-Type", "application/json")
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("Do: %v", err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(body), tc.want) {
				t.Errorf("%s: %d %s, want 403 containing %q", tc.name, resp.StatusCode, body, tc.want)
			}
		})
	}
}

// TestAWSSigV4UsesRuntimeClock: X-Amz-Date comes from Runtime.Now.
func TestAWSSigV4UsesRuntimeClock(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 3, 4, 5, 6, 7, 0, time.FixedZone("x", 3600))
	p := prepareSigV4(t, Settings{Region: "us-east-1", Service: "execute-api"}, testAWSToken, func() time.Time { return at })
	out := httptestRequest(t, "GET", "https://abc.execute-api.us-east-1.amazonaws.com/prod", nil)
	if err := p.Attach(out); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"X-Amz-Date":           "20260304T040607Z",
		"X-Amz-Security-Token": testAWSToken,
		"X-Amz-Content-Sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	} {
		if got := out.Header.Get(k); got != want {
			t.Errorf("after Attach, %s = %q, want %q", k, got, want)
		}
	}
	auth := out.Header.Get("Authorization")
	wantPrefix := "AWS4-HMAC-SHA256 Credential=" + testAWSKeyID + "/20260304/us-east-1/execute-api/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature="
	if !strings.HasPrefix(auth, wantPrefix) {
		t.Errorf("Authorization = %q, want prefix %q", auth, wantPrefix)
	}
	if strings.Contains(auth, testAWSSecret) {
		t.Errorf("Authorization carries the secret access key")
	}
}

func httptestRequest(t *testing.T, method, url string, body io.Reader) *http.Request {
	t.Helper()
	r, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// countingBody counts Close calls and says when the first one came.
type countingBody struct {
	io.Reader
	closes atomic.Int32
	once   sync.Once
	closed chan struct{}
}

func newCountingBody(s string) *countingBody {
	return &countingBody{Reader: strings.NewReader(s), closed: make(chan struct{})}
}

func (b *countingBody) Close() error {
	b.closes.Add(1)
	b.once.Do(func() { close(b.closed) })
	return nil
}

// TestAWSSigV4BodyClosedOnce: the body Attach swaps in closes the
// caller's body, exactly once, whether or not there was a GetBody.
func TestAWSSigV4BodyClosedOnce(t *testing.T) {
	t.Parallel()
	for _, getBody := range []bool{false, true} {
		t.Run(fmt.Sprintf("GetBody %v", getBody), func(t *testing.T) {
			t.Parallel()
			_, srv := verifier(t, "execute-api", "")
			p := prepareSigV4(t, Settings{Region: "us-east-1", Service: "execute-api"}, "", nil)
			c := clientFor(t, attaching{part: p})
			body := newCountingBody(`{"x":1}`)
			req := httptestRequest(t, "POST", srv.URL+"/prod", body)
			req.ContentLength = 7
			if getBody {
				req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(`{"x":1}`)), nil }
			}
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status %d, want 200", resp.StatusCode)
			}
			// net/http may close a request body after RoundTrip has
			// returned (its write loop owns it): wait for the close.
			select {
			case <-body.closed:
			case <-time.After(10 * time.Second):
			}
			if n := body.closes.Load(); n != 1 {
				t.Errorf("caller's body closed %d times, want 1", n)
			}
		})
	}
}

// TestAWSSigV4BodyTooLarge: a body over the bound is refused, naming the
// service and not the body.
func TestAWSSigV4BodyTooLarge(t *testing.T) {
	t.Parallel()
	p := prepareSigV4(t, Settings{Region: "us-east-1", Service: "execute-api"}, "", nil)
	out := httptestRequest(t, "POST", "https://h.example/prod", bytes.NewReader(make([]byte, maxSignedBody+1)))
	err := p.Attach(out)
	if err == nil || !strings.Contains(err.Error(), `service "aws"`) || !strings.Contains(err.Error(), "too large") {
		t.Errorf("Attach(%d bytes) = %v, want a too-large error naming the service", maxSignedBody+1, err)
	}
}

// TestAWSSigV4PartPrintsNoKey: the part holds the keys in plain fields, so
// fmt and slog must see only its description.
func TestAWSSigV4PartPrintsNoKey(t *testing.T) {
	t.Parallel()
	p := prepareSigV4(t, Settings{Region: "us-east-1", Service: "execute-api"}, testAWSToken, nil)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("part", "p", p)
	for _, got := range []string{
		fmt.Sprint(p), fmt.Sprintf("%+v", p), fmt.Sprintf("%#v", p), fmt.Sprintf("%x", p), fmt.Sprintf("%q", p), logs.String(),
	} {
		if !strings.Contains(got, "aws_sigv4:execute-api/us-east-1") {
			t.Errorf("printed part %q, want its description", got)
		}
		for _, secret := range []string{testAWSSecret, testAWSToken, testAWSKeyID} {
			if strings.Contains(got, secret) {
				t.Errorf("printed part %q holds a key", got)
			}
		}
	}
}

// TestAWSSigV4PrepareWarnings: a temporary key ID without its session
// token is loaded with a warning that names the variables only.
func TestAWSSigV4PrepareWarnings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		id    string
		token string
		want  string
	}{
		{"temporary without token", "ASIATESTLEAKCHECK999", "", "AWS_SESSION_TOKEN is not set"},
		{"temporary with token", "ASIATESTLEAKCHECK999", testAWSToken, ""},
		{"long-term", testAWSKeyID, "", ""},
	} {
		s := Settings{Region: "us-east-1", Service: "execute-api"}
		if _, err := (awsSigV4{}).Validate(&s); err != nil {
			t.Fatal(err)
		}
		vals := mapValues{"AWS_ACCESS_KEY_ID": tc.id, "AWS_SECRET_ACCESS_KEY": testAWSSecret}
		if tc.token != "" {
			vals["AWS_SESSION_TOKEN"] = tc.token
		}
		_, warnings, err := awsSigV4{}.Prepare(&s, vals, Runtime{Service: "aws"})
		if err != nil {
			t.Fatalf("%s: Prepare: %v", tc.name, err)
		}
		got := strings.Join(warnings, "\n")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) || strings.Contains(got, tc.id) {
			t.Errorf("%s: Prepare warnings = %q, want one containing %q and not the key ID", tc.name, got, tc.want)
		}
	}
}

// FuzzAWSSigV4Verified signs requests with arbitrary paths, query
// parameters, a header value and a body, writes each to the wire and reads
// it back as a server would, and wants the verifier (checked against AWS's
// test vectors) to accept it: whatever a model sends, the signature must
// be one AWS accepts. Header values are kept to printable ASCII, where the
// specification's trimming rule is unambiguous.
func FuzzAWSSigV4Verified(f *testing.F) {
	f.Add(uint8(0), "items/1", "q", "a b", "v", []byte(nil))
	f.Add(uint8(1), "a b/c%2Fd/é/!$&'()*+,;=:@", "x y", "~-._*+/?&=", "  two   spaces  ", []byte(`{"n":1}`))
	f.Add(uint8(2), "", "", "", "", []byte{0, 1, 2, 0xff})
	f.Add(uint8(3), "..//./x", "a%20b", "%zz", "\"quoted\"   ", []byte("Param1=value1"))
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	v := &authtest.SigV4{Region: "us-east-1", Service: "execute-api",
		Keys: map[string]authtest.SigV4Key{testAWSKeyID: {Secret: testAWSSecret, Token: testAWSToken}},
		Now:  func() time.Time { return now }}
	p := prepareSigV4(f, Settings{Region: "us-east-1", Service: "execute-api"}, testAWSToken, func() time.Time { return now })
	f.Fuzz(func(t *testing.T, m uint8, path, key, val, header string, body []byte) {
		for _, c := range []byte(header) {
			if c < 0x20 || c > 0x7e {
				t.Skip("header value outside printable ASCII")
			}
		}
		method := []string{"GET", "POST", "PUT", "DELETE", "PATCH"}[int(m)%5]
		u := &url.URL{Scheme: "http", Host: "api.example:8080", Path: "/prod/" + path,
			RawQuery: url.Values{key: {val}, "fixed": {"1"}}.Encode()}
		out, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
		if err != nil {
			t.Skip("not a URL net/http sends")
		}
		out.Header.Set("X-Fuzz", header)
		if err := p.Attach(out); err != nil {
			t.Fatalf("Attach: %v", err)
		}
		var wire bytes.Buffer
		if err := out.Write(&wire); err != nil {
			t.Skip("not a request net/http writes")
		}
		in, err := http.ReadRequest(bufio.NewReader(&wire))
		if err != nil {
			t.Skip("not a request net/http reads")
		}
		got, err := io.ReadAll(in.Body)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Verify(in, got); err != nil {
			t.Errorf("%s %s with X-Fuzz %q: the verifier refused the signed request: %v", method, u, header, err)
		}
	})
}
