package scheme

import "fmt"

// hidden holds a value a Part sends. Printed through fmt it reads
// "[hidden]", and in an unexported field (where fmt prints by reflection
// without calling Format) it shows only an address: it reaches the value
// through two pointers, as credentials.Secret does. So a Part, or a
// Transport holding Parts, printed by mistake shows no key; only reveal
// reads it, in Attach and Derived.
type hidden struct {
	_ [0]func() // not comparable: compare revealed values, if ever
	v *hiddenBox
}

// hiddenBox holds a pointer to the value; see hidden.
type hiddenBox struct{ p *string }

const hiddenText = "[hidden]"

// hide wraps s.
func hide(s string) hidden { return hidden{v: &hiddenBox{&s}} }

// reveal returns the value; "" for the zero hidden.
func (h hidden) reveal() string {
	if h.v == nil || h.v.p == nil {
		return ""
	}
	return *h.v.p
}

func (hidden) String() string               { return hiddenText }
func (hidden) GoString() string             { return hiddenText }
func (hidden) Format(f fmt.State, _ rune)   { _, _ = f.Write([]byte(hiddenText)) }
func (hidden) MarshalText() ([]byte, error) { return []byte(hiddenText), nil }
