package scheme

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/keyveil/keyveil/internal/valid"
)

// AWS Signature Version 4: `auth: {type: aws_sigv4, region: us-east-1,
// service: execute-api}` signs every request with the AWS SDK's own signer
// (aws-sdk-go-v2/aws/signer/v4), not one of ours: a signer written here
// would be one more place for the canonical form to be subtly wrong.
//
// The access key ID, the secret access key and the optional session token
// are read from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN unless access_key_id_env, secret_access_key_env and
// session_token_env name others. All three are registered as secrets. AWS
// calls the key ID an identifier, but it names the account's credential and
// the Authorization header carries it: an API that echoes that header (an
// error page, a debug route) would otherwise hand it to the model.
//
// The signature is not a secret: it is an HMAC over one request and one
// second, and knowing it does not help forge another. The signing key
// derived from the secret never leaves the SDK's signer.
//
// The Transport attaches a [Signer] after every other part and header, so
// the signature covers everything sent; it runs again on every redirect
// hop, so a hop is signed for its own method, path and time.

// awsSigV4 is the aws_sigv4 scheme.
type awsSigV4 struct{}

// The AWS SDK's default variable names, used when the services file does
// not name others.
const (
	awsAccessKeyIDEnv     = "AWS_ACCESS_KEY_ID"
	awsSecretAccessKeyEnv = "AWS_SECRET_ACCESS_KEY"
	awsSessionTokenEnv    = "AWS_SESSION_TOKEN"
)

// The headers SigV4 puts on the wire. The model may set none of them: a
// model-chosen X-Amz-Date or X-Amz-Content-Sha256 would be signed as sent,
// and an X-Amz-Security-Token of its own would ride on the operator's
// signature.
const (
	awsDateHeader    = "X-Amz-Date"
	awsTokenHeader   = "X-Amz-Security-Token"
	awsPayloadHeader = "X-Amz-Content-Sha256"
)

// maxSignedBody bounds the body Attach reads to hash it. call_api and
// declared tools refuse bodies over 1 MiB before any request is built, so
// this only stops a caller that skipped them from making keyveil buffer
// without end.
const maxSignedBody = 8 << 20

// Validate requires region and service, refuses every key aws_sigv4 does
// not use, and fills in the AWS SDK's default variable names.
func (awsSigV4) Validate(s *Settings) (string, error) {
	if field, err := unused(s, "region", "service", "access_key_id_env", "secret_access_key_env", "session_token_env"); err != nil {
		return field, err
	}
	switch {
	case s.Region == "":
		return "region", errors.New("aws_sigv4 needs region: the AWS region the API is in, like us-east-1")
	case !awsName(s.Region):
		return "region", errors.New("region must be an AWS region name of lower-case letters, digits and '-', like us-east-1")
	case s.Service == "":
		return "service", errors.New("aws_sigv4 needs service: the AWS signing name, like execute-api for API Gateway (s3, lambda, es, ...)")
	case !awsName(s.Service):
		return "service", errors.New("service must be an AWS signing name of lower-case letters, digits and '-', like execute-api")
	}
	for _, v := range []struct {
		field string
		name  *string
		def   string
	}{
		{"access_key_id_env", &s.AccessKeyIDEnv, awsAccessKeyIDEnv},
		{"secret_access_key_env", &s.SecretAccessKeyEnv, awsSecretAccessKeyEnv},
		{"session_token_env", &s.SessionTokenEnv, awsSessionTokenEnv},
	} {
		if *v.name == "" {
			*v.name = v.def
		}
		if err := valid.CheckEnvName(v.field, *v.name); err != nil {
			return v.field, err
		}
	}
	if s.AccessKeyIDEnv == s.SecretAccessKeyEnv || s.SecretAccessKeyEnv == s.SessionTokenEnv || s.AccessKeyIDEnv == s.SessionTokenEnv {
		return "secret_access_key_env", errors.New("access_key_id_env, secret_access_key_env and session_token_env must name three different variables")
	}
	return "", nil
}

// Signs reports true: config requires a signing part to be the last of a
// service's auth, and the Transport attaches it after every other.
func (awsSigV4) Signs() bool { return true }

// awsName reports whether s can be a region or signing name: it becomes
// one segment of the credential scope, so it may hold no '/'.
func awsName(s string) bool {
	if len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return s != "" && s[0] != '-'
}

// Vars lists the key ID, the secret access key and the session token, all
// secret; only the session token may be unset (long-term IAM user keys
// have none).
func (awsSigV4) Vars(s *Settings) []Var {
	return []Var{
		{Name: s.AccessKeyIDEnv, Secret: true, Role: "AWS access key ID"},
		{Name: s.SecretAccessKeyEnv, Secret: true, Role: "AWS secret access key"},
		{Name: s.SessionTokenEnv, Secret: true, Optional: true, Role: "AWS session token"},
	}
}

// Carriers are the four headers a signed request carries its credential
// and signature in.
func (awsSigV4) Carriers(*Settings) Carriers {
	return Carriers{Headers: []string{"Authorization", awsDateHeader, awsTokenHeader, awsPayloadHeader}}
}

// Describe returns "aws_sigv4:SERVICE/REGION".
func (awsSigV4) Describe(s *Settings) string {
	return "aws_sigv4:" + s.Service + "/" + s.Region
}

// SendsTo returns "": a signed request goes to the service's base URL only.
func (awsSigV4) SendsTo(*Settings) string { return "" }

// Prepare builds the signing part. A temporary key ID (ASIA...) without a
// session token is loaded with a warning: AWS will refuse every request,
// and the fix is to set the token, not to wait for the first 403.
func (awsSigV4) Prepare(s *Settings, v Values, rt Runtime) (Part, []string, error) {
	id, ok := v.Get(s.AccessKeyIDEnv)
	if !ok || id == "" {
		return nil, nil, fmt.Errorf("%s is not set; set it to the AWS access key ID", s.AccessKeyIDEnv)
	}
	secret, ok := v.Get(s.SecretAccessKeyEnv)
	if !ok || secret == "" {
		return nil, nil, fmt.Errorf("%s is not set; set it to the AWS secret access key", s.SecretAccessKeyEnv)
	}
	token, _ := v.Get(s.SessionTokenEnv)
	var warnings []string
	if token == "" && strings.HasPrefix(id, "ASIA") {
		warnings = append(warnings, fmt.Sprintf("%s is a temporary access key ID but %s is not set; AWS refuses temporary keys without their session token, so set it too", s.AccessKeyIDEnv, s.SessionTokenEnv))
	}
	opts := func(o *v4.SignerOptions) {
		// S3 signs the path as sent; every other service signs it
		// escaped once more (the SDK's S3 client sets the same).
		o.DisableURIPathEscaping = s.Service == "s3"
	}
	p := &sigV4Part{
		service: s.Service,
		region:  s.Region,
		id:      hide(id),
		secret:  hide(secret),
		token:   hide(token),
		signer:  v4.NewSigner(opts),
		now:     rt.Now,
		name:    rt.Service,
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, warnings, nil
}

// sigV4Part signs requests for one service. Its keys are hidden (they
// print as [hidden]), and the part itself prints as its description
// through fmt and slog. It is immutable after Prepare and safe for
// concurrent use (the SDK's signer is).
type sigV4Part struct {
	service, region   string
	id, secret, token hidden
	signer            *v4.Signer
	now               func() time.Time
	name              string // the keyveil service, for messages
}

var _ Signer = (*sigV4Part)(nil)

// Derived returns nothing: the wire carries the key ID and the session
// token as they are (both already registered), and the signature, which
// is not a secret.
func (*sigV4Part) Derived() []Value { return nil }

// Signs reports true: the Transport attaches this part last.
func (*sigV4Part) Signs() bool { return true }

// Attach hashes the body, sets X-Amz-Content-Sha256 and signs out with the
// SDK's signer at the Runtime's time, which sets X-Amz-Date,
// X-Amz-Security-Token (with a session token) and Authorization. The body
// sent is exactly the bytes hashed: out.Body is replaced by them, and
// closing it closes the original body once.
func (p *sigV4Part) Attach(out *http.Request) error {
	body, err := signedBody(out)
	if err != nil {
		return fmt.Errorf("signing the request for service %q: %w", p.name, err)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	out.Header.Set(awsPayloadHeader, hash)
	// net/http never sends a Host entry of the header map (out.Host or
	// the URL's host goes out), but the signer would sign it as a second
	// host value.
	out.Header.Del("Host")
	creds := aws.Credentials{
		AccessKeyID:     p.id.reveal(),
		SecretAccessKey: p.secret.reveal(),
		SessionToken:    p.token.reveal(),
		Source:          "keyveil",
	}
	if err := p.signer.SignHTTP(out.Context(), creds, out, hash, p.service, p.region, p.now()); err != nil {
		// The signer's errors name no credential; keep them out of
		// the model's text anyway.
		return fmt.Errorf("signing the request for service %q with AWS Signature Version 4 failed; check region and service", p.name)
	}
	return nil
}

// signedBody reads out's body to hash it and puts the same bytes back as
// the body to send. It reads from GetBody when there is one, which leaves
// the original body unread, and otherwise from the body itself.
func signedBody(out *http.Request) ([]byte, error) {
	if out.Body == nil || out.Body == http.NoBody {
		return nil, nil
	}
	src := out.Body
	fresh := false
	if out.GetBody != nil {
		b, err := out.GetBody()
		if err != nil {
			return nil, errors.New("the request body could not be read again")
		}
		src, fresh = b, true
	}
	b, err := io.ReadAll(io.LimitReader(src, maxSignedBody+1))
	if fresh {
		_ = src.Close()
	}
	switch {
	case err != nil:
		return nil, errors.New("the request body could not be read")
	case len(b) > maxSignedBody:
		return nil, fmt.Errorf("the request body is over %d MiB, too large to sign", maxSignedBody>>20)
	}
	out.Body = sentBody{Reader: bytes.NewReader(b), Closer: out.Body}
	out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	out.ContentLength = int64(len(b))
	return b, nil
}

// sentBody is the body a signed request sends: the hashed bytes, closing
// the caller's body when the base RoundTripper closes it.
type sentBody struct {
	io.Reader
	io.Closer
}

// String keeps the keys out of any %v of the part.
func (p *sigV4Part) String() string { return "aws_sigv4:" + p.service + "/" + p.region }

// GoString keeps the keys out of %#v.
func (p *sigV4Part) GoString() string { return p.String() }

// Format keeps the keys out of every other verb (%+v, %x, %q).
func (p *sigV4Part) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, p.String()) }

// LogValue keeps the keys out of slog.
func (p *sigV4Part) LogValue() slog.Value { return slog.StringValue(p.String()) }
