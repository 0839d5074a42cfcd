package config

import (
	"fmt"
	"slices"
	"strings"
)

// reservedHeaders are the request headers the model may never set, neither
// through call_api's headers nor through a declared tool's header mapping,
// keyed by folded name (see foldHeader), with why. The credential headers
// are attached by the transport; the rest would step around the allow
// rules, the base path or the redactor:
//
//   - Range and If-Range ask for a slice of the response: against an API
//     that echoes the request, a slice can start inside the key, and the
//     redactor cannot know what the slice was cut from.
//   - Method-override headers make Rails, Laravel, Symfony and IIS-style
//     servers run an allowed GET as DELETE, PUT or PATCH.
//   - URL-rewrite headers make IIS and some proxies serve another path
//     than the one the allow rules and the base path checked.
//   - Host and the connection headers would let a caller smuggle a second
//     request or confuse framing and proxies.
var reservedHeaders = map[string]string{
	"authorization":          whyCredential,
	"proxy-authorization":    whyCredential,
	"cookie":                 whyCredential,
	"host":                   "is set from the service's base URL",
	"content-length":         "is computed from the body",
	"transfer-encoding":      whyConnection,
	"connection":             whyConnection,
	"keep-alive":             whyConnection,
	"proxy-connection":       whyConnection,
	"te":                     whyConnection,
	"trailer":                whyConnection,
	"upgrade":                whyConnection,
	"range":                  whyRange,
	"if-range":               whyRange,
	"x-http-method-override": whyMethodOverride,
	"x-http-method":          whyMethodOverride,
	"x-method-override":      whyMethodOverride,
	"x-original-url":         whyRewrite,
	"x-rewrite-url":          whyRewrite,
}

const (
	whyCredential     = "carries credentials, which keyveil attaches itself"
	whyConnection     = "is a connection header keyveil manages"
	whyRange          = "asks for a slice of the response, which could cut through a key the API echoes before keyveil can redact it; ask for the whole resource (APIs page with query parameters such as page or limit)"
	whyMethodOverride = "makes many servers run the request as another method than the allow rules checked; set method instead"
	whyRewrite        = "makes some servers and proxies serve another path than the one the allow rules checked; set path instead"
)

// MethodOverrideParam is the query or form parameter that Rails, Laravel
// and Symfony read as the request's method (a POST with _method=DELETE is
// a DELETE). The model may not send it: it would run another method than
// the allow rules or the declared tool checked.
const MethodOverrideParam = "_method"

// foldHeader folds a header name the way CGI and WSGI stacks do when they
// turn it into a variable (X-API-Key and x_api_key both become
// HTTP_X_API_KEY): case and the difference between "-" and "_" are lost, so
// a name is refused when its folded form is a refused one.
func foldHeader(name string) string {
	return strings.ToLower(strings.ReplaceAll(name, "_", "-"))
}

// ReservedHeader says why the model may not set the request header name
// on any service, or "" when it may. It matches names as CGI and WSGI
// servers read them (any case, "_" for "-"), so that X_HTTP_METHOD_OVERRIDE
// is refused like X-HTTP-Method-Override.
func ReservedHeader(name string) string {
	return reservedHeaders[foldHeader(name)]
}

// HeaderRefusal says why the model may not set the request header name on
// s, or "" when it may: a [ReservedHeader], the header s's key travels in,
// or one of s's deny_headers, each matched as CGI and WSGI servers read
// names. A name that only folds onto a refused one (X_API_KEY for
// X-API-Key) is refused with a note saying so: behind such a server it
// would reach the application as the credential header itself.
func (s Service) HeaderRefusal(name string) string {
	folded := foldHeader(name)
	why, target := reservedHeaders[folded], ""
	if why != "" {
		target = folded
	}
	if why == "" {
		for _, h := range s.Auth.Headers() {
			if foldHeader(h) == folded {
				why, target = fmt.Sprintf("carries the %s service's key, which keyveil attaches itself", s.Name), foldHeader(h)
				break
			}
		}
	}
	if why == "" {
		if i := slices.IndexFunc(s.DenyHeaders, func(d string) bool { return foldHeader(d) == folded }); i >= 0 {
			why, target = fmt.Sprintf("is denied by the operator for the %s service (deny_headers)", s.Name), s.DenyHeaders[i]
		}
	}
	if why != "" && strings.ContainsRune(name, '_') && !strings.ContainsRune(target, '_') {
		why = fmt.Sprintf("reads as %s on CGI and WSGI servers (\"_\" for \"-\"), and that header %s", canonical(target), why)
	}
	return why
}

// ReservedHeaderNames lists the headers the model may not set on s, in
// canonical form and sorted, for messages.
func (s Service) ReservedHeaderNames() []string {
	var names []string
	for n := range reservedHeaders {
		names = append(names, canonical(n))
	}
	for _, n := range s.Auth.Headers() {
		names = append(names, canonical(n))
	}
	for _, n := range s.DenyHeaders {
		names = append(names, canonical(n))
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// canonical spells a header name as net/http's CanonicalHeaderKey does
// (config does not import net/http for this alone).
func canonical(name string) string {
	b := []byte(strings.ToLower(name))
	upper := true
	for i, c := range b {
		if upper && 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
		upper = c == '-'
	}
	return string(b)
}
