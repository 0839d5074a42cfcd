package authtest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The AWS Signature Version 4 test suite's credentials, scope and clock
// (aws-sig-v4-test-suite, also in awslabs/aws-c-auth's
// tests/aws-signing-test-suite/v4). They are AWS's published example values,
// nobody's key.
const (
	suiteID     = "AKIDEXAMPLE"
	suiteSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	suiteDate   = "20150830T123600Z"
	suiteScope  = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
)

var suiteNow = time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)

func suiteVerifier() *SigV4 {
	return &SigV4{
		Region:  "us-east-1",
		Service: "service",
		Keys:    map[string]SigV4Key{suiteID: {Secret: suiteSecret}},
		Now:     func() time.Time { return suiteNow },
	}
}

// vector is one request of the suite with the Authorization header the
// suite publishes for it (its .authz file).
type vector struct {
	name    string
	method  string
	target  string
	headers map[string]string
	body    string
	authz   string
}

var vectors = []vector{
	{
		name: "get-vanilla", method: "GET", target: "https://example.amazonaws.com/",
		authz: suiteScope + "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
	},
	{
		name: "get-vanilla-query-order-key-case", method: "GET", target: "https://example.amazonaws.com/?Param2=value2&Param1=value1",
		authz: suiteScope + "SignedHeaders=host;x-amz-date, Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
	},
	{
		name: "post-vanilla", method: "POST", target: "https://example.amazonaws.com/",
		authz: suiteScope + "SignedHeaders=host;x-amz-date, Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
	},
	{
		name: "post-x-www-form-urlencoded", method: "POST", target: "https://example.amazonaws.com/",
		headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"},
		body:    "Param1=value1",
		authz:   suiteScope + "SignedHeaders=content-type;host;x-amz-date, Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
	},
}

func (vc vector) request() *http.Request {
	r := httptest.NewRequest(vc.method, vc.target, strings.NewReader(vc.body))
	r.Header.Set("X-Amz-Date", suiteDate)
	for k, v := range vc.headers {
		r.Header.Set(k, v)
	}
	r.Header.Set("Authorization", vc.authz)
	return r
}

// TestSigV4AcceptsSuiteVectors checks the verifier against AWS's published
// signatures, so that it is not merely checking keyveil's signer against
// itself.
func TestSigV4AcceptsSuiteVectors(t *testing.T) {
	t.Parallel()
	for _, vc := range vectors {
		t.Run(vc.name, func(t *testing.T) {
			t.Parallel()
			if err := suiteVerifier().Verify(vc.request(), []byte(vc.body)); err != nil {
				t.Errorf("Verify(%s) = %v, want nil", vc.name, err)
			}
		})
	}
}

// TestSigV4RefusesTampered changes one thing at a time in a suite vector
// and wants each refused with the reason that names it.
func TestSigV4RefusesTampered(t *testing.T) {
	t.Parallel()
	form := vectors[3]
	for _, tc := range []struct {
		name   string
		change func(v *SigV4, r *http.Request) []byte
		want   string
	}{
		{"body changed", func(_ *SigV4, r *http.Request) []byte { return []byte("Param1=value2") }, "SignatureDoesNotMatch"},
		{"payload header not the body", func(_ *SigV4, r *http.Request) []byte {
			r.Header.Set("X-Amz-Content-Sha256", strings.Repeat("0", 64))
			return nil
		}, "X-Amz-Content-Sha256 does not match"},
		{"signed header changed", func(_ *SigV4, r *http.Request) []byte {
			r.Header.Set("Content-Type", "application/json")
			return nil
		}, "SignatureDoesNotMatch"},
		{"method changed", func(_ *SigV4, r *http.Request) []byte { r.Method = "PUT"; return nil }, "SignatureDoesNotMatch"},
		{"query added", func(_ *SigV4, r *http.Request) []byte {
			r.RequestURI += "?a=b"
			return nil
		}, "SignatureDoesNotMatch"},
		{"signature changed", func(_ *SigV4, r *http.Request) []byte {
			r.Header.Set("Authorization", strings.Replace(form.authz, "Signature=ff", "Signature=fe", 1))
			return nil
		}, "SignatureDoesNotMatch"},
		{"wrong secret", func(v *SigV4, _ *http.Request) []byte {
			v.Keys = map[string]SigV4Key{suiteID: {Secret: suiteSecret + "x"}}
			return nil
		}, "SignatureDoesNotMatch"},
		{"unknown key", func(v *SigV4, _ *http.Request) []byte {
			v.Keys = map[string]SigV4Key{"AKIDOTHER": {Secret: suiteSecret}}
			return nil
		}, "InvalidClientTokenId"},
		{"other region", func(v *SigV4, _ *http.Request) []byte { v.Region = "eu-west-1"; return nil }, "credential scope"},
		{"stale", func(v *SigV4, _ *http.Request) []byte {
			v.Now = func() time.Time { return suiteNow.Add(16 * time.Minute) }
			return nil
		}, "not fresh"},
		{"from the future", func(v *SigV4, _ *http.Request) []byte {
			v.Now = func() time.Time { return suiteNow.Add(-16 * time.Minute) }
			return nil
		}, "not fresh"},
		{"unsigned header", func(_ *SigV4, r *http.Request) []byte {
			r.Header.Set("X-Added-Later", "1")
			return nil
		}, "not signed"},
		{"token with a long-term key", func(_ *SigV4, r *http.Request) []byte {
			r.Header.Set("X-Amz-Security-Token", "tok")
			return nil
		}, "session token"},
		{"token missing", func(v *SigV4, _ *http.Request) []byte {
			v.Keys = map[string]SigV4Key{suiteID: {Secret: suiteSecret, Token: "session-token-1"}}
			return nil
		}, "X-Amz-Security-Token"},
		{"no authorization", func(_ *SigV4, r *http.Request) []byte { r.Header.Del("Authorization"); return nil }, "Authorization"},
		{"another algorithm", func(_ *SigV4, r *http.Request) []byte {
			r.Header.Set("Authorization", strings.Replace(form.authz, "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
			return nil
		}, "AWS4-HMAC-SHA256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := suiteVerifier()
			r := form.request()
			r.RequestURI = "/"
			body := tc.change(v, r)
			if body == nil {
				body = []byte(form.body)
			}
			err := v.Verify(r, body)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Verify(%s) = %v, want an error containing %q", tc.name, err, tc.want)
			}
		})
	}
}

// TestSigV4ServeHTTP checks the handler's answers: 403 with the reason,
// 200 for a good request, and the counts.
func TestSigV4ServeHTTP(t *testing.T) {
	t.Parallel()
	v := suiteVerifier()
	good := vectors[3].request()
	w := httptest.NewRecorder()
	v.ServeHTTP(w, good)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"verified":true`) {
		t.Errorf("ServeHTTP(good) = %d %s, want 200 verified", w.Code, w.Body)
	}
	bad := vectors[3].request()
	bad.Body = http.NoBody
	w = httptest.NewRecorder()
	v.ServeHTTP(w, bad)
	if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "SignatureDoesNotMatch") {
		t.Errorf("ServeHTTP(empty body) = %d %s, want 403 SignatureDoesNotMatch", w.Code, w.Body)
	}
	if got := v.Accepted(); got != 1 {
		t.Errorf("Accepted() = %d, want 1", got)
	}
	if got := v.Refused(); len(got) != 1 {
		t.Errorf("Refused() = %q, want one reason", got)
	}
}

func TestCanonicalQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, want string }{
		{"", ""},
		{"b=2&a=1&a=0", "a=0&a=1&b=2"},
		{"flag", "flag="},
		{"q=a%20b", "q=a%20b"},
		{"q=a+b", "q=a%20b"},
		{"p=a/b:c~", "p=a%2Fb%3Ac~"},
	} {
		got, err := canonicalQuery(tc.raw)
		if err != nil || got != tc.want {
			t.Errorf("canonicalQuery(%q) = %q, %v, want %q", tc.raw, got, err, tc.want)
		}
	}
}

func TestCanonicalPath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		raw   string
		again bool
		want  string
	}{
		{"", true, "/"},
		{"/", true, "/"},
		{"/a%20b/c", true, "/a%2520b/c"},
		{"/a%20b/c", false, "/a%20b/c"},
		{"/-._~", true, "/-._~"},
	} {
		if got := canonicalPath(tc.raw, tc.again); got != tc.want {
			t.Errorf("canonicalPath(%q, %v) = %q, want %q", tc.raw, tc.again, got, tc.want)
		}
	}
}
