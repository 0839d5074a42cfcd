// The SigV4 verifier is written from the published specification,
// independently of the AWS SDK signer keyveil uses, and is itself checked
// against AWS's own test vectors (sigv4_test.go), so that a test passing
// means keyveil's signatures agree with AWS, not merely with themselves.

package authtest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SigV4Key is one AWS credential a [SigV4] verifier accepts.
type SigV4Key struct {
	// Secret is the secret access key.
	Secret string
	// Token is the session token a temporary key must come with; "" for
	// a long-term key, which must come without one.
	Token string
}

// SigV4 is an http.Handler that verifies AWS Signature Version 4
// (header form, AWS4-HMAC-SHA256) the way an AWS service does: it rebuilds
// the canonical request from what arrived (method, the path escaped once
// more except for s3, the sorted query, the signed headers, the SHA-256 of
// the body it read), derives the signing key from the secret it holds,
// and compares signatures. A request that fails any check gets 403 with a
// JSON {"message": reason}; one that passes goes to Next.
//
// It is stricter than AWS where keyveil's promise is at stake: every
// header the client set must be signed (so a header added after signing
// is caught), except the few that net/http adds itself or that AWS leaves
// out of signing (User-Agent, Accept-Encoding, Content-Length, Connection,
// Expect, Transfer-Encoding, X-Amzn-Trace-Id).
//
// A refusal for a wrong signature quotes the canonical request it
// expected, as AWS's SignatureDoesNotMatch does, session token included:
// a test can then check that keyveil redacts what a real service echoes.
//
// The exported fields must not change once it serves. It is safe for
// concurrent use.
type SigV4 struct {
	// Region and Service are the scope a signature must be for.
	Region, Service string
	// Keys maps access key IDs to their secret and session token.
	Keys map[string]SigV4Key
	// Now is the verifier's clock; nil means time.Now.
	Now func() time.Time
	// Skew is how far X-Amz-Date may be from Now; 0 means 15 minutes, as
	// AWS allows.
	Skew time.Duration
	// Next serves a verified request, with its body readable again;
	// nil answers 200 with {"verified": true, "method": ..., "path": ...}.
	Next http.Handler

	mu       sync.Mutex
	accepted int
	refused  []string
}

// maxBody bounds what the verifier reads of a body.
const maxBody = 16 << 20

// ServeHTTP verifies r and passes it to Next, or refuses it with 403.
func (v *SigV4) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		v.refuse(w, "the body could not be read")
		return
	}
	if err := v.Verify(r, body); err != nil {
		v.refuse(w, err.Error())
		return
	}
	v.mu.Lock()
	v.accepted++
	v.mu.Unlock()
	r.Body = io.NopCloser(bytes.NewReader(body))
	if v.Next != nil {
		v.Next.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"verified": true, "method": r.Method, "path": r.URL.EscapedPath()})
}

func (v *SigV4) refuse(w http.ResponseWriter, why string) {
	v.mu.Lock()
	v.refused = append(v.refused, why)
	v.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusForbidden)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": why})
}

// Accepted returns how many requests passed.
func (v *SigV4) Accepted() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.accepted
}

// Refused returns the reasons of every refusal so far, oldest first.
func (v *SigV4) Refused() []string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return slices.Clone(v.refused)
}

// unsignedOK are the headers a request may carry unsigned: net/http adds
// them on the wire itself, or AWS's signers never sign them.
var unsignedOK = []string{
	"authorization", "user-agent", "accept-encoding", "content-length",
	"connection", "expect", "transfer-encoding", "x-amzn-trace-id",
}

// Verify checks r's signature, with body the bytes r carried. The error
// says which check failed.
func (v *SigV4) Verify(r *http.Request, body []byte) error {
	auth := r.Header.Values("Authorization")
	if len(auth) != 1 {
		return errors.New("want exactly one Authorization header")
	}
	algo, rest, _ := strings.Cut(auth[0], " ")
	if algo != "AWS4-HMAC-SHA256" {
		return errors.New("the Authorization header is not AWS4-HMAC-SHA256")
	}
	fields := map[string]string{}
	for _, f := range strings.Split(rest, ",") {
		k, val, ok := strings.Cut(strings.TrimSpace(f), "=")
		if !ok {
			return errors.New("the Authorization header has a component without '='")
		}
		if _, dup := fields[k]; dup {
			return fmt.Errorf("the Authorization header has %s twice", k)
		}
		fields[k] = val
	}
	scope := strings.Split(fields["Credential"], "/")
	if len(fields) != 3 || len(scope) != 5 || fields["SignedHeaders"] == "" || fields["Signature"] == "" {
		return errors.New("the Authorization header wants Credential=ID/DATE/REGION/SERVICE/aws4_request, SignedHeaders= and Signature=")
	}
	id, day, region, service, term := scope[0], scope[1], scope[2], scope[3], scope[4]
	key, ok := v.Keys[id]
	if !ok {
		return errors.New("the access key ID is not known (InvalidClientTokenId)")
	}
	if region != v.Region || service != v.Service || term != "aws4_request" {
		return fmt.Errorf("the credential scope is for %s/%s, want %s/%s", region, service, v.Region, v.Service)
	}

	dates := r.Header.Values("X-Amz-Date")
	if len(dates) != 1 {
		return errors.New("want exactly one X-Amz-Date header")
	}
	at, err := time.Parse("20060102T150405Z", dates[0])
	if err != nil {
		return errors.New("X-Amz-Date is not YYYYMMDDTHHMMSSZ")
	}
	if day != dates[0][:8] {
		return errors.New("the credential scope's date is not X-Amz-Date's")
	}
	now, skew := time.Now(), v.Skew
	if v.Now != nil {
		now = v.Now()
	}
	if skew == 0 {
		skew = 15 * time.Minute
	}
	if d := now.Sub(at); d > skew || d < -skew {
		return fmt.Errorf("the signature is not fresh: X-Amz-Date is %s from the server's clock (RequestTimeTooSkewed)", d.Round(time.Second))
	}

	signed := strings.Split(fields["SignedHeaders"], ";")
	if !slices.IsSorted(signed) || len(slices.Compact(slices.Clone(signed))) != len(signed) {
		return errors.New("SignedHeaders is not sorted and unique")
	}
	for _, h := range signed {
		if h != strings.ToLower(h) || h == "" {
			return errors.New("SignedHeaders must be lower-case names")
		}
	}
	for _, h := range []string{"host", "x-amz-date"} {
		if !slices.Contains(signed, h) {
			return fmt.Errorf("%s is not signed", h)
		}
	}

	tokens := r.Header.Values("X-Amz-Security-Token")
	switch {
	case key.Token == "" && len(tokens) > 0:
		return errors.New("a session token came with a long-term key")
	case key.Token != "" && len(tokens) != 1:
		return errors.New("the key is temporary and wants exactly one X-Amz-Security-Token (InvalidClientTokenId)")
	case key.Token != "" && subtle.ConstantTimeCompare([]byte(tokens[0]), []byte(key.Token)) != 1:
		return errors.New("the session token is not this key's (InvalidClientTokenId)")
	}

	sum := sha256.Sum256(body)
	payload := hex.EncodeToString(sum[:])
	if got := r.Header.Values("X-Amz-Content-Sha256"); len(got) > 0 {
		if len(got) != 1 || got[0] != payload {
			return errors.New("X-Amz-Content-Sha256 does not match the body (XAmzContentSHA256Mismatch)")
		}
	}

	for k := range r.Header {
		lk := strings.ToLower(k)
		if !slices.Contains(signed, lk) && !slices.Contains(unsignedOK, lk) {
			return fmt.Errorf("header %s was sent but not signed", lk)
		}
	}

	var canon strings.Builder
	canon.WriteString(r.Method + "\n")
	canon.WriteString(canonicalPath(requestPath(r), v.Service != "s3") + "\n")
	q, err := canonicalQuery(rawQuery(r))
	if err != nil {
		return err
	}
	canon.WriteString(q + "\n")
	for _, h := range signed {
		var vals []string
		switch h {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = r.Header.Values("Content-Length")
			if len(vals) == 0 {
				vals = []string{strconv.FormatInt(int64(len(body)), 10)}
			}
		default:
			vals = slices.Clone(r.Header.Values(h))
		}
		if len(vals) == 0 {
			return fmt.Errorf("signed header %s was not sent", h)
		}
		for i, x := range vals {
			vals[i] = trimAll(x)
		}
		canon.WriteString(h + ":" + strings.Join(vals, ",") + "\n")
	}
	canon.WriteString("\n" + fields["SignedHeaders"] + "\n" + payload)

	creq := sha256.Sum256([]byte(canon.String()))
	toSign := "AWS4-HMAC-SHA256\n" + dates[0] + "\n" + day + "/" + region + "/" + service + "/aws4_request\n" + hex.EncodeToString(creq[:])
	k := mac([]byte("AWS4"+key.Secret), day)
	k = mac(k, region)
	k = mac(k, service)
	k = mac(k, "aws4_request")
	want := hex.EncodeToString(mac(k, toSign))
	if !hmac.Equal([]byte(want), []byte(fields["Signature"])) {
		return fmt.Errorf("the request signature we calculated does not match the signature you provided (SignatureDoesNotMatch); the canonical request was:\n%s", canon.String())
	}
	return nil
}

// trimAll is the specification's Trimall: leading and trailing spaces and
// tabs removed, each run of spaces inside made one.
func trimAll(v string) string {
	v = strings.Trim(v, " \t")
	for strings.Contains(v, "  ") {
		v = strings.ReplaceAll(v, "  ", " ")
	}
	return v
}

func mac(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// requestPath is the path as it came on the wire, still escaped.
func requestPath(r *http.Request) string {
	if r.RequestURI != "" && r.RequestURI != "*" && !strings.Contains(r.RequestURI, "://") {
		p, _, _ := strings.Cut(r.RequestURI, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// rawQuery is the query as it came on the wire.
func rawQuery(r *http.Request) string {
	if r.RequestURI != "" {
		_, q, _ := strings.Cut(r.RequestURI, "?")
		return q
	}
	return r.URL.RawQuery
}

// canonicalPath escapes the wire path once more (every service but s3
// signs it escaped twice), keeping '/'.
func canonicalPath(p string, again bool) string {
	if p == "" {
		return "/"
	}
	if !again {
		return p
	}
	return uriEncode(p, false)
}

// canonicalQuery decodes each name and value, encodes them as SigV4 does
// (RFC 3986 unreserved kept, everything else %XX upper-case), and sorts
// by name, then value.
func canonicalQuery(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	var pairs []string
	for _, p := range strings.Split(raw, "&") {
		if p == "" {
			continue
		}
		k, val, _ := strings.Cut(p, "=")
		dk, err1 := url.QueryUnescape(k)
		dv, err2 := url.QueryUnescape(val)
		if err1 != nil || err2 != nil {
			return "", errors.New("the query has a bad escape")
		}
		pairs = append(pairs, uriEncode(dk, true)+"="+uriEncode(dv, true))
	}
	slices.SortFunc(pairs, func(a, b string) int {
		ak, av, _ := strings.Cut(a, "=")
		bk, bv, _ := strings.Cut(b, "=")
		if c := strings.Compare(ak, bk); c != 0 {
			return c
		}
		return strings.Compare(av, bv)
	})
	return strings.Join(pairs, "&"), nil
}

// uriEncode is SigV4's UriEncode: unreserved bytes as they are, '/' kept
// unless slash, every other byte as %XX.
func uriEncode(s string, slash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', c == '/' && !slash:
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}
