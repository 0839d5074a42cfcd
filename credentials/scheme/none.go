package scheme

import (
	"errors"
	"net/http"
)

// none is a service without a credential: a public API, or one that a
// network boundary protects. It is a scheme like the others, with no
// variables, carriers or values, so that every service has at least one
// part and nothing downstream treats "no auth" as a special case; config
// refuses it next to other parts.
type none struct{}

func (none) Validate(s *Settings) (string, error) {
	if s.Env != "" {
		return "env", errors.New("auth type none takes no env")
	}
	if len(setKeys(s)) > 0 {
		return "type", errors.New("auth type none takes no other keys")
	}
	return "", nil
}

func (none) Vars(*Settings) []Var        { return nil }
func (none) Carriers(*Settings) Carriers { return Carriers{} }
func (none) Describe(*Settings) string   { return "none" }
func (none) SendsTo(*Settings) string    { return "" }
func (none) Prepare(*Settings, Values, Runtime) (Part, []string, error) {
	return nonePart{}, nil, nil
}

// nonePart attaches nothing.
type nonePart struct{}

func (nonePart) Derived() []Value           { return nil }
func (nonePart) Attach(*http.Request) error { return nil }
