package credentials

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/keyveil/keyveil/config"
	"github.com/keyveil/keyveil/credentials/scheme"
	"github.com/keyveil/keyveil/internal/boundedfile"
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

// Credential is one part of a service's auth as loaded: what `keyveil
// check` shows a person. Everything in it is safe to show; a Key's Secret
// prints as its redaction marker.
type Credential struct {
	// Service is the config.Service name.
	Service string
	// Part is the index of the part in the service's config.AuthList.
	Part int
	// Auth is the part's settings.
	Auth config.Auth
	// Keys are the part's secret variables that were set, in the order
	// its scheme lists them; empty for auth none.
	Keys []Key
	// Origin is the origin (scheme://host:port) the part's secrets are
	// sent to: its token endpoint's for a scheme that sends them to one
	// (see scheme.Scheme.SendsTo), the service's base URL's otherwise;
	// "" when the part has no secret.
	Origin string
}

// Key is one secret variable a part read, and where it came from.
type Key struct {
	// Secret is the value, named by its variable.
	Secret Secret
	// Source is where it came from.
	Source Source
	// Path is the file the key was read from when Source is SourceFile,
	// or the secret's name when Source is SourceKeychain.
	Path string
}

// Scheme returns the part's scheme as an operator writes it
// ("header:X-API-Key"), safe to show.
func (c Credential) Scheme() string { return config.AuthList{c.Auth}.Describe() }

// Set is every credential keyveil loaded at start-up, one per part of
// each service's auth. It is immutable, so it is safe for concurrent use.
type Set struct {
	creds    []Credential
	parts    map[string][]loadedPart // by service, in auth order
	secrets  []Secret                // every value the Redactor must know
	own      map[string][]Secret     // by service: the values its parts send
	warnings []string

	tls map[string]*clientTLS // by service; see tls.go

	redOnce sync.Once
	red     *Redactor // see Redactor
}

// loadedPart is one part as Load read it, what [NewTransport] prepares
// the part it attaches from.
type loadedPart struct {
	auth   config.Auth
	scheme scheme.Scheme
	values values
}

// values are the variables a part read, for scheme.Values. Plain ones
// (a client ID) are kept as Secrets too, which print as markers only.
type values map[string]Secret

// Get returns the value of the variable name, and whether it was set.
func (v values) Get(name string) (string, bool) {
	s, ok := v[name]
	return s.Reveal(), ok
}

// Load reads the variables of every part of every service's auth in cfg
// from env (nil: the process environment alone), as each part's scheme
// lists them (scheme.Scheme.Vars). A secret variable is read from NAME,
// or NAME_FILE naming a file that holds it (one trailing newline is
// trimmed), or a keychain:NAME reference; Load refuses, naming the
// variable, the service and the fix, a secret that is missing, empty,
// padded with whitespace, an unresolved reference (op://…, ${…}, <…>),
// shorter than 8 bytes or holding control characters (newlines and tabs
// are allowed in a multi-line one: a PEM block, a JSON document). A plain
// variable (a client ID, a user name) is read as it is; one not optional
// must be set. Each part's scheme then checks its values
// (scheme.Scheme.Prepare). All problems are reported together, joined,
// so the user fixes them in one go. No error contains a value.
//
// Every secret variable, NAME and NAME_FILE, is then unset from the process
// environment and removed from env, so child processes do not inherit keys
// and later lookups cannot find them; this happens whether or not Load
// succeeds. Plain variables are not secret and are left alone.
//
// Load does not use env/v11 (config does, for the fixed MCP_API_* names):
// these variable names come from the services file, not struct tags, and
// env/v11's ",file" option reads a file of any size and trims nothing.
func Load(cfg *config.Config, env *Env) (*Set, error) {
	if cfg == nil {
		return nil, errors.New("loading credentials: no configuration")
	}
	s := &Set{parts: map[string][]loadedPart{}, own: map[string][]Secret{}}
	var errs []error
	loaded := map[string]*loadedKey{} // by variable name; parts may share one
	var order []string
	for _, svc := range cfg.Services {
		for i, a := range svc.Auth {
			sc, ok := scheme.Lookup(strings.ToLower(a.Type))
			if !ok {
				// config refuses it; a Config built by hand may not.
				errs = append(errs, fmt.Errorf("service %q: auth type %q is not known", svc.Name, a.Type))
				continue
			}
			desc := sc.Describe(&a)
			where := fmt.Sprintf("service %q, auth %s", svc.Name, desc)
			dest := sc.SendsTo(&a)
			field := "token_url"
			if dest == "" {
				dest, field = svc.BaseURL, "base_url"
			}
			c := Credential{Service: svc.Name, Part: i, Auth: a}
			vals := values{}
			var redact []Secret // what the Redactor learns of Vars
			bad := false
			for _, v := range sc.Vars(&a) {
				if !v.Secret {
					val, set := env.Lookup(v.Name)
					if !v.Optional && (strings.TrimSpace(val) == "" || val != strings.TrimSpace(val)) {
						errs = append(errs, fmt.Errorf("%s is not set, empty or padded with white space; set it to the %s (%s)", v.Name, v.Role, where))
						bad = true
						continue
					}
					if set {
						vals[v.Name] = NewSecret(v.Name, val)
					}
					continue
				}
				k, ok := loaded[v.Name]
				if !ok {
					k = loadKey(env, v, where, dest)
					loaded[v.Name] = k
					order = append(order, v.Name)
					if k.err != nil {
						errs = append(errs, k.err)
					}
					s.warnings = append(s.warnings, k.warnings...)
				}
				if k.err != nil {
					bad = true
					continue
				}
				if k.unset {
					continue // optional, and not set
				}
				if err := k.checkOrigin(v.Name, svc.Name, field, dest); err != nil {
					// Checked per part: parts may share a variable.
					errs = append(errs, err)
					bad = true
					continue
				}
				vals[v.Name] = k.secret
				c.Keys = append(c.Keys, Key{Secret: k.secret, Source: k.source, Path: k.path})
				if !v.Document {
					redact = append(redact, k.secret)
				}
			}
			if bad {
				continue
			}
			if len(c.Keys) > 0 {
				c.Origin, _ = keychain.Origin(dest) // validated by config
			}
			p, warns, err := sc.Prepare(&a, vals, s.runtime(svc, nil, nil))
			s.warnings = append(s.warnings, warns...)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, sec := range redact {
				s.own[svc.Name] = appendSecret(s.own[svc.Name], sec)
			}
			for _, d := range p.Derived() {
				s.own[svc.Name] = appendSecret(s.own[svc.Name], NewSecret(d.Name, d.Value))
			}
			s.creds = append(s.creds, c)
			s.parts[svc.Name] = append(s.parts[svc.Name], loadedPart{auth: a, scheme: sc, values: vals})
		}
	}
	errs = append(errs, s.loadTLSBlocks(cfg, env, time.Now())...)
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
	for _, svc := range cfg.Services {
		for _, sec := range s.own[svc.Name] {
			s.secrets = appendSecret(s.secrets, sec)
		}
	}
	return s, nil
}

// runtime is what a part of svc may use while running: base sends its
// own requests (nil: none may be sent, as when Load checks the values),
// now is the clock (nil: time.Now). Values it learns and forgets go to
// the Set's Redactor.
func (s *Set) runtime(svc config.Service, base http.RoundTripper, now func() time.Time) scheme.Runtime {
	if base == nil {
		base = noBase{}
	}
	return scheme.Runtime{
		Service: svc.Name,
		Timeout: svc.Timeout,
		Base:    base,
		Learn:   func(vs ...scheme.Value) { s.Redactor().Add(toSecrets(vs)...) },
		Forget:  func(vs ...scheme.Value) { s.Redactor().Forget(toSecrets(vs)...) },
		Now:     now,
	}
}

func toSecrets(vs []scheme.Value) []Secret {
	out := make([]Secret, len(vs))
	for i, v := range vs {
		out[i] = NewSecret(v.Name, v.Value)
	}
	return out
}

// noBase is the Base of the parts Load prepares to check their values:
// they never attach, so nothing may be sent through it.
type noBase struct{}

func (noBase) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		_ = req.Body.Close()
	}
	return nil, errors.New("no Transport sends this part's requests")
}

// appendSecret appends sec to list unless an equal secret of the same name
// is there.
func appendSecret(list []Secret, sec Secret) []Secret {
	for _, have := range list {
		if have.Name() == sec.Name() && have.Equal(sec) {
			return list
		}
	}
	return append(list, sec)
}

// Credentials returns one Credential per part of each service's auth, in
// the order of cfg.Services (sorted by name) and of each service's parts,
// services with auth none included.
func (s *Set) Credentials() []Credential { return slices.Clone(s.creds) }

// Secrets returns every value keyveil holds that must never be written:
// each secret variable, and the values derived from them that the wire
// carries (for basic auth "user:key", the text the Authorization header
// encodes). It is what [Set.Redactor] looks for.
func (s *Set) Secrets() []Secret { return slices.Clone(s.secrets) }

// Redactor returns the Redactor that knows every secret in the set. It is
// the same Redactor on every call, so that secrets learned while running
// (OAuth 2.0 access tokens, which parts add as they arrive) reach every
// writer it guards.
func (s *Set) Redactor() *Redactor {
	s.redOnce.Do(func() { s.red = NewRedactor(s.secrets...) })
	return s.red
}

// Fingerprint returns the fingerprint of the named service's key (see
// [Secret.Fingerprint]), the fingerprints of its keys joined by "+" when
// it has several, or "" when the service has no key or is unknown. It
// lets the audit log and `keyveil check` tell keys apart without
// revealing anything about them.
func (s *Set) Fingerprint(service string) string {
	var fps []string
	for _, c := range s.creds {
		if c.Service != service {
			continue
		}
		for _, k := range c.Keys {
			fps = append(fps, k.Secret.Fingerprint())
		}
	}
	return strings.Join(fps, "+")
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
	unset    bool   // an optional variable that is not set
	err      error
	warnings []string
}

// loadKey reads the secret variable v from NAME or NAME_FILE and checks
// it. where names the part in messages; dest is the URL the part sends the
// secret to, for the keychain's fix.
func loadKey(env *Env, v scheme.Var, where, dest string) *loadedKey {
	name := v.Name
	fileName := name + fileSuffix
	where = "(" + where + ")"
	val, vsrc, vok := env.lookupSource(name)
	p, psrc, pok := env.lookupSource(fileName)
	k := &loadedKey{source: vsrc}
	var subject string
	switch {
	case vok && pok:
		k.err = fmt.Errorf("%s and %s are both set; set only one of them: the key, or the path of a file holding it %s", name, fileName, where)
		return k
	case !vok && !pok && v.Optional:
		k.unset = true
		return k
	case !vok && !pok:
		k.err = fmt.Errorf("%s is not set; add it to the env block of your MCP client config, or set %s to the path of a file holding the %s %s", name, fileName, v.Role, where)
		return k
	case pok:
		if p == "" {
			k.err = fmt.Errorf("%s%s is empty; set it to the path of a file holding the %s %s", fileName, env.describe(psrc), v.Role, where)
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
			k.err = fmt.Errorf("%s%s names a file that does not exist; it must hold the path of a file containing the %s, not the %s itself%s %s", fileName, env.describe(psrc), v.Role, v.Role, hint, where)
			return k
		}
		if err != nil {
			k.err = fmt.Errorf("%s%s names %s, %v %s", fileName, env.describe(psrc), p, err, where)
			return k
		}
		val = trimNewline(data)
		k.source, k.path = SourceFile, p
		if !filepath.IsAbs(p) {
			k.warnings = append(k.warnings, fmt.Sprintf("%s is a relative path, resolved from the directory keyveil was started in, which MCP hosts choose; use an absolute path %s", fileName, where))
		}
		subject = fmt.Sprintf("the file named by %s (%s)", fileName, p)
	default:
		subject = name + env.describe(vsrc)
		if ref, ok := strings.CutPrefix(val, keychain.Prefix); ok {
			var err error
			if val, err = env.fromKeychain(k, name+env.describe(vsrc), ref, where, dest); err != nil {
				k.err = err
				return k
			}
			subject = fmt.Sprintf("the keychain secret %s (named by %s)", ref, name)
		}
		if v.Multiline {
			// A PEM or JSON value pasted into a variable often keeps
			// its file's final newline.
			val = trimNewline(val)
		}
	}
	if problem := checkValue(val, v.Multiline); problem != "" {
		k.err = fmt.Errorf("%s %s %s", subject, problem, where)
		return k
	}
	k.secret = NewSecret(name, val)
	if !v.Multiline && weak(val) {
		k.warnings = append(k.warnings, fmt.Sprintf("%s looks weak (few distinct characters, little variety, or a common word); check that it holds the real key %s", name, where))
	}
	return k
}

// fromKeychain resolves a keychain:NAME reference found in the variable
// subject names, recording in k where the value came from and the origin
// it is bound to ([loadedKey.checkOrigin] compares that with each part
// using the variable). Its errors name the variable, the secret and the
// fix, never the value.
func (e *Env) fromKeychain(k *loadedKey, subject, ref, where, dest string) (string, error) {
	if err := keychain.CheckName(ref); err != nil {
		// ref is not quoted: it may be a key pasted after the prefix.
		return "", fmt.Errorf("%s is a keychain: reference whose name is not valid: %v %s", subject, err, where)
	}
	lookup := keychain.Lookup
	if e != nil && e.keychain != nil {
		lookup = e.keychain
	}
	v, entry, err := lookup(ref)
	switch {
	case errors.Is(err, keychain.ErrNotFound):
		fix := "keyveil secrets set " + ref + " --origin URL"
		if o, oerr := keychain.Origin(dest); oerr == nil {
			fix = "keyveil secrets set " + ref + " --origin " + o
		}
		return "", fmt.Errorf("%s refers to keychain:%s, which is not in the OS keychain; store it with: %s %s", subject, ref, fix, where)
	case err != nil:
		return "", fmt.Errorf("%s refers to keychain:%s, which cannot be read: %w %s", subject, ref, err, where)
	}
	k.source, k.path, k.origin = SourceKeychain, ref, entry.Origin
	return v, nil
}

// checkOrigin refuses a keychain secret for a part that would send it to
// an origin other than the one it was stored for: dest, the part's
// token_url or its service's base_url (field says which). The threat: a
// model that can edit the host config points MCP_API_BASE_URL (or a
// base_url) at a listener of its own; the key must not follow. The
// message names both origins, which are not secret, and the fix for an
// operator who did mean to move the key.
func (k *loadedKey) checkOrigin(name, service, field, dest string) error {
	if k.source != SourceKeychain {
		return nil
	}
	want, err := keychain.Origin(dest)
	if err != nil {
		return fmt.Errorf("%s refers to keychain:%s, which is stored for %s only; the %s of service %q has no origin it can be checked against: %v", name, k.path, k.origin, field, service, err)
	}
	if want == k.origin {
		return nil
	}
	return fmt.Errorf("%s refers to keychain:%s, which is stored for %s only; keyveil will not send it to %s (the %s of service %q). If that is the API the key belongs to, store it for that origin: keyveil secrets set %s --origin %s",
		name, k.path, k.origin, want, field, service, k.path, want)
}

// readKeyFile reads a NAME_FILE file. Its errors complete the sentence
// "NAME_FILE names PATH, ..." and never quote the contents. What is not a
// regular file (a FIFO would hang start-up, a device read for ever) is
// refused without being read.
func readKeyFile(path string) (string, error) {
	data, _, err := boundedfile.Read(path, maxKeyFileBytes)
	var nr *boundedfile.NotRegularError
	switch {
	case errors.As(err, &nr):
		return "", fmt.Errorf("which cannot be read: it is %s, not a regular file", boundedfile.Kind(nr.Mode))
	case errors.Is(err, boundedfile.ErrTooLarge):
		return "", fmt.Errorf("which is larger than %d KiB; the file should hold just the key", maxKeyFileBytes>>10)
	case err != nil:
		// notAPath looks through %w for ErrNotExist and the like.
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Op == "read" {
			return "", fmt.Errorf("which cannot be read: %w", pe.Err)
		}
		return "", fmt.Errorf("which cannot be opened: %w", unwrapPath(err))
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

// Both regexps compile on first use, not in package initialisation, which
// every start (even `keyveil --version`) pays before main.
var (
	// wholeVarRef is an unexpanded $NAME or %NAME% standing for the whole value.
	wholeVarRef = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^(\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%)$`)
	})
	// placeholder is a template placeholder such as <UNKNOWN> or <your-api-key>.
	placeholder = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^<[^<>]*>$`) })
)

// CheckKey returns what is wrong with a key's value, completing a sentence
// that starts "the value", or "" when nothing is. `keyveil secrets set`
// applies it, so the keychain refuses what the environment would.
func CheckKey(v string) string { return checkValue(v, false) }

// checkValue returns what is wrong with a secret's value, completing a
// sentence that starts with the variable's name, or "" when nothing is.
// A multi-line value (a PEM block, a JSON document) may hold newlines and
// tabs; no value holds another control character. The text never
// contains the value, not even the op:// path of a reference, which may
// name a vault.
func checkValue(v string, multiline bool) string {
	control := isControl
	if multiline {
		control = func(r rune) bool { return r != '\n' && r != '\r' && r != '\t' && isControl(r) }
	}
	t := strings.TrimSpace(v)
	switch {
	case v == "":
		return "is empty; put the key itself in it"
	case strings.Contains(t, "op://"):
		return "looks like a 1Password reference (op://…); run keyveil under `op run -- keyveil` so it is resolved"
	case strings.Contains(t, "${") || wholeVarRef().MatchString(t):
		return "is an unexpanded variable reference (${…}); your MCP host did not expand this variable reference; put the value itself in the env block"
	case placeholder().MatchString(t):
		return "is an unfilled placeholder (<…>); your MCP host did not fill this value in; put the key itself in the env block"
	case t != v:
		return "has leading or trailing whitespace (often a stray newline from copy-paste); remove it"
	case strings.ContainsFunc(v, control):
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
