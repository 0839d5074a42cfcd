package tools

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"syscall"
	"time"
)

// publicError is an error with two audiences. Error() is the text shown to
// the model: it says what happened and what to change, and never quotes a
// URL, a query string or a transport's own words. Unwrap() is the private
// cause, which is logged (redacted) to stderr and never returned.
type publicError struct {
	msg   string
	cause error
}

func (e *publicError) Error() string { return e.msg }
func (e *publicError) Unwrap() error { return e.cause }

// publicErr returns an error that shows msg and wraps cause.
func publicErr(msg string, cause error) error { return &publicError{msg: msg, cause: cause} }

// A reason says why a call was refused, as the audit outcome names it
// after "refused:" ("refused:path"). It is a type of its own so that code
// decides on a reason, never on the wording of a message.
type reason string

// A refusal is a call keyveil will not make: its reason, and the message
// that tells the model what to change.
type refusal struct {
	reason reason
	msg    string
}

func (r *refusal) Error() string { return r.msg }

// Refusal reasons, as they appear in audit outcomes after "refused:".
const (
	reasonInput    reason = "input"
	reasonService  reason = "service"
	reasonMethod   reason = "method"
	reasonReadOnly reason = "read_only"
	reasonPath     reason = "path"
	reasonAllow    reason = "allow_rule"
	reasonHeader   reason = "header"
	reasonQuery    reason = "query"
	reasonBody     reason = "body"
)

func refuse(r reason, format string, args ...any) *refusal {
	return &refusal{reason: r, msg: fmt.Sprintf(format, args...)}
}

// networkError turns the error of one round trip into a public message that
// names the service and the kind of failure, never the URL: a *url.Error's
// own text carries the request URL, query string included, which is where a
// query-auth key lives.
func networkError(service string, timeout time.Duration, err error) error {
	var msg string
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var alertErr tls.AlertError
	var opErr *net.OpError
	var netErr net.Error
	// The transport explains a failed TLS handshake itself (a
	// credentials handshakeError): it knows the service's tls block and
	// so the fix. Its text names the service and keyveil's settings,
	// never a certificate's bytes or names.
	var explained interface{ Explain() string }
	switch {
	case errors.As(err, &explained):
		msg = "the TLS handshake with the " + service + " service failed: " + explained.Explain()
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &netErr) && netErr.Timeout():
		msg = fmt.Sprintf("the %s service did not answer within %s; try again later, or ask for less (a smaller page, a narrower query)", service, timeout)
	case errors.Is(err, context.Canceled):
		msg = fmt.Sprintf("the call to the %s service was cancelled before it finished", service)
	case errors.As(err, &dnsErr):
		msg = fmt.Sprintf("the %s service's host name could not be resolved; check the network connection, or ask the operator to check the service's base URL", service)
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &invalidCert), errors.As(err, &recordErr), errors.As(err, &alertErr):
		msg = fmt.Sprintf("the TLS handshake with the %s service failed (its certificate is not trusted or not valid for its host); ask the operator to check the service's base URL", service)
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = fmt.Sprintf("the %s service refused the connection (nothing is listening at its address); check that it is running, or try again later", service)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		msg = fmt.Sprintf("the connection to the %s service was closed before it answered; try again later", service)
	case errors.As(err, &opErr):
		msg = fmt.Sprintf("the %s service could not be reached (network error); try again later", service)
	default:
		// Not a network failure: the request was stopped inside the
		// process, by keyveil's transport (an origin that is not the
		// service's, plain http, a redirect to another host) or by the
		// redirect policy.
		msg = fmt.Sprintf("keyveil's transport stopped the request to the %s service before it was sent (for example a redirect to another host, or too many redirects); only the service's own origin may be called", service)
	}
	return publicErr(msg, err)
}

// privateCause returns the text of err to log, without the URL a *url.Error
// prepends: the inner error names addresses, not query strings.
func privateCause(err error) string {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Op + ": " + uerr.Err.Error()
	}
	return err.Error()
}
