package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/keyveil/keyveil/config"
)

// Status is the state an operator set on a key. Expiry is not a status: a
// key whose Expires has passed is refused whatever its status says.
type Status string

// Statuses a key can have in the registry file.
const (
	StatusActive  Status = "active"
	StatusRevoked Status = "revoked"
)

// Key describes one API key without its secret. It is safe to print, log
// and encode: the registry keeps the secret's hash apart from it.
//
// A *Key returned by [Registry.Authenticate] is shared with the registry and
// with concurrent callers; treat it, and its Scopes, as read-only.
type Key struct {
	// ID identifies the key in logs, the audit and `keys revoke`. It is the
	// part of the key between "kv_" and the second "_", and is not secret.
	ID string `json:"id"`
	// Name is the operator's label, like "ci" or "alice-laptop".
	Name string `json:"name"`
	// Scopes are the scopes this key is granted, sorted; nil: the key adds
	// no restriction of its own (the deployment's scopes apply).
	Scopes []string `json:"scopes,omitempty"`
	// Status is active or revoked.
	Status Status `json:"status"`
	// Rate limits how often the key may be used; zero: the server's default.
	Rate Rate `json:"rate,omitzero"`
	// Created is when the key was made.
	Created time.Time `json:"created"`
	// Expires is when the key stops working; zero: never.
	Expires time.Time `json:"expires,omitzero"`
	// LastUsed is when the key last authenticated, to the nearest second,
	// as far as the registry file knows: a server writes it back at most
	// once a minute. Zero: never.
	LastUsed time.Time `json:"last_used,omitzero"`
	// Revoked is when the key was revoked; zero while it is active.
	Revoked time.Time `json:"revoked,omitzero"`
	// RotatedTo is the id of the key that replaced this one; empty unless
	// the key was rotated. A rotated key works until Expires, the end of
	// its overlap.
	RotatedTo string `json:"rotated_to,omitempty"`
}

// Expired reports whether the key's validity has ended at now.
func (k *Key) Expired(now time.Time) bool {
	return !k.Expires.IsZero() && !now.Before(k.Expires)
}

// state returns what `keys list` shows: revoked, expired, rotated (still
// valid during its overlap) or active.
func (k *Key) state(now time.Time) string {
	switch {
	case k.Status == StatusRevoked:
		return "revoked"
	case k.Expired(now):
		return "expired"
	case k.RotatedTo != "":
		return "rotated"
	}
	return "active"
}

// Rate is how many times a key may be used per period. The server enforces
// it as a token bucket that refills Events tokens per Per and holds at most
// Events, so a quiet client may burst up to Events requests at once.
type Rate struct {
	Events int
	Per    time.Duration
}

// IsZero reports whether the rate is unset, which means "no limit of its
// own".
func (r Rate) IsZero() bool { return r.Events == 0 && r.Per == 0 }

// String returns the rate as `keys create --rate` takes it, like "60/min".
func (r Rate) String() string {
	if r.IsZero() {
		return ""
	}
	return config.FormatRate(r.Events, r.Per)
}

// MarshalText encodes the rate as its String form, so the registry file
// reads "60/min" rather than nanoseconds.
func (r Rate) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText parses the form written by MarshalText.
func (r *Rate) UnmarshalText(b []byte) error {
	p, err := ParseRate(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// ParseRate parses a rate like "60/min", "10/s", "1000/h", "5000/day" or
// "3/10s" (a Go duration after the slash). The empty string is the zero
// Rate.
func ParseRate(s string) (Rate, error) {
	if s == "" {
		return Rate{}, nil
	}
	events, per, err := config.ParseRate(s)
	if err != nil {
		return Rate{}, fmt.Errorf("--rate: %w", err)
	}
	return Rate{Events: events, Per: per}, nil
}

// ParseLifetime parses how long a key lives: a Go duration ("12h") or a
// number of days ("90d") or weeks ("2w").
func ParseLifetime(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	switch {
	case strings.HasSuffix(s, "d"), strings.HasSuffix(s, "w"):
		unit := 24 * time.Hour
		if strings.HasSuffix(s, "w") {
			unit *= 7
		}
		var n int
		n, err = strconv.Atoi(s[:len(s)-1])
		d = time.Duration(n) * unit
	default:
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("lifetime %q: want a positive duration like 90d, 2w or 12h", s)
	}
	return d, nil
}

// Key material. The alphabet is lowercase RFC 4648 base32: no '_' (the
// separator), no 0/1/8/9 to mistake for O/l/B/g, and safe in a header, a URL
// and a shell without quoting.
const (
	keyPrefix   = "kv_"
	idBytes     = 5  // 8 characters; collisions are checked at creation
	secretBytes = 20 // 160 bits
	idLen       = idBytes * 8 / 5
	secretLen   = secretBytes * 8 / 5
)

var encoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newMaterial returns a fresh id and secret.
func newMaterial() (id, secret string) {
	b := make([]byte, idBytes+secretBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return encoding.EncodeToString(b[:idBytes]), encoding.EncodeToString(b[idBytes:])
}

// format joins an id and a secret into the string a client presents.
func format(id, secret string) string { return keyPrefix + id + "_" + secret }

// split takes a presented key apart. It reports false for anything that is
// not shaped like a key, without saying how it is wrong: the shape is public,
// but the caller answers every malformed key with the same ErrInvalid.
func split(presented string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(presented, keyPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != idLen || len(secret) != secretLen || !inAlphabet(id) || !inAlphabet(secret) {
		return "", "", false
	}
	return id, secret, true
}

func inAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

func hashSecret(secret string) [sha256.Size]byte { return sha256.Sum256([]byte(secret)) }

// errBadName and the checks below keep the registry file editable by hand
// and `keys list` readable: no control characters, no commas in scopes.
var errBadName = errors.New("name must be 1 to 100 printable characters")

func checkName(name string) error {
	if name == "" || len(name) > 100 || strings.TrimSpace(name) != name {
		return errBadName
	}
	for _, r := range name {
		if !unicode.IsPrint(r) {
			return errBadName
		}
	}
	return nil
}

// normalizeScopes sorts and de-duplicates scopes, refusing empty ones and
// ones that could not round-trip through a comma-separated flag.
func normalizeScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(scopes))
	for _, s := range scopes {
		if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) || !unicode.IsPrint(r) }) {
			return nil, fmt.Errorf("scope %q: want a non-empty word without spaces or commas", s)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
