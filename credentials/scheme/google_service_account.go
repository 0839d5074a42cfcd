package scheme

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/jwt"

	"github.com/keyveil/keyveil/internal/valid"
)

// nameGoogleSA is the scheme's name in the table and in messages.
const nameGoogleSA = "google_service_account"

// Google's token endpoint. Keys downloaded before 2019 name the older
// one in token_uri; both take an assertion whose aud is the current one.
const (
	googleTokenURL       = "https://oauth2.googleapis.com/token"
	googleLegacyTokenURL = "https://accounts.google.com/o/oauth2/token"
)

// googleServiceAccount is a Google service account's JSON key: keyveil
// signs a JWT with the key's RSA private key (RS256, iss the account's
// email, aud the token endpoint, the scopes), trades it at the token
// endpoint for an access token (RFC 7523, x/oauth2/jwt), and sends that as
// "Authorization: Bearer TOKEN".
//
// The JSON is one variable (env, or env_FILE naming the downloaded file).
// The private key leaves the process in no form: only signatures do. The
// Redactor knows the JSON and the key in every form a leak would take
// (Derived). The token endpoint is the services file's token_url, or
// Google's; the key's token_uri must agree, so that a JSON swapped in the
// environment cannot send the signed assertion (which a listener could
// trade for a token within the hour) anywhere the operator did not write
// down, and so that a keychain binding names the origin the key goes to.
//
// x/oauth2/google (JWTConfigFromJSON) is not used. It would add, at every
// start, the init of google/externalaccount (85 allocations, 22 KB,
// 0.3-0.6 ms measured with GODEBUG=inittrace=1) and of
// cloud.google.com/go/compute/metadata, a second module and a
// metadata-server client keyveil must never call, only to parse the file
// Prepare parses itself; x/oauth2/jwt signs and trades the assertion.
type googleServiceAccount struct{}

func (googleServiceAccount) Validate(s *Settings) (string, error) {
	if s.Env == "" {
		return "env", fmt.Errorf("auth type %s needs env: the environment variable holding the service account's JSON key (or set NAME_FILE to the downloaded file)", nameGoogleSA)
	}
	if err := valid.CheckEnvName("auth env", s.Env); err != nil {
		return "env", err
	}
	if len(s.Scopes) == 0 {
		return "scopes", fmt.Errorf("auth type %s needs scopes: the Google API scopes to ask for, like https://www.googleapis.com/auth/spreadsheets.readonly", nameGoogleSA)
	}
	if field, err := checkScopes(s.Scopes); err != nil {
		return field, err
	}
	if s.TokenURL != "" {
		if err := valid.BaseURL(s.TokenURL); err != nil {
			return "token_url", fmt.Errorf("token_url: %w", err)
		}
	}
	return unused(s, "env", "scopes", "token_url")
}

func (googleServiceAccount) Vars(s *Settings) []Var {
	return []Var{{Name: s.Env, Secret: true, Multiline: true, Document: true, Role: "Google service account's JSON key"}}
}

func (googleServiceAccount) Carriers(*Settings) Carriers {
	return Carriers{Headers: []string{"Authorization"}}
}

func (googleServiceAccount) Describe(*Settings) string { return nameGoogleSA }

// SendsTo is the token endpoint, the only place a signed assertion goes:
// token_url, or Google's when the services file names none.
func (googleServiceAccount) SendsTo(s *Settings) string {
	if s.TokenURL != "" {
		return s.TokenURL
	}
	return googleTokenURL
}

// serviceAccountKey is the part of Google's JSON key keyveil reads.
type serviceAccountKey struct {
	Type         string `json:"type"`
	ClientEmail  string `json:"client_email"`
	PrivateKey   string `json:"private_key"`
	PrivateKeyID string `json:"private_key_id"`
	TokenURI     string `json:"token_uri"`
}

// Prepare parses the key and checks it can sign; it fetches nothing until
// the first request. Its errors name the variable and what is wrong with
// the file, never a byte of it: encoding/json's errors quote the text
// they stumble on, so none is wrapped.
func (g googleServiceAccount) Prepare(s *Settings, v Values, rt Runtime) (Part, []string, error) {
	raw, _ := v.Get(s.Env)
	in := fmt.Sprintf("%s %s", s.Env, where(rt, nameGoogleSA))
	var k serviceAccountKey
	if err := json.Unmarshal([]byte(raw), &k); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, nil, fmt.Errorf("%s is not valid JSON (byte %d); set it to the JSON key file Google's console downloads, or NAME_FILE to its path", in, se.Offset)
		}
		return nil, nil, fmt.Errorf("%s is not a JSON object of the layout Google's console downloads; set it to the service account's JSON key", in)
	}
	if k.Type != "service_account" {
		return nil, nil, fmt.Errorf("%s is not a service account's key (its type is not service_account; a user's or an external account's credentials file does not work here); create a JSON key for a service account", in)
	}
	if k.ClientEmail == "" {
		return nil, nil, fmt.Errorf("%s has no client_email; download the service account's JSON key again", in)
	}
	if _, err := parseRSAKey(k.PrivateKey); err != nil {
		return nil, nil, fmt.Errorf("%s: its private_key %v; download the service account's JSON key again", in, err)
	}
	tokenURL := g.SendsTo(s)
	switch {
	case k.TokenURI == "", k.TokenURI == tokenURL:
	case s.TokenURL == "" && k.TokenURI == googleLegacyTokenURL:
	default:
		// token_uri is not quoted: it is text from the secret file.
		return nil, nil, fmt.Errorf("%s names a token_uri other than %s, where keyveil sends the signed assertion; if the key is meant for another token endpoint, set token_url to it in the services file", in, tokenURL)
	}
	cfg := &jwt.Config{
		Email:        k.ClientEmail,
		PrivateKey:   []byte(k.PrivateKey),
		PrivateKeyID: k.PrivateKeyID,
		Scopes:       s.Scopes,
		TokenURL:     tokenURL,
	}
	fetch := func(ctx context.Context) (*oauth2.Token, error) {
		tok, err := cfg.TokenSource(ctx).Token()
		return tok, withErrorCode(err)
	}
	fix := fmt.Sprintf("the service account's signed assertion was refused (invalid_grant): check that the key in %s is still active (not deleted or disabled) and that this machine's clock is right", s.Env)
	return &grantPart{
		bearerTokenPart: bearerTokenPart{cache: newTokenCache(rt, fetch)},
		forms:           keyForms(s.Env, k),
		scheme:          nameGoogleSA,
		refused:         fix,
	}, nil, nil
}

// parseRSAKey parses a PEM-encoded RSA private key, PKCS #8 (what Google
// issues) or PKCS #1. Its errors describe the key, never quote it.
func parseRSAKey(text string) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(text))
	if block == nil {
		return nil, errors.New("is not a PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, errors.New("is not an RSA key")
		}
		return rk, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("does not parse as a PKCS #8 or PKCS #1 RSA private key")
}

// minKeyLine is the shortest line of the key's base64 body the Redactor
// looks for on its own: the last line can be a few characters, which
// would match ordinary text.
const minKeyLine = 16

// keyForms returns the private key in every form it could leak in beyond
// the JSON itself, named after the variable: the PEM text; the JSON
// string escaping of it (newlines as \n), as the file holds it; each line
// of its base64 body; the body joined without newlines (the DER in
// base64); the DER in base64url and in hex; the key's numbers as a JWK
// holds them (KeyNumbers); its other DER encodings in base64 (KeyDERs);
// and the private_key_id. The
// Redactor's own variants add percent, hex, UTF-16 and the rest for each.
func keyForms(name string, k serviceAccountKey) []namedHidden {
	add := func(out []namedHidden, v string) []namedHidden {
		if len(v) < minKeyLine {
			return out
		}
		for _, o := range out {
			if o.value.reveal() == v {
				return out
			}
		}
		return append(out, namedHidden{name, hide(v)})
	}
	var out []namedHidden
	pemText := strings.TrimSpace(k.PrivateKey)
	out = add(out, pemText)
	if b, err := json.Marshal(pemText); err == nil {
		out = add(out, string(b[1:len(b)-1]))
	}
	// The escaping Python's json module writes: "/" and non-ASCII
	// left alone, but no HTML escapes (json.Marshal's \u003c for <).
	out = add(out, strings.ReplaceAll(pemText, "\n", `\n`))
	var body []string
	for _, line := range strings.Split(pemText, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "-----") {
			continue
		}
		body = append(body, line)
		out = add(out, line)
	}
	joined := strings.Join(body, "")
	out = add(out, joined)
	if der, err := base64.StdEncoding.DecodeString(joined); err == nil {
		// The DER in the other alphabet and in hex: a base64 variant
		// of the joined body would be base64 of the text, not of the
		// key's bytes.
		out = add(out, base64.URLEncoding.EncodeToString(der))
		out = add(out, base64.RawURLEncoding.EncodeToString(der))
		out = add(out, hex.EncodeToString(der))
		for _, n := range append(KeyNumbers(der), KeyDERs(der)...) {
			out = add(out, n)
		}
	}
	return add(out, k.PrivateKeyID)
}

// withErrorCode fills an oauth2.RetrieveError's ErrorCode from the
// response body: x/oauth2/jwt leaves it empty, and tokenError keeps only
// the code (invalid_grant is how Google says the key was refused), never
// the body.
func withErrorCode(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode == "" {
		var b struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(re.Body, &b) == nil {
			re.ErrorCode = b.Error
		}
	}
	return err
}
