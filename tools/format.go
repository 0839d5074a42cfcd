package tools

import (
	"fmt"
	"net/mail"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/jsonschema-go/jsonschema"
)

// JSON Schema's format keyword is only an annotation by default, and
// jsonschema-go does not assert it at all. An operator who writes
// format: email on a recipient means it as a rule, so keyveil checks these
// formats itself, before any request, wherever they appear in a declared
// tool's input (properties, items, additionalProperties, allOf, and at
// least one branch of anyOf/oneOf). Other format names (OpenAPI's int64,
// byte, password and the like) stay annotations. $ref targets are not
// followed: OpenAPI imports arrive with references resolved.
//
// formatCheck is a switch rather than a map so that nothing is built at
// package initialisation, which every keyveil start pays for.
func formatCheck(format string) (what string, ok func(string) bool) {
	switch format {
	case "email", "idn-email":
		return "an email address like name@example.com", isEmail
	case "uri":
		return "an absolute URI like https://example.com/x", isURI
	case "uri-reference":
		return "a URI or relative reference", isURIReference
	case "hostname":
		return "a host name like api.example.com", isHostname
	case "ipv4":
		return "an IPv4 address like 192.0.2.1", func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is4() }
	case "ipv6":
		return "an IPv6 address like 2001:db8::1", func(s string) bool { a, err := netip.ParseAddr(s); return err == nil && a.Is6() && a.Zone() == "" }
	case "date-time":
		return "an RFC 3339 date-time like 2026-01-31T09:30:00Z", isDateTime
	case "date":
		return "a date like 2026-01-31", func(s string) bool { _, err := time.Parse(time.DateOnly, s); return err == nil }
	case "time":
		return "a time like 09:30:00Z", isTime
	case "uuid":
		return "a UUID like 123e4567-e89b-12d3-a456-426614174000", isUUID
	}
	return "", nil
}

// checkFormats checks the formats s asserts on v, a decoded JSON value.
// The error names where the value is and what it must be, never the
// value.
func checkFormats(s *jsonschema.Schema, v any) error { return formatsAt(s, v, "", 0) }

func formatsAt(s *jsonschema.Schema, v any, at string, depth int) error {
	if s == nil || depth > 32 {
		return nil
	}
	if str, ok := v.(string); ok && s.Format != "" {
		if what, ok := formatCheck(s.Format); ok != nil && !ok(str) {
			where := ""
			if at != "" {
				where = " at " + at
			}
			return fmt.Errorf("the value%s must be %s (format %s)", where, what, s.Format)
		}
	}
	switch v := v.(type) {
	case map[string]any:
		for k, pv := range v {
			ps, ok := s.Properties[k]
			if !ok {
				ps = s.AdditionalProperties
			}
			if err := formatsAt(ps, pv, at+"/"+k, depth+1); err != nil {
				return err
			}
		}
	case []any:
		for i, item := range v {
			is := s.Items
			if i < len(s.PrefixItems) {
				is = s.PrefixItems[i]
			}
			if err := formatsAt(is, item, at+"/"+strconv.Itoa(i), depth+1); err != nil {
				return err
			}
		}
	}
	for _, sub := range s.AllOf {
		if err := formatsAt(sub, v, at, depth+1); err != nil {
			return err
		}
	}
	for _, branches := range [][]*jsonschema.Schema{s.AnyOf, s.OneOf} {
		var first error
		passed := len(branches) == 0
		for _, b := range branches {
			err := formatsAt(b, v, at, depth+1)
			if err == nil {
				passed = true
				break
			}
			if first == nil {
				first = err
			}
		}
		if !passed {
			return first
		}
	}
	return nil
}

// isEmail accepts one plain address (no display name, no list) with a
// dotted domain: what a recipient field means.
func isEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	domain := s[at+1:]
	return at > 0 && strings.Contains(domain, ".") && isHostname(domain)
}

func isURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != "" && !strings.ContainsAny(s, " \t\r\n\\")
}

func isURIReference(s string) bool {
	_, err := url.Parse(s)
	return err == nil && !strings.ContainsAny(s, " \t\r\n\\")
}

// isHostname follows RFC 1123: dot-separated labels of letters, digits and
// '-', each 1-63 long and not starting or ending with '-', 253 in all.
func isHostname(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

func isDateTime(s string) bool {
	_, err := time.Parse(time.RFC3339Nano, strings.ToUpper(s))
	return err == nil
}

func isTime(s string) bool {
	_, err := time.Parse("15:04:05.999999999Z07:00", strings.ToUpper(s))
	return err == nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
