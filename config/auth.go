package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/keyveil/keyveil/credentials/scheme"
)

// Auth is one part of a service's auth, as the services file writes it:
// `{type: header, name: X-API-Key, env: CRM_API_KEY}`. It names the
// environment variables holding secrets and never holds one. Which keys a
// part takes is up to its scheme (package credentials/scheme).
type Auth = scheme.Settings

// AuthList is a service's auth: every part is attached to each request to
// the service, signing parts last. The services file writes one part as a
// mapping (`auth: {type: bearer, env: KEY}`) and several as a list
// (`auth: [{type: header, ...}, {type: header, ...}]`). After validation
// it has at least one part; a service without a credential has the one
// part {type: none}.
type AuthList []Auth

// field names the key of part i for a [fieldError]: "auth.env" when the
// list has one part, "auth[1].env" when it has several (the file decoder
// records keys the same way).
func (l AuthList) field(i int, key string) string {
	if len(l) == 1 {
		return "auth." + key
	}
	return fmt.Sprintf("auth[%d].%s", i, key)
}

// label prefixes a message about part i with "auth[i]: " when the list has
// several parts, so the message says which.
func (l AuthList) label(i int) string {
	if len(l) == 1 {
		return ""
	}
	return fmt.Sprintf("auth[%d]: ", i)
}

// knownSchemes says which auth types there are, for messages: "use basic,
// bearer, ... or query".
func knownSchemes() string {
	names := scheme.Names()
	return "use " + strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// validate checks every part through its scheme, then the rules that
// concern parts together: none stands alone, no two parts share a carrier,
// and a signing part comes last. Each error is a [fieldError] naming the
// part's key, so a file error points at its line.
func (l *AuthList) validate() []error {
	if len(*l) == 0 {
		*l = AuthList{{}}
	}
	list := *l
	var errs []error
	add := func(i int, key string, err error) {
		errs = append(errs, &fieldError{field: list.field(i, key), err: fmt.Errorf("%s%w", list.label(i), err)})
	}
	for i := range list {
		a := &list[i]
		a.Type = strings.ToLower(a.Type)
		sc, ok := scheme.Lookup(a.Type)
		switch {
		case a.Type == "":
			add(i, "type", fmt.Errorf("auth type is missing; %s", knownSchemes()))
			continue
		case !ok:
			add(i, "type", fmt.Errorf("auth type %s is not known; %s", quote(a.Type), knownSchemes()))
			continue
		}
		if field, err := sc.Validate(a); err != nil {
			if field == "" {
				field = "type"
			}
			add(i, field, err)
		}
	}
	if len(errs) > 0 || len(list) == 1 {
		return errs
	}
	seen := map[string]int{} // "header\x00x-api-key" -> the first part carrying it
	for i, a := range list {
		sc, _ := scheme.Lookup(a.Type)
		if a.Type == AuthNone {
			add(i, "type", errors.New("auth type none cannot be combined with other parts; remove it, or remove the other parts"))
			continue
		}
		if scheme.Signs(sc) && i != len(list)-1 {
			add(i, "type", fmt.Errorf("auth type %s signs the request, so it must be the last part of auth, after every part it signs; move it to the end of the list", a.Type))
		}
		c := sc.Carriers(&a)
		for _, kind := range []struct {
			word  string
			names []string
		}{{"header", c.Headers}, {"query parameter", c.Params}} {
			for _, n := range kind.names {
				k := kind.word + "\x00" + strings.ToLower(n)
				if prev, dup := seen[k]; dup {
					add(i, "type", fmt.Errorf("auth[%d] and auth[%d] both send their key in %s %s, so one would overwrite the other; give each part its own %s", prev, i, kind.word, n, kind.word))
					continue
				}
				seen[k] = i
			}
		}
	}
	return errs
}

// each calls f with every part whose type is registered, and its scheme.
// Before validation unknown parts are skipped; after it there are none.
func (l AuthList) each(f func(a *Auth, sc scheme.Scheme)) {
	for i := range l {
		if sc, ok := scheme.Lookup(strings.ToLower(l[i].Type)); ok {
			f(&l[i], sc)
		}
	}
}

// Headers returns every request header a part's credential travels in
// ("Authorization", "DD-API-KEY", …). The model may not set them, and the
// Transport deletes them from requests to other services.
func (l AuthList) Headers() []string {
	var out []string
	l.each(func(a *Auth, sc scheme.Scheme) { out = append(out, sc.Carriers(a).Headers...) })
	return out
}

// Params returns every query parameter a part's credential travels in.
func (l AuthList) Params() []string {
	var out []string
	l.each(func(a *Auth, sc scheme.Scheme) { out = append(out, sc.Carriers(a).Params...) })
	return out
}

// Vars returns every environment variable the parts read, in part order.
func (l AuthList) Vars() []scheme.Var {
	var out []scheme.Var
	l.each(func(a *Auth, sc scheme.Scheme) { out = append(out, sc.Vars(a)...) })
	return out
}

// Describe returns the auth as an operator writes it, parts joined by
// " + ": "bearer", "header:DD-API-KEY + header:DD-APPLICATION-KEY". It
// names no value, so list_services shows it to the model.
func (l AuthList) Describe() string {
	var parts []string
	for _, a := range l {
		if sc, ok := scheme.Lookup(strings.ToLower(a.Type)); ok {
			parts = append(parts, sc.Describe(&a))
		} else {
			parts = append(parts, a.Type)
		}
	}
	return strings.Join(parts, " + ")
}

// Signs reports whether a part signs the request (aws_sigv4), so that a
// refusal can be explained by the signature's scope as well as its keys.
func (l AuthList) Signs() bool {
	signs := false
	l.each(func(_ *Auth, sc scheme.Scheme) { signs = signs || scheme.Signs(sc) })
	return signs
}

// None reports whether the service sends no credential (auth none).
func (l AuthList) None() bool {
	return len(l) == 1 && strings.EqualFold(l[0].Type, AuthNone)
}

// carriesHeader reports whether a part's credential travels in header
// name (compared case-insensitively).
func (l AuthList) carriesHeader(name string) bool {
	for _, h := range l.Headers() {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// CarriesParam reports whether a part's credential travels in query
// parameter name (compared case-insensitively); the model may not set it.
func (l AuthList) CarriesParam(name string) bool {
	for _, p := range l.Params() {
		if strings.EqualFold(p, name) {
			return true
		}
	}
	return false
}

// reads reports whether a part reads the environment variable name.
func (l AuthList) reads(name string) bool {
	for _, v := range l.Vars() {
		if v.Name == name {
			return true
		}
	}
	return false
}
