package keychain

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/keyveil/keyveil/config"
)

// Prefix marks a key variable's value as a reference to a keychain secret:
// MCP_API_KEY=keychain:crm.
const Prefix = "keychain:"

// MaxValueBytes bounds a stored value. Windows Credential Manager holds at
// most 2,560 bytes per item, and the origin and created time are stored
// beside the value; a larger key (a PEM private key) belongs in a file
// named by NAME_FILE.
const MaxValueBytes = 2048

const (
	// service is the keychain service (macOS), target prefix (Windows) and
	// "service" attribute (Secret Service) of every item keyveil stores.
	service = "keyveil"
	// indexUser is the item that lists the names of the stored secrets,
	// because go-keyring cannot enumerate items. Its name has a ":", which
	// no secret's name can have.
	indexUser = "keyveil:index"
	// maxIndexBytes bounds the index item, which another process of the
	// same user could have replaced with anything.
	maxIndexBytes = 64 << 10
)

// ErrNotFound says that no secret of that name is stored.
var ErrNotFound = errors.New("no such secret in the OS keychain")

// Entry describes a stored secret: everything but its value, so it is safe
// to show.
type Entry struct {
	// Name is what keychain:NAME refers to.
	Name string
	// Origin is the only origin the secret may be sent to, as
	// scheme://host[:port] with a default port left out.
	Origin string
	// Created is when the secret was stored.
	Created time.Time
}

// item is the stored form of a secret: JSON, so that the origin and time
// travel with the value on every OS go-keyring supports.
type item struct {
	V       string    `json:"v"`
	Origin  string    `json:"origin"`
	Created time.Time `json:"created"`
}

// backend is the part of go-keyring keyveil uses; tests replace it. It
// must be safe for concurrent use, as the OS keychains are: several
// processes may call it at once (the index changes under lockIndex).
type backend interface {
	Get(service, user string) (string, error)
	Set(service, user, password string) error
	Delete(service, user string) error
}

// osKeyring is the OS keychain, through go-keyring.
type osKeyring struct{}

func (osKeyring) Get(s, u string) (string, error) {
	if noBus() {
		return "", errNoBus
	}
	return keyring.Get(s, u)
}

func (osKeyring) Set(s, u, p string) error {
	if noBus() {
		return errNoBus
	}
	return keyring.Set(s, u, p)
}

func (osKeyring) Delete(s, u string) error {
	if noBus() {
		return errNoBus
	}
	return keyring.Delete(s, u)
}

// errNoBus says why the Secret Service cannot be reached at all.
var errNoBus = errors.New("no D-Bus session bus: DBUS_SESSION_BUS_ADDRESS is not set and /run/user/UID/bus does not exist (keyveil does not start a bus of its own)")

// noBus reports whether the OS keychain is the Secret Service and this
// process has no session bus to reach it by. godbus would then autolaunch
// one (dbus-launch), leaving a dbus-daemon and a gnome-keyring running
// after keyveil exits, on a box that had neither: a headless server, CI.
func noBus() bool {
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		return false
	}
	if a := os.Getenv("DBUS_SESSION_BUS_ADDRESS"); a != "" && a != "autolaunch:" {
		return false
	}
	_, err := os.Stat(fmt.Sprintf("/run/user/%d/bus", os.Getuid()))
	return err != nil
}

// store is the set of secrets keyveil keeps in one backend.
type store struct {
	kr  backend
	now func() time.Time
	// lockPath is the file locked while the index changes (lockIndex);
	// "": keyveil/keychain-index.lock in the user's cache directory.
	lockPath string
}

// defaultStore is the OS keychain.
var defaultStore = &store{kr: osKeyring{}, now: time.Now}

// Lookup returns the value of the secret stored under name, and its entry,
// for credentials to check the origin against the service's. A missing
// secret is [ErrNotFound]; a keychain that is locked or absent (no Secret
// Service on the session bus) gives an error that says so. No error
// contains the value.
func Lookup(name string) (string, Entry, error) { return defaultStore.get(name) }

// nameRE is compiled on first use: its {0,63} repetition compiles to a
// large program, which cost every keyveil start 0.6 ms in package init.
var nameRE = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
})

// CheckName returns an error unless name can name a secret: 1 to 64
// letters, digits, '.', '_' or '-', starting with a letter or digit.
func CheckName(name string) error {
	if !nameRE().MatchString(name) {
		return errors.New("a secret's name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit, like crm or github-prod")
	}
	return nil
}

// Origin returns the origin of raw, an https URL (or http to a loopback
// host), as scheme://host[:port] in lower case without a default port: the
// form secrets are bound to and compared in. A path is dropped; a user
// name, query or fragment is refused, and no error quotes raw, which may
// hold a key.
func Origin(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", errors.New("not an absolute URL like https://api.example.com")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", errors.New("an origin has no user name, query or fragment; give just https://HOST[:PORT]")
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	switch scheme {
	case "https":
	case "http":
		if !config.IsLoopback(host) {
			return "", fmt.Errorf("http to %s is not allowed; use https (plain http only to a loopback host)", host)
		}
	default:
		return "", errors.New("the scheme must be https (or http to a loopback host)")
	}
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, nil
}

func (s *store) get(name string) (string, Entry, error) {
	if err := CheckName(name); err != nil {
		return "", Entry{}, err
	}
	raw, err := s.kr.Get(service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		return "", Entry{}, ErrNotFound
	}
	if err != nil {
		return "", Entry{}, unavailable(err)
	}
	var it item
	if json.Unmarshal([]byte(raw), &it) != nil || it.V == "" || it.Origin == "" {
		// The parse error is dropped: it may quote the item, which is
		// the key when someone stored one by hand.
		return "", Entry{}, errors.New("the OS keychain item is not one keyveil stored; store it again with keyveil secrets set")
	}
	if o, err := Origin(it.Origin); err != nil || o != it.Origin {
		return "", Entry{}, errors.New("the OS keychain item has no valid origin; store it again with keyveil secrets set")
	}
	return it.V, Entry{Name: name, Origin: it.Origin, Created: it.Created}, nil
}

// set stores value under name, bound to origin (already normalized by
// Origin), replacing any secret of that name, and adds its name to the
// index under lockIndex. It reports whether one was replaced.
func (s *store) set(name, value, origin string) (bool, error) {
	if err := CheckName(name); err != nil {
		return false, err
	}
	if len(value) > MaxValueBytes {
		return false, fmt.Errorf("the value is longer than %d bytes, more than every OS keychain holds; put the key in a file and name it with NAME_FILE instead", MaxValueBytes)
	}
	_, _, err := s.get(name)
	replaced := err == nil
	b, err := json.Marshal(item{V: value, Origin: origin, Created: s.now().UTC().Truncate(time.Second)})
	if err != nil {
		return false, fmt.Errorf("encoding the item: %w", err)
	}
	if err := s.kr.Set(service, name, string(b)); err != nil {
		if errors.Is(err, keyring.ErrSetDataTooBig) {
			return false, errors.New("the value is too large for this OS keychain; put the key in a file and name it with NAME_FILE instead")
		}
		return false, unavailable(err)
	}
	unlock, err := s.lockIndex()
	if err != nil {
		return replaced, err
	}
	defer unlock()
	names, err := s.names()
	if err != nil {
		return replaced, err
	}
	if !slices.Contains(names, name) {
		names = append(names, name)
		slices.Sort(names)
		if err := s.writeNames(names); err != nil {
			return replaced, err
		}
	}
	return replaced, nil
}

// remove deletes the named secret and its line in the index (under
// lockIndex, as set adds it).
func (s *store) remove(name string) error {
	if err := CheckName(name); err != nil {
		return err
	}
	err := s.kr.Delete(service, name)
	if errors.Is(err, keyring.ErrNotFound) {
		err = ErrNotFound
	} else if err != nil {
		return unavailable(err)
	}
	unlock, lerr := s.lockIndex()
	if lerr != nil {
		return errors.Join(err, lerr)
	}
	defer unlock()
	names, ierr := s.names()
	if ierr != nil {
		return errors.Join(err, ierr)
	}
	if i := slices.Index(names, name); i >= 0 {
		if ierr := s.writeNames(slices.Delete(names, i, i+1)); ierr != nil {
			return errors.Join(err, ierr)
		}
	}
	return err
}

// list returns an entry for every secret in the index, sorted by name.
// A name whose item is gone or unreadable has only its Name set, and its
// reason in problems.
func (s *store) list() (entries []Entry, problems map[string]error, err error) {
	names, err := s.names()
	if err != nil {
		return nil, nil, err
	}
	problems = map[string]error{}
	for _, n := range names {
		_, e, err := s.get(n)
		if err != nil {
			problems[n] = err
			e = Entry{Name: n}
		}
		entries = append(entries, e)
	}
	return entries, problems, nil
}

// names reads the index; a missing index is an empty one.
func (s *store) names() ([]string, error) {
	raw, err := s.kr.Get(service, indexUser)
	if errors.Is(err, keyring.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, unavailable(err)
	}
	var names []string
	if len(raw) > maxIndexBytes || json.Unmarshal([]byte(raw), &names) != nil {
		return nil, errors.New("the index of keyveil's secrets in the OS keychain is damaged; delete the item " + indexUser + " (service keyveil) and store the secrets again")
	}
	return slices.DeleteFunc(names, func(n string) bool { return CheckName(n) != nil }), nil
}

func (s *store) writeNames(names []string) error {
	b, err := json.Marshal(names)
	if err != nil {
		return fmt.Errorf("encoding the index: %w", err)
	}
	if err := s.kr.Set(service, indexUser, string(b)); err != nil {
		return unavailable(err)
	}
	return nil
}

// unavailable wraps an error from the OS keychain itself: no Secret
// Service on the session bus, a locked collection, a refused prompt.
// go-keyring's errors carry D-Bus and OS messages, never item contents.
func unavailable(err error) error {
	return fmt.Errorf("the OS keychain is not available (on Linux: is a Secret Service such as gnome-keyring running and unlocked in this session?): %w", err)
}
