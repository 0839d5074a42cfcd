package credentials

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"log/slog"
)

// Secret holds one key. It is built to be harmless when it ends up somewhere
// it should not: printed with any fmt verb, logged through slog, or encoded
// as JSON, it reads "[REDACTED:NAME]". The value leaves only through
// [Secret.Reveal].
//
// Secret is not comparable with ==, which would compare in variable time;
// use [Secret.Equal].
type Secret struct {
	_    [0]func() // not comparable
	name string
	// v reaches the value through two pointers rather than holding it:
	// when a Secret sits in an unexported struct field, fmt prints it by
	// reflection without calling Format. fmt shows the first pointer's
	// target even then (as &{...} under a bad verb), but prints any
	// pointer below that as a bare address.
	v *box
}

// box holds a pointer to a secret's value; see Secret.v.
type box struct{ p *string }

// NewSecret returns a Secret named after the environment variable it came
// from. The name appears in redaction markers and error messages.
func NewSecret(name, value string) Secret {
	return Secret{name: name, v: &box{&value}}
}

// Name returns the environment variable the secret came from.
func (s Secret) Name() string { return s.name }

// IsZero reports whether the secret holds no value.
func (s Secret) IsZero() bool { return s.Reveal() == "" }

// Len returns the length of the value in bytes.
func (s Secret) Len() int { return len(s.Reveal()) }

// Reveal returns the value. It is the only way out, and is called by the
// Transport, which puts the value on the wire, and by the Redactor, which
// must know what to look for. Never pass its result to fmt or a logger.
func (s Secret) Reveal() string {
	if s.v == nil || s.v.p == nil {
		return ""
	}
	return *s.v.p
}

// Equal reports whether two secrets hold the same value, in constant time.
func (s Secret) Equal(t Secret) bool {
	return subtle.ConstantTimeCompare([]byte(s.Reveal()), []byte(t.Reveal())) == 1
}

// Fingerprint returns a short hash of the value that lets a person tell two
// keys apart (in `keyveil check` and the audit log) without learning anything
// about either: it is 8 hex digits of a domain-separated SHA-256, never a
// prefix of the value.
func (s Secret) Fingerprint() string {
	if s.IsZero() {
		return ""
	}
	h := sha256.Sum256([]byte("keyveil fingerprint v1\x00" + s.Reveal()))
	return hex.EncodeToString(h[:4])
}

// Digest returns the SHA-256 of the value, so that `keyveil check` can
// find the key in a host's config file by comparing digests of the file's
// strings (see hostconfig) without the value leaving this package. Unlike
// [Secret.Fingerprint] it is not for showing: never print or log it.
func (s Secret) Digest() [sha256.Size]byte { return sha256.Sum256([]byte(s.Reveal())) }

func (s Secret) marker() string { return "[REDACTED:" + s.name + "]" }

// String returns the redaction marker, never the value.
func (s Secret) String() string { return s.marker() }

// GoString returns the redaction marker, so %#v is safe too.
func (s Secret) GoString() string { return s.marker() }

// Format writes the redaction marker for every verb and flag, so that
// %x, %q or %08s cannot reach the value through reflection.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.marker())) }

// MarshalJSON encodes the redaction marker as a JSON string.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + s.marker() + `"`), nil }

// MarshalText returns the redaction marker, for encoders that prefer text.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.marker()), nil }

// LogValue makes slog record the redaction marker.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.marker()) }
