package authtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// JWTBearerGrant is the grant type of RFC 7523, which a Google service
// account uses to trade a signed assertion for an access token.
const JWTBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// ServiceAccount is a fake Google service-account key: a fresh RSA key in
// the JSON layout Google's console downloads.
type ServiceAccount struct {
	// JSON is the key file's text.
	JSON string
	// PEM is the private key as the JSON's private_key holds it, PKCS #8.
	PEM string
	// KeyID is private_key_id.
	KeyID string
	// Email is client_email, the assertion's issuer.
	Email string
	// Key is the private key; its public half verifies assertions.
	Key *rsa.PrivateKey
}

// NewServiceAccount makes a service account with a fresh 2048-bit RSA key
// whose token_uri is tokenURI.
func NewServiceAccount(t testing.TB, tokenURI string) ServiceAccount {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generating an RSA key: %v", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatalf("encoding the RSA key: %v", err)
	}
	id := make([]byte, 20)
	_, _ = rand.Read(id)
	sa := ServiceAccount{
		PEM:   string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		KeyID: hex.EncodeToString(id),
		Email: "keyveil-test@keyveil-test.iam.gserviceaccount.com",
		Key:   key,
	}
	b, err := json.MarshalIndent(map[string]string{
		"type":                        "service_account",
		"project_id":                  "keyveil-test",
		"private_key_id":              sa.KeyID,
		"private_key":                 sa.PEM,
		"client_email":                sa.Email,
		"client_id":                   "100000000000000000001",
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   tokenURI,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/keyveil-test%40keyveil-test.iam.gserviceaccount.com",
		"universe_domain":             "googleapis.com",
	}, "", "  ")
	if err != nil {
		t.Fatalf("encoding the service account: %v", err)
	}
	sa.JSON = string(b) + "\n"
	return sa
}

// JWTServer is a token endpoint for the JWT-bearer grant (RFC 7523) as
// Google runs it for service accounts. It verifies the RS256 signature
// with the account's public key and the claims: iss is the account's
// email, scope the expected scopes, aud the token URL, and iat/exp a
// window of at most an hour around now. It refuses any other grant,
// algorithm or key, with invalid_grant as Google does; its error bodies
// quote the assertion, so a test also shows keyveil never repeats them.
// It is safe for concurrent use.
type JWTServer struct {
	*httptest.Server
	// Account is the service account whose assertions it accepts; its
	// JSON's token_uri is [JWTServer.TokenURL].
	Account ServiceAccount
	scopes  string

	mu       sync.Mutex
	refusing bool
	issued   []string
	refused  []string
}

// NewJWTServer starts a JWT-bearer token endpoint and makes the service
// account it trusts, expecting assertions for scopes. It is closed when
// the test ends.
func NewJWTServer(t testing.TB, scopes ...string) *JWTServer {
	t.Helper()
	s := &JWTServer{scopes: strings.Join(scopes, " ")}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	s.Account = NewServiceAccount(t, s.TokenURL())
	return s
}

// TokenURL is the endpoint's URL: the account's token_uri and the
// audience its assertions must name.
func (s *JWTServer) TokenURL() string { return s.URL + "/token" }

// Refuse makes the endpoint answer invalid_grant to every assertion, as
// Google does once the key was deleted or the account disabled.
func (s *JWTServer) Refuse() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refusing = true
}

// Issued returns the access tokens handed out, oldest first.
func (s *JWTServer) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.issued...)
}

// Refused returns why each refused request was refused, in order.
func (s *JWTServer) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// Valid reports whether tok is an access token this server issued.
func (s *JWTServer) Valid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, a := range s.issued {
		if subtle.ConstantTimeCompare([]byte(a), []byte(tok)) == 1 {
			return true
		}
	}
	return false
}

func (s *JWTServer) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r.Method != http.MethodPost || r.URL.Path != "/token" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		s.refuse(w, http.StatusBadRequest, "invalid_request", "POST a form to /token")
		return
	}
	if err := r.ParseForm(); err != nil {
		s.refuse(w, http.StatusBadRequest, "invalid_request", "the form does not parse")
		return
	}
	if g := r.PostForm.Get("grant_type"); g != JWTBearerGrant {
		s.refuse(w, http.StatusBadRequest, "unsupported_grant_type", fmt.Sprintf("grant_type %q", g))
		return
	}
	assertion := r.PostForm.Get("assertion")
	if err := VerifyAssertion(assertion, &s.Account.Key.PublicKey, AssertionClaims{
		Issuer: s.Account.Email, Scope: s.scopes, Audience: s.TokenURL(), KeyID: s.Account.KeyID,
	}, time.Now()); err != nil {
		s.refuse(w, http.StatusBadRequest, "invalid_grant", fmt.Sprintf("%v in assertion %s", err, assertion))
		return
	}
	if s.refusing {
		s.refuse(w, http.StatusBadRequest, "invalid_grant", "account not found: "+assertion)
		return
	}
	tok := fmt.Sprintf("ya29.LEAKCHECK-%04d-%s", len(s.issued)+1, nonce())
	s.issued = append(s.issued, tok)
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": 3599})
}

func (s *JWTServer) refuse(w http.ResponseWriter, status int, code, desc string) {
	s.refused = append(s.refused, code+": "+strings.Split(desc, " in assertion ")[0])
	tokenError(w, status, code, desc)
}

// AssertionClaims are what [VerifyAssertion] requires of an assertion.
type AssertionClaims struct {
	Issuer   string // iss: the service account's email
	Scope    string // scope: space-separated, in order
	Audience string // aud: the token URL
	KeyID    string // the header's kid; "": not checked
}

// maxAssertionLife is the longest exp - iat Google accepts.
const maxAssertionLife = time.Hour

// assertionSkew is how far iat may be in the future, for clocks that
// disagree a little.
const assertionSkew = time.Minute

// VerifyAssertion checks a JWT-bearer assertion as the token endpoint
// does: three base64url parts; a header of alg RS256 (nothing else, none
// above all) and the expected kid; an RS256 signature over the first two
// parts by pub; and claims iss, scope and aud equal to want, iat no later
// than now (plus a minute's skew), exp after now and at most an hour after
// iat.
func VerifyAssertion(assertion string, pub *rsa.PublicKey, want AssertionClaims, now time.Time) error {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return errors.New("not a JWS compact serialisation")
	}
	var hdr struct {
		Alg string `json:"alg"`
		Typ string `json:"typ"`
		Kid string `json:"kid"`
	}
	if err := decodeSegment(parts[0], &hdr); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	if hdr.Alg != "RS256" {
		return fmt.Errorf("alg %q is not RS256", hdr.Alg)
	}
	if want.KeyID != "" && hdr.Kid != want.KeyID {
		return fmt.Errorf("kid %q is not the account's key", hdr.Kid)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(pub, crypto.SHA256, sum[:], sig); err != nil {
		return errors.New("signature does not verify")
	}
	var c struct {
		Iss   string `json:"iss"`
		Scope string `json:"scope"`
		Aud   string `json:"aud"`
		Iat   int64  `json:"iat"`
		Exp   int64  `json:"exp"`
	}
	if err := decodeSegment(parts[1], &c); err != nil {
		return fmt.Errorf("claims: %w", err)
	}
	iat, exp := time.Unix(c.Iat, 0), time.Unix(c.Exp, 0)
	switch {
	case c.Iss != want.Issuer:
		return fmt.Errorf("iss %q is not the account", c.Iss)
	case c.Scope != want.Scope:
		return fmt.Errorf("scope %q is not %q", c.Scope, want.Scope)
	case c.Aud != want.Audience:
		return fmt.Errorf("aud %q is not the token URL", c.Aud)
	case c.Iat == 0 || iat.After(now.Add(assertionSkew)):
		return errors.New("iat is missing or in the future")
	case c.Exp == 0 || !exp.After(now):
		return errors.New("exp is missing or past")
	case exp.Sub(iat) > maxAssertionLife:
		return errors.New("exp is more than an hour after iat")
	}
	return nil
}

// decodeSegment decodes one base64url part of a JWS into v.
func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}
