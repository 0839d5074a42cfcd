package credentials

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"unicode/utf8"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/keychain"
)

// Limits on a key's value.
const (
	// minKeyLen is the shortest key Load accepts. Anything shorter is far
	// more likely the wrong variable ("true", "1", a user name) than a key.
	minKeyLen = 8
	// maxKeyFileBytes bounds a NAME_FILE file, so that pointing it at a log
	// or /dev/zero fails at once instead of loading megabytes as a "key".
	maxKeyFileBytes = 64 << 10
	// fileSuffix turns NAME into NAME_FILE, the variable naming a file that
	// holds the key (the Docker and systemd credentials convention).
	fileSuffix = "_FILE"
)

// Credential is one service's loaded credential and where it came from.
// Everything but Secret is safe to show a person; Secret prints as its
// redaction marker.
type Credential struct {
	// Service is the config.Service name.
	Service string
	// Auth says how the key is attached.
	Auth config.Auth
	// Secret is the key; zero when Auth.Type is config.AuthNone.
	Secret Secret
	// Username is the Basic-auth user name (config.AuthBasic only). It is
	// not secret, and empty when Auth.UsernameEnv is unset.
	Username string
	// ClientID is the OAuth 2.0 client ID (config.AuthOAuth2 only), read
	// from Auth.ClientIDEnv. It is not secret; Secret is the client
	// secret.
	ClientID string
	// Source is where Secret came from; SourceNone for config.AuthNone.
	Source Source
	// Path is the file the key was read from when Source is SourceFile,
	// or the secret's name when Source is SourceKeychain.
	Path string
}

// Set is every credential keyveil loaded at start-up, one per service. It
// is immutable, so it is safe for concurrent use.
type Set struct {
	creds    []Credential
	secrets  []Secret // every value the Redactor must know
	warnings []string

	redOnce sync.Once
	red     *Redactor // see Redactor
}

// Load reads the credential of every service in cfg from env (nil: the
// process environment alone): NAME, or NAME_FILE naming a file that holds
// the key (one trailing newline is trimmed). It refuses, naming the
// variable, the service and the fix, a credential that is missing, empty,
// padded with whitespace, an unresolved reference (op://…, ${…}, <…>), or
// shorter than 8 bytes. All problems are reported together, joined, so the
// user fixes them in one go. No error contains a value.
//
// Every secret variable, NAME and NAME_FILE, is then unset from the process
// environment and removed from env, so child processes do not inherit keys
// and later lookups cannot find them; this happens whether or not Load
// succeeds. A basic-auth user name variable is not secret and is left alone.
//
// Load does not use env/v11 (config does, for the fixed MCP_API_* names):
// these variable names come from the services file, not struct tags, and
// env/v11's ",file" option reads a file of any size and trims nothing.
func Load(cfg *config.Config, env *Env) (*Set, error) {
	if cfg == nil {
		return nil, errors.New("loading credentials: no configuration")
	}
	s := &Set{}
	var errs []error
	loaded := map[string]*loadedKey{} // by variable name; services may share one
	var order []string
	for _, svc := range cfg.Services {
		c := Credential{Service: svc.Name, Auth: svc.Auth, Source: SourceNone}
		if svc.Auth.Type == config.AuthNone {
			s.creds = append(s.creds, c)
			continue
		}
		k, ok := loaded[svc.Auth.SecretEnv()]
		if !ok {
			k = loadKey(env, svc)
			loaded[svc.Auth.SecretEnv()] = k
			order = append(order, svc.Auth.SecretEnv())
			if k.err != nil {
				errs = append(errs, k.err)
			}
			s.warnings = append(s.warnings, k.warnings...)
		}
		if k.err != nil {
			continue
		}
		if err := k.checkOrigin(svc); err != nil {
			// Checked per service: services may share a variable.
			errs = append(errs, err)
			continue
		}
		c.Secret, c.Source, c.Path = k.secret, k.source, k.path
		if svc.Auth.Type == config.AuthBasic && svc.Auth.UsernameEnv != "" {
			user, _ := env.Lookup(svc.Auth.UsernameEnv)
			if strings.Contains(user, ":") {
				errs = append(errs, fmt.Errorf("%s contains \":\", which a Basic-auth user name cannot; check the variable (service %q, auth basic)", svc.Auth.UsernameEnv, svc.Name))
				continue
			}
			c.Username = user
			if strings.TrimSpace(user) == "" {
				// Legal (some APIs take an empty user), but usually a
				// variable left out; the API's 401 would not say which.
				s.warnings = append(s.warnings, fmt.Sprintf("%s is not set, so Basic auth sends an empty user name with the key as password (service %q); set %s, or use key_as: username (MCP_API_AUTH=bearer if the API takes the key alone)", svc.Auth.UsernameEnv, svc.Name, svc.Auth.UsernameEnv))
			}
		}
		if svc.Auth.Type == config.AuthOAuth2 {
			id, _ := env.Lookup(svc.Auth.ClientIDEnv)
			if strings.TrimSpace(id) == "" || id != strings.TrimSpace(id) {
				errs = append(errs, fmt.Errorf("%s is not set, empty or padded with white space; set it to the OAuth client ID (service %q, auth %s)", svc.Auth.ClientIDEnv, svc.Name, svc.Auth.Scheme()))
				continue
			}
			c.ClientID = id
		}
		s.creds = append(s.creds, c)
	}
	for _, name := range order {
		for _, v := range []string{name, name + fileSuffix} {
			if err := env.forget(v); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	for _, c := range s.creds {
		if c.Secret.IsZero() {
			continue
		}
		s.addSecret(c.Secret)
		switch {
		case c.Auth.Type == config.AuthBasic && c.Auth.KeyAs == config.KeyAsUsername:
			// The Authorization header carries base64("key:").
			s.addSecret(NewSecret(c.Secret.Name(), c.Secret.Reveal()+":"))
		case c.Auth.Type == config.AuthBasic:
			// The Authorization header carries base64("user:key"); the
			// Redactor must know that string to catch its encodings.
			s.addSecret(NewSecret(c.Secret.Name(), c.Username+":"+c.Secret.Reveal()))
		case c.Auth.Type == config.AuthOAuth2:
			// The token request's Basic header carries base64("id:secret").
			s.addSecret(NewSecret(c.Secret.Name(), url.QueryEscape(c.ClientID)+":"+url.QueryEscape(c.Secret.Reveal())))
		}
	}
	return s, nil
}

func (s *Set) addSecret(sec Secret) {
	for _, have := range s.secrets {
		if have.Name() == sec.Name() && have.Equal(sec) {
			return
		}
	}
	s.secrets = append(s.secrets, sec)
}

// Credentials returns one Credential per service, in the order of
// cfg.Services (sorted by name), services with auth none included.
func (s *Set) Credentials() []Credential { return slices.Clone(s.creds) }

// Secrets returns every value keyveil holds that must never be written:
// each key, and for basic auth also "user:key", the text the Authorization
// header encodes. It is what [Set.Redactor] looks for.
func (s *Set) Secrets() []Secret { return slices.Clone(s.secrets) }

// Redactor returns the Redactor that knows every secret in the set. It is
// the same Redactor on every call, so that secrets learned while running
// (OAuth 2.0 access tokens, which the [Transport] adds as they arrive)
// reach every writer it guards.
func (s *Set) Redactor() *Redactor {
	s.redOnce.Do(func() { s.red = NewRedactor(s.secrets...) })
	return s.red
}

// Fingerprint returns the fingerprint of the named service's key (see
// [Secret.Fingerprint]), or "" when the service has no key or is unknown.
// It lets the audit log and `keyveil check` tell keys apart without
// revealing anything about them.
func (s *Set) Fingerprint(service string) string {
	for _, c := range s.creds {
		if c.Service == service {
			return c.Secret.Fingerprint()
		}
	}
	return ""
}

// Warnings returns problems that do not stop keyveil, such as a key that
// looks too weak to be real. Each names the variable, never the value.
func (s *Set) Warnings() []string { return slices.Clone(s.warnings) }

// loadedKey is the outcome of reading one secret variable.
type loadedKey struct {
	secret   Secret
	source   Source
	path     string // the NAME_FILE file, or the keychain secret's name
	origin   string // the keychain secret's bound origin; "" otherwise
	err      error
	warnings []string
}

// loadKey reads svc's key from NAME or NAME_FILE and checks it.
func loadKey(env *Env, svc config.Service) *loadedKey {
	name := svc.Auth.SecretEnv()
	fileName := name + fileSuffix
	where := fmt.Sprintf("service %q, auth %s", svc.Name, svc.Auth.Scheme())
	v, vsrc, vok := env.lookupSource(name)
	p, psrc, pok := env.lookupSource(fileName)
	k := &loadedKey{source: vsrc}
	var subject string
	switch {
	case vok && pok:
		k.err = fmt.Errorf("%s and %s are both set; set only one of them: the key, or the path of a file holding it (%s)", name, fileName, where)
		return k
	case !vok && !pok:
		k.err = fmt.Errorf("%s is not set; add it to the env block of your MCP client config, or set %s to the path of a file holding the key (%s)", name, fileName, where)
		return k
	case pok:
		if p == "" {
			k.err = fmt.Errorf("%s%s is empty; set it to the path of a file holding the key (%s)", fileName, env.describe(psrc), where)
			return k
		}
		data, err := readKeyFile(p)
		if notAPath(err) {
			// No such file: the "path" may be the key itself, put in the
			// wrong variable, so it is not repeated.
			hint := ""
			if !filepath.IsAbs(p) {
				hint = "; a relative path is resolved from the directory your MCP host starts keyveil in, so use an absolute one"
			}
			k.err = fmt.Errorf("%s%s names a file that does not exist; it must hold the path of a file containing the key, not the key itself%s (%s)", fileName, env.describe(psrc), hint, where)
			return k
		}
		if err != nil {
			k.err = fmt.Errorf("%s%s names %s, %v (%s)", fileName, env.describe(psrc), p, err, where)
			return k
		}
		v = trimNewline(data)
		k.source, k.path = SourceFile, p
		if !filepath.IsAbs(p) {
			k.warnings = append(k.warnings, fmt.Sprintf("%s is a relative path, resolved from the directory keyveil was started in, which MCP hosts choose; use an absolute path (%s)", fileName, where))
		}
		subject = fmt.Sprintf("the file named by %s (%s)", fileName, p)
	default:
		subject = name + env.describe(vsrc)
		if ref, ok := strings.CutPrefix(v, keychain.Prefix); ok {
			if v, k.err = env.fromKeychain(k, name+env.describe(vsrc), ref, svc); k.err != nil {
				return k
			}
			subject = fmt.Sprintf("the keychain secret %s (named by %s)", ref, name)
		}
	}
	if problem := checkKey(v); problem != "" {
		k.err = fmt.Errorf("%s %s (%s)", subject, problem, where)
		return k
	}
	k.secret = NewSecret(name, v)
	if weak(v) {
		k.warnings = append(k.warnings, fmt.Sprintf("%s looks weak (few distinct characters, little variety, or a common word); check that it holds the real key (%s)", name, where))
	}
	if svc.Auth.Type == config.AuthBearer && len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		k.warnings = append(k.warnings, fmt.Sprintf("%s begins with \"Bearer \", which keyveil adds itself; remove it from the variable (%s)", name, where))
	}
	return k
}

// fromKeychain resolves a keychain:NAME reference found in the variable
// subject names, recording in k where the value came from and the origin
// it is bound to ([loadedKey.checkOrigin] compares that with each service
// using the variable). Its errors name the variable, the secret and the
// fix, never the value.
func (e *Env) fromKeychain(k *loadedKey, subject, ref string, svc config.Service) (string, error) {
	where := fmt.Sprintf("service %q, auth %s", svc.Name, svc.Auth.Scheme())
	if err := keychain.CheckName(ref); err != nil {
		// ref is not quoted: it may be a key pasted after the prefix.
		return "", fmt.Errorf("%s is a keychain: reference whose name is not valid: %v (%s)", subject, err, where)
	}
	lookup := keychain.Lookup
	if e != nil && e.keychain != nil {
		lookup = e.keychain
	}
	v, entry, err := lookup(ref)
	switch {
	case errors.Is(err, keychain.ErrNotFound):
		fix := "keyveil secrets set " + ref + " --origin URL"
		if o, oerr := keychain.Origin(sendsTo(svc)); oerr == nil {
			fix = "keyveil secrets set " + ref + " --origin " + o
		}
		return "", fmt.Errorf("%s refers to keychain:%s, which is not in the OS keychain; store it with: %s (%s)", subject, ref, fix, where)
	case err != nil:
		return "", fmt.Errorf("%s refers to keychain:%s, which cannot be read: %w (%s)", subject, ref, err, where)
	}
	k.source, k.path, k.origin = SourceKeychain, ref, entry.Origin
	return v, nil
}

// sendsTo returns the URL a service sends its secret to: the token
// endpoint for OAuth 2.0 client credentials, the base URL otherwise.
func sendsTo(svc config.Service) string {
	if svc.Auth.Type == config.AuthOAuth2 {
		return svc.Auth.TokenURL
	}
	return svc.BaseURL
}

// checkOrigin refuses a keychain secret for a service that would send it
// to an origin other than the one it was stored for. The threat: a model
// that can edit the host config points MCP_API_BASE_URL (or a base_url) at
// a listener of its own; the key must not follow. The message names both
// origins, which are not secret, and the fix for an operator who did mean
// to move the key.
func (k *loadedKey) checkOrigin(svc config.Service) error {
	if k.source != SourceKeychain {
		return nil
	}
	field := "base_url"
	if svc.Auth.Type == config.AuthOAuth2 {
		field = "token_url"
	}
	want, err := keychain.Origin(sendsTo(svc))
	if err != nil {
		return fmt.Errorf("%s refers to keychain:%s, which is stored for %s only; the %s of service %q has no origin it can be checked against: %v", svc.Auth.SecretEnv(), k.path, k.origin, field, svc.Name, err)
	}
	if want == k.origin {
		return nil
	}
	return fmt.Errorf("%s refers to keychain:%s, which is stored for %s only; keyveil will not send it to %s (the %s of service %q). If that is the API the key belongs to, store it for that origin: keyveil secrets set %s --origin %s",
		svc.Auth.SecretEnv(), k.path, k.origin, want, field, svc.Name, k.path, want)
}

// readKeyFile reads a NAME_FILE file. Its errors complete the sentence
// "NAME_FILE names PATH, ..." and never quote the contents.
func readKeyFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("which cannot be opened: %w", unwrapPath(err))
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("which cannot be read: %w", unwrapPath(err))
	}
	if len(data) > maxKeyFileBytes {
		return "", fmt.Errorf("which is larger than %d KiB; the file should hold just the key", maxKeyFileBytes>>10)
	}
	return string(data), nil
}

// notAPath reports whether err says that a NAME_FILE value names no file
// at all: it does not exist, is too long to be a file name (a JWT put in
// NAME_FILE by mistake), or passes through a file as if it were a
// directory. The value may then be the key itself and must not be quoted.
func notAPath(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENAMETOOLONG) || errors.Is(err, syscall.ENOTDIR)
}

// unwrapPath drops the *os.PathError wrapper, whose path the message
// already gives.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// trimNewline removes exactly one trailing newline ("\n" or "\r\n"), which
// editors and `echo` add; a second one is the user's and is refused as
// whitespace.
func trimNewline(s string) string {
	if t, ok := strings.CutSuffix(s, "\r\n"); ok {
		return t
	}
	return strings.TrimSuffix(s, "\n")
}

var (
	// wholeVarRef is an unexpanded $NAME or %NAME% standing for the whole value.
	wholeVarRef = regexp.MustCompile(`^(\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%)$`)
	// placeholder is a template placeholder such as <UNKNOWN> or <your-api-key>.
	placeholder = regexp.MustCompile(`^<[^<>]*>$`)
)

// CheckKey returns what is wrong with a key's value, completing a sentence
// that starts "the value", or "" when nothing is. `keyveil secrets set`
// applies it, so the keychain refuses what the environment would.
func CheckKey(v string) string { return checkKey(v) }

// checkKey returns what is wrong with a key's value, completing a sentence
// that starts with the variable's name, or "" when nothing is. The text
// never contains the value, not even the op:// path of a reference, which
// may name a vault.
func checkKey(v string) string {
	t := strings.TrimSpace(v)
	switch {
	case v == "":
		return "is empty; put the key itself in it"
	case strings.Contains(t, "op://"):
		return "looks like a 1Password reference (op://…); run keyveil under `op run -- keyveil` so it is resolved"
	case strings.Contains(t, "${") || wholeVarRef.MatchString(t):
		return "is an unexpanded variable reference (${…}); your MCP host did not expand this variable reference; put the value itself in the env block"
	case placeholder.MatchString(t):
		return "is an unfilled placeholder (<…>); your MCP host did not fill this value in; put the key itself in the env block"
	case t != v:
		return "has leading or trailing whitespace (often a stray newline from copy-paste); remove it"
	case strings.ContainsFunc(v, isControl):
		return "contains a control character; a key is printable text, so check the variable"
	case !utf8.ValidString(v):
		// Such a value is a wrong variable or a broken copy, and its
		// encodings (UTF-16 above all) are not well defined.
		return "is not valid UTF-8; a key is printable text, so check the variable"
	case len(v) < minKeyLen:
		return fmt.Sprintf("is %d bytes; keys shorter than %d bytes are refused (is this the right variable?)", len(v), minKeyLen)
	}
	return ""
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// commonWords appear in sample, default and placeholder keys, never (by
// chance) in a real random one. Compared lower-case, with '-' and '_'
// removed.
var commonWords = []string{
	"password", "passw0rd", "changeme", "letmein", "qwerty",
	"example", "yourapikey", "yourkey", "yourtoken", "replaceme", "dummykey",
}

// weak reports whether a key looks too weak to be a real one: few distinct
// bytes, under 40 bits by a Shannon estimate of its bytes, or containing a
// word that sample keys use. It is a hint for the operator, so it errs
// towards silence on keys that merely look unusual.
func weak(v string) bool {
	var counts [256]int
	for i := 0; i < len(v); i++ {
		counts[v[i]]++
	}
	distinct := 0
	var h float64
	for _, n := range counts {
		if n == 0 {
			continue
		}
		distinct++
		p := float64(n) / float64(len(v))
		h -= p * math.Log2(p)
	}
	if distinct < 5 || h*float64(len(v)) < 40 {
		return true
	}
	norm := strings.NewReplacer("-", "", "_", "").Replace(strings.ToLower(v))
	for _, w := range commonWords {
		if strings.Contains(norm, w) {
			return true
		}
	}
	return false
}
