package valid

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
)

// EnvName reports whether s is a POSIX-style environment variable name:
// [A-Za-z_] then [A-Za-z0-9_]*.
func EnvName(s string) bool {
	if len(s) == 0 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// CheckEnvName checks a key whose value must name an environment
// variable. Its errors never repeat the value: a value that fails is often
// the secret itself, pasted where its variable's name belongs.
func CheckEnvName(key, v string) error {
	if LooksLikeSecret(v) {
		return fmt.Errorf("%s looks like a secret written inline (the value is not shown); move it into an environment variable and write the environment variable name here, like CRM_API_KEY", key)
	}
	if !EnvName(v) {
		return fmt.Errorf("%s must be an environment variable name like CRM_API_KEY, not a value; put the key in that variable", key)
	}
	return nil
}

// Token reports whether s is an RFC 9110 token, the syntax of a header
// or method name.
func Token(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// BaseURL enforces the transport's rules on a URL a secret is sent to
// (a base URL, a token endpoint) at start-up, so that a typo stops keyveil
// before the model ever calls it. Its messages speak of base_url; callers
// checking another key say which.
func BaseURL(raw string) error {
	if raw == "" {
		return errors.New("base_url is empty; set it to the API's root, like https://api.example.com/v1")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return errors.New("base_url is not an absolute URL like https://api.example.com/v1")
	}
	if u.User != nil {
		return errors.New("base_url must not contain a user name or password; use auth instead")
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return errors.New("base_url must not contain a query or fragment; use auth type query for a key in the query string")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !IsLoopback(u.Hostname()) {
			return fmt.Errorf("base_url uses http to %s; use https (plain http is allowed only to a loopback host)", u.Hostname())
		}
	default:
		return fmt.Errorf("base_url scheme %q is not allowed; use https", u.Scheme)
	}
	return nil
}

// IsLoopback reports whether host (without port) is "localhost" or a
// loopback IP literal. It does no DNS lookup: a name that merely resolves to
// 127.0.0.1 is not loopback, so DNS cannot turn plain http on.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}
